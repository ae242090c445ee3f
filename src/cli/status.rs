//! `pgcdc status`: where each connector stands — its offsets file, its slot on the server and
//! how far the slot lags behind the server's WAL. Read-only: it never changes the slot.
//! `--json` prints the same facts as one JSON document (`{"connectors": [...]}`).

use std::fmt::Write as _;
use std::process::ExitCode;

use pgcdc::config::{ConnectorConfig, ProcessConfig};
use pgcdc::offsets::incremental::IncrementalState;
use pgcdc::pipeline::{open_store, Settings};
use pgcdc::source::admin::Admin;
use serde::Serialize;

use super::args::StatusArgs;
use super::{load_all, EXIT_FAILURE};

pub fn run(config: Option<&std::path::Path>, args: StatusArgs) -> ExitCode {
    let (process, connectors) = match load_all(config, &args.paths) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    // Two threads: opening an offset store blocks (file or network I/O) in block_in_place.
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
    let reports: Vec<Report> = connectors
        .iter()
        .map(|c| runtime.block_on(report(c, &process)))
        .collect();
    let ok = reports.iter().all(|r| r.error.is_none());
    if args.json {
        let doc = serde_json::json!({ "connectors": reports });
        println!(
            "{}",
            serde_json::to_string_pretty(&doc).expect("reports serialize")
        );
    } else {
        for r in &reports {
            print!("{}", text(r));
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILURE)
    }
}

/// The incremental snapshot's state as the offsets file records it (acknowledged progress).
fn incremental(state: Option<&IncrementalState>) -> String {
    let Some(st) = state.filter(|s| s.running()) else {
        return match state {
            Some(s) if s.tables_done > 0 => format!(
                "none running (last one: {} tables, {} chunks, {} rows)",
                s.tables_done, s.chunks, s.rows
            ),
            _ => "none running".to_string(),
        };
    };
    let cur = st.current().expect("running");
    format!(
        "{}, table {} ({} chunks, {} rows done), {} tables queued after it; total {} chunks, {} rows",
        if st.paused { "paused" } else { "running" },
        cur.table,
        cur.chunks,
        cur.rows,
        st.tables.len() - 1,
        st.chunks,
        st.rows
    )
}

/// What `pgcdc status` finds out about one connector; printed as text or as JSON.
#[derive(Serialize)]
struct Report {
    connector: String,
    offsets: OffsetsReport,
    /// `None` when the server could not be asked (see `error`).
    slot: Option<SlotReport>,
    /// Why the server's side is missing.
    error: Option<String>,
}

#[derive(Serialize)]
struct OffsetsReport {
    /// Where they are: "offsets file <path>" or "offsets topic <topic> (record key ...)".
    store: String,
    /// `None` before the first start.
    position: Option<String>,
    snapshot_completed: bool,
    incremental_snapshot: Option<IncrementalReport>,
    /// The offsets file could not be read.
    error: Option<String>,
    #[serde(skip)]
    incremental_text: String,
}

/// Names and counts only: a table's filter and last key may hold data.
#[derive(Serialize)]
struct IncrementalReport {
    running: bool,
    paused: bool,
    /// Tables still to read; the first is being read.
    tables: Vec<String>,
    chunks: u64,
    rows: u64,
    tables_done: u64,
}

#[derive(Serialize)]
struct SlotReport {
    name: String,
    exists: bool,
    active: bool,
    active_pid: Option<i32>,
    confirmed_flush_lsn: Option<String>,
    wal_status: Option<String>,
    /// The server's WAL position when asked.
    server_lsn: String,
    /// `server_lsn` minus `confirmed_flush_lsn`.
    lag_bytes: Option<u64>,
}

async fn report(c: &ConnectorConfig, process: &ProcessConfig) -> Report {
    let settings = Settings::from_config(c, process).map_err(|e| e.to_string());
    let offsets = match &settings {
        Ok(s) => offsets_report(s).await,
        Err(e) => OffsetsReport::failed(e.clone()),
    };
    let slot = match &settings {
        Ok(s) => slot_report(c, s).await,
        Err(e) => Err(e.clone()),
    };
    let (slot, error) = match slot {
        Ok(slot) => (Some(slot), None),
        Err(e) => (None, Some(e)),
    };
    Report {
        connector: c.name.clone(),
        offsets,
        slot,
        error,
    }
}

