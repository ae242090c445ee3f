//! Command-line interface. Exit codes: 0 success, 1 runtime failure, 2 usage or
//! configuration error.

mod args;
mod logging;
mod rebuild_progress;
mod replay;
mod run;
mod snapshot;
mod status;
mod validate;
mod verify;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use pgcdc::config::{ConfigError, ProcessConfig};

pub use args::{Cli, Command};

/// Exit code for usage and configuration errors (the same as clap's).
pub const EXIT_USAGE: u8 = 2;
/// Exit code when the pipeline itself fails.
pub const EXIT_FAILURE: u8 = 1;

/// Default process config, relative to the working directory.
pub const DEFAULT_CONFIG: &str = "config/pgcdc.toml";
/// Default connector directory, relative to the working directory.
pub const DEFAULT_CONNECTORS: &str = "connectors";

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version end up here too, with exit code 0.
            let _ = e.print();
            return ExitCode::from(e.exit_code().clamp(0, 255) as u8);
        }
    };
    match cli.command {
        Command::Validate(args) => validate::run(cli.config.as_deref(), args),
        Command::Run(args) => run::run(cli.config.as_deref(), args),
        Command::Status(args) => status::run(cli.config.as_deref(), args),
        Command::Snapshot(args) => snapshot::run(cli.config.as_deref(), args),
        Command::Verify(args) => verify::run(cli.config.as_deref(), args),
        Command::Replay(args) => replay::run(cli.config.as_deref(), args),
    }
}

/// Where the process config comes from: an explicit `--config` must exist; the default file
/// may be absent, in which case built-in defaults apply.
pub enum ProcessSource {
    File(PathBuf),
    Defaults,
}

pub fn load_process(
    explicit: Option<&Path>,
) -> Result<(ProcessConfig, ProcessSource), ConfigError> {
    match explicit {
        Some(path) => Ok((
            ProcessConfig::load(path)?,
            ProcessSource::File(path.to_path_buf()),
        )),
        None => {
            let path = Path::new(DEFAULT_CONFIG);
            if path.exists() {
                Ok((ProcessConfig::load(path)?, ProcessSource::File(path.into())))
            } else {
                Ok((ProcessConfig::default(), ProcessSource::Defaults))
            }
        }
    }
}

/// The connector paths to use: the given ones, or the default directory.
pub fn connector_paths(given: &[PathBuf]) -> Vec<PathBuf> {
    if given.is_empty() {
        vec![PathBuf::from(DEFAULT_CONNECTORS)]
    } else {
        given.to_vec()
    }
}

/// The process config and every connector named by `paths`, for commands that act on loaded
/// connectors; a bad file is reported on stderr and becomes the usage exit code.
pub fn load_all(
    config: Option<&Path>,
    paths: &[PathBuf],
) -> Result<(ProcessConfig, Vec<pgcdc::config::ConnectorConfig>), ExitCode> {
    let usage = |e: ConfigError| {
        eprintln!("error: {e}");
        ExitCode::from(EXIT_USAGE)
    };
    let (process, _) = load_process(config).map_err(usage)?;
    let connectors =
        pgcdc::config::load_connectors(&connector_paths(paths), &process).map_err(usage)?;
    Ok((process, connectors))
}

pub use pgcdc::observe::error_chain;
