//! Incremental snapshots (Debezium's, after Netflix's DBLog): tables read in primary-key
//! chunks while streaming goes on, each chunk between two watermarks written to the signal
//! table. The rows are emitted at the close watermark's place in the stream, minus the keys the
//! stream changed inside the window (see `window`), so a replay of the topic ends with each
//! row's newest state, whatever writers do meanwhile.
//!
//! This module owns the chunk reading and the buffer; the pipeline feeds it the stream's
//! signal rows and changes and sends what it returns through the same builder, transforms,
//! format, sink and acknowledgement as streamed events.

pub mod chunk;
pub mod collections;
pub mod window;

use crate::offsets::incremental::{IncrementalState, KeyText, TableTask};

use chunk::{ChunkTable, Key};
use window::Window;

use crate::config::{split_table, TableFilter};
use crate::event::{EventBuilder, EventConfig, ReadRow, SnapshotMarker, SnapshotPoint};
use crate::lsn::Lsn;
use crate::signal::{self, Signal, SnapshotSpec};
use crate::snapshot::SnapshotError;
use crate::source::admin::{Admin, AdminError};
use crate::source::pgoutput::TupleData;
use crate::source::replication::ConnectParams;

/// What the incremental snapshot needs from the connector's configuration.
#[derive(Debug, Clone)]
pub struct IncrementalConfig {
    pub params: ConnectParams,
    /// `signal.data_collection`: where the watermarks go. Without it, snapshots are refused.
    pub signal_table: Option<(String, String)>,
    /// `snapshot.incremental_chunk_size`.
    pub chunk_size: u32,
    /// `snapshot.incremental_read_only`: no watermark rows; windows close by WAL position.
    pub read_only: bool,
    pub filter: TableFilter,
    pub publication: String,
    pub event: EventConfig,
}

/// The chunk between its watermarks.
#[derive(Debug)]
struct InFlight {
    last_key: Option<KeyText>,
    table_done: bool,
    /// Read-only mode: the chunk's id and the WAL position read right after it; every
    /// change the read saw committed before it.
    close_at: Option<(String, Lsn)>,
}

pub struct Incremental {
    cfg: IncrementalConfig,
    state: IncrementalState,
    conn: Option<Admin>,
    builder: EventBuilder,
    /// The current table, described; `None` until its first chunk is read.
    table: Option<ChunkTable>,
    window: Window<Key, TupleData>,
    in_flight: Option<InFlight>,
}

fn db(context: &str) -> impl FnOnce(tokio_postgres::Error) -> SnapshotError + '_ {
    move |source| {
        SnapshotError::Admin(AdminError::Db {
            context: context.to_string(),
            source,
        })
    }
}

impl Incremental {
    /// Resumes from the stored state (an interrupted snapshot continues after its last
    /// acknowledged chunk).
    pub fn new(cfg: IncrementalConfig, state: IncrementalState) -> Self {
        let builder = EventBuilder::new(cfg.event.clone());
        Incremental {
            cfg,
            state,
            conn: None,
            builder,
            table: None,
            window: Window::default(),
            in_flight: None,
        }
    }

    pub fn state(&self) -> &IncrementalState {
        &self.state
    }

    pub fn set_signal_file_offset(&mut self, offset: u64) {
        self.state.signal_file_offset = offset;
    }

    /// A chunk should be read now: a snapshot is running, not paused, and no window is open.
    pub fn wants_chunk(&self) -> bool {
        self.state.running() && !self.state.paused && self.in_flight.is_none()
    }

