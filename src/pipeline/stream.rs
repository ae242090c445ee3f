//! The streaming loop: pgoutput messages → events → records → the emitter, with checkpoints,
//! heartbeats and, in exactly-once mode, transaction commits.

use tokio::sync::watch;

use super::incremental::{ChunkOut, Signals};
use super::{ConnectorError, ExactlyOnce, RunOptions, Settings};
use crate::emit::{Emitter, Failures};
use crate::event::txmeta::TxMetadata;
use crate::event::{ChangeEvent, EventBody, EventBuilder, TableSchema};
use crate::format::{EventId, Record, Serializer};
use crate::heartbeat::HeartbeatError;
use crate::lsn::Lsn;
use crate::observe::meters::lsn_value;
use crate::offsets::StoredOffset;
use crate::progress::Checkpoint;
use crate::sink::Sink;
use crate::source::admin::Admin;
use crate::source::catalog::{self};
use crate::source::pgoutput::{Decoder, Message};
use crate::source::replication::{ReplicationEvent, ReplicationStream};

/// Where the source is inside the WAL, for deciding what may be checkpointed.
pub(super) struct TxState {
    /// Between Begin and Commit.
    pub(super) in_tx: bool,
    /// The current transaction committed before the resume position: already in Kafka.
    pub(super) skip: bool,
    /// Newest checkpoint handed to the acknowledger.
    pub(super) last_checkpoint: Lsn,
    /// Commit LSN of the open transaction and the index of its next record: together the
    /// record's [`EventId`], identical when the transaction is replayed after a restart.
    pub(super) commit_lsn: Lsn,
    pub(super) next_index: u64,
    /// Unix microseconds of the last commit streamed, until its checkpoint carries it to the
    /// acknowledger (for the commit-to-acknowledged latency).
    pub(super) commit_us: Option<i64>,
}

/// Exactly-once mode, within one session.
pub(super) struct EosState<'a> {
    pub(super) cfg: &'a ExactlyOnce,
    pub(super) snapshot_completed: bool,
    /// The newest position covered by the open Kafka transaction, to be committed with it.
    pub(super) pending: Option<Lsn>,
    /// The oldest PostgreSQL commit in the open Kafka transaction (unix microseconds): its
    /// latency is the transaction's sample.
    pub(super) pending_commit_us: Option<i64>,
    /// Incremental snapshot states, written into the offset record of their checkpoint.
    pub(super) staged: crate::offsets::Staged,
    /// When the last transaction of this session was committed (or the session began).
    pub(super) last_commit: std::time::Instant,
}

impl EosState<'_> {
    /// How long the pending position has waited for a commit: the age of the open
    /// transaction (`open_age`), or, when none is open (a position passed without records, e.g.
    /// a server keepalive), the time since the last commit, so such positions are committed no
    /// more often than `transaction_interval`.
    pub(super) fn commit_age(&self, open_age: Option<std::time::Duration>) -> std::time::Duration {
        open_age.unwrap_or_else(|| self.last_commit.elapsed())
    }
}

/// The offset record for `o`, keyed by connector name (the topic is compacted).
pub(super) fn offset_record(eos: &ExactlyOnce, connector: &str, o: &StoredOffset) -> Record {
    Record {
        topic: eos.offsets_topic.clone(),
        key: Some(connector.as_bytes().to_vec()),
        value: Some(crate::offsets::kafka::encode(o)),
        headers: Vec::new(),
        event_id: None,
    }
}

/// How long the sink's open transaction has been running, if one is open.
fn transaction_age<S: Sink>(emit: &mut Emitter<S>) -> Option<std::time::Duration> {
    emit.sink_mut().transactions().and_then(|t| t.age())
}

