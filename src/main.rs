//! The `pgcdc` binary: parse the command line, load configuration, run.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
