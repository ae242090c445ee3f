//! `pgcdc verify`: do the connector's topics equal its tables?
//!
//! It opens one consistent point in the database (a temporary slot's exported snapshot and its
//! LSN), waits until the connector's slot has confirmed that point (so every event of an
//! earlier transaction is acknowledged in Kafka), rebuilds each table from its topic counting
//! only events of transactions that committed before the point, and probes the database's rows
//! of that snapshot against it. The connector is never touched: its slot is only read, and the
//! topics are read by a consumer that joins no group.

use std::collections::BTreeSet;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use pgcdc::config::{ConnectorConfig, ProcessConfig, TransformConfig};
use pgcdc::lsn::Lsn;
use pgcdc::pipeline::Settings;
use pgcdc::rebuild::change::{self, event_lsn, Shape};
use pgcdc::rebuild::db_rows::{self, DbRowsError, DbTables};
use pgcdc::rebuild::point::{self, PointError};
use pgcdc::rebuild::{Comparer, TableReport, TableState};
use pgcdc::sink::{read_topic, TopicError};
use pgcdc::snapshot::{SnapshotError, SnapshotTable};
use pgcdc::source::admin::{Admin, AdminError};

use super::rebuild_progress::Progress;
use super::{load_all, EXIT_FAILURE, EXIT_USAGE};

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The connector file.
    #[arg(value_name = "CONNECTOR_FILE")]
    pub path: std::path::PathBuf,

    /// Tables to compare, `schema.table`, comma-separated [default: every captured table].
    #[arg(long, value_delimiter = ',', value_name = "TABLES")]
    pub tables: Vec<String>,

    /// How long to wait for the connector to confirm the comparison point (it must be running,
    /// or have stopped past it).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = humantime::parse_duration)]
    pub wait: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Point(#[from] PointError),
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    #[error(transparent)]
    Admin(#[from] AdminError),
    #[error(transparent)]
    Db(#[from] DbRowsError),
    #[error(transparent)]
    Topic(#[from] TopicError),
    #[error("{table}: {source}")]
    Change {
        table: String,
        source: change::ChangeError,
    },
    #[error("connector slot {slot} does not exist (or is not a logical slot): has the connector run yet?")]
    NoSlot { slot: String },
    #[error("connector slot {slot} ({state}) confirmed only {confirmed} after {waited:?}, not yet the comparison point {point}: start the connector (pgcdc run) or give it longer with --wait")]
    NotCaughtUp {
        slot: String,
        state: &'static str,
        confirmed: Lsn,
        point: Lsn,
        waited: Duration,
    },
    #[error("--tables names {0}, which the connector does not capture")]
    UnknownTable(String),
}

impl VerifyError {
    fn exit_code(&self) -> u8 {
        match self {
            VerifyError::UnknownTable(_) => EXIT_USAGE,
            _ => EXIT_FAILURE,
        }
    }
}

pub fn run(config: Option<&std::path::Path>, args: VerifyArgs) -> ExitCode {
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
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the tokio runtime: {e}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    match runtime.block_on(verify(&settings, shape, &args)) {
        Ok(reports) => print_result(&reports),
        Err(e) => {
            eprintln!("error: {}", super::error_chain(&e));
            ExitCode::from(e.exit_code())
        }
    }
}

/// The one connector of `path`.
pub fn load_one(
    config: Option<&std::path::Path>,
    path: &std::path::Path,
) -> Result<(ProcessConfig, ConnectorConfig), ExitCode> {
    let (process, mut connectors) = load_all(config, &[path.to_path_buf()])?;
    if connectors.len() != 1 {
        eprintln!(
            "error: {} holds {} connectors; name one connector file",
            path.display(),
            connectors.len()
        );
        return Err(ExitCode::from(EXIT_USAGE));
    }
    Ok((process, connectors.remove(0)))
}

/// The connector's settings and record shape; an error names what cannot be rebuilt.
pub fn prepare(c: &ConnectorConfig, process: &ProcessConfig) -> Result<(Settings, Shape), String> {
    let settings = Settings::from_config(c, process).map_err(|e| e.to_string())?;
    let mut flat = false;
    for t in &c.transforms {
        if let TransformConfig::Unwrap(u) = t {
            if !u.route_by_field.is_empty() {
                return Err("transforms.route_by_field sends a table's rows to many topics; verify and replay read one topic per table".into());
            }
            flat = true;
        }
    }
    let shape = Shape {
        schemas: c.format.schemas(),
        flat,
    };
    Ok((settings, shape))
}

async fn verify(
    s: &Settings,
    shape: Shape,
    args: &VerifyArgs,
) -> Result<Vec<TableReport>, VerifyError> {
    let point = point::open(&s.params).await?;
    let db = db_rows::list(&point.session, s, point.lsn).await?;
    let tables = selected(&db, &args.tables)?;
    let confirmed = wait_confirmed(s, point.lsn, args.wait).await?;
    println!(
        "verify {} at {} (connector slot {} confirmed {confirmed})",
        s.name, point.lsn, s.slot
    );
    let mut reports = Vec::new();
    for t in tables {
        let report = compare_table(s, shape, &point.session, &db, t, point.lsn).await?;
        reports.push(report);
    }
    Ok(reports)
}

/// The tables to compare: all captured ones, or those of `--tables`.
fn selected<'a>(db: &'a DbTables, names: &[String]) -> Result<Vec<&'a SnapshotTable>, VerifyError> {
    let known: BTreeSet<String> = db.tables.iter().map(SnapshotTable::name).collect();
    if let Some(unknown) = names.iter().find(|n| !known.contains(*n)) {
        return Err(VerifyError::UnknownTable(unknown.clone()));
    }
    Ok(db
        .tables
        .iter()
        .filter(|t| names.is_empty() || names.contains(&t.name()))
        .collect())
}

/// Waits until the connector's slot has confirmed `lsn`: every transaction that committed
/// before it is then acknowledged by Kafka.
async fn wait_confirmed(s: &Settings, lsn: Lsn, wait: Duration) -> Result<Lsn, VerifyError> {
    let admin = Admin::connect(&s.params).await?;
    let started = Instant::now();
    loop {
        let info = admin.slot_info(&s.slot).await?;
        let Some((confirmed, active)) = info.and_then(|i| Some((i.confirmed_flush_lsn?, i.active)))
        else {
            return Err(VerifyError::NoSlot {
                slot: s.slot.clone(),
            });
        };
        if confirmed >= lsn {
            return Ok(confirmed);
        }
        if started.elapsed() >= wait {
            return Err(VerifyError::NotCaughtUp {
                slot: s.slot.clone(),
                state: if active {
                    "active"
                } else {
                    "inactive: pgcdc is not running"
                },
                confirmed,
                point: lsn,
                waited: wait,
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// What folding a topic did, for the summary line.
#[derive(Debug, Default)]
pub struct Folded {
    pub records: u64,
    /// Records of transactions that committed at or after the point.
    pub after_point: u64,
}

/// Rebuilds one table from its topic, up to (not including) commits at `until`.
pub fn fold_topic(
    s: &Settings,
    shape: Shape,
    table: &SnapshotTable,
    until: impl Fn(Option<Lsn>) -> bool,
) -> Result<(TableState, Folded), VerifyError> {
    let columns = db_rows::value_columns(&table.schema);
    let mut state = TableState::new(columns, Some(s.event.unavailable_value_placeholder.clone()));
    let mut folded = Folded::default();
    let mut bad = None;
    let progress = Progress::start(&format!("{}: reading {}", table.name(), table.schema.topic));
    let stall = Duration::from_secs(60);
    folded.records = read_topic(&s.sink, &table.schema.topic, stall, |r| {
        progress.inc();
        if bad.is_some() {
            return;
        }
        // Records without an event id are initial snapshot rows: they precede the stream.
        if !until(r.event_id.and_then(event_lsn)) {
            folded.after_point += 1;
            return;
        }
        match change::decode(shape, r.key, r.value) {
            Ok(c) => state.apply(c),
            Err(e) => bad = Some(e),
        }
    })?;
    progress.finish();
    if let Some(source) = bad {
        return Err(VerifyError::Change {
            table: table.name(),
            source,
        });
    }
    Ok((state, folded))
}

async fn compare_table(
    s: &Settings,
    shape: Shape,
    session: &Admin,
    db: &DbTables,
    table: &SnapshotTable,
    point: Lsn,
) -> Result<TableReport, VerifyError> {
    if table.schema.key_schema.is_none() {
        println!(
            "  {}: no primary key, cannot be rebuilt by key; skipped",
            table.name()
        );
        return Ok(TableReport {
            table: table.name(),
            ..TableReport::default()
        });
    }
    let before_point = |lsn: Option<Lsn>| lsn.is_none_or(|l| l < point);
    let (state, folded) =
        tokio::task::block_in_place(|| fold_topic(s, shape, table, before_point))?;
    let rebuilt = state.len();
    let mut cmp = Comparer::new(table.name(), state);
    let progress = Progress::start(&format!("{}: comparing with PostgreSQL", table.name()));
    db_rows::read(
        session,
        db,
        table,
        shape,
        &Arc::clone(&s.transforms),
        |k, r| {
            progress.inc();
            cmp.probe(k, r);
        },
    )
    .await?;
    progress.finish();
    let report = cmp.finish();
    print_table(&report, &table.schema.topic, &folded, rebuilt);
    Ok(report)
}

fn print_table(r: &TableReport, topic: &str, folded: &Folded, rebuilt: usize) {
    println!(
        "  {}: {} rows compared, {} missing, {} extra, {} different ({} records of {topic} read, {} after the point skipped, {rebuilt} rows rebuilt)",
        r.table, r.compared, r.missing, r.extra, r.different, folded.records, folded.after_point
    );
    if !r.missing_keys.is_empty() {
        println!(
            "    missing (in PostgreSQL, not in the topic): {}",
            r.missing_keys.join(" ")
        );
    }
    if !r.extra_keys.is_empty() {
        println!(
            "    extra (in the topic, not in PostgreSQL): {}",
            r.extra_keys.join(" ")
        );
    }
    for (key, cols) in &r.different_keys {
        println!("    different: {key} columns {}", cols.join(", "));
    }
}

fn print_result(reports: &[TableReport]) -> ExitCode {
    let bad = reports.iter().filter(|r| !r.equal()).count();
    if bad == 0 {
        println!("result: equal ({} tables)", reports.len());
        ExitCode::SUCCESS
    } else {
        println!("result: different ({bad} of {} tables)", reports.len());
        ExitCode::from(EXIT_FAILURE)
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::super::args::{Cli, Command};

    #[test]
    fn parses_verify_and_replay() {
        let cli = Cli::try_parse_from([
            "pgcdc",
            "verify",
            "c.toml",
            "--tables",
            "public.a,public.b",
            "--wait",
            "5s",
        ])
        .unwrap();
        match cli.command {
            Command::Verify(a) => {
                assert_eq!(a.tables, ["public.a", "public.b"]);
                assert_eq!(a.wait, std::time::Duration::from_secs(5));
            }
            other => panic!("unexpected {other:?}"),
        }
        let cli = Cli::try_parse_from([
            "pgcdc",
            "replay",
            "c.toml",
            "--table",
            "public.a",
            "--until",
            "0/16B3748",
            "--to",
            "a.csv",
        ])
        .unwrap();
        assert!(matches!(cli.command, Command::Replay(a) if a.until.is_some()));
        let e = Cli::try_parse_from([
            "pgcdc", "replay", "c.toml", "--table", "t", "--until", "soon", "--to", "a",
        ])
        .unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let e = Cli::try_parse_from(["pgcdc", "replay", "c.toml", "--table", "t"]).unwrap_err();
        assert_eq!(e.exit_code(), 2, "--to is required");
    }
}