    /// `execute-snapshot`: queues the named tables (every captured one when none is named).
    pub async fn execute(&mut self, id: &str, spec: SnapshotSpec) -> Result<(), SnapshotError> {
        if self.cfg.signal_table.is_none() && !self.cfg.read_only {
            tracing::error!(signal = id, "incremental snapshots write watermarks to the signal table: set signal.data_collection (or snapshot.incremental_read_only); signal ignored");
            return Ok(());
        }
        let names = if spec.tables.is_empty() {
            self.captured_tables().await?
        } else if spec.tables.iter().all(|t| collections::is_plain_name(t)) {
            spec.tables.clone()
        } else {
            let captured = self.captured_tables().await?;
            collections::expand(&spec.tables, &captured)
        };
        let mut tasks = Vec::new();
        for name in names {
            let Some((schema, table)) = split_table(&name) else {
                tracing::warn!(signal = id, table = %name, "data collection must be schema.table; skipped");
                continue;
            };
            if !self.cfg.filter.matches(&schema, &table) || self.is_signal_table(&schema, &table) {
                tracing::warn!(signal = id, table = %name, "table is not captured by this connector (tables.include / tables.exclude); skipped");
                continue;
            }
            let filter = collections::condition_for(&name, &spec.conditions).map(str::to_string);
            tasks.push(TableTask::new(name, filter));
        }
        let added = self.state.add(tasks);
        tracing::info!(signal = id, tables = ?added, "incremental snapshot requested");
        Ok(())
    }

    /// `stop-snapshot`: drops the named tables, or the whole snapshot.
    pub fn stop(&mut self, id: &str, tables: &[String]) {
        if self.state.stop(tables) {
            self.table = None;
            self.window.clear();
            self.in_flight = None;
        }
        tracing::info!(signal = id, tables = ?tables, running = self.state.running(), "incremental snapshot stopped");
    }

    pub fn pause(&mut self, id: &str) {
        if self.state.running() {
            self.state.paused = true;
            tracing::info!(signal = id, "incremental snapshot paused");
        }
    }

    pub fn resume(&mut self, id: &str) {
        if self.state.paused {
            self.state.paused = false;
            tracing::info!(signal = id, "incremental snapshot resumed");
        }
    }

    fn is_signal_table(&self, schema: &str, table: &str) -> bool {
        self.cfg
            .signal_table
            .as_ref()
            .is_some_and(|(s, t)| s == schema && t == table)
    }

    async fn conn(&mut self) -> Result<&Admin, SnapshotError> {
        if self.conn.is_none() {
            let c = crate::snapshot::connect(&self.cfg.params).await?;
            c.client()
                .batch_execute("SET standard_conforming_strings = on")
                .await
                .map_err(db("cannot prepare the incremental snapshot session"))?;
            self.conn = Some(c);
        }
        Ok(self.conn.as_ref().expect("just connected"))
    }

    async fn captured_tables(&mut self) -> Result<Vec<String>, SnapshotError> {
        let publication = self.cfg.publication.clone();
        let rows = self
            .conn()
            .await?
            .client()
            .query(
                "SELECT schemaname::text, tablename::text FROM pg_publication_tables
                 WHERE pubname = $1 ORDER BY 1, 2",
                &[&publication],
            )
            .await
            .map_err(db("cannot list the publication's tables"))?;
        Ok(rows
            .iter()
            .map(|r| (r.get::<_, String>(0), r.get::<_, String>(1)))
            .filter(|(s, t)| self.cfg.filter.matches(s, t) && !self.is_signal_table(s, t))
            .map(|(s, t)| format!("{s}.{t}"))
            .collect())
    }

    async fn watermark(&mut self, id: String, kind: &str) -> Result<(), SnapshotError> {
        if self.cfg.read_only {
            return Ok(());
        }
        let (schema, table) = self
            .cfg
            .signal_table
            .clone()
            .expect("snapshots run only with a signal table");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let ts = chrono::DateTime::from_timestamp(now.as_secs() as i64, now.subsec_nanos())
            .unwrap_or_default()
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let data = if kind == signal::WINDOW_OPEN {
            format!("{{\"openWindowTimestamp\": \"{ts}\"}}")
        } else {
            format!("{{\"closeWindowTimestamp\": \"{ts}\"}}")
        };
        let s = Signal {
            id,
            kind: kind.to_string(),
            data,
        };
        let client = self.conn().await?.client();
        signal::table::insert(client, &schema, &table, &s)
            .await
            .map_err(db("cannot write a watermark to the signal table (signal.data_collection): the connector's user needs INSERT on it"))
    }

