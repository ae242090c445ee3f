//! One connector, end to end: slot → decoder → events → format → Kafka, with the
//! acknowledger (src/progress.rs) turning Kafka acks into durable, confirmed positions.
//!
//! A connector runs sessions. A session connects, checks the slot against the offset store,
//! streams, and ends on shutdown, on `--until-lsn`, or on an error. Transient errors (lost
//! connections, a restarting server or broker) start a new session from the last durable
//! position after a backoff; definite errors stop the connector with a message saying what to do.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::config::{
    self, ConnectorConfig, EventsConfig, HeartbeatConfig, MismatchStrategy, ProcessConfig,
    SnapshotConfig, SnapshotMode, TableFilter,
};
use crate::event::txmeta::TxMetadata;
use crate::event::{ChangeEvent, EventBody, EventBuilder, EventConfig, EventError};
use crate::format::{EventId, FormatError, JsonFormat, Record};
use crate::lsn::Lsn;
use crate::offsets::{FileOffsetStore, OffsetError, StoredOffset};
use crate::progress::{self, Checkpoint, ProgressError};
use crate::sink::{KafkaSink, KafkaSinkConfig, SinkError};
use crate::snapshot::{self, SnapshotError, SnapshotOutcome, SnapshotRequest, SnapshotSource};
use crate::source::admin::{Admin, AdminError, PublicationMode, SlotInfo};
use crate::source::catalog::{self, CatalogError};
use crate::source::pgoutput::{DecodeError, Decoder, Message};
use crate::source::replication::{
    ConnectParams, ReplicationConnection, ReplicationError, ReplicationEvent, ReplicationStream,
    SlotCreation, SslMode,
};
use crate::transforms::TransformChain;

/// Checkpoints in flight between source and acknowledger. Memory is bounded by librdkafka's
/// queue (a full queue is backpressure on the slot); this only bounds the bookkeeping.
const ACK_CHANNEL: usize = 4096;

/// Options of `pgcdc run` that are not connector configuration.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Exit 0 once everything up to this LSN is acknowledged and confirmed (like
    /// pg_recvlogical's --endpos).
    pub until_lsn: Option<Lsn>,
}

/// Everything one connector needs, resolved from its configuration file.
#[derive(Debug, Clone)]
pub struct Settings {
    pub name: String,
    pub params: ConnectParams,
    pub slot: String,
    /// `slot.takeover`: terminate another backend holding the slot.
    pub takeover: bool,
    /// `offsets.mismatch_strategy`.
    pub mismatch: MismatchStrategy,
    pub heartbeat: HeartbeatConfig,
    pub publication: String,
    pub publication_mode: PublicationMode,
    pub table_filter: TableFilter,
    pub events: EventsConfig,
    pub event: EventConfig,
    pub snapshot: SnapshotConfig,
    pub schemas: bool,
    pub sink: KafkaSinkConfig,
    pub offsets_path: std::path::PathBuf,
    pub status_interval: Duration,
    pub offsets_flush_interval: Duration,
    /// `[[transforms]]`, shared with the snapshot.
    pub transforms: Arc<TransformChain>,
    /// `sink.exactly_once`: Kafka transactions with offset records.
    pub exactly_once: Option<ExactlyOnce>,
}

/// Exactly-once mode settings.
#[derive(Debug, Clone)]
pub struct ExactlyOnce {
    /// The topic holding offset records, the source of truth for the resume position.
    pub offsets_topic: Arc<str>,
    /// A Kafka transaction is committed at the first PostgreSQL commit after it has been open
    /// this long: several PostgreSQL transactions share one Kafka transaction.
    pub commit_interval: Duration,
}

