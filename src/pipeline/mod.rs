//! One connector, end to end: slot → decoder → events → transforms → format → emit → sink,
//! with the acknowledger (src/progress.rs) turning the sink's acknowledgements into durable,
//! confirmed positions.
//!
//! A connector runs sessions. A session connects, checks the slot against the offset store,
//! streams, and ends on shutdown, on `--until-lsn`, or on an error. Transient errors (lost
//! connections, a restarting server or broker) start a new session from the last durable
//! position after a backoff; definite errors stop the connector with a message saying what to do.

mod error;
mod incremental;
mod position;
mod replica_identity;
mod settings;
mod slot_lag;
mod snapshot_phase;
mod stream;

pub use error::{ConnectorError, PipelineError};
pub use settings::{ExactlyOnce, OffsetsLocation, RunOptions, Settings};

use error::StoreName;
pub use position::open_store;
use position::{adopt_committed_offset, open_stream, publication_tables};
use snapshot_phase::{snapshot_may_be_needed, snapshot_phase, Phase};
use stream::{stream_changes, EosState};

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::config::{ConnectorConfig, ProcessConfig};
use crate::emit::Emitter;
use crate::observe::State;
use crate::offsets::{OffsetStore, Staged};
use crate::progress;
use crate::sink::{AnySink, Sink};
use crate::source::admin::{Admin, PublicationMode};

