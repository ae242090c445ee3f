//! The Prometheus metrics of one connector: handles registered once when the connector is set
//! up, so that the hot path only touches atomics (no name formatting or label lookup per
//! event). Without an installed recorder (`[http] enabled = false`, or the read-only commands)
//! every handle is a no-op.

use metrics::{Counter, Gauge, Histogram};

use crate::lsn::Lsn;

/// The `op` label values, in the order of [`Metrics::events`].
pub const OPS: [&str; 6] = ["c", "u", "d", "r", "t", "m"];

/// The `cause` label values of `pgcdc_reconnects_total`, in the order of
/// [`Metrics::reconnects`].
pub const CAUSES: [&str; 5] = ["source", "sink", "offsets", "snapshot", "other"];

/// The `wal_status` values PostgreSQL reports for a slot.
pub const WAL_STATUSES: [&str; 4] = ["reserved", "extended", "unreserved", "lost"];

/// Buckets of the commit-to-acknowledged latency, in seconds: from 1 ms (the goal at p99 is a
/// few ms over the server's own floor) to a minute (a paused broker).
pub const LATENCY_BUCKETS: [f64; 15] = [
    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0,
];

pub const COMMIT_TO_ACK: &str = "pgcdc_commit_to_ack_seconds";

pub struct Metrics {
    events: [Counter; 6],
    pub filtered: Counter,
    pub failed: Counter,
    pub dead_lettered: Counter,
    pub transactions: Counter,
    pub connected: Gauge,
    pub behind_source_ms: Gauge,
    pub since_last_event: Gauge,
    pub received_lsn: Gauge,
    pub acknowledged_lsn: Gauge,
    pub confirmed_lsn: Gauge,
    pub slot_lag: Gauge,
    pub slot_safe_wal_size: Gauge,
    wal_status: [Gauge; 4],
    pub in_flight: Gauge,
    reconnects: [Counter; 5],
    pub snapshot_running: Gauge,
    pub snapshot_completed: Gauge,
    pub snapshot_aborted: Gauge,
    pub snapshot_duration: Gauge,
    pub snapshot_tables_total: Gauge,
    pub snapshot_tables_remaining: Gauge,
    pub snapshot_rows: Counter,
    pub incremental_running: Gauge,
    pub incremental_paused: Gauge,
    pub incremental_tables_remaining: Gauge,
    pub incremental_chunks: Gauge,
    pub incremental_rows: Gauge,
    pub commit_to_ack: Histogram,
}

impl Metrics {
    /// Registers every handle of connector `name` with the installed recorder.
    pub fn register(name: &str) -> Self {
        let c = |metric: &'static str| metrics::counter!(metric, "connector" => name.to_string());
        let g = |metric: &'static str| metrics::gauge!(metric, "connector" => name.to_string());
        Metrics {
            events: OPS.map(|op| {
                metrics::counter!("pgcdc_events_total", "connector" => name.to_string(), "op" => op)
            }),
            filtered: c("pgcdc_events_filtered_total"),
            failed: c("pgcdc_event_failures_total"),
            dead_lettered: c("pgcdc_dead_lettered_total"),
            transactions: c("pgcdc_transactions_committed_total"),
            connected: g("pgcdc_connected"),
            behind_source_ms: g("pgcdc_milliseconds_behind_source"),
            since_last_event: g("pgcdc_seconds_since_last_event"),
            received_lsn: g("pgcdc_received_lsn"),
            acknowledged_lsn: g("pgcdc_acknowledged_lsn"),
            confirmed_lsn: g("pgcdc_confirmed_lsn"),
            slot_lag: g("pgcdc_slot_lag_bytes"),
            slot_safe_wal_size: g("pgcdc_slot_safe_wal_size_bytes"),
            wal_status: WAL_STATUSES.map(|st| {
                metrics::gauge!("pgcdc_slot_wal_status", "connector" => name.to_string(), "wal_status" => st)
            }),
            in_flight: g("pgcdc_records_in_flight"),
            reconnects: CAUSES.map(|cause| {
                metrics::counter!("pgcdc_reconnects_total", "connector" => name.to_string(), "cause" => cause)
            }),
            snapshot_running: g("pgcdc_snapshot_running"),
            snapshot_completed: g("pgcdc_snapshot_completed"),
            snapshot_aborted: g("pgcdc_snapshot_aborted"),
            snapshot_duration: g("pgcdc_snapshot_duration_seconds"),
            snapshot_tables_total: g("pgcdc_snapshot_tables_total"),
            snapshot_tables_remaining: g("pgcdc_snapshot_tables_remaining"),
            snapshot_rows: c("pgcdc_snapshot_rows_scanned_total"),
            incremental_running: g("pgcdc_incremental_snapshot_running"),
            incremental_paused: g("pgcdc_incremental_snapshot_paused"),
            incremental_tables_remaining: g("pgcdc_incremental_snapshot_tables_remaining"),
            incremental_chunks: g("pgcdc_incremental_snapshot_chunks"),
            incremental_rows: g("pgcdc_incremental_snapshot_rows"),
            commit_to_ack: metrics::histogram!(COMMIT_TO_ACK, "connector" => name.to_string()),
        }
    }

