//! The streaming loop's side of signals and incremental snapshots: signal-table rows and the
//! file channel become actions, streamed changes feed the open window, and a closing window's
//! rows become records right where its watermark sits in the stream, with event ids of that
//! transaction. Every state change is staged for the checkpoint that covers it.

use std::time::{SystemTime, UNIX_EPOCH};

use super::stream::TxState;
use super::{ConnectorError, Settings};
use crate::config::SignalChannel;
use crate::emit::Failures;
use crate::event::SnapshotPoint;
use crate::format::{EventId, Record, Serializer};
use crate::lsn::Lsn;
use crate::offsets::incremental::IncrementalState;
use crate::offsets::Staged;
use crate::signal::file::FileChannel;
use crate::signal::{self, Action, Signal};
use crate::snapshot::incremental::{Incremental, IncrementalConfig};
use crate::source::admin::Admin;
use crate::source::pgoutput::{Message, OldTuple};

/// Where a closed window's rows go: records for the stream to emit, and `[errors]` for rows
/// with values that cannot be converted.
pub(super) struct ChunkOut<'a> {
    pub(super) format: &'a mut dyn Serializer,
    pub(super) records: &'a mut Vec<Record>,
    pub(super) failures: &'a mut Failures,
}

const NUDGE_INTERVAL: std::time::Duration = std::time::Duration::from_millis(200);

pub(super) struct Signals {
    inc: Incremental,
    staged: Staged,
    last_staged: IncrementalState,
    file: Option<FileChannel>,
    poll: Option<tokio::time::Interval>,
    /// Read-only windows: how often to ask the server for a keepalive while one waits, so an
    /// idle database does not keep it open until the server's next unprompted keepalive.
    nudge: tokio::time::Interval,
    signal_table: Option<(String, String)>,
    signal_oid: Option<u32>,
    /// `source` is in signal.enabled_channels: signal-table rows other than watermarks act.
    source_channel: bool,
    resume: Option<Lsn>,
    /// The open transaction: committed before the resume position (already handled), and its
    /// commit record's position.
    skip: bool,
    in_tx: bool,
    final_lsn: Lsn,
    /// Where the snapshot's progress is published.
    obs: std::sync::Arc<crate::observe::Connector>,
}

fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

impl Signals {
    /// Sets up the channels for one session, resuming the stored incremental snapshot.
    pub(super) async fn start(
        s: &Settings,
        admin: &Admin,
        stored: Option<IncrementalState>,
        staged: Staged,
        resume: Option<Lsn>,
    ) -> Result<Self, ConnectorError> {
        let signal_table = s.signal.table();
        if let Some((schema, table)) = &signal_table {
            check_signal_table(s, admin, schema, table).await?;
        }
        let mut state = stored.unwrap_or_default();
        if state.running() && signal_table.is_none() && !s.snapshot.incremental_read_only {
            tracing::error!(connector = %s.name, tables = state.tables.len(), "an incremental snapshot was running but signal.data_collection is no longer set; it is dropped");
            state.tables.clear();
        }
        let file = s
            .signal
            .channel_enabled(SignalChannel::File)
            .then(|| FileChannel::new(&s.signal_file, state.signal_file_offset));
        let poll = file.as_ref().map(|_| {
            let mut t = tokio::time::interval(s.signal.poll_interval);
            t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            t
        });
        if state.running() {
            tracing::info!(connector = %s.name, table = ?state.current().map(|t| &t.table), paused = state.paused, "resuming the incremental snapshot");
        }
        let cfg = IncrementalConfig {
            params: s.params.clone(),
            signal_table: signal_table.clone(),
            chunk_size: s.snapshot.incremental_chunk_size,
            read_only: s.snapshot.incremental_read_only,
            filter: s.table_filter.clone(),
            publication: s.publication.clone(),
            event: s.event.clone(),
        };
        let mut nudge = tokio::time::interval(NUDGE_INTERVAL);
        nudge.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        observe_progress(&s.obs, &state);
        Ok(Signals {
            obs: s.obs.clone(),
            nudge,
            last_staged: state.clone(),
            inc: Incremental::new(cfg, state),
            staged,
            file,
            poll,
            signal_table,
            signal_oid: None,
            source_channel: s.signal.channel_enabled(SignalChannel::Source),
            resume,
            skip: false,
            in_tx: false,
            final_lsn: Lsn::ZERO,
        })
    }