/// Commits the sink's open transaction with an offset record for its pending position, then
/// hands that position to the acknowledger (which stores it in the file and confirms it).
pub(super) async fn commit_eos<S: Sink>(
    s: &Settings,
    eos: &mut EosState<'_>,
    emit: &mut Emitter<S>,
    ack: &tokio::sync::mpsc::Sender<Checkpoint>,
) -> Result<(), ConnectorError> {
    let Some(lsn) = eos.pending.take() else {
        return Ok(());
    };
    let mut o = StoredOffset::new(&s.name, &s.slot, lsn, eos.snapshot_completed);
    o.incremental = eos.staged.at(lsn);
    emit.emit_control(&offset_record(eos.cfg, &s.name, &o))
        .await?;
    if let Some(t) = emit.sink_mut().transactions() {
        let records = t.records();
        t.commit()?;
        tracing::debug!(lsn = %lsn, records, "transaction committed");
    }
    eos.last_commit = std::time::Instant::now();
    s.obs.set_sent(emit.sink().sent());
    ack.send(Checkpoint {
        lsn,
        records: emit.sink().sent(),
        commit_us: eos.pending_commit_us.take(),
    })
    .await
    .map_err(|_| ConnectorError::AcknowledgerGone)
}

/// A position the source has passed. Outside exactly-once mode it goes to the acknowledger;
/// in exactly-once mode it waits for a transaction with its offset record, committed once it
/// is old enough and no PostgreSQL transaction is half sent.
///
/// Also when no transaction is open (nothing sent since the last commit: an idle keepalive, a
/// transaction without published changes): that position must not reach the offsets file and
/// the slot without an offset record, because the offsets topic is what a start without the
/// local file resumes from, and a slot confirmed past the last offset record then stops the
/// connector (the slot is "ahead"). The commit is then a transaction holding only the offset
/// record.
pub(super) async fn on_checkpoint<S: Sink>(
    s: &Settings,
    eos: &mut Option<EosState<'_>>,
    emit: &mut Emitter<S>,
    ack: &tokio::sync::mpsc::Sender<Checkpoint>,
    tx: &mut TxState,
    lsn: Lsn,
) -> Result<(), ConnectorError> {
    let age = transaction_age(emit);
    match eos {
        Some(e) => {
            if let Some(us) = tx.commit_us.take() {
                e.pending_commit_us.get_or_insert(us);
            }
            if lsn > tx.last_checkpoint {
                tx.last_checkpoint = lsn;
                e.pending = Some(lsn);
            }
            if !tx.in_tx && e.commit_age(age) >= e.cfg.commit_interval {
                commit_eos(s, e, emit, ack).await?;
            }
            Ok(())
        }
        None => {
            s.obs.set_sent(emit.sink().sent());
            checkpoint(ack, tx, lsn, emit.sink().sent()).await
        }
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) async fn stream_changes<S: Sink>(
    eos: &mut Option<EosState<'_>>,
    s: &Settings,
    stream: &mut ReplicationStream,
    admin: &Admin,
    emit: &mut Emitter<S>,
    ack: &tokio::sync::mpsc::Sender<Checkpoint>,
    durable: &mut watch::Receiver<Lsn>,
    resume: Option<Lsn>,
    opts: &RunOptions,
    stop: &mut watch::Receiver<bool>,
    signals: &mut Signals,
    durable_commit: &mut Option<Lsn>,
) -> Result<(), ConnectorError> {
    let mut decoder = Decoder::new(1);
    let mut builder = EventBuilder::new(s.event.clone());
    builder.set_last_commit_lsn(*durable_commit);
    // Commit end positions sent but not yet durable, oldest first.
    let mut commits: std::collections::VecDeque<Lsn> = std::collections::VecDeque::new();
    let mut format = s.format.build();
    let mut events: Vec<ChangeEvent> = Vec::new();
    let mut records: Vec<Record> = Vec::new();
    let mut txmeta = s
        .events
        .provide_transaction_metadata
        .then(|| TxMetadata::new(&s.event.topic_prefix, &s.event.database));
    let mut tx = TxState {
        in_tx: false,
        skip: false,
        last_checkpoint: resume.unwrap_or(Lsn::ZERO),
        commit_lsn: Lsn::ZERO,
        next_index: 0,
        commit_us: None,
    };
    let mut heartbeat = s.heartbeat.enabled().then(|| {
        let mut t = tokio::time::interval_at(
            tokio::time::Instant::now() + s.heartbeat.interval,
            s.heartbeat.interval,
        );
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        t
    });
    loop {
        // Exactly-once: when the open transaction is due for a commit.
        let age = transaction_age(emit);
        let commit_in = eos
            .as_ref()
            .filter(|e| e.pending.is_some() && !tx.in_tx)
            .map(|e| e.cfg.commit_interval.saturating_sub(e.commit_age(age)));
        tokio::select! {
            biased;
            r = stop.changed() => {
                if r.is_err() || *stop.borrow() {
                    if let Some(e) = eos.as_mut().filter(|_| !tx.in_tx) {
                        commit_eos(s, e, emit, ack).await?;
                    }
                    return Ok(());
                }
            }
            _ = next_heartbeat(&mut heartbeat) => beat(s, admin, &*format, emit).await?,
            r = durable.changed() => {
                if r.is_err() {
                    // The acknowledger ended early: its result says why.
                    return Err(ConnectorError::AcknowledgerGone);
                }
                let lsn = *durable.borrow_and_update();
                s.obs.metrics.acknowledged_lsn.set(lsn_value(lsn));
                while commits.front().is_some_and(|c| *c <= lsn) {
                    *durable_commit = commits.pop_front();
                }
                stream.set_flushed(lsn);
                if opts.until_lsn.is_some_and(|u| lsn >= u) {
                    tracing::info!(lsn = %lsn, "reached --until-lsn");
                    return Ok(());
                }
            }
            _ = tokio::time::sleep(commit_in.unwrap_or_default()), if commit_in.is_some() => {
                if let Some(e) = eos.as_mut() {
                    commit_eos(s, e, emit, ack).await?;
                }
            }
            _ = signals.due() => {
                if signals.on_due(&tx).await? {
                    stream.send_status(true).await?;
                }
            }
            ev = stream.next() => {
                match ev? {
                    None => return Err(ConnectorError::StreamEnded),
                    Some(ReplicationEvent::XLogData { wal_start, data, .. }) => {
                        s.obs.metrics.received_lsn.set(lsn_value(wal_start));
                        let msg = decoder.decode(data)?;
                        lookup_catalog(admin, &msg, &mut builder).await?;
                        let mut out = Output { builder: &mut builder, txmeta: txmeta.as_mut(), format: &mut *format, events: &mut events, records: &mut records, failures: emit.failures() };
                        on_message(s, wal_start, &msg, &mut tx, resume, &mut out)?;
                        signals.on_message(s, wal_start, &msg, &mut tx, &mut ChunkOut { format: &mut *format, records: &mut records, failures: emit.failures() }).await?;
                        // Looked up only if the sink refuses a record.
                        emit.emit_all(&mut records, || row_table(&builder, &msg)).await?;
                        s.obs.set_sent(emit.sink().sent());
                        if let (Message::Commit(c), false) = (&msg, tx.skip) {
                            commits.push_back(c.end_lsn);
                            committed(s, &mut tx, c.commit_ts.unix_micros());
                        }
                        if let Some(lsn) = checkpoint_after(&msg, &tx) {
                            on_checkpoint(s, eos, emit, ack, &mut tx, lsn).await?;
                        }
                    }
                    Some(ReplicationEvent::Keepalive { wal_end, .. }) => {
                        signals.on_keepalive(s, wal_end, &mut tx, &mut ChunkOut { format: &mut *format, records: &mut records, failures: emit.failures() }).await?;
                        // Incremental-snapshot rows of a window closed on a keepalive.
                        emit.emit_all(&mut records, || None).await?;
                        // Everything the server decoded before wal_end has been received; when no
                        // transaction is open, confirming it lets an idle or filtered database
                        // release WAL (what pg_recvlogical does, and Debezium does not).
                        if !tx.in_tx && wal_end > tx.last_checkpoint {
                            on_checkpoint(s, eos, emit, ack, &mut tx, wal_end).await?;
                        }
                    }
                }
            }
        }
    }
}

/// A transaction's events are all with the sink: count it, and how far behind its commit the
/// stream is.
fn committed(s: &Settings, tx: &mut TxState, commit_us: i64) {
    let m = &s.obs.metrics;
    m.transactions.increment(1);
    let behind_ms = (crate::observe::now_us() - commit_us).max(0) / 1000;
    m.behind_source_ms.set(behind_ms as f64);
    s.obs.mark_event();
    tx.commit_us = Some(commit_us);
}

/// Completes at the next heartbeat; never when heartbeats are off.
pub(super) async fn next_heartbeat(t: &mut Option<tokio::time::Interval>) {
    match t {
        Some(t) => {
            t.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// One heartbeat: the action query (whose change, if captured, gives the slot a position to
/// confirm on an otherwise idle database), then the heartbeat record. The record goes through
/// the same emitter as the changes, so it is covered by the next checkpoint's count.
pub(super) async fn beat<S: Sink>(
    s: &Settings,
    admin: &Admin,
    format: &dyn Serializer,
    emit: &mut Emitter<S>,
) -> Result<(), ConnectorError> {
    if let Some(q) = &s.heartbeat.action_query {
        crate::heartbeat::run_action_query(admin, q)
            .await
            .map_err(|e| match e {
                HeartbeatError::Connection(e) => e.into(),
                e @ HeartbeatError::Query(_) => ConnectorError::HeartbeatQuery(e.to_string()),
            })?;
    }
    let ts_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let topic = s.heartbeat.topic(&s.event.topic_prefix);
    let rec = format.heartbeat(topic, &s.event.topic_prefix, ts_ms)?;
    emit.emit(&rec, || None).await?;
    tracing::debug!(topic = %rec.topic, ts_ms, "heartbeat sent");
    Ok(())
}

/// What turns one message into records, borrowed for [`on_message`].
pub(super) struct Output<'a> {
    pub(super) builder: &'a mut EventBuilder,
    /// `provide.transaction.metadata`.
    pub(super) txmeta: Option<&'a mut TxMetadata>,
    pub(super) format: &'a mut dyn Serializer,
    pub(super) events: &'a mut Vec<ChangeEvent>,
    pub(super) records: &'a mut Vec<Record>,
    /// `[errors]`: what a change that cannot be converted does.
    pub(super) failures: &'a mut Failures,
}

pub(super) fn on_message(
    s: &Settings,
    wal_start: Lsn,
    msg: &Message,
    tx: &mut TxState,
    resume: Option<Lsn>,
    out: &mut Output<'_>,
) -> Result<(), ConnectorError> {
    let Output {
        builder,
        txmeta,
        format,
        events,
        records,
        failures,
    } = out;
    match msg {
        Message::Begin(b) => {
            tx.in_tx = true;
            // A transaction whose commit record starts before the resume position was
            // acknowledged in an earlier session.
            tx.skip = resume.is_some_and(|r| b.final_lsn < r);
            tx.commit_lsn = b.final_lsn;
            tx.next_index = 0;
        }
        Message::Commit(_) => tx.in_tx = false,
        _ => {}
    }
    // The builder sees every message (it needs Relations and transaction boundaries even for
    // skipped transactions); only the events are dropped.
    // A value that cannot be converted fails only this change (`[errors]`); built again with
    // that value as null, the change still tells its topic and key.
    let failed = match builder.handle(wal_start, msg, events) {
        Ok(()) => None,
        Err(e @ crate::event::EventError::Value { .. }) => {
            builder.handle_with_nulls(wal_start, msg, events)?;
            Some(e)
        }
        Err(e) => return Err(e.into()),
    };
    let skip_msg = matches!(msg, Message::Message(m) if !m.transactional() && resume.is_some_and(|r| m.lsn < r));
    if tx.skip || skip_msg {
        events.clear();
        if let Some(meta) = txmeta.as_deref_mut() {
            meta.abandon();
        }
        return Ok(());
    }
    if let (Some(meta), Message::Begin(b)) = (txmeta.as_deref_mut(), msg) {
        events.insert(0, meta.begin(b.xid, wal_start, b.commit_ts.unix_micros()));
    }
    if let (Some(meta), Message::Commit(c)) = (txmeta.as_deref_mut(), msg) {
        events.extend(meta.commit(c.end_lsn));
    }
    let first = records.len();
    for mut ev in events.drain(..) {
        if matches!(ev.body, EventBody::Transaction(_)) {
            crate::format::encode_transformed(&s.transforms, &mut **format, ev, records)?;
            continue;
        }
        // Tombstones follow their delete in every count.
        let counted = ev.op().map(|op| op.code());
        if let Some(t) = ev.table() {
            if !s.table_filter.matches(&t.schema_name, &t.table_name) {
                if counted.is_some() {
                    s.obs.metrics.filtered.increment(1);
                }
                continue;
            }
        }
        // A tombstone belongs to its delete: skipping deletes skips both.
        let op = counted.unwrap_or("d");
        if s.events.is_skipped(op) {
            if counted.is_some() {
                s.obs.metrics.filtered.increment(1);
            }
            continue;
        }
        if let Some(op) = counted {
            s.obs.metrics.event(op);
        }
        if let Some(meta) = txmeta.as_deref_mut() {
            meta.on_event(&mut ev);
        }
        crate::format::encode_transformed(&s.transforms, &mut **format, ev, records)?;
    }
    let new = &mut records[first..];
    match msg {
        // Not part of any transaction, even when it arrives between a Begin and its Commit.
        Message::Message(m) if !m.transactional() => {
            for (i, r) in new.iter_mut().enumerate() {
                r.event_id = Some(EventId::wal(m.lsn, i as u64));
            }
        }
        _ => {
            for r in new.iter_mut() {
                r.event_id = Some(EventId::wal(tx.commit_lsn, tx.next_index));
                tx.next_index += 1;
            }
        }
    }
    // A change that produced no records (filtered table, skipped operation) cannot fail.
    if let Some(e) = failed.filter(|_| records.len() > first) {
        let table = row_table(builder, msg);
        failures.conversion_failed(e, table.as_deref(), records, first)?;
    }
    Ok(())
}

/// The table a row change belongs to.
fn row_table(builder: &EventBuilder, msg: &Message) -> Option<std::sync::Arc<TableSchema>> {
    let oid = match msg {
        Message::Insert(m) => m.relation_oid,
        Message::Update(m) => m.relation_oid,
        Message::Delete(m) => m.relation_oid,
        _ => return None,
    };
    builder.table(oid).cloned()
}

/// Before a Relation or Type message reaches the builder, supply what the stream does not
/// say: key columns, NOT NULL, defaults, enum labels.
pub(super) async fn lookup_catalog(
    admin: &Admin,
    msg: &Message,
    builder: &mut EventBuilder,
) -> Result<(), ConnectorError> {
    match msg {
        Message::Relation(rel) => {
            let info = catalog::table_info(admin.client(), rel.oid).await?;
            builder.set_table_info(&rel.namespace, &rel.name, info);
        }
        Message::Type(t) => {
            let labels = catalog::enum_labels(admin.client(), t.oid).await?;
            builder.set_type_labels(t.oid, labels)
        }
        _ => {}
    }
    Ok(())
}

/// The position that becomes safe once everything sent so far is acknowledged.
pub(super) fn checkpoint_after(msg: &Message, tx: &TxState) -> Option<Lsn> {
    match msg {
        Message::Commit(c) => Some(c.end_lsn),
        // A non-transactional message is its own unit; the server skips records that start
        // before the confirmed position, so confirm one past its start.
        Message::Message(m) if !m.transactional() && !tx.in_tx => Some(Lsn(m.lsn.as_u64() + 1)),
        _ => None,
    }
}

pub(super) async fn checkpoint(
    ack: &tokio::sync::mpsc::Sender<Checkpoint>,
    tx: &mut TxState,
    lsn: Lsn,
    records: u64,
) -> Result<(), ConnectorError> {
    // Taken even when no checkpoint is sent, so that it never attaches to a later position.
    let commit_us = tx.commit_us.take();
    if lsn > tx.last_checkpoint {
        tx.last_checkpoint = lsn;
        ack.send(Checkpoint {
            lsn,
            records,
            commit_us,
        })
        .await
        .map_err(|_| ConnectorError::AcknowledgerGone)?;
    }
    Ok(())
}
