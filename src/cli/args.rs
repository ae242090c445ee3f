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
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Connector files, or directories whose *.toml files are connectors [default: connectors/].
    #[arg(value_name = "CONNECTOR_FILES_OR_DIR")]
    pub paths: Vec<PathBuf>,
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
