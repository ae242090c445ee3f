//! Polls the slot's lag as the server sees it, on the connector's SQL connection, for as long
//! as an attempt runs: the number that grows unseen until a disk fills when a consumer stalls,
//! so it is read from the server, not inferred from pgcdc's own progress. It shares the
//! connection because one more per connector adds up against the server's max_connections.

use std::sync::Arc;
use std::time::Duration;

use crate::observe::meters::lsn_value;
use crate::observe::Connector;
use crate::source::admin::{Admin, SlotLag};

/// How often the slot is looked at.
const POLL_INTERVAL: Duration = Duration::from_secs(3);

/// Never returns; the attempt's end aborts it. A failed lookup is logged at debug level and
/// retried on the next tick: the lag matters less than the capture, which reports a lost
/// connection itself.
pub(super) async fn poll(admin: Arc<Admin>, slot: String, obs: Arc<Connector>) {
    let mut tick = tokio::time::interval(POLL_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match admin.slot_lag(&slot).await {
            Ok(Some(lag)) => record(&obs, &lag),
            Ok(None) => {}
            Err(e) => {
                tracing::debug!(connector = %obs.name, slot = %slot, error = %e, "slot lag: lookup failed");
            }
        }
    }
}

fn record(obs: &Connector, lag: &SlotLag) {
    let m = &obs.metrics;
    if let Some(bytes) = lag.lag_bytes {
        m.slot_lag.set(bytes.max(0) as f64);
    }
    if let Some(lsn) = lag.confirmed_flush_lsn {
        m.confirmed_lsn.set(lsn_value(lsn));
    }
    m.wal_status(lag.wal_status.as_deref());
    // Unlimited max_slot_wal_keep_size: no bound to report, -1 says so.
    m.slot_safe_wal_size
        .set(lag.safe_wal_size.map_or(-1.0, |b| b as f64));
}