    /// Reads the next chunk between an open and a close watermark (Debezium's `readChunk`):
    /// tables with nothing left are finished on the way. Afterwards either a window is
    /// awaited in the stream, or the snapshot is complete.
    pub async fn read_chunk(&mut self) -> Result<(), SnapshotError> {
        if !self.wants_chunk() {
            return Ok(());
        }
        let chunk_id = signal::new_id("pgcdc-");
        self.watermark(format!("{chunk_id}-open"), signal::WINDOW_OPEN)
            .await?;
        while let Some(task) = self.state.current().cloned() {
            if !self.describe_current(&task).await? {
                continue;
            }
            let Some(max) = self.max_key(&task).await? else {
                continue;
            };
            let table = self.table.as_ref().expect("described above");
            let client = self.conn.as_ref().expect("connected").client();
            let sql = table.chunk_sql(
                task.last_key.as_ref(),
                &max,
                task.filter.as_deref(),
                self.cfg.chunk_size,
            );
            let rows = chunk::copy_rows(client, &sql, table.columns(), &task.table).await?;
            if rows.is_empty() {
                tracing::info!(table = %task.table, rows = task.rows, chunks = task.chunks, "incremental snapshot of table done");
                self.state.finish_current();
                self.table = None;
                continue;
            }
            let last = rows.last().map(|r| chunk::key_text(&table.key_of(r)));
            let table_done =
                rows.len() < self.cfg.chunk_size as usize || last.as_ref() == Some(&max);
            let keyed: Vec<(Key, TupleData)> =
                rows.into_iter().map(|r| (table.key_of(&r), r)).collect();
            tracing::debug!(table = %task.table, chunk = %chunk_id, rows = keyed.len(), "incremental snapshot chunk read");
            self.window.fill(&chunk_id, keyed);
            let close_at = if self.cfg.read_only {
                // Whatever the stream delivers from now on may be newer than the read: the
                // window is open at once, and closes once the stream passes this position.
                self.window.open(&chunk_id);
                Some((chunk_id.clone(), self.wal_position().await?))
            } else {
                None
            };
            self.in_flight = Some(InFlight {
                last_key: last,
                table_done,
                close_at,
            });
            break;
        }
        self.watermark(format!("{chunk_id}-close"), signal::WINDOW_CLOSE)
            .await?;
        if !self.state.running() {
            self.log_completed();
        }
        Ok(())
    }

    /// Makes `self.table` describe the current table; `false` when the table cannot be read
    /// incrementally (it is then skipped, and the next one is current).
    async fn describe_current(&mut self, task: &TableTask) -> Result<bool, SnapshotError> {
        if self.table.as_ref().is_some_and(|t| t.name == task.table) {
            return Ok(true);
        }
        let (schema, table) = split_table(&task.table).expect("checked when queued");
        let version = self.conn().await?.server_version_num();
        let conn = self.conn.as_ref().expect("connected");
        match chunk::lookup(conn.client(), version, &mut self.builder, &schema, &table).await? {
            Ok(t) => {
                self.table = Some(t);
                Ok(true)
            }
            Err(refusal) => {
                tracing::warn!(table = %task.table, "{}", refusal.message(&task.table));
                self.table = None;
                self.state.finish_current();
                Ok(false)
            }
        }
    }

    /// The current table's upper bound, read (and remembered in the state) when its
    /// snapshot starts; `None` when the table has no rows (it is then done).
    async fn max_key(&mut self, task: &TableTask) -> Result<Option<KeyText>, SnapshotError> {
        if let Some(m) = &task.max_key {
            return Ok(Some(m.clone()));
        }
        let table = self.table.as_ref().expect("described");
        let client = self.conn.as_ref().expect("connected").client();
        let sql = table.max_key_sql(task.filter.as_deref());
        let rows = chunk::copy_rows(client, &sql, table.key_len(), &task.table).await?;
        let Some(row) = rows.first() else {
            tracing::info!(table = %task.table, "table is empty; incremental snapshot of it done");
            self.state.finish_current();
            self.table = None;
            return Ok(None);
        };
        let key = chunk::tuple_text(row);
        tracing::info!(table = %task.table, max_key = ?key, "incremental snapshot of table started");
        if let Some(t) = self.state.tables.first_mut() {
            t.max_key = Some(key.clone());
        }
        Ok(Some(key))
    }

