//! Progress that never lies.
//!
//! After each transaction (or non-transactional message, or idle keepalive) the source sends
//! the acknowledger a checkpoint: "everything before this LSN is in the first `records` records
//! handed to the sink". The acknowledger waits until the sink's acknowledged low-water mark
//! covers those records — so a checkpoint is reached only when it and every earlier record have
//! been acknowledged by the sink — writes it to the offset store (fsynced), and only then publishes
//! it as the durable position that the replication stream confirms to PostgreSQL.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::lsn::Lsn;
use crate::observe::Connector;
use crate::offsets::{OffsetError, OffsetStore};
use crate::sink::{Acknowledgements, SinkError};

/// "Everything before `lsn` is in the first `records` records sent."
#[derive(Debug, Clone, Copy)]
pub struct Checkpoint {
    pub lsn: Lsn,
    pub records: u64,
    /// Unix microseconds of the PostgreSQL commit this checkpoint ends, when it ends one: its
    /// acknowledgement is a sample of `pgcdc_commit_to_ack_seconds`.
    pub commit_us: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum ProgressError {
    #[error(transparent)]
    Sink(#[from] SinkError),
    #[error(transparent)]
    Offsets(#[from] OffsetError),
}

impl ProgressError {
    pub fn is_transient(&self) -> bool {
        match self {
            ProgressError::Sink(e) => e.is_transient(),
            ProgressError::Offsets(e) => e.is_transient(),
        }
    }
}

pub struct Acknowledger {
    pub tx: mpsc::Sender<Checkpoint>,
    /// The durable position: stored and safe to confirm to PostgreSQL.
    pub durable: watch::Receiver<Lsn>,
    /// Ends when `tx` is dropped and every checkpoint sent was acknowledged and stored, or on
    /// the first failed delivery (progress then stays at the last good checkpoint). Gives the
    /// store back so the next session resumes from it.
    pub handle: JoinHandle<(OffsetStore, Result<(), ProgressError>)>,
}

/// Starts the acknowledger task. `flush_interval` bounds how often the offsets file is written
/// while checkpoints keep arriving; when the pipeline goes quiet it is written at once.
pub fn spawn(
    store: OffsetStore,
    acks: Arc<dyn Acknowledgements>,
    flush_interval: Duration,
    capacity: usize,
    obs: Arc<Connector>,
) -> Acknowledger {
    let (tx, rx) = mpsc::channel(capacity);
    let (durable_tx, durable) = watch::channel(store.position().unwrap_or(Lsn::ZERO));
    let handle = tokio::spawn(run(store, acks, rx, durable_tx, flush_interval, obs));
    Acknowledger {
        tx,
        durable,
        handle,
    }
}

async fn run(
    mut store: OffsetStore,
    acks: Arc<dyn Acknowledgements>,
    mut rx: mpsc::Receiver<Checkpoint>,
    durable: watch::Sender<Lsn>,
    flush_interval: Duration,
    obs: Arc<Connector>,
) -> (OffsetStore, Result<(), ProgressError>) {
    let mut acked: Option<Lsn> = None;
    let mut last_write = Instant::now();
    let result = loop {
        let cp = match rx.try_recv() {
            Ok(cp) => Some(cp),
            Err(mpsc::error::TryRecvError::Empty) => {
                // Quiet moment: make what is acknowledged durable before waiting.
                if let Err(e) = persist(&mut store, acked, &durable) {
                    break Err(e);
                }
                last_write = Instant::now();
                rx.recv().await
            }
            Err(mpsc::error::TryRecvError::Disconnected) => None,
        };
        let Some(cp) = cp else {
            break persist(&mut store, acked, &durable);
        };
        if let Err(e) = acks.wait_for(cp.records).await {
            // Keep what was acknowledged before the failure, nothing after it.
            let _ = persist(&mut store, acked, &durable);
            break Err(e.into());
        }
        observe_ack(&obs, &cp);
        if acked.is_none_or(|a| cp.lsn > a) {
            acked = Some(cp.lsn);
        }
        if last_write.elapsed() >= flush_interval {
            if let Err(e) = persist(&mut store, acked, &durable) {
                break Err(e);
            }
            last_write = Instant::now();
        }
    };
    (store, result)
}

/// The sink acknowledged everything up to `cp`: the records still in flight shrink, and a
/// commit's latency is known.
fn observe_ack(obs: &Connector, cp: &Checkpoint) {
    obs.set_acked(cp.records);
    if let Some(us) = cp.commit_us {
        let now = crate::observe::now_us();
        // A database clock ahead of ours would give a negative latency; it counts as none.
        obs.metrics
            .commit_to_ack
            .record(now.saturating_sub(us).max(0) as f64 / 1e6);
    }
}

fn persist(
    store: &mut OffsetStore,
    acked: Option<Lsn>,
    durable: &watch::Sender<Lsn>,
) -> Result<(), ProgressError> {
    let Some(lsn) = acked else { return Ok(()) };
    // fsync blocks; keep it off the async worker's hot path without losing ordering.
    let wrote = tokio::task::block_in_place(|| store.store(lsn))?;
    if wrote {
        tracing::debug!(lsn = %lsn, "offsets stored");
        durable.send_if_modified(|cur| {
            if lsn > *cur {
                *cur = lsn;
                true
            } else {
                false
            }
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::memory::MemoryAcks;

    /// The durable position after giving the acknowledger a moment: for checking that it
    /// does not move (a slow machine can only make this pass wrongly, never fail wrongly).
    async fn durable_after_a_moment(a: &mut Acknowledger) -> Lsn {
        tokio::time::sleep(Duration::from_millis(50)).await;
        *a.durable.borrow_and_update()
    }

    /// Waits (up to 10 s) until the durable position is `want`.
    async fn wait_durable(a: &mut Acknowledger, want: Lsn) {
        let reached = a.durable.wait_for(|l| *l == want);
        let res = tokio::time::timeout(Duration::from_secs(10), reached).await;
        assert!(res.is_ok_and(|r| r.is_ok()), "durable never reached {want}");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn the_durable_position_never_passes_an_unacknowledged_record() {
        let dir = tempfile::tempdir().unwrap();
        let file = crate::offsets::OffsetFile::new(&dir.path().join("o.json"), "c", "s");
        let store = OffsetStore::open(Box::new(file), "c", "s").unwrap();
        let acks = Arc::new(MemoryAcks::default());
        let obs = Arc::new(Connector::new("c", None));
        let mut a = spawn(store, acks.clone(), Duration::ZERO, 8, obs);
        // Two transactions: records 0-1 end at 0/100, records 2-3 at 0/200.
        for (lsn, records) in [(0x100, 2), (0x200, 4)] {
            a.tx.send(Checkpoint {
                lsn: Lsn(lsn),
                records,
                commit_us: None,
            })
            .await
            .unwrap();
        }
        assert_eq!(durable_after_a_moment(&mut a).await, Lsn::ZERO);
        acks.ack_through(1);
        assert_eq!(durable_after_a_moment(&mut a).await, Lsn::ZERO);
        acks.ack_through(2);
        wait_durable(&mut a, Lsn(0x100)).await;
        // Record 3 of the second transaction is still missing, so 0/200 is not durable.
        acks.ack_through(3);
        assert_eq!(durable_after_a_moment(&mut a).await, Lsn(0x100));
        acks.ack_through(4);
        wait_durable(&mut a, Lsn(0x200)).await;
        drop(a.tx);
        let (store, result) = a.handle.await.unwrap();
        result.unwrap();
        assert_eq!(store.position(), Some(Lsn(0x200)), "stored as confirmed");
    }
}
