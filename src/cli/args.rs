//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use pgcdc::Lsn;

/// Change data capture from PostgreSQL into Kafka, Debezium-compatible.
#[derive(Debug, Parser)]
#[command(name = "pgcdc", version, about)]
pub struct Cli {
    /// Process configuration file [default: config/pgcdc.toml, built-in defaults if absent].
    #[arg(long, global = true, env = "PGCDC_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check configuration files without connecting to anything.
    Validate(ValidateArgs),
    /// Capture changes and publish them to Kafka until interrupted.
    Run(RunArgs),
    /// Show each connector's stored position, its slot and the slot's lag (read-only).
    Status(StatusArgs),
    /// Ask a running connector for an incremental snapshot (or stop, pause or resume one)
    /// through its signal table or signal file.
    Snapshot(SnapshotArgs),
    /// Compare the tables rebuilt from the connector's topics with PostgreSQL at one exact
    /// point (read-only; exit 0 when equal, 1 when not).
    Verify(super::verify::VerifyArgs),
    /// Write a table as it was at a moment (LSN or time), rebuilt from the connector's topics
    /// alone, to a JSON-lines or CSV file.
    Replay(super::replay::ReplayArgs),
}

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// The connector file.
    #[arg(value_name = "CONNECTOR_FILE")]
    pub path: PathBuf,

    /// Tables to snapshot (or stop), `schema.table`, comma-separated [default: every captured
    /// table].
    #[arg(long, value_delimiter = ',', value_name = "TABLES")]
    pub tables: Vec<String>,

    /// An SQL condition limiting the rows read from each of --tables (Debezium's
    /// additional-conditions), e.g. "created_at > '2026-01-01'".
    #[arg(long, value_name = "CONDITION", requires = "tables")]
    pub filter: Option<String>,

    /// Stop the running snapshot (of --tables only, when given).
    #[arg(long, conflicts_with_all = ["pause", "resume", "filter"])]
    pub stop: bool,

    /// Pause the running snapshot after its current chunk.
    #[arg(long, conflicts_with_all = ["stop", "resume", "filter", "tables"])]
    pub pause: bool,

    /// Resume a paused snapshot.
    #[arg(long, conflicts_with_all = ["stop", "pause", "filter", "tables"])]
    pub resume: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Connector files, or directories whose *.toml files are connectors [default: connectors/].
    #[arg(value_name = "CONNECTOR_FILES_OR_DIR")]
    pub paths: Vec<PathBuf>,

    /// Print one JSON document instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Connector files, or directories whose *.toml files are connectors [default: connectors/].
    #[arg(value_name = "CONNECTOR_FILES_OR_DIR")]
    pub paths: Vec<PathBuf>,

    /// Print the effective configuration of each valid file (secrets masked).
    #[arg(long)]
    pub print: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Connector files, or directories whose *.toml files are connectors [default: connectors/].
    #[arg(value_name = "CONNECTOR_FILES_OR_DIR")]
    pub paths: Vec<PathBuf>,

    /// Stop after every change up to this LSN (e.g. 0/16B3748) is published and acknowledged.
    #[arg(long, value_name = "LSN")]
    pub until_lsn: Option<Lsn>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_run_with_until_lsn_and_global_config() {
        let cli = Cli::try_parse_from([
            "pgcdc",
            "run",
            "a.toml",
            "--until-lsn",
            "1/A0",
            "--config",
            "c.toml",
        ])
        .unwrap();
        assert_eq!(cli.config, Some(PathBuf::from("c.toml")));
        match cli.command {
            Command::Run(args) => {
                assert_eq!(args.paths, vec![PathBuf::from("a.toml")]);
                assert_eq!(args.until_lsn, Some(Lsn((1 << 32) | 0xA0)));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn bad_lsn_is_a_usage_error() {
        let e = Cli::try_parse_from(["pgcdc", "run", "--until-lsn", "nope"]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn snapshot_takes_tables_and_a_filter() {
        let cli = Cli::try_parse_from([
            "pgcdc",
            "snapshot",
            "c.toml",
            "--tables",
            "public.a,public.b",
            "--filter",
            "x > 1",
        ])
        .unwrap();
        match cli.command {
            Command::Snapshot(a) => {
                assert_eq!(a.tables, vec!["public.a", "public.b"]);
                assert_eq!(a.filter.as_deref(), Some("x > 1"));
                assert!(!a.stop);
            }
            other => panic!("unexpected {other:?}"),
        }
        let e = Cli::try_parse_from(["pgcdc", "snapshot", "c.toml", "--filter", "x"]).unwrap_err();
        assert_eq!(e.exit_code(), 2, "a filter needs tables");
        let e = Cli::try_parse_from(["pgcdc", "snapshot", "c.toml", "--pause", "--resume"])
            .unwrap_err();
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn validate_defaults_to_no_paths() {
        let cli = Cli::try_parse_from(["pgcdc", "validate", "--print"]).unwrap();
        match cli.command {
            Command::Validate(args) => {
                assert!(args.paths.is_empty());
                assert!(args.print);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