    fn log_completed(&self) {
        tracing::info!(
            chunks = self.state.chunks,
            rows = self.state.rows,
            tables = self.state.tables_done,
            "incremental snapshot completed"
        );
    }

    /// The server's WAL position now: on a primary the insert position, on a standby the
    /// replay position. Every transaction the last read saw has its commit record before it.
    async fn wal_position(&mut self) -> Result<Lsn, SnapshotError> {
        let text: String = self
            .conn()
            .await?
            .client()
            .query_one(
                "SELECT (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()
                         ELSE pg_current_wal_insert_lsn() END)::text",
                &[],
            )
            .await
            .map_err(db("cannot read the WAL position"))?
            .get(0);
        text.parse()
            .map_err(|_| SnapshotError::Unexpected(format!("WAL position {text:?}")))
    }

    /// Read-only mode: a window waits for the stream to reach a position.
    pub fn awaits_position(&self) -> bool {
        self.in_flight
            .as_ref()
            .is_some_and(|f| f.close_at.is_some())
    }

    /// Read-only mode: the chunk whose window closes once the stream is at `position` (a
    /// transaction committing there or later, or the server's keepalive outside transactions).
    pub fn close_due(&self, position: Lsn) -> Option<String> {
        self.in_flight
            .as_ref()
            .and_then(|f| f.close_at.as_ref())
            .filter(|(_, at)| position >= *at)
            .map(|(id, _)| format!("{id}-close"))
    }

    /// An open watermark arrived through the stream.
    pub fn window_opened(&mut self, id: &str) {
        if let Some(chunk) = id.strip_suffix("-open") {
            self.window.open(chunk);
        }
    }

    /// A streamed row of relation `oid` (its new and, for updates and deletes, old tuple):
    /// inside the window the stream wins over the chunk's buffered row.
    pub fn streamed(&mut self, oid: u32, tuple: &TupleData) {
        if !self.window.is_open() {
            return;
        }
        if let Some(t) = self.table.as_ref().filter(|t| t.oid == oid) {
            let key = t.key_of(tuple);
            if self.window.streamed(&key) {
                tracing::trace!(table = %t.name, "streamed change replaces a buffered snapshot row");
            }
        }
    }

    /// A close watermark arrived: the rows of the chunk as `op: "r"` events marked
    /// `incremental`, stamped with the stream position `point`; `None` for another chunk's.
    /// A row with a value that cannot be converted comes with the error, for `[errors]`.
    pub fn window_closed(
        &mut self,
        id: &str,
        point: &SnapshotPoint,
    ) -> Result<Option<Vec<ReadRow>>, SnapshotError> {
        let Some(chunk) = id.strip_suffix("-close") else {
            return Ok(None);
        };
        let Some(rows) = self.window.close(chunk) else {
            return Ok(None);
        };
        let Some(table) = self.table.as_ref() else {
            return Ok(None);
        };
        let mut events = Vec::with_capacity(rows.len());
        for r in &rows {
            events.push(self.builder.snapshot_read_or_nulls(
                &table.schema,
                r,
                point,
                SnapshotMarker::Incremental,
            )?);
        }
        let flight = self.in_flight.take().unwrap_or(InFlight {
            last_key: None,
            table_done: false,
            close_at: None,
        });
        self.state
            .chunk_emitted(events.len() as u64, flight.last_key, flight.table_done);
        if flight.table_done {
            tracing::info!(table = %table.name, "incremental snapshot of table done");
            self.table = None;
        }
        if !self.state.running() {
            self.log_completed();
        }
        Ok(Some(events))
    }
}
