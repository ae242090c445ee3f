//! `pgcdc replay`: a table as it was at a moment, rebuilt from the connector's topics alone
//! (no database connection), written to a JSON-lines or CSV file.

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use pgcdc::pipeline::Settings;
use pgcdc::rebuild::change::{self, Shape};
use pgcdc::rebuild::moment::{self, Moment, MomentError};
use pgcdc::rebuild::output::{self, OutputFormat};
use pgcdc::rebuild::TableState;
use pgcdc::sink::{read_topic, TopicError};

use super::rebuild_progress::Progress;
use super::verify::{load_one, prepare};
use super::{EXIT_FAILURE, EXIT_USAGE};

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The connector file.
    #[arg(value_name = "CONNECTOR_FILE")]
    pub path: PathBuf,

    /// The table, `schema.table`.
    #[arg(long, value_name = "TABLE")]
    pub table: String,

    /// The moment: an LSN (transactions that committed at or before it) or an RFC 3339 time
    /// (committed at or before it, by source.ts_ms) [default: everything in the topic].
    #[arg(long, value_name = "LSN_OR_TIME")]
    pub until: Option<Moment>,

    /// Where to write the rows: a `.csv` file, anything else gets JSON lines.
    #[arg(long, value_name = "FILE")]
    pub to: PathBuf,
}

#[derive(Debug, thiserror::Error)]
enum ReplayError {
    #[error(transparent)]
    Topic(#[from] TopicError),
    #[error(transparent)]
    Moment(#[from] MomentError),
    #[error("{topic}: {source}")]
    Change {
        topic: String,
        source: change::ChangeError,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub fn run(config: Option<&std::path::Path>, args: ReplayArgs) -> ExitCode {
    let (process, c) = match load_one(config, &args.path) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    super::logging::init(&process.log);
    let (settings, shape) = match prepare(&c, &process) {
        Ok(p) => p,
        Err(why) => {
            eprintln!("error: {}: {why}", c.file.display());
            return ExitCode::from(EXIT_USAGE);
        }
    };
    if args.table.split('.').count() != 2 {
        eprintln!("error: --table {:?}: name it as schema.table", args.table);
        return ExitCode::from(EXIT_USAGE);
    }
    match replay(&settings, shape, &args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", super::error_chain(&e));
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// The table's topic, named as the connector names it.
fn topic_of(s: &Settings, table: &str) -> String {
    pgcdc::event::sanitize_topic(&format!("{}.{table}", s.event.topic_prefix))
}

fn replay(s: &Settings, shape: Shape, args: &ReplayArgs) -> Result<(), ReplayError> {
    let topic = topic_of(s, &args.table);
    let until = args.until.unwrap_or_else(moment::now);
    let mut state = TableState::new(
        Vec::new(),
        Some(s.event.unavailable_value_placeholder.clone()),
    );
    let (mut later, mut bad) = (0u64, None);
    let progress = Progress::start(&format!("{}: reading {topic}", args.table));
    let read = read_topic(&s.sink, &topic, Duration::from_secs(60), |r| {
        progress.inc();
        if bad.is_some() {
            return;
        }
        match until.includes(shape, r.event_id, r.value) {
            Ok(true) => match change::decode(shape, r.key, r.value) {
                Ok(c) => state.apply(c),
                Err(e) => {
                    bad = Some(ReplayError::Change {
                        topic: topic.clone(),
                        source: e,
                    })
                }
            },
            Ok(false) => later += 1,
            Err(e) => bad = Some(e.into()),
        }
    })?;
    progress.finish();
    if let Some(e) = bad {
        return Err(e);
    }
    let rows = write(&args.to, state)?;
    println!(
        "replay {} until {}: {rows} rows written to {} ({read} records of {topic} read, {later} after the moment skipped)",
        args.table,
        describe(until),
        args.to.display()
    );
    Ok(())
}

fn describe(m: Moment) -> String {
    match m {
        Moment::Lsn(l) => l.to_string(),
        Moment::TimeMs(ms) => humantime::format_rfc3339_millis(
            std::time::UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64),
        )
        .to_string(),
    }
}

/// Writes the rows sorted by key.
fn write(path: &PathBuf, state: TableState) -> Result<u64, ReplayError> {
    let err = |source| ReplayError::Write {
        path: path.clone(),
        source,
    };
    let file = std::fs::File::create(path).map_err(err)?;
    let mut out = BufWriter::new(file);
    let rows = state.into_sorted();
    let n = output::write_rows(
        &mut out,
        OutputFormat::for_path(path),
        rows.iter().map(|(_, r)| r.as_str()),
    )
    .map_err(err)?;
    out.flush().map_err(err)?;
    Ok(n)
}
