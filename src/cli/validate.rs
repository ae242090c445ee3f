//! `pgcdc validate`: check files without connecting; `ok: <file>` per good file.

use std::path::Path;
use std::process::ExitCode;

use pgcdc::config::{check_unique, connector_files, ConnectorConfig};

use super::args::ValidateArgs;
use super::{connector_paths, load_process, ProcessSource, EXIT_USAGE};

pub fn run(config: Option<&Path>, args: ValidateArgs) -> ExitCode {
    let mut failed = false;

    let process = match load_process(config) {
        Ok((process, source)) => {
            match source {
                ProcessSource::File(path) => println!("ok: {}", path.display()),
                ProcessSource::Defaults => {
                    println!(
                        "ok: built-in process defaults (no {})",
                        super::DEFAULT_CONFIG
                    )
                }
            }
            if args.print {
                print_toml(&toml::to_string_pretty(&process).unwrap_or_default());
            }
            Some(process)
        }
        Err(e) => {
            eprintln!("error: {e}");
            failed = true;
            None
        }
    };

    let files = match connector_files(&connector_paths(&args.paths)) {
        Ok(files) => files,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };

    let mut connectors = Vec::new();
    for file in &files {
        match ConnectorConfig::load(file) {
            Ok(connector) => {
                println!("ok: {}", file.display());
                if args.print {
                    print_toml(&connector.to_masked_toml());
                }
                connectors.push(connector);
            }
            Err(e) => {
                eprintln!("error: {e}");
                failed = true;
            }
        }
    }

    if let Some(process) = &process {
        if let Err(e) = check_unique(&connectors, process) {
            eprintln!("error: {e}");
            failed = true;
        }
    }

    if failed {
        ExitCode::from(EXIT_USAGE)
    } else {
        ExitCode::SUCCESS
    }
}

fn print_toml(text: &str) {
    for line in text.lines() {
        if line.is_empty() {
            println!();
        } else {
            println!("    {line}");
        }
    }
}
