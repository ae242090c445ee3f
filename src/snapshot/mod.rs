//! The initial snapshot: every captured table read inside one consistent snapshot, in parallel,
//! as Debezium `op: "r"` events, all acknowledged by Kafka before streaming starts.
//!
//! The snapshot is either the one `CREATE_REPLICATION_SLOT` exported (exactly consistent with
//! the slot's start: streaming continues at its consistent point with nothing missing and
//! nothing repeated), or, when the slot already exists, one exported now from a fresh
//! REPEATABLE READ transaction; streaming then resumes from an earlier position, so changes
//! between that position and the snapshot arrive after the snapshot rows. Replayed key by key
//! (last value wins), the topics equal the tables either way.
//!
//! One coordinator connection lists the tables and holds the snapshot; `parallelism` worker
//! connections import it (`SET TRANSACTION SNAPSHOT`) and read ctid chunks with COPY. Workers
//! encode records; the coordinator alone produces to Kafka (one producer, its backpressure),
//! and a waiter task collects the acknowledgements.

pub mod incremental;
mod markers;
mod plan;
mod progress;
mod worker;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

pub use markers::{ChunkEnds, Markers};
pub use plan::{tables as captured_tables, Chunk, SnapshotTable};

use crate::config::TableFilter;
use crate::emit::{EmitError, Emitter, EventFailure};
use crate::event::{EventBuilder, EventConfig, EventError, SnapshotPoint};
use crate::format::{FormatError, Record, Serializer};
use crate::lsn::Lsn;
use crate::sink::{Sink, SinkError};
use crate::source::admin::{Admin, AdminError};
use crate::source::catalog::CatalogError;
use crate::source::copy_text::CopyTextError;
use crate::source::replication::{ConnectParams, SESSION_SETTINGS};
use worker::WorkerMsg;

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error(transparent)]
    Admin(#[from] AdminError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error("{0}: this is a bug in pgcdc; please report it")]
    Copy(#[from] CopyTextError),
    #[error(transparent)]
    Event(#[from] EventError),
    #[error(transparent)]
    Format(#[from] FormatError),
    #[error(transparent)]
    Sink(#[from] SinkError),
    /// A row failed and `[errors] mode` is `fail`.
    #[error("{0}")]
    EventFailed(Box<EventFailure>),
    #[error("the server returned an unexpected snapshot name {0:?}")]
    BadSnapshotName(String),
    #[error("unexpected answer from PostgreSQL: {0}")]
    Unexpected(String),
    #[error("a snapshot worker stopped unexpectedly: {0}")]
    Worker(String),
    #[error("the snapshot was stopped")]
    Stopped,
}

impl From<EmitError> for SnapshotError {
    fn from(e: EmitError) -> Self {
        match e {
            EmitError::EventFailed(f) => SnapshotError::EventFailed(f),
            EmitError::Sink(e) => SnapshotError::Sink(e),
        }
    }
}

impl SnapshotError {
    /// Transient failures redo the snapshot in a new session.
    pub fn is_transient(&self) -> bool {
        match self {
            SnapshotError::Admin(e) => e.is_transient(),
            SnapshotError::Catalog(e) => e.is_transient(),
            SnapshotError::Sink(e) => e.is_transient(),
            SnapshotError::Format(e) => e.is_transient(),
            SnapshotError::Stopped => true,
            _ => false,
        }
    }
}

/// Where the snapshot comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotSource {
    /// Exported by `CREATE_REPLICATION_SLOT` on a replication connection that must stay idle
    /// until [`run`] returns.
    Slot { name: String, consistent_point: Lsn },
    /// Exported now by the coordinator; `source.lsn` is the WAL position at that moment.
    Fresh,
}

/// What to read and how.
#[derive(Debug, Clone)]
pub struct SnapshotRequest {
    pub params: ConnectParams,
    pub publication: String,
    pub filter: TableFilter,
    pub event: EventConfig,
    pub format: crate::format::FormatSettings,
    pub transforms: Arc<crate::transforms::TransformChain>,
    pub parallelism: usize,
    pub chunk_pages: u32,
    /// How often progress is logged when no bar is shown.
    pub progress_interval: std::time::Duration,
    /// Where rows scanned are counted.
    pub obs: Arc<crate::observe::Connector>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotStats {
    /// `source.lsn` of the snapshot rows.
    pub lsn: Lsn,
    pub tables: usize,
    pub chunks: usize,
    pub rows: u64,
    pub elapsed: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotOutcome {
    /// Every row is in Kafka, acknowledged.
    Completed(SnapshotStats),
    /// `stop` was signalled; nothing may be recorded as done.
    Stopped,
}

fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

fn db(context: impl Into<String>) -> impl FnOnce(tokio_postgres::Error) -> SnapshotError {
    let context = context.into();
    move |source| SnapshotError::Admin(AdminError::Db { context, source })
}

/// A connection with the session settings the replication connection uses, so every value's
/// text is what pgoutput would send; no timeouts, since the coordinator sits idle in its
/// transaction for the whole snapshot.
pub(crate) async fn connect(params: &ConnectParams) -> Result<Admin, SnapshotError> {
    let conn = Admin::connect(params).await?;
    let mut sql: String = SESSION_SETTINGS
        .iter()
        .map(|(k, v)| format!("SET {k} = '{v}';"))
        .collect();
    sql.push_str("SET statement_timeout = 0; SET idle_in_transaction_session_timeout = 0;");
    conn.client()
        .batch_execute(&sql)
        .await
        .map_err(db("cannot prepare a snapshot session"))?;
    Ok(conn)
}

/// Joins the exported snapshot `name` in a new REPEATABLE READ transaction.
async fn import(conn: &Admin, name: &str, read_only: bool) -> Result<(), SnapshotError> {
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(SnapshotError::BadSnapshotName(name.to_string()));
    }
    let mode = if read_only { ", READ ONLY" } else { "" };
    conn.client()
        .batch_execute(&format!(
            "BEGIN ISOLATION LEVEL REPEATABLE READ{mode}; SET TRANSACTION SNAPSHOT '{name}'"
        ))
        .await
        .map_err(db(format!("cannot import snapshot {name}")))
}

/// Reads every captured table inside one snapshot and produces its rows to Kafka through
/// `sink`; returns once all of them are acknowledged (or `stop` is signalled).
pub async fn run(
    req: &SnapshotRequest,
    source: SnapshotSource,
    emit: &mut Emitter<impl Sink>,
    stop: &mut watch::Receiver<bool>,
) -> Result<SnapshotOutcome, SnapshotError> {
    let started = Instant::now();
    let ts_micros = now_micros();
    let coordinator = connect(&req.params).await?;
    let (name, lsn) = match &source {
        SnapshotSource::Slot {
            name,
            consistent_point,
        } => {
            import(&coordinator, name, false).await?;
            (name.clone(), *consistent_point)
        }
        SnapshotSource::Fresh => {
            coordinator
                .client()
                .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
                .await
                .map_err(db("cannot start the snapshot transaction"))?;
            let row = coordinator
                .client()
                .query_one("SELECT pg_export_snapshot()", &[])
                .await
                .map_err(db("cannot export a snapshot"))?;
            (row.get::<_, String>(0), Lsn::ZERO)
        }
    };
    let txn = plan::snapshot_txn(coordinator.client()).await?;
    let lsn = if lsn.is_zero() { txn.wal_lsn } else { lsn };
    let point = SnapshotPoint {
        lsn,
        xid: txn.xid,
        ts_micros,
    };
    let mut builder = EventBuilder::new(req.event.clone());
    let tables = plan::tables(
        coordinator.client(),
        coordinator.server_version_num(),
        &req.publication,
        &req.filter,
        &mut builder,
        req.chunk_pages,
        req.parallelism,
    )
    .await?;
    let chunk_counts: Vec<usize> = tables.iter().map(SnapshotTable::chunk_count).collect();
    let queue: VecDeque<Chunk> = tables
        .iter()
        .enumerate()
        .flat_map(|(i, t)| t.chunks(i))
        .collect();
    let total_chunks = queue.len();
    let workers = req.parallelism.min(total_chunks).max(1);
    tracing::info!(
        tables = tables.len(),
        chunks = total_chunks,
        workers,
        lsn = %lsn,
        snapshot = %name,
        "snapshot started"
    );
    // Every worker imports the snapshot before any reading starts: with a slot-exported
    // snapshot the replication connection stays idle until then, and it is gone afterwards.
    let mut conns = Vec::with_capacity(workers);
    for _ in 0..workers {
        let c = connect(&req.params).await?;
        import(&c, &name, true).await?;
        conns.push(c);
    }
    let shared = Arc::new(worker::Shared {
        tables,
        builder,
        point,
        format: req.format.clone(),
        transforms: req.transforms.clone(),
        queue: Mutex::new(queue),
    });
    let (tx, rx) = mpsc::channel(workers * 8);
    let mut set = JoinSet::new();
    for c in conns {
        set.spawn(worker::run(c, shared.clone(), tx.clone()));
    }
    drop(tx);
    let result = coordinate(
        &shared,
        &chunk_counts,
        req.progress_interval,
        rx,
        emit,
        stop,
        &req.obs,
    )
    .await;
    set.abort_all();
    while let Some(r) = set.join_next().await {
        if let Err(e) = r {
            if e.is_panic() {
                return Err(SnapshotError::Worker(e.to_string()));
            }
        }
    }
    drop(coordinator);
    match result? {
        None => {
            tracing::info!("snapshot stopped before it completed; it will be redone");
            Ok(SnapshotOutcome::Stopped)
        }
        Some(rows) => {
            let stats = SnapshotStats {
                lsn,
                tables: shared.tables.len(),
                chunks: total_chunks,
                rows,
                elapsed: started.elapsed(),
            };
            let secs = stats.elapsed.as_secs_f64().max(1e-6);
            tracing::info!(
                tables = stats.tables,
                rows,
                elapsed = ?stats.elapsed,
                rows_per_sec = (rows as f64 / secs) as u64,
                "snapshot completed; every row acknowledged"
            );
            Ok(SnapshotOutcome::Completed(stats))
        }
    }
}

/// Produces what the workers read, decides the held-back rows' markers, and waits for every
/// acknowledgement. `None` when stopped.
async fn coordinate(
    shared: &worker::Shared,
    chunk_counts: &[usize],
    progress_interval: std::time::Duration,
    mut rx: mpsc::Receiver<WorkerMsg>,
    emit: &mut Emitter<impl Sink>,
    stop: &mut watch::Receiver<bool>,
    obs: &crate::observe::Connector,
) -> Result<Option<u64>, SnapshotError> {
    let mut producer = Producer {
        emit,
        format: shared.format.build(),
        shared,
        encoded: Vec::new(),
    };
    let mut markers: Markers<worker::Row> = Markers::new(chunk_counts);
    let mut table_rows = vec![0u64; chunk_counts.len()];
    let mut chunks_left = chunk_counts.to_vec();
    let mut rows = 0u64;
    let mut progress = progress::Progress::new(chunk_counts.iter().sum(), progress_interval);
    let started = Instant::now();
    let m = &obs.metrics;
    m.snapshot_tables_total.set(chunk_counts.len() as f64);
    m.snapshot_tables_remaining.set(chunk_counts.len() as f64);
    let produced = async {
        loop {
            let msg = tokio::select! {
                biased;
                r = stop.changed() => {
                    if r.is_err() || *stop.borrow() {
                        return Ok(false);
                    }
                    continue;
                }
                msg = rx.recv() => msg,
            };
            match msg {
                None => break,
                Some(WorkerMsg::Failed(e)) => return Err(e),
                Some(WorkerMsg::FailedRow {
                    table,
                    records,
                    error,
                }) => {
                    producer.failed_row(table, records, error).await?;
                }
                Some(WorkerMsg::Records(recs)) => {
                    for rec in &recs {
                        producer.send(rec).await?;
                    }
                }
                Some(WorkerMsg::ChunkDone {
                    chunk,
                    ends,
                    rows: n,
                }) => {
                    rows += n;
                    table_rows[chunk.table] += n;
                    m.snapshot_rows.increment(n);
                    m.events("r", n);
                    m.snapshot_duration.set(started.elapsed().as_secs_f64());
                    obs.mark_event();
                    progress.chunk_done(&shared.tables[chunk.table].name(), n);
                    chunks_left[chunk.table] -= 1;
                    for (ev, marker) in markers.chunk_done(chunk.table, chunk.index, *ends) {
                        producer.send_event(ev, marker).await?;
                    }
                    if chunks_left[chunk.table] == 0 {
                        m.snapshot_tables_remaining.decrement(1.0);
                        tracing::info!(
                            table = %shared.tables[chunk.table].name(),
                            rows = table_rows[chunk.table],
                            "snapshot of table done"
                        );
                    }
                }
            }
        }
        let pending: Vec<_> = markers.finish();
        for (ev, marker) in pending {
            producer.send_event(ev, marker).await?;
        }
        Ok::<bool, SnapshotError>(true)
    };
    let completed = produced.await;
    progress.finish();
    m.snapshot_duration.set(started.elapsed().as_secs_f64());
    let emit = producer.emit;
    match completed {
        Ok(false) => Ok(None),
        Ok(true) => {
            // Done only once the sink has acknowledged every snapshot record.
            emit.sink().durable().await?;
            Ok(Some(rows))
        }
        Err(e) => Err(e),
    }
}

struct Producer<'a, S> {
    emit: &'a mut Emitter<S>,
    format: Box<dyn Serializer>,
    shared: &'a worker::Shared,
    encoded: Vec<Record>,
}

impl<S: Sink> Producer<'_, S> {
    /// Sends `rec` under the `[errors]` policy, as the stream does: a row the sink refuses as
    /// too large fails the snapshot, is passed, or goes to the dead-letter topic.
    async fn send(&mut self, rec: &Record) -> Result<(), SnapshotError> {
        let tables = &self.shared.tables;
        let table = || {
            let chunk = rec.event_id.and_then(|id| id.chunk)?;
            tables.get(chunk.table as usize).map(|t| t.schema.clone())
        };
        self.emit.emit(rec, table).await?;
        Ok(())
    }

    async fn send_event(
        &mut self,
        mut row: worker::Row,
        marker: crate::event::SnapshotMarker,
    ) -> Result<(), SnapshotError> {
        row.0.source.snapshot = marker;
        let table = row.1.chunk.map_or(0, |c| c.table as usize);
        let failed = row.2.take();
        let mut recs = std::mem::take(&mut self.encoded);
        worker::encode_row(self.shared, &mut *self.format, row, &mut recs)?;
        match failed {
            Some(error) => {
                self.failed_row(table, std::mem::take(&mut recs), error)
                    .await?
            }
            None => {
                for rec in recs.drain(..) {
                    self.send(&rec).await?;
                }
            }
        }
        self.encoded = recs;
        Ok(())
    }

    /// A row whose values could not be converted: `[errors]` stops before it, drops it, or
    /// turns its records into dead letters, as for a streamed change.
    async fn failed_row(
        &mut self,
        table: usize,
        mut records: Vec<Record>,
        error: EventError,
    ) -> Result<(), SnapshotError> {
        let schema = self.shared.tables.get(table).map(|t| t.schema.clone());
        self.emit
            .failures()
            .conversion_failed(error, schema.as_deref(), &mut records, 0)?;
        for rec in &records {
            self.send(rec).await?;
        }
        Ok(())
    }
}