/// Checkpoints in flight between source and acknowledger. Memory is bounded by the sink's
/// queue (a full queue is backpressure on the slot); this only bounds the bookkeeping.
const ACK_CHANNEL: usize = 4096;

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
    for s in &connectors {
        opts.registry.add(s.obs.clone());
    }
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
            let obs = s.obs.clone();
            let res = run_connector(Arc::new(s), opts, stop).await;
            match &res {
                Ok(()) => obs.set_state(State::Stopped),
                Err(e) => obs.set_error(e, true),
            }
            res.map_err(|source| PipelineError::Connector {
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
    let sink = AnySink::build(&s.sink, &s.name, &s.event.topic_prefix)?;
    let mut emit = Emitter::new(sink, s.failure.clone());
    let mut retry = Retry::new();
    let mut state = RunState::default();
    let mut store = None;
    warn_about_slot_settings(&s);
    loop {
        let (st, streamed, res) = match ready(&s, store.take(), &mut emit).await {
            Ok(st) => {
                let (st, streamed, res) =
                    session(&s, st, &mut emit, &opts, &mut stop, &mut state).await;
                (Some(st), streamed, res)
            }
            Err((st, e)) => (st, false, Err(e)),
        };
        store = st;
        if streamed {
            retry.streamed();
        }
        let e = match res {
            Ok(()) if s.drop_slot_on_stop => return drop_slot_on_stop(&s).await,
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
        s.obs.set_error(&e, false);
        s.obs.metrics.reconnect(e.cause());
        tracing::warn!(connector = %s.name, error = %e, attempt = retry.failures, retry_in = ?wait, "session failed, reconnecting from the last durable position");
        let transactional = emit.sink_mut().transactions().is_some();
        if e.is_sink_failure() || transactional {
            // Records still queued would be delivered after the failed one, out of order; the
            // next session re-sends everything after the durable position. Transactions start
            // over after any failure: aborted records count as failed deliveries, and the new
            // client's init aborts whatever the old one left open.
            emit.sink_mut().reset()?;
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

/// Settings that give up the slot's guarantees are said out loud once per start.
fn warn_about_slot_settings(s: &Settings) {
    if s.drop_slot_on_stop {
        tracing::warn!(connector = %s.name, slot = %s.slot,
            "slot.drop_on_stop is set: the slot is dropped at a graceful stop, so the position is lost and changes made while pgcdc is stopped are not captured; do not use it in production");
    }
    if !s.lsn_flush_mode.confirms() {
        tracing::warn!(connector = %s.name, slot = %s.slot,
            "slot.lsn_flush_mode is manual: pgcdc never confirms positions to the slot; advance it yourself (pg_replication_slot_advance) or the server keeps all WAL since");
    }
}

/// `slot.drop_on_stop` after a graceful stop: the final progress is already confirmed and
/// flushed, so only the slot is left to go.
async fn drop_slot_on_stop(s: &Settings) -> Result<(), ConnectorError> {
    let admin = Admin::connect(&s.params).await?;
    // The walsender of the session that just ended may still hold the slot for a moment.
    admin.wait_slot_released(&s.slot).await?;
    admin.drop_slot(&s.slot).await?;
    tracing::info!(connector = %s.name, slot = %s.slot, "slot dropped on stop (slot.drop_on_stop)");
    Ok(())
}

/// What a connector remembers across its sessions within one run of pgcdc.
#[derive(Debug, Default)]
struct RunState {
    /// A snapshot completed during this run (`always` takes one per start of pgcdc, not one
    /// per reconnect).
    snapshot_taken: bool,
    /// End LSN of the newest durable commit: what `source.sequence` names as the last commit
    /// when a new session resumes after it (Debezium keeps it in its offsets as `lsn_commit`).
    durable_commit: Option<crate::lsn::Lsn>,
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

/// The offset store (opened unless kept from the last session) and the sink, ready for a
/// session. Inside the retry loop: brokers that are not up yet are a transient failure.
async fn ready<S: Sink>(
    s: &Settings,
    kept: Option<OffsetStore>,
    emit: &mut Emitter<S>,
) -> Result<OffsetStore, (Option<OffsetStore>, ConnectorError)> {
    // Transactions first: their init aborts a previous instance's open transaction, which
    // would otherwise hold back reading an offsets topic it wrote to.
    if let Some(t) = emit.sink_mut().transactions() {
        if let Err(e) = t.init().await {
            return Err((kept, e.into()));
        }
    }
    let mut store = match kept {
        Some(st) => st,
        None => open_store(s).await.map_err(|e| (None, e))?,
    };
    match adopt_committed_offset(s, &mut store).await {
        Ok(()) => Ok(store),
        Err(e) => Err((Some(store), e)),
    }
}

/// One connection to the server. Always returns the offset store, whatever happened, so the
/// next session resumes from what is durable, and whether streaming started.
async fn session<S: Sink>(
    s: &Settings,
    store: OffsetStore,
    emit: &mut Emitter<S>,
    opts: &RunOptions,
    stop: &mut watch::Receiver<bool>,
    state: &mut RunState,
) -> (OffsetStore, bool, Result<(), ConnectorError>) {
    let (store, streamed, result) = session_inner(s, store, emit, opts, stop, state).await;
    // Whatever is still open was not covered by a committed offset record (a failure, or a
    // stop in the middle of a PostgreSQL transaction or snapshot): the next session sends it
    // again, so it must never become visible.
    if let Some(t) = emit.sink_mut().transactions().filter(|t| t.age().is_some()) {
        if let Err(e) = t.abort() {
            tracing::warn!(connector = %s.name, error = %e, "could not abort the open transaction; the next client's init aborts it");
        }
    }
    (store, streamed, result)
}

async fn session_inner<S: Sink>(
    s: &Settings,
    mut store: OffsetStore,
    emit: &mut Emitter<S>,
    opts: &RunOptions,
    stop: &mut watch::Receiver<bool>,
    state: &mut RunState,
) -> (OffsetStore, bool, Result<(), ConnectorError>) {
    if let (Some(until), Some(r)) = (opts.until_lsn, store.position()) {
        if r >= until && !snapshot_may_be_needed(s.snapshot.mode, &store, state) {
            return (store, false, Ok(()));
        }
    }
    let admin = match prepare(s).await {
        Ok(a) => Arc::new(a),
        Err(e) => return (store, false, Err(e)),
    };
    let _slot_lag = AbortOnDrop(tokio::spawn(slot_lag::poll(
        admin.clone(),
        s.slot.clone(),
        s.obs.clone(),
    )));
    match snapshot_phase(s, &admin, &mut store, emit, stop, state).await {
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
    let (mut stream, resume) = match open_stream(s, &admin, resume, &StoreName::of(&store)).await {
        Ok(st) => st,
        Err(e) => return (store, false, Err(e)),
    };
    if let Some(r) = resume {
        stream.set_flushed(r);
    }
    s.obs.set_state(State::Streaming);
    let snapshot_completed = store.snapshot_completed();
    let stored = store.incremental().cloned();
    let staged = Staged::new(stored.clone());
    let mut signals =
        match incremental::Signals::start(s, &admin, stored, staged.clone(), resume).await {
            Ok(sig) => sig,
            Err(e) => return (store, false, Err(e)),
        };
    store.set_staged(Some(staged.clone()));
    let ack = progress::spawn(
        store,
        emit.sink().acks(),
        s.offsets_flush_interval,
        ACK_CHANNEL,
        s.obs.clone(),
    );
    let mut durable = ack.durable.clone();
    let mut eos = s.exactly_once.as_ref().map(|cfg| EosState {
        cfg,
        snapshot_completed,
        pending: None,
        pending_commit_us: None,
        staged: staged.clone(),
        last_commit: std::time::Instant::now(),
    });
    let streamed = stream_changes(
        &mut eos,
        s,
        &mut stream,
        &admin,
        emit,
        &ack.tx,
        &mut durable,
        resume,
        opts,
        stop,
        &mut signals,
        &mut state.durable_commit,
    )
    .await;
    drop(ack.tx);
    s.obs.metrics.connected.set(0.0);
    let (mut store, acked) = match ack.handle.await {
        Ok(r) => r,
        Err(e) => panic!("acknowledger task panicked: {e}"),
    };
    store.set_staged(None);
    // When the acknowledger stopped first, its error is the cause worth reporting.
    let mut result = match (streamed, acked) {
        (Err(ConnectorError::AcknowledgerGone), Err(e)) => Err(e.into()),
        (streamed, acked) => streamed.and(acked.map_err(ConnectorError::from)),
    };
    if let Some(lsn) = store.position() {
        stream.set_flushed(lsn);
        // A failed event leaves the stream healthy: confirm what is durable, so that the slot
        // shows exactly where the connector stopped.
        if matches!(result, Ok(()) | Err(ConnectorError::EventFailed(_))) {
            // Graceful end: tell the server what is durable before closing.
            if let Err(e) = stream.send_status(false).await {
                if result.is_ok() {
                    result = Err(e.into());
                }
            } else if let Err(e) = stream.finish().await {
                tracing::debug!(error = %e, "closing the replication stream");
            }
            tracing::info!(connector = %s.name, lsn = %lsn, "stopped; progress confirmed");
        }
    }
    (store, true, result)
}

/// Stops a background task when the scope that started it ends, however it ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Connects the SQL side and makes sure logical decoding can work and the publication and
/// the tables' replica identities are as configured.
async fn prepare(s: &Settings) -> Result<Admin, ConnectorError> {
    let admin = Admin::connect(&s.params).await?;
    let wal_level = admin.wal_level().await?;
    if wal_level != "logical" {
        return Err(ConnectorError::WalLevel(wal_level));
    }
    let tables = if s.publication_mode == PublicationMode::Filtered {
        let mut t = publication_tables(&admin, &s.table_filter).await?;
        // Signals and watermarks arrive through the stream, whatever the table filter says.
        if let Some((schema, table)) = s.signal.table() {
            t.push(format!("{schema}.{table}"));
        }
        t
    } else {
        Vec::new()
    };
    admin
        .ensure_publication(&s.publication, s.publication_mode, &tables)
        .await?;
    replica_identity::autoset(s, &admin).await?;
    Ok(admin)
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
