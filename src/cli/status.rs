//! `pgcdc status`: where each connector stands — its offsets file, its slot on the server and
//! how far the slot lags behind the server's WAL. Read-only: it never changes the slot.

use std::fmt::Write as _;
use std::process::ExitCode;

use pgcdc::config::{ConnectorConfig, ProcessConfig};
use pgcdc::offsets::incremental::IncrementalState;
use pgcdc::pipeline::{open_store, Settings};
use pgcdc::source::admin::Admin;

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
    let mut ok = true;
    for c in &connectors {
        match runtime.block_on(report(c, &process)) {
            Ok(text) => print!("{text}"),
            Err(e) => {
                ok = false;
                println!("connector {}\n  error: {e}", c.name);
            }
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

async fn report(c: &ConnectorConfig, process: &ProcessConfig) -> Result<String, String> {
    let mut out = String::new();
    let _ = writeln!(out, "connector {}", c.name);
    let settings = Settings::from_config(c, process).map_err(|e| e.to_string())?;
    match open_store(&settings).await {
        Ok(store) => {
            let pos = store
                .position()
                .map_or("none (first start)".to_string(), |l| l.to_string());
            let snap = if store.snapshot_completed() {
                "snapshot completed"
            } else {
                "no completed snapshot"
            };
            let _ = writeln!(
                out,
                "  offsets: {} (position {pos}, {snap})",
                store.location()
            );
            let _ = writeln!(
                out,
                "  incremental snapshot: {}",
                incremental(store.incremental())
            );
        }
        Err(e) => {
            let _ = writeln!(out, "  offsets: {e}");
        }
    }
    let admin = Admin::connect(&settings.params)
        .await
        .map_err(|e| e.to_string())?;
    let current = admin.current_wal_lsn().await.map_err(|e| e.to_string())?;
    match admin
        .slot_info(&c.slot.name)
        .await
        .map_err(|e| e.to_string())?
    {
        None => {
            let _ = writeln!(
                out,
                "  slot: {} does not exist (created on the next run)",
                c.slot.name
            );
        }
        Some(slot) => {
            let active = match (slot.active, slot.active_pid) {
                (true, Some(pid)) => format!("active (pid {pid})"),
                (true, None) => "active".to_string(),
                _ => "inactive".to_string(),
            };
            let confirmed = slot
                .confirmed_flush_lsn
                .map_or("-".to_string(), |l| l.to_string());
            let _ = writeln!(
                out,
                "  slot: {} {active}, confirmed {confirmed}, wal_status {}",
                c.slot.name,
                slot.wal_status.as_deref().unwrap_or("-")
            );
            if let Some(conf) = slot.confirmed_flush_lsn {
                let lag = current.as_u64().saturating_sub(conf.as_u64());
                let _ = writeln!(
                    out,
                    "  lag: {lag} bytes of WAL behind the server ({current})"
                );
            }
        }
    }
    Ok(out)
}