    /// One event published with envelope `op` code `op`; unknown codes are not counted.
    pub fn event(&self, op: &str) {
        if let Some(i) = OPS.iter().position(|o| *o == op) {
            self.events[i].increment(1);
        }
    }

    /// `n` events of the same `op`.
    pub fn events(&self, op: &str, n: u64) {
        if let Some(i) = OPS.iter().position(|o| *o == op) {
            self.events[i].increment(n);
        }
    }

    pub fn reconnect(&self, cause: &str) {
        let i = CAUSES
            .iter()
            .position(|c| *c == cause)
            .unwrap_or(CAUSES.len() - 1);
        self.reconnects[i].increment(1);
    }

    /// 1 for the slot's current `wal_status`, 0 for the others; all 0 when unknown.
    pub fn wal_status(&self, status: Option<&str>) {
        for (g, st) in self.wal_status.iter().zip(WAL_STATUSES) {
            g.set(if Some(st) == status { 1.0 } else { 0.0 });
        }
    }
}

/// An LSN as a gauge value: exact up to 2^53 bytes of WAL (8 PiB), far beyond any server.
pub fn lsn_value(lsn: Lsn) -> f64 {
    lsn.as_u64() as f64
}

/// HELP lines for `/metrics`; one call per process, after the recorder is installed.
pub fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "pgcdc_events_total",
        "Change events published, by envelope op (c, u, d, r, t, m)"
    );
    describe_counter!(
        "pgcdc_events_filtered_total",
        "Change events dropped by the table filter or skipped_operations"
    );
    describe_counter!("pgcdc_event_failures_total", "Events that failed (value not convertible, record too large), whatever [errors] mode did with them");
    describe_counter!(
        "pgcdc_dead_lettered_total",
        "Records written to the dead-letter topic"
    );
    describe_counter!(
        "pgcdc_transactions_committed_total",
        "PostgreSQL transactions streamed (commit seen and its events handed to the sink)"
    );
    describe_gauge!(
        "pgcdc_connected",
        "1 while the replication stream is connected, else 0"
    );
    describe_gauge!("pgcdc_milliseconds_behind_source", "Commit timestamp of the last streamed transaction to the moment its events were handed to the sink, in ms");
    describe_gauge!("pgcdc_seconds_since_last_event", "Seconds since the last transaction or snapshot chunk was handed to the sink (-1 before the first)");
    describe_gauge!(
        "pgcdc_received_lsn",
        "WAL position of the last message received from the server"
    );
    describe_gauge!(
        "pgcdc_acknowledged_lsn",
        "Durable position: acknowledged by the sink and stored in the offsets file"
    );
    describe_gauge!(
        "pgcdc_confirmed_lsn",
        "The slot's confirmed_flush_lsn as the server reports it"
    );
    describe_gauge!("pgcdc_slot_lag_bytes", "pg_current_wal_lsn() minus the slot's confirmed_flush_lsn, polled on a separate connection");
    describe_gauge!("pgcdc_slot_safe_wal_size_bytes", "The slot's safe_wal_size: bytes of WAL that can still be written before the slot is in danger of being invalidated");
    describe_gauge!(
        "pgcdc_slot_wal_status",
        "1 for the slot's current wal_status (reserved, extended, unreserved, lost)"
    );
    describe_gauge!(
        "pgcdc_records_in_flight",
        "Records handed to the sink and not yet acknowledged"
    );
    describe_counter!("pgcdc_reconnects_total", "Sessions that failed transiently and were restarted, by cause (source, sink, offsets, snapshot, other)");
    describe_gauge!("pgcdc_snapshot_running", "1 while an initial snapshot runs");
    describe_gauge!(
        "pgcdc_snapshot_completed",
        "1 once an initial snapshot completed in this run"
    );
    describe_gauge!(
        "pgcdc_snapshot_aborted",
        "1 when the last initial snapshot failed or was stopped before it completed"
    );
    describe_gauge!(
        "pgcdc_snapshot_duration_seconds",
        "How long the running initial snapshot has taken so far, or the last one took"
    );
    describe_gauge!(
        "pgcdc_snapshot_tables_total",
        "Tables in the running or last initial snapshot"
    );
    describe_gauge!(
        "pgcdc_snapshot_tables_remaining",
        "Tables of the running initial snapshot not yet completely read"
    );
    describe_counter!(
        "pgcdc_snapshot_rows_scanned_total",
        "Rows read by initial snapshots"
    );
    describe_gauge!(
        "pgcdc_incremental_snapshot_running",
        "1 while an incremental snapshot runs (paused or not)"
    );
    describe_gauge!(
        "pgcdc_incremental_snapshot_paused",
        "1 while the incremental snapshot is paused"
    );
    describe_gauge!(
        "pgcdc_incremental_snapshot_tables_remaining",
        "Tables the incremental snapshot has still to read, the current one included"
    );
    describe_gauge!(
        "pgcdc_incremental_snapshot_chunks",
        "Chunks emitted by the running or last incremental snapshot"
    );
    describe_gauge!(
        "pgcdc_incremental_snapshot_rows",
        "Rows emitted by the running or last incremental snapshot"
    );
    describe_histogram!(COMMIT_TO_ACK, metrics::Unit::Seconds, "PostgreSQL commit timestamp to the sink's acknowledgement of the transaction's last record");
}