    /// Completes when there is something to do outside any message: a chunk to read (a
    /// snapshot resumed or unpaused), the signal file to poll, or a read-only window waiting.
    pub(super) async fn due(&mut self) {
        if self.inc.wants_chunk() {
            return;
        }
        let nudge = self.inc.awaits_position();
        let poll = async {
            match &mut self.poll {
                Some(t) => {
                    t.tick().await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = poll => {}
            _ = self.nudge.tick(), if nudge => {}
        }
    }

    /// Acts on what [`Signals::due`] found; `true` asks the caller to request a keepalive
    /// from the server (its position may close a read-only window).
    pub(super) async fn on_due(&mut self, tx: &TxState) -> Result<bool, ConnectorError> {
        if let Some(file) = &mut self.file {
            let polled = file.poll().map_err(|e| {
                ConnectorError::Config(format!(
                    "cannot read the signal file {}: {e}",
                    file.path().display()
                ))
            })?;
            for sig in polled.signals {
                match sig {
                    Ok(sig) => self.act(&sig, true).await?,
                    Err(e) => {
                        tracing::warn!(file = %file_path(&self.file), error = %e, "signal file line is not a signal; skipped")
                    }
                }
            }
            self.inc.set_signal_file_offset(polled.offset);
        }
        self.read_chunk().await?;
        self.stage(tx);
        Ok(self.inc.awaits_position())
    }

    /// Called for every decoded message, after the pipeline turned it into `records`.
    pub(super) async fn on_message(
        &mut self,
        s: &Settings,
        wal_start: Lsn,
        msg: &Message,
        tx: &mut TxState,
        out: &mut ChunkOut<'_>,
    ) -> Result<(), ConnectorError> {
        match msg {
            Message::Begin(b) => {
                self.in_tx = true;
                self.final_lsn = b.final_lsn;
                self.skip = self.resume.is_some_and(|r| b.final_lsn < r);
                // Read-only windows close before the first transaction committing at or after
                // the position read with the chunk: its changes are newer than the read.
                if let Some(id) = self.inc.close_due(b.final_lsn).filter(|_| !self.skip) {
                    self.close_window(s, wal_start, &id, tx, out)?;
                    self.read_chunk().await?;
                    self.stage(tx);
                }
            }
            Message::Commit(_) => self.in_tx = false,
            Message::Relation(r)
                if self
                    .signal_table
                    .as_ref()
                    .is_some_and(|(sc, t)| *sc == r.namespace && *t == r.name) =>
            {
                self.signal_oid = Some(r.oid);
            }
            Message::Insert(m) if Some(m.relation_oid) == self.signal_oid => {
                if self.skip {
                    return Ok(());
                }
                let Some(sig) = signal::table::from_tuple(&m.new) else {
                    return Ok(());
                };
                if sig.kind == signal::WINDOW_CLOSE {
                    self.close_window(s, wal_start, &sig.id, tx, out)?;
                    self.read_chunk().await?;
                } else if sig.kind == signal::WINDOW_OPEN {
                    self.inc.window_opened(&sig.id);
                } else if self.source_channel {
                    self.act(&sig, false).await?;
                    self.read_chunk().await?;
                } else {
                    tracing::debug!(signal = %sig.id, "signal-table row ignored: \"source\" is not in signal.enabled_channels");
                }
                self.stage(tx);
            }
            Message::Insert(m) => self.inc.streamed(m.relation_oid, &m.new),
            Message::Update(m) => {
                self.inc.streamed(m.relation_oid, &m.new);
                if let Some(old) = &m.old {
                    self.inc.streamed(m.relation_oid, old.data());
                }
            }
            Message::Delete(m) => {
                let old = match &m.old {
                    OldTuple::Key(t) | OldTuple::Old(t) => t,
                };
                self.inc.streamed(m.relation_oid, old);
            }
            _ => {}
        }
        Ok(())
    }

    /// A server keepalive outside any transaction: in read-only mode, a window whose position
    /// the stream has passed closes here. The records go out before the keepalive's
    /// checkpoint, which then covers them.
    pub(super) async fn on_keepalive(
        &mut self,
        s: &Settings,
        wal_end: Lsn,
        tx: &mut TxState,
        out: &mut ChunkOut<'_>,
    ) -> Result<(), ConnectorError> {
        if tx.in_tx {
            return Ok(());
        }
        let Some(id) = self.inc.close_due(wal_end) else {
            return Ok(());
        };
        // Outside a transaction the records are numbered after the keepalive's position.
        tx.commit_lsn = wal_end;
        tx.next_index = 0;
        self.close_window(s, wal_end, &id, tx, out)?;
        self.read_chunk().await?;
        self.stage(tx);
        Ok(())
    }

    async fn act(&mut self, sig: &Signal, from_file: bool) -> Result<(), ConnectorError> {
        match sig.action() {
            Ok(Action::ExecuteSnapshot(spec)) => self.inc.execute(&sig.id, spec).await?,
            Ok(Action::StopSnapshot(tables)) => self.inc.stop(&sig.id, &tables),
            Ok(Action::PauseSnapshot) => self.inc.pause(&sig.id),
            Ok(Action::ResumeSnapshot) => self.inc.resume(&sig.id),
            Ok(Action::Log(message)) => tracing::info!(signal = %sig.id, "log signal: {message}"),
            Ok(Action::WindowOpen | Action::WindowClose) => {
                if from_file {
                    tracing::warn!(signal = %sig.id, "window signals are written by pgcdc itself; ignored in the signal file");
                }
            }
            Err(e) => tracing::warn!(error = %e, "signal ignored"),
        }
        Ok(())
    }

    async fn read_chunk(&mut self) -> Result<(), ConnectorError> {
        Ok(self.inc.read_chunk().await?)
    }

    fn close_window(
        &mut self,
        s: &Settings,
        wal_start: Lsn,
        id: &str,
        tx: &mut TxState,
        out: &mut ChunkOut<'_>,
    ) -> Result<(), ConnectorError> {
        // As Debezium 3.6.3 writes them: `sequence` is the watermark's position twice, `lsn`
        // and `txId` are null, `ts_ms` is the time of emission.
        let point = SnapshotPoint {
            lsn: wal_start,
            xid: None,
            ts_micros: now_micros(),
        };
        let Some(events) = self.inc.window_closed(id, &point)? else {
            return Ok(());
        };
        let rows = events.len();
        s.obs.metrics.events("r", rows as u64);
        s.obs.mark_event();
        for (mut ev, failed) in events {
            ev.source.last_commit_lsn = Some(wal_start);
            let table = ev.table().cloned();
            let first = out.records.len();
            crate::format::encode_transformed(&s.transforms, out.format, ev, out.records)?;
            for r in &mut out.records[first..] {
                r.event_id = Some(EventId::wal(tx.commit_lsn, tx.next_index));
                tx.next_index += 1;
            }
            // A row the transforms dropped cannot fail.
            if let Some(e) = failed.filter(|_| out.records.len() > first) {
                out.failures
                    .conversion_failed(e, table.as_deref(), out.records, first)?;
            }
        }
        let st = self.inc.state();
        tracing::debug!(
            rows,
            chunks = st.chunks,
            total_rows = st.rows,
            "incremental snapshot chunk emitted"
        );
        Ok(())
    }

    /// Stages the state, if it changed, for the checkpoint after what the stream has passed.
    fn stage(&mut self, tx: &TxState) {
        if *self.inc.state() == self.last_staged {
            return;
        }
        self.last_staged = self.inc.state().clone();
        observe_progress(&self.obs, &self.last_staged);
        let after = if self.in_tx {
            self.final_lsn
        } else {
            tx.last_checkpoint
        };
        self.staged.stage(after, self.last_staged.clone());
    }
}

/// The incremental snapshot's gauges, from the state as it is staged (emitted, not yet
/// necessarily acknowledged).
fn observe_progress(obs: &crate::observe::Connector, st: &IncrementalState) {
    let m = &obs.metrics;
    m.incremental_running
        .set(if st.running() { 1.0 } else { 0.0 });
    m.incremental_paused.set(if st.paused { 1.0 } else { 0.0 });
    m.incremental_tables_remaining.set(st.tables.len() as f64);
    m.incremental_chunks.set(st.chunks as f64);
    m.incremental_rows.set(st.rows as f64);
}

fn file_path(f: &Option<FileChannel>) -> String {
    f.as_ref()
        .map_or(String::new(), |f| f.path().display().to_string())
}

/// The signal table must exist and be in the publication, or the watermarks never come back
/// through the stream.
async fn check_signal_table(
    s: &Settings,
    admin: &Admin,
    schema: &str,
    table: &str,
) -> Result<(), ConnectorError> {
    let row = admin
        .client()
        .query_one(
            "SELECT to_regclass($1) IS NOT NULL,
                    EXISTS (SELECT 1 FROM pg_publication_tables
                            WHERE pubname = $2 AND schemaname = $3 AND tablename = $4)",
            &[
                &signal::table::qualified(schema, table),
                &s.publication,
                &schema,
                &table,
            ],
        )
        .await
        .map_err(|e| {
            ConnectorError::Config(format!(
                "cannot check the signal table {schema}.{table}: {e}"
            ))
        })?;
    if !row.get::<_, bool>(0) {
        return Err(ConnectorError::Config(format!(
            "signal.data_collection {schema}.{table} does not exist: CREATE TABLE {} (id text PRIMARY KEY, type text NOT NULL, data text)",
            signal::table::qualified(schema, table)
        )));
    }
    if !row.get::<_, bool>(1) {
        return Err(ConnectorError::Config(format!(
            "signal.data_collection {schema}.{table} is not in publication {:?}, so signals would never arrive: ALTER PUBLICATION {} ADD TABLE {}",
            s.publication,
            crate::source::replication::quote_ident(&s.publication),
            signal::table::qualified(schema, table)
        )));
    }
    Ok(())
}
