//! Whether a session takes a snapshot before streaming, and taking it.

use std::convert::Infallible;
use std::time::Duration;

use tokio::sync::watch;

use super::error::StoreName;
use super::position::reconcile;
use super::stream::offset_record;
use super::{ConnectorError, RunState, Settings};
use crate::config::SnapshotMode;
use crate::emit::Emitter;
use crate::lsn::Lsn;
use crate::observe::State;
use crate::offsets::OffsetStore;
use crate::sink::Sink;
use crate::snapshot::{self, SnapshotOutcome, SnapshotRequest, SnapshotSource};
use crate::source::admin::Admin;
use crate::source::replication::{ReplicationConnection, SlotCreation};

/// Whether a session might snapshot (so an `--until-lsn` already reached is no reason to stop
/// before looking).
pub(super) fn snapshot_may_be_needed(
    mode: SnapshotMode,
    store: &OffsetStore,
    state: &RunState,
) -> bool {
    match mode {
        SnapshotMode::Initial | SnapshotMode::NoData => false,
        SnapshotMode::Always => !state.snapshot_taken,
        SnapshotMode::InitialOnly => !store.snapshot_completed(),
        // Only the server can say whether the stored position is still there.
        SnapshotMode::WhenNeeded => true,
    }
}

pub(super) enum Phase {
    /// Go on streaming.
    Stream,
    /// The connector is done for this run (initial_only, or stopped mid-snapshot).
    Done,
}

/// Takes the snapshot if `snapshot.mode` asks for one now, and records it only once every
/// record is acknowledged, with the position streaming resumes from.
pub(super) async fn snapshot_phase<S: Sink>(
    s: &Settings,
    admin: &Admin,
    store: &mut OffsetStore,
    emit: &mut Emitter<S>,
    stop: &mut watch::Receiver<bool>,
    state: &mut RunState,
) -> Result<Phase, ConnectorError> {
    let mode = s.snapshot.mode;
    let resume = store.position();
    let name = StoreName::of(store);
    let slot = admin.slot_info(&s.slot).await?;
    let lost = match reconcile(s, resume, slot.as_ref(), &name) {
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
        format: s.format.clone(),
        transforms: s.transforms.clone(),
        parallelism: s.snapshot.parallelism,
        chunk_pages: s.snapshot.chunk_pages,
        progress_interval: s.snapshot.progress_interval,
        obs: s.obs.clone(),
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
    s.obs.set_state(State::Snapshotting);
    s.obs.metrics.snapshot_running.set(1.0);
    s.obs.metrics.snapshot_aborted.set(0.0);
    let outcome = {
        let run = snapshot::run(&req, source, emit, stop);
        tokio::pin!(run);
        tokio::select! {
            outcome = &mut run => outcome,
            never = report_slot_lag(admin, &s.slot, s.snapshot.progress_interval) => match never {},
        }
    };
    s.obs.metrics.snapshot_running.set(0.0);
    if !matches!(outcome, Ok(SnapshotOutcome::Completed(_))) {
        s.obs.metrics.snapshot_aborted.set(1.0);
    }
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
                emit.emit_control(&rec).await?;
                if let Some(t) = emit.sink_mut().transactions() {
                    t.commit()?;
                }
            }
            tokio::task::block_in_place(|| store.store_snapshot_completed(resume_from))?;
            state.snapshot_taken = true;
            state.durable_commit = None;
            s.obs.metrics.snapshot_completed.set(1.0);
            tracing::info!(connector = %s.name, rows = stats.rows, resume = %resume_from, "snapshot recorded");
            if mode == SnapshotMode::InitialOnly {
                tracing::info!(connector = %s.name, "snapshot.mode is initial_only: not streaming");
                return Ok(Phase::Done);
            }
            Ok(Phase::Stream)
        }
    }
}

/// Logs how much WAL the slot holds back while the snapshot runs: the stream cannot consume
/// it until the snapshot is done, so a long initial load pins WAL on the server, and operators
/// should see how much. Never returns; the snapshot's end drops it. A failed lookup is only
/// logged: the snapshot matters more than the report.
async fn report_slot_lag(admin: &Admin, slot: &str, every: Duration) -> Infallible {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let held = async {
            let info = admin.slot_info(slot).await?;
            let current = admin.current_wal_lsn().await?;
            Ok::<_, crate::source::admin::AdminError>(
                info.and_then(|i| i.restart_lsn)
                    .map(|r| current.as_u64().saturating_sub(r.as_u64())),
            )
        };
        match held.await {
            Ok(Some(bytes)) => {
                tracing::info!(
                    slot,
                    lag_bytes = bytes,
                    "slot holds WAL while the snapshot runs"
                )
            }
            Ok(None) => {}
            Err(e) => tracing::debug!(slot, error = %e, "cannot read the slot's lag"),
        }
    }
}