impl Settings {
    pub fn from_config(
        c: &ConnectorConfig,
        process: &ProcessConfig,
    ) -> Result<Self, ConnectorError> {
        let db = &c.database;
        let params = ConnectParams {
            host: db.host.clone(),
            port: db.port,
            user: db.user.clone(),
            password: db.password.as_ref().map(|p| p.expose().to_string()),
            dbname: db.dbname.clone(),
            sslmode: match db.sslmode {
                config::SslMode::Disable => SslMode::Disable,
                config::SslMode::Prefer => SslMode::Prefer,
                config::SslMode::Require => SslMode::Require,
                config::SslMode::VerifyCa => SslMode::VerifyCa,
                config::SslMode::VerifyFull => SslMode::VerifyFull,
            },
            sslrootcert: db.sslrootcert.clone(),
            application_name: c.application_name(),
            connect_timeout: db.connect_timeout,
        };
        let sink = KafkaSinkConfig {
            bootstrap_servers: c.sink.bootstrap_servers.clone(),
            properties: c
                .sink
                .properties
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            create_topics: c.sink.topic_creation.enabled,
            partitions: c.sink.topic_creation.partitions,
            replication_factor: c.sink.topic_creation.replication_factor,
            transactional_id: c.sink.exactly_once.then(|| {
                c.sink
                    .transactional_id
                    .clone()
                    .unwrap_or_else(|| format!("pgcdc-{}", c.name))
            }),
        };
        let exactly_once = c.sink.exactly_once.then(|| ExactlyOnce {
            offsets_topic: c
                .sink
                .offsets_topic
                .clone()
                .unwrap_or_else(|| format!("{}.pgcdc-offsets", c.topic_prefix))
                .into(),
            commit_interval: c
                .sink
                .transaction_interval
                .unwrap_or(config::DEFAULT_TRANSACTION_INTERVAL),
        });
        let table_filter = c
            .table_filter()
            .map_err(|v| ConnectorError::Config(format!("{}: {v}", c.file.display())))?;
        Ok(Settings {
            name: c.name.clone(),
            params,
            slot: c.slot.name.clone(),
            takeover: c.slot.takeover,
            mismatch: c.offsets.mismatch_strategy,
            heartbeat: c.heartbeat.clone(),
            publication: c.publication.name.clone(),
            publication_mode: match c.publication.autocreate_mode {
                config::AutocreateMode::AllTables => PublicationMode::AllTables,
                config::AutocreateMode::Filtered => PublicationMode::Filtered,
                config::AutocreateMode::Disabled => PublicationMode::Disabled,
                config::AutocreateMode::NoTables => PublicationMode::NoTables,
            },
            table_filter,
            events: c.events.clone(),
            event: EventConfig {
                topic_prefix: c.topic_prefix.clone(),
                database: db.dbname.clone(),
                tombstones_on_delete: c.events.tombstones_on_delete,
                unavailable_value_placeholder: c.events.unavailable_value_placeholder.clone(),
                emit_truncate: !c.events.is_skipped("t"),
                modes: c.events.type_modes(),
                column_filter: c
                    .tables
                    .column_filter()
                    .map_err(|v| ConnectorError::Config(format!("{}: {v}", c.file.display())))?,
                skip_messages_without_change: c.events.skip_messages_without_change,
                message_filter: c
                    .events
                    .message_filter()
                    .map_err(|v| ConnectorError::Config(format!("{}: {v}", c.file.display())))?,
                key_columns: c
                    .tables
                    .key_columns()
                    .map_err(|v| ConnectorError::Config(format!("{}: {v}", c.file.display())))?,
                masks: c
                    .columns
                    .masks()
                    .map_err(|v| ConnectorError::Config(format!("{}: {v}", c.file.display())))?,
            },
            snapshot: c.snapshot.clone(),
            schemas: c.format.schemas,
            sink,
            offsets_path: c.offsets_path(process),
            status_interval: c.slot.status_interval,
            offsets_flush_interval: Duration::from_millis(200),
            transforms: Arc::new(TransformChain::from_config(&c.transforms)),
            exactly_once,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("connector {connector}: {source}")]
    Connector {
        connector: String,
        #[source]
        source: Box<ConnectorError>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error(transparent)]
    Replication(#[from] ReplicationError),
    #[error(transparent)]
    Admin(#[from] AdminError),
    #[error("{0}: this is a bug in pgcdc or an unsupported server; please report it with the server version")]
    Decode(#[from] DecodeError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Event(#[from] EventError),
    #[error(transparent)]
    Format(#[from] FormatError),
    #[error(transparent)]
    Sink(#[from] SinkError),
    #[error(transparent)]
    Progress(#[from] ProgressError),
    #[error(transparent)]
    Offsets(#[from] OffsetError),
    #[error("snapshot failed: {0}")]
    Snapshot(Box<SnapshotError>),
    #[error("replication slot {slot:?} has confirmed {slot_lsn} but the offsets file {path} says {stored}: the changes in between were consumed by something else and would be silently skipped; if that loss is acceptable, delete the offsets file to resume from the slot (and consider a re-snapshot)")]
    SlotAhead {
        slot: String,
        slot_lsn: Lsn,
        stored: Lsn,
        path: String,
    },
    #[error("replication slot {slot:?} does not exist but the offsets file {path} holds position {stored}: the slot was dropped, so changes made since are lost to it; delete the offsets file to start again from a new slot (and consider a re-snapshot)")]
    SlotLost {
        slot: String,
        stored: Lsn,
        path: String,
    },
    #[error("replication slot {slot:?} was invalidated by the server (wal_status = lost: it fell behind max_slot_wal_keep_size and the WAL it needed is gone), so it can never stream again; to start over: drop the slot (SELECT pg_drop_replication_slot('{slot}')), delete the offsets file {path}, and re-snapshot with snapshot.mode = \"when_needed\" or \"always\" (changes made since the slot fell behind are otherwise lost)")]
    SlotInvalidated { slot: String, path: String },
    #[error("heartbeat.action_query failed: {0}")]
    HeartbeatQuery(String),
    #[error("{0}")]
    Config(String),
    #[error("wal_level is {0:?} but logical decoding needs it to be \"logical\": set wal_level = logical in postgresql.conf (ALTER SYSTEM SET wal_level = logical) and restart PostgreSQL")]
    WalLevel(String),
    #[error("the server ended the replication stream")]
    StreamEnded,
    #[error("the acknowledger stopped unexpectedly")]
    AcknowledgerGone,
    #[error("{source} (gave up after {attempts} attempts: pgcdc retries a few times at startup, and indefinitely once it has streamed)")]
    GaveUp {
        attempts: u32,
        source: Box<ConnectorError>,
    },
}

impl From<SnapshotError> for ConnectorError {
    fn from(e: SnapshotError) -> Self {
        ConnectorError::Snapshot(Box::new(e))
    }
}

impl ConnectorError {
    /// Transient errors are retried from the last durable position; definite ones stop.
    pub fn is_transient(&self) -> bool {
        match self {
            ConnectorError::Replication(e) => e.is_transient(),
            ConnectorError::Admin(e) => e.is_transient(),
            ConnectorError::Sink(e) => e.is_transient(),
            ConnectorError::Progress(e) => e.is_transient(),
            ConnectorError::Catalog(e) => e.is_transient(),
            ConnectorError::Snapshot(e) => e.is_transient(),
            ConnectorError::Offsets(e) => e.is_transient(),
            ConnectorError::StreamEnded | ConnectorError::AcknowledgerGone => true,
            ConnectorError::GaveUp { .. } => false,
            ConnectorError::Decode(_)
            | ConnectorError::Event(_)
            | ConnectorError::Format(_)
            | ConnectorError::Config(_)
            | ConnectorError::WalLevel(_)
            | ConnectorError::SlotAhead { .. }
            | ConnectorError::SlotLost { .. }
            | ConnectorError::SlotInvalidated { .. }
            | ConnectorError::HeartbeatQuery(_) => false,
        }
    }
}

impl ConnectorError {
    /// The failure came from Kafka: the producer's queue may hold records after a failed one.
    fn is_sink_failure(&self) -> bool {
        matches!(
            self,
            ConnectorError::Sink(_) | ConnectorError::Progress(ProgressError::Sink(_))
        )
    }
}

/// Runs every connector until shutdown (or `--until-lsn`); the first connector to fail
/// definitely stops the others gracefully and its error is returned.
pub async fn run(
    process: ProcessConfig,
    connectors: Vec<ConnectorConfig>,
    opts: RunOptions,
    shutdown: watch::Receiver<bool>,
) -> Result<(), PipelineError> {
    let connectors = connectors
        .iter()
        .map(|c| {
            Settings::from_config(c, &process).map_err(|source| PipelineError::Connector {
                connector: c.name.clone(),
                source: Box::new(source),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let forward = {
        let stop_tx = stop_tx.clone();
        let mut shutdown = shutdown.clone();
        tokio::spawn(async move {
            while !*shutdown.borrow_and_update() {
                if shutdown.changed().await.is_err() {
                    return;
                }
            }
            let _ = stop_tx.send(true);
        })
    };
    let mut set = tokio::task::JoinSet::new();
    for s in connectors {
        let opts = opts.clone();
        let stop = stop_rx.clone();
        set.spawn(async move {
            let name = s.name.clone();
            run_connector(Arc::new(s), opts, stop)
                .await
                .map_err(|source| PipelineError::Connector {
                    connector: name,
                    source: Box::new(source),
                })
        });
    }
    let mut first_err = None;
    while let Some(res) = set.join_next().await {
        match res {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                let _ = stop_tx.send(true);
                first_err.get_or_insert(e);
            }
            Err(join) => {
                let _ = stop_tx.send(true);
                tracing::error!(error = %join, "connector task panicked");
            }
        }
    }
    forward.abort();
    first_err.map_or(Ok(()), Err)
}

async fn run_connector(
    s: Arc<Settings>,
    opts: RunOptions,
    mut stop: watch::Receiver<bool>,
) -> Result<(), ConnectorError> {
    let mut store = FileOffsetStore::open(&s.offsets_path, &s.name, &s.slot)?;
    let mut sink = KafkaSink::new(s.sink.clone())?;
    let mut retry = Retry::new();
    let mut state = RunState::default();
    loop {
        // Inside the retry loop: brokers that are not up yet are a transient failure.
        let ready = match sink.init_transactions() {
            Ok(()) => adopt_kafka_offset(&s, &mut store, &mut sink).await,
            Err(e) => Err(e.into()),
        };
        let (st, streamed, res) = match ready {
            Ok(()) => session(&s, store, &mut sink, &opts, &mut stop, &mut state).await,
            Err(e) => (store, false, Err(e)),
        };
        store = st;
        if streamed {
            retry.streamed();
        }
        let e = match res {
            Ok(()) => return Ok(()),
            Err(e) if e.is_transient() && !*stop.borrow() => e,
            Err(e) => return Err(e),
        };
        let Some(wait) = retry.next_wait() else {
            return Err(ConnectorError::GaveUp {
                attempts: retry.failures,
                source: Box::new(e),
            });
        };
        tracing::warn!(connector = %s.name, error = %e, attempt = retry.failures, retry_in = ?wait, "session failed, reconnecting from the last durable position");
        if e.is_sink_failure() || sink.is_transactional() {
            // Records still queued in librdkafka would be delivered after the failed one, out
            // of order; dropping the producer purges them, and the next session re-sends
            // everything after the durable position.
            // Dropping purges and briefly flushes, which blocks.
            // A transactional producer is replaced after any failure: its aborted records
            // count as failed deliveries, and the new one's init_transactions aborts whatever
            // the old one left open.
            tokio::task::block_in_place(|| drop(sink));
            sink = KafkaSink::new(s.sink.clone())?;
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => {}
        }
        if *stop.borrow() {
            return Ok(());
        }
    }
}

/// Exactly-once mode: the last offset record committed to Kafka is the source of truth; the
/// file is written after it and may lag behind (a crash between the two), never lead.
async fn adopt_kafka_offset(
    s: &Settings,
    store: &mut FileOffsetStore,
    sink: &mut KafkaSink,
) -> Result<(), ConnectorError> {
    let Some(eos) = &s.exactly_once else {
        return Ok(());
    };
    sink.ensure_offsets_topic(&eos.offsets_topic).await?;
    let latest = tokio::task::block_in_place(|| {
        crate::offsets::kafka::read_latest(
            &s.sink.bootstrap_servers,
            &s.sink.properties,
            &eos.offsets_topic,
            &s.name,
            &s.slot,
            Duration::from_secs(60),
        )
    })?;
    if let Some(o) = latest {
        if tokio::task::block_in_place(|| store.adopt(&o))? {
            tracing::info!(connector = %s.name, lsn = %o.lsn, topic = %eos.offsets_topic, "resuming from the offset record committed to kafka");
        }
    }
    Ok(())
}

/// What a connector remembers across its sessions within one run of pgcdc.
#[derive(Debug, Default)]
struct RunState {
    /// A snapshot completed during this run (`always` takes one per start of pgcdc, not one
    /// per reconnect).
    snapshot_taken: bool,
}

/// Reconnect policy. Until the first session has streamed, transient errors (connection
/// refused, server starting, slot still held) are retried `STARTUP_ATTEMPTS` times and then
/// reported, so that a wrong host or a slot held by another consumer fails a fresh start
/// within seconds instead of hanging. Once streaming has worked, the configuration is known to
/// be good and every transient failure is retried indefinitely (each attempt logged), with
/// exponential backoff that starts over after every session that streamed.
struct Retry {
    backoff: Duration,
    ever_streamed: bool,
    failures: u32,
}

const STARTUP_ATTEMPTS: u32 = 5;
const BACKOFF_START: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

impl Retry {
    fn new() -> Self {
        Retry {
            backoff: BACKOFF_START,
            ever_streamed: false,
            failures: 0,
        }
    }

    fn streamed(&mut self) {
        self.ever_streamed = true;
        self.backoff = BACKOFF_START;
        self.failures = 0;
    }

    /// Records a failure; the time to wait before the next attempt, or `None` to give up.
    fn next_wait(&mut self) -> Option<Duration> {
        self.failures += 1;
        if !self.ever_streamed && self.failures >= STARTUP_ATTEMPTS {
            return None;
        }
        let wait = self.backoff;
        self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
        Some(wait)
    }
}

/// One connection to the server. Always returns the offset store, whatever happened, so the
/// next session resumes from what is durable, and whether streaming started.
async fn session(
    s: &Settings,
    store: FileOffsetStore,
    sink: &mut KafkaSink,
    opts: &RunOptions,
    stop: &mut watch::Receiver<bool>,
    state: &mut RunState,
) -> (FileOffsetStore, bool, Result<(), ConnectorError>) {
    let (store, streamed, result) = session_inner(s, store, sink, opts, stop, state).await;
    // Whatever is still open was not covered by a committed offset record (a failure, or a
    // stop in the middle of a PostgreSQL transaction or snapshot): the next session sends it
    // again, so it must never become visible.
    if sink.transaction_age().is_some() {
        if let Err(e) = sink.abort_transaction() {
            tracing::warn!(connector = %s.name, error = %e, "could not abort the kafka transaction; the next producer's init_transactions aborts it");
        }
    }
    (store, streamed, result)
}

async fn session_inner(
    s: &Settings,
    mut store: FileOffsetStore,
    sink: &mut KafkaSink,
    opts: &RunOptions,
    stop: &mut watch::Receiver<bool>,
    state: &mut RunState,
) -> (FileOffsetStore, bool, Result<(), ConnectorError>) {
    if let (Some(until), Some(r)) = (opts.until_lsn, store.position()) {
        if r >= until && !snapshot_may_be_needed(s.snapshot.mode, &store, state) {
            return (store, false, Ok(()));
        }
    }
    let admin = match prepare(s).await {
        Ok(a) => a,
        Err(e) => return (store, false, Err(e)),
    };
    match snapshot_phase(s, &admin, &mut store, sink, stop, state).await {
        Ok(Phase::Stream) => {}
        Ok(Phase::Done) => return (store, false, Ok(())),
        Err(e) => return (store, false, Err(e)),
    }
    let resume = store.position();
    if let (Some(until), Some(r)) = (opts.until_lsn, resume) {
        if r >= until {
            return (store, false, Ok(()));
        }
    }
    let (mut stream, resume) = match open_stream(s, &admin, resume, store.path()).await {
        Ok(st) => st,
        Err(e) => return (store, false, Err(e)),
    };
    if let Some(r) = resume {
        stream.set_flushed(r);
    }
    let snapshot_completed = store.snapshot_completed();
    let ack = progress::spawn(store, sink.acks(), s.offsets_flush_interval, ACK_CHANNEL);
    let mut durable = ack.durable.clone();
    let mut eos = s.exactly_once.as_ref().map(|cfg| EosState {
        cfg,
        snapshot_completed,
        pending: None,
    });
    let streamed = stream_changes(
        &mut eos,
        s,
        &mut stream,
        &admin,
        sink,
        &ack.tx,
        &mut durable,
        resume,
        opts,
        stop,
    )
    .await;
    drop(ack.tx);
    let (store, acked) = match ack.handle.await {
        Ok(r) => r,
        Err(e) => panic!("acknowledger task panicked: {e}"),
    };
    // When the acknowledger stopped first, its error is the cause worth reporting.
    let mut result = match (streamed, acked) {
        (Err(ConnectorError::AcknowledgerGone), Err(e)) => Err(e.into()),
        (streamed, acked) => streamed.and(acked.map_err(ConnectorError::from)),
    };
    if let Some(lsn) = store.position() {
        stream.set_flushed(lsn);
        if result.is_ok() {
            // Graceful end: tell the server what is durable before closing.
            if let Err(e) = stream.send_status(false).await {
                result = Err(e.into());
            } else if let Err(e) = stream.finish().await {
                tracing::debug!(error = %e, "closing the replication stream");
            }
            tracing::info!(connector = %s.name, lsn = %lsn, "stopped; progress confirmed");
        }
    }
    (store, true, result)
}

/// Connects the SQL side and makes sure logical decoding can work and the publication is
/// as configured.
async fn prepare(s: &Settings) -> Result<Admin, ConnectorError> {
    let admin = Admin::connect(&s.params).await?;
    let wal_level = admin.wal_level().await?;
    if wal_level != "logical" {
        return Err(ConnectorError::WalLevel(wal_level));
    }
    let tables = if s.publication_mode == PublicationMode::Filtered {
        publication_tables(&admin, &s.table_filter).await?
    } else {
        Vec::new()
    };
    admin
        .ensure_publication(&s.publication, s.publication_mode, &tables)
        .await?;
    Ok(admin)
}

/// Whether a session might snapshot (so an `--until-lsn` already reached is no reason to stop
/// before looking).
fn snapshot_may_be_needed(mode: SnapshotMode, store: &FileOffsetStore, state: &RunState) -> bool {
    match mode {
        SnapshotMode::Initial | SnapshotMode::NoData => false,
        SnapshotMode::Always => !state.snapshot_taken,
        SnapshotMode::InitialOnly => !store.snapshot_completed(),
        // Only the server can say whether the stored position is still there.
        SnapshotMode::WhenNeeded => true,
    }
}

enum Phase {
    /// Go on streaming.
    Stream,
    /// The connector is done for this run (initial_only, or stopped mid-snapshot).
    Done,
}

/// Takes the snapshot if `snapshot.mode` asks for one now, and records it only once every
/// record is acknowledged, with the position streaming resumes from.
async fn snapshot_phase(
    s: &Settings,
    admin: &Admin,
    store: &mut FileOffsetStore,
    sink: &mut KafkaSink,
    stop: &mut watch::Receiver<bool>,
    state: &mut RunState,
) -> Result<Phase, ConnectorError> {
    let mode = s.snapshot.mode;
    let resume = store.position();
    let path = store.path().display().to_string();
    let slot = admin.slot_info(&s.slot).await?;
    let lost = match reconcile(s, resume, slot.as_ref(), &path) {
        // No snapshot mode can stream from an invalidated slot.
        Err(e @ ConnectorError::SlotInvalidated { .. }) => return Err(e),
        Err(e) => Some(e),
        Ok(_) => None,
    };
    let wanted = match mode {
        SnapshotMode::Initial => resume.is_none(),
        SnapshotMode::NoData => false,
        SnapshotMode::Always => !state.snapshot_taken,
        SnapshotMode::InitialOnly => !store.snapshot_completed(),
        SnapshotMode::WhenNeeded => resume.is_none() || lost.is_some(),
    };
    if let Some(e) = lost {
        if mode != SnapshotMode::WhenNeeded {
            return Err(e);
        }
        tracing::warn!(connector = %s.name, reason = %e, "the stored position cannot be resumed; snapshot.mode when_needed takes a new snapshot");
    }
    if !wanted {
        if mode == SnapshotMode::InitialOnly {
            tracing::info!(connector = %s.name, "snapshot already completed and snapshot.mode is initial_only: nothing to do");
            return Ok(Phase::Done);
        }
        return Ok(Phase::Stream);
    }
    let req = SnapshotRequest {
        params: s.params.clone(),
        publication: s.publication.clone(),
        filter: s.table_filter.clone(),
        event: s.event.clone(),
        schemas: s.schemas,
        transforms: s.transforms.clone(),
        parallelism: s.snapshot.parallelism,
        chunk_pages: s.snapshot.chunk_pages,
    };
    // Keeps the connection that exported the slot's snapshot idle until the workers joined it.
    let mut exporter = None;
    let (source, resume_from) = match slot {
        None => {
            let mut conn = ReplicationConnection::connect(&s.params).await?;
            match conn.create_slot(&s.slot, "pgoutput").await? {
                SlotCreation::Created(c) => {
                    tracing::info!(slot = %s.slot, consistent_point = %c.consistent_point, "created replication slot");
                    let name = c.snapshot_name.ok_or_else(|| {
                        ConnectorError::Config(
                            "the server created the slot without exporting a snapshot".into(),
                        )
                    })?;
                    exporter = Some(conn);
                    (
                        SnapshotSource::Slot {
                            name,
                            consistent_point: c.consistent_point,
                        },
                        c.consistent_point,
                    )
                }
                // Created concurrently by someone else: treat it like an existing slot.
                SlotCreation::Existed => {
                    let info = admin.slot_info(&s.slot).await?;
                    let confirmed = info
                        .and_then(|i| i.confirmed_flush_lsn)
                        .unwrap_or(Lsn::ZERO);
                    (SnapshotSource::Fresh, confirmed)
                }
            }
        }
        Some(info) => {
            let confirmed = info.confirmed_flush_lsn.ok_or_else(|| {
                ConnectorError::Config(format!(
                    "replication slot {:?} has no confirmed position (is it a physical slot?): drop it or choose another slot.name",
                    s.slot
                ))
            })?;
            // The snapshot is newer than the slot's position; streaming replays from there so
            // that nothing between the two is missed (an interrupted first snapshot, `always`).
            let from = match resume {
                Some(r) if confirmed <= r => r,
                _ => confirmed,
            };
            (SnapshotSource::Fresh, from)
        }
    };
    tracing::info!(connector = %s.name, ?mode, resume = %resume_from, "taking a snapshot");
    let outcome = snapshot::run(&req, source, sink, stop).await;
    if let Some(conn) = exporter {
        if let Err(e) = conn.close().await {
            tracing::debug!(error = %e, "closing the slot-creating connection");
        }
    }
    match outcome? {
        SnapshotOutcome::Stopped => Ok(Phase::Done),
        SnapshotOutcome::Completed(stats) => {
            if let Some(eos) = &s.exactly_once {
                // The snapshot's records and the record saying it completed commit together.
                let rec = offset_record(eos, &s.name, &store.record(resume_from, true));
                sink.send(&rec).await?;
                sink.commit_transaction()?;
            }
            tokio::task::block_in_place(|| store.store_snapshot_completed(resume_from))?;
            state.snapshot_taken = true;
            tracing::info!(connector = %s.name, rows = stats.rows, resume = %resume_from, "snapshot recorded");
            if mode == SnapshotMode::InitialOnly {
                tracing::info!(connector = %s.name, "snapshot.mode is initial_only: not streaming");
                return Ok(Phase::Done);
            }
            Ok(Phase::Stream)
        }
    }
}

/// Opens the replication stream; also returns the position it resumes from, which is the
/// slot's rather than the offsets file's under `offsets.mismatch_strategy = trust_slot`.
async fn open_stream(
    s: &Settings,
    admin: &Admin,
    resume: Option<Lsn>,
    offsets_path: &std::path::Path,
) -> Result<(ReplicationStream, Option<Lsn>), ConnectorError> {
    let mut conn = ReplicationConnection::connect(&s.params).await?;
    if admin.slot_info(&s.slot).await?.is_none() {
        if let Some(stored) = resume {
            return Err(ConnectorError::SlotLost {
                slot: s.slot.clone(),
                stored,
                path: offsets_path.display().to_string(),
            });
        }
        if let SlotCreation::Created(c) = conn.create_slot(&s.slot, "pgoutput").await? {
            tracing::info!(slot = %s.slot, consistent_point = %c.consistent_point, "created replication slot");
        }
    }
    let stored = resume;
    let resume = check_slot_position(admin, s, resume, offsets_path).await?;
    if let (Some(from), Some(to)) = (stored, resume) {
        if to > from {
            tracing::warn!(connector = %s.name, slot = %s.slot, skipped_from = %from, skipped_to = %to,
                "offsets.mismatch_strategy is trust_slot: resuming from the slot, which is ahead of the offsets file; changes between the two positions are NOT captured");
        }
    }
    if s.takeover {
        admin.terminate_slot_holder(&s.slot).await?;
    }
    let start = resume.unwrap_or(Lsn::ZERO);
    let publication = s.publication.clone();
    let mut options: Vec<(&str, &str)> =
        vec![("proto_version", "1"), ("publication_names", &publication)];
    // Logical decoding messages are available through pgoutput from PostgreSQL 14 on.
    if admin.server_version_num() >= 140000 {
        options.push(("messages", "true"));
    }
    conn.set_status_interval(s.status_interval);
    let stream = conn.start_replication(&s.slot, start, &options).await?;
    // PostgreSQL 15+ silently starts from the slot's confirmed position when asked for an
    // older one, so check again now that the slot is ours.
    check_slot_position(admin, s, resume, offsets_path).await?;
    tracing::info!(connector = %s.name, slot = %s.slot, start = %start, "streaming");
    Ok((stream, resume))
}

/// The tables a `filtered` publication should hold: every user table the filter accepts
/// (Debezium's `publication.autocreate.mode=filtered`).
async fn publication_tables(
    admin: &Admin,
    filter: &TableFilter,
) -> Result<Vec<String>, ConnectorError> {
    let rows = admin
        .client()
        .query(
            "SELECT schemaname::text, tablename::text FROM pg_tables
             WHERE schemaname NOT IN ('pg_catalog', 'information_schema')
             ORDER BY 1, 2",
            &[],
        )
        .await
        .map_err(|e| {
            ConnectorError::Config(format!("cannot list tables for the publication: {e}"))
        })?;
    Ok(rows
        .iter()
        .map(|r| (r.get::<_, String>(0), r.get::<_, String>(1)))
        .filter(|(schema, table)| filter.matches(schema, table))
        .map(|(schema, table)| format!("{schema}.{table}"))
        .collect())
}

/// The position to resume from, after checking the slot against the offsets file.
async fn check_slot_position(
    admin: &Admin,
    s: &Settings,
    resume: Option<Lsn>,
    offsets_path: &std::path::Path,
) -> Result<Option<Lsn>, ConnectorError> {
    let info = admin.slot_info(&s.slot).await?;
    let Some(info) = info else {
        // Missing before a first run is fine (it is created); `open_stream` and the snapshot
        // phase report a slot that went missing under a stored position.
        return Ok(resume);
    };
    reconcile(s, resume, Some(&info), &offsets_path.display().to_string())
}

/// The slot's state against the stored position: the position to resume from, or why that
/// is impossible (`offsets.mismatch_strategy` decides about a slot that is ahead).
fn reconcile(
    s: &Settings,
    resume: Option<Lsn>,
    slot: Option<&SlotInfo>,
    path: &str,
) -> Result<Option<Lsn>, ConnectorError> {
    if slot.is_some_and(|i| i.wal_status.as_deref() == Some("lost")) {
        return Err(ConnectorError::SlotInvalidated {
            slot: s.slot.clone(),
            path: path.to_string(),
        });
    }
    let (Some(stored), slot) = (resume, slot) else {
        return Ok(resume);
    };
    let Some(info) = slot else {
        return Err(ConnectorError::SlotLost {
            slot: s.slot.clone(),
            stored,
            path: path.to_string(),
        });
    };
    match info.confirmed_flush_lsn {
        Some(slot_lsn) if slot_lsn > stored => match s.mismatch {
            MismatchStrategy::TrustSlot => Ok(Some(slot_lsn)),
            MismatchStrategy::Fail | MismatchStrategy::TrustOffset => {
                Err(ConnectorError::SlotAhead {
                    slot: s.slot.clone(),
                    slot_lsn,
                    stored,
                    path: path.to_string(),
                })
            }
        },
        // The file ahead of the slot is normal (it is written before the slot is confirmed):
        // streaming starts at the stored position and the server skips to it.
        _ => Ok(resume),
    }
}

/// Where the source is inside the WAL, for deciding what may be checkpointed.
struct TxState {
    /// Between Begin and Commit.
    in_tx: bool,
    /// The current transaction committed before the resume position: already in Kafka.
    skip: bool,
    /// Newest checkpoint handed to the acknowledger.
    last_checkpoint: Lsn,
    /// Commit LSN of the open transaction and the index of its next record: together the
    /// record's [`EventId`], identical when the transaction is replayed after a restart.
    commit_lsn: Lsn,
    next_index: u64,
}

/// Exactly-once mode, within one session.
struct EosState<'a> {
    cfg: &'a ExactlyOnce,
    snapshot_completed: bool,
    /// The newest position covered by the open Kafka transaction, to be committed with it.
    pending: Option<Lsn>,
}

/// The offset record for `o`, keyed by connector name (the topic is compacted).
fn offset_record(eos: &ExactlyOnce, connector: &str, o: &StoredOffset) -> Record {
    Record {
        topic: eos.offsets_topic.clone(),
        key: Some(connector.as_bytes().to_vec()),
        value: Some(crate::offsets::kafka::encode(o)),
        headers: Vec::new(),
        event_id: None,
    }
}

/// Commits the open Kafka transaction with an offset record for its pending position, then
/// hands that position to the acknowledger (which stores it in the file and confirms it).
async fn commit_eos(
    s: &Settings,
    eos: &mut EosState<'_>,
    sink: &mut KafkaSink,
    ack: &tokio::sync::mpsc::Sender<Checkpoint>,
) -> Result<(), ConnectorError> {
    let Some(lsn) = eos.pending.take() else {
        return Ok(());
    };
    let o = StoredOffset::new(&s.name, &s.slot, lsn, eos.snapshot_completed);
    sink.send(&offset_record(eos.cfg, &s.name, &o)).await?;
    let records = sink.transaction_records();
    sink.commit_transaction()?;
    tracing::debug!(lsn = %lsn, records, "kafka transaction committed");
    ack.send(Checkpoint {
        lsn,
        records: sink.sent(),
    })
    .await
    .map_err(|_| ConnectorError::AcknowledgerGone)
}

/// A position the source has passed. Outside exactly-once mode, or when no Kafka transaction
/// is open (nothing sent since the last commit), it goes to the acknowledger; otherwise it
/// waits for the transaction, which is committed once it is old enough and no PostgreSQL
/// transaction is half sent.
async fn on_checkpoint(
    s: &Settings,
    eos: &mut Option<EosState<'_>>,
    sink: &mut KafkaSink,
    ack: &tokio::sync::mpsc::Sender<Checkpoint>,
    tx: &mut TxState,
    lsn: Lsn,
) -> Result<(), ConnectorError> {
    match eos {
        Some(e) if sink.transaction_age().is_some() => {
            if lsn > tx.last_checkpoint {
                tx.last_checkpoint = lsn;
                e.pending = Some(lsn);
            }
            if !tx.in_tx && sink.transaction_age() >= Some(e.cfg.commit_interval) {
                commit_eos(s, e, sink, ack).await?;
            }
            Ok(())
        }
        _ => checkpoint(ack, tx, lsn, sink.sent()).await,
    }
}

#[allow(clippy::too_many_arguments)]
async fn stream_changes(
    eos: &mut Option<EosState<'_>>,
    s: &Settings,
    stream: &mut ReplicationStream,
    admin: &Admin,
    sink: &mut KafkaSink,
    ack: &tokio::sync::mpsc::Sender<Checkpoint>,
    durable: &mut watch::Receiver<Lsn>,
    resume: Option<Lsn>,
    opts: &RunOptions,
    stop: &mut watch::Receiver<bool>,
) -> Result<(), ConnectorError> {
    let mut decoder = Decoder::new(1);
    let mut builder = EventBuilder::new(s.event.clone());
    let mut format = JsonFormat::new(s.schemas);
    format.set_binary_mode(s.event.modes.binary);
    format.set_context_headers(crate::event::context::context_headers(
        &s.event.topic_prefix,
        &crate::event::context::new_run_id(),
    ));
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
        // Exactly-once: when the open Kafka transaction is due for a commit.
        let commit_in = eos
            .as_ref()
            .filter(|e| e.pending.is_some() && !tx.in_tx)
            .and_then(|e| {
                sink.transaction_age()
                    .map(|age| e.cfg.commit_interval.saturating_sub(age))
            });
        tokio::select! {
            biased;
            r = stop.changed() => {
                if r.is_err() || *stop.borrow() {
                    if let Some(e) = eos.as_mut().filter(|_| !tx.in_tx) {
                        commit_eos(s, e, sink, ack).await?;
                    }
                    return Ok(());
                }
            }
            _ = next_heartbeat(&mut heartbeat) => beat(s, admin, sink).await?,
            r = durable.changed() => {
                if r.is_err() {
                    // The acknowledger ended early: its result says why.
                    return Err(ConnectorError::AcknowledgerGone);
                }
                let lsn = *durable.borrow_and_update();
                stream.set_flushed(lsn);
                if opts.until_lsn.is_some_and(|u| lsn >= u) {
                    tracing::info!(lsn = %lsn, "reached --until-lsn");
                    return Ok(());
                }
            }
            _ = tokio::time::sleep(commit_in.unwrap_or_default()), if commit_in.is_some() => {
                if let Some(e) = eos.as_mut() {
                    commit_eos(s, e, sink, ack).await?;
                }
            }
            ev = stream.next() => {
                match ev? {
                    None => return Err(ConnectorError::StreamEnded),
                    Some(ReplicationEvent::XLogData { wal_start, data, .. }) => {
                        let msg = decoder.decode(data)?;
                        lookup_catalog(admin, &msg, &mut builder).await?;
                        let mut out = Output { builder: &mut builder, txmeta: txmeta.as_mut(), format: &mut format, events: &mut events, records: &mut records };
                        on_message(s, wal_start, &msg, &mut tx, resume, &mut out)?;
                        for rec in records.drain(..) {
                            sink.send(&rec).await?;
                        }
                        if let Some(lsn) = checkpoint_after(&msg, &tx) {
                            on_checkpoint(s, eos, sink, ack, &mut tx, lsn).await?;
                        }
                    }
                    Some(ReplicationEvent::Keepalive { wal_end, .. }) => {
                        // Everything the server decoded before wal_end has been received; when no
                        // transaction is open, confirming it lets an idle or filtered database
                        // release WAL (what pg_recvlogical does, and Debezium does not).
                        if !tx.in_tx && wal_end > tx.last_checkpoint {
                            on_checkpoint(s, eos, sink, ack, &mut tx, wal_end).await?;
                        }
                    }
                }
            }
        }
    }
}

/// Completes at the next heartbeat; never when heartbeats are off.
async fn next_heartbeat(t: &mut Option<tokio::time::Interval>) {
    match t {
        Some(t) => {
            t.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// One heartbeat: the action query (whose change, if captured, gives the slot a position to
/// confirm on an otherwise idle database), then the heartbeat record. The record goes through
/// the same producer as the changes, so it is covered by the next checkpoint's count.
async fn beat(s: &Settings, admin: &Admin, sink: &mut KafkaSink) -> Result<(), ConnectorError> {
    if let Some(q) = &s.heartbeat.action_query {
        if let Err(e) = admin.client().batch_execute(q).await {
            let err = AdminError::Db {
                context: "heartbeat.action_query".into(),
                source: e,
            };
            // A connection problem is retried like any other; a broken query is a definite
            // configuration error.
            return Err(if err.is_transient() {
                err.into()
            } else {
                ConnectorError::HeartbeatQuery(format!("{err}: fix or remove the query"))
            });
        }
    }
    let ts_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let rec = crate::heartbeat::record(&s.event.topic_prefix, s.schemas, ts_ms);
    sink.send(&rec).await?;
    tracing::debug!(topic = %rec.topic, ts_ms, "heartbeat sent");
    Ok(())
}

/// What turns one message into records, borrowed for [`on_message`].
struct Output<'a> {
    builder: &'a mut EventBuilder,
    /// `provide.transaction.metadata`.
    txmeta: Option<&'a mut TxMetadata>,
    format: &'a mut JsonFormat,
    events: &'a mut Vec<ChangeEvent>,
    records: &'a mut Vec<Record>,
}

fn on_message(
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
    builder.handle(wal_start, msg, events)?;
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
            s.transforms.encode(format, ev, records)?;
            continue;
        }
        if let Some(t) = ev.table() {
            if !s.table_filter.matches(&t.schema_name, &t.table_name) {
                continue;
            }
        }
        // A tombstone belongs to its delete: skipping deletes skips both.
        let op = ev.op().map_or("d", |op| op.code());
        if s.events.is_skipped(op) {
            continue;
        }
        if let Some(meta) = txmeta.as_deref_mut() {
            meta.on_event(&mut ev);
        }
        s.transforms.encode(format, ev, records)?;
    }
    let new = &mut records[first..];
    match msg {
        // Not part of any transaction, even when it arrives between a Begin and its Commit.
        Message::Message(m) if !m.transactional() => {
            for (i, r) in new.iter_mut().enumerate() {
                r.event_id = Some(EventId {
                    lsn: m.lsn,
                    index: i as u64,
                });
            }
        }
        _ => {
            for r in new.iter_mut() {
                r.event_id = Some(EventId {
                    lsn: tx.commit_lsn,
                    index: tx.next_index,
                });
                tx.next_index += 1;
            }
        }
    }
    Ok(())
}

/// Before a Relation or Type message reaches the builder, supply what the stream does not
/// say: key columns, NOT NULL, defaults, enum labels.
async fn lookup_catalog(
    admin: &Admin,
    msg: &Message,
    builder: &mut EventBuilder,
) -> Result<(), ConnectorError> {
    match msg {
        Message::Relation(rel) => {
            let info = catalog::table_info(admin.client(), rel.oid).await?;
            builder.set_table_info(&rel.namespace, &rel.name, info);
        }
        Message::Type(t) => catalog::supply_enum_labels(admin.client(), t.oid, builder).await?,
        _ => {}
    }
    Ok(())
}

/// The position that becomes safe once everything sent so far is acknowledged.
fn checkpoint_after(msg: &Message, tx: &TxState) -> Option<Lsn> {
    match msg {
        Message::Commit(c) => Some(c.end_lsn),
        // A non-transactional message is its own unit; the server skips records that start
        // before the confirmed position, so confirm one past its start.
        Message::Message(m) if !m.transactional() && !tx.in_tx => Some(Lsn(m.lsn.as_u64() + 1)),
        _ => None,
    }
}

async fn checkpoint(
    ack: &tokio::sync::mpsc::Sender<Checkpoint>,
    tx: &mut TxState,
    lsn: Lsn,
    records: u64,
) -> Result<(), ConnectorError> {
    if lsn > tx.last_checkpoint {
        tx.last_checkpoint = lsn;
        ack.send(Checkpoint { lsn, records })
            .await
            .map_err(|_| ConnectorError::AcknowledgerGone)?;
    }
    Ok(())
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_gives_up_at_startup_only() {
        let mut r = Retry::new();
        let waits: Vec<_> = std::iter::from_fn(|| r.next_wait()).collect();
        assert_eq!(waits.len() as u32, STARTUP_ATTEMPTS - 1);
        assert_eq!(waits[0], BACKOFF_START);
        assert_eq!(waits[1], BACKOFF_START * 2);

        let mut r = Retry::new();
        r.next_wait();
        r.streamed();
        for _ in 0..100 {
            assert!(r.next_wait().unwrap() <= BACKOFF_MAX);
        }
        assert_eq!(r.next_wait(), Some(BACKOFF_MAX));
        r.streamed();
        assert_eq!(r.next_wait(), Some(BACKOFF_START), "backoff starts over");
    }
}