impl OffsetsReport {
    fn failed(error: String) -> Self {
        OffsetsReport {
            store: String::new(),
            position: None,
            snapshot_completed: false,
            incremental_snapshot: None,
            error: Some(error),
            incremental_text: String::new(),
        }
    }
}

async fn offsets_report(settings: &Settings) -> OffsetsReport {
    let mut r = OffsetsReport::failed(String::new());
    r.error = None;
    match open_store(settings).await {
        Ok(store) => {
            r.store = store.location();
            r.position = store.position().map(|l| l.to_string());
            r.snapshot_completed = store.snapshot_completed();
            r.incremental_text = incremental(store.incremental());
            r.incremental_snapshot = store.incremental().map(|s| IncrementalReport {
                running: s.running(),
                paused: s.paused,
                tables: s.tables.iter().map(|t| t.table.clone()).collect(),
                chunks: s.chunks,
                rows: s.rows,
                tables_done: s.tables_done,
            });
        }
        Err(e) => r.error = Some(e.to_string()),
    }
    r
}

async fn slot_report(c: &ConnectorConfig, settings: &Settings) -> Result<SlotReport, String> {
    let admin = Admin::connect(&settings.params)
        .await
        .map_err(|e| e.to_string())?;
    let current = admin.current_wal_lsn().await.map_err(|e| e.to_string())?;
    let slot = admin
        .slot_info(&c.slot.name)
        .await
        .map_err(|e| e.to_string())?;
    let confirmed = slot.as_ref().and_then(|s| s.confirmed_flush_lsn);
    Ok(SlotReport {
        name: c.slot.name.clone(),
        exists: slot.is_some(),
        active: slot.as_ref().is_some_and(|s| s.active),
        active_pid: slot.as_ref().and_then(|s| s.active_pid),
        confirmed_flush_lsn: confirmed.map(|l| l.to_string()),
        wal_status: slot.and_then(|s| s.wal_status),
        server_lsn: current.to_string(),
        lag_bytes: confirmed.map(|conf| current.as_u64().saturating_sub(conf.as_u64())),
    })
}

/// The text form (what `pgcdc status` has always printed).
fn text(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "connector {}", r.connector);
    if let Some(e) = &r.error {
        let _ = writeln!(out, "  error: {e}");
        return out;
    }
    let o = &r.offsets;
    match &o.error {
        None => {
            let pos = o.position.as_deref().unwrap_or("none (first start)");
            let snap = if o.snapshot_completed {
                "snapshot completed"
            } else {
                "no completed snapshot"
            };
            let _ = writeln!(out, "  offsets: {} (position {pos}, {snap})", o.store);
            let _ = writeln!(out, "  incremental snapshot: {}", o.incremental_text);
        }
        Some(e) => {
            let _ = writeln!(out, "  offsets: {e}");
        }
    }
    let Some(slot) = &r.slot else { return out };
    if !slot.exists {
        let _ = writeln!(
            out,
            "  slot: {} does not exist (created on the next run)",
            slot.name
        );
        return out;
    }
    let active = match (slot.active, slot.active_pid) {
        (true, Some(pid)) => format!("active (pid {pid})"),
        (true, None) => "active".to_string(),
        _ => "inactive".to_string(),
    };
    let _ = writeln!(
        out,
        "  slot: {} {active}, confirmed {}, wal_status {}",
        slot.name,
        slot.confirmed_flush_lsn.as_deref().unwrap_or("-"),
        slot.wal_status.as_deref().unwrap_or("-")
    );
    if let Some(lag) = slot.lag_bytes {
        let _ = writeln!(
            out,
            "  lag: {lag} bytes of WAL behind the server ({})",
            slot.server_lsn
        );
    }
    out
}
