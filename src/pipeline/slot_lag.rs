//! Polls the slot's lag as the server sees it, on an ordinary SQL connection of its own, for
//! as long as the connector runs: the number that grows unseen until a disk fills when a
//! consumer stalls, so it is read from the server, not inferred from pgcdc's own progress.

use std::sync::Arc;
use std::time::Duration;

use crate::observe::meters::lsn_value;
use crate::observe::Connector;
use crate::source::admin::{Admin, SlotLag};
use crate::source::replication::ConnectParams;

/// How often the slot is looked at.
const POLL_INTERVAL: Duration = Duration::from_secs(3);

/// Never returns; the connector's end aborts it. Failures (server down, slot not created yet)
/// are logged at debug level and retried on the next tick with a new connection: the lag
/// matters less than the capture, which reports such problems itself.
pub(super) async fn poll(params: ConnectParams, slot: String, obs: Arc<Connector>) {
    let mut tick = tokio::time::interval(POLL_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut admin: Option<Admin> = None;
    loop {
        tick.tick().await;
        if admin.is_none() {
            match Admin::connect(&params).await {
                Ok(a) => admin = Some(a),
                Err(e) => {
                    tracing::debug!(connector = %obs.name, error = %e, "slot lag: cannot connect");
                    continue;
                }
            }
        }
        let Some(a) = admin.as_ref() else { continue };
        match a.slot_lag(&slot).await {
            Ok(Some(lag)) => record(&obs, &lag),
            Ok(None) => {}
            Err(e) => {
                tracing::debug!(connector = %obs.name, slot = %slot, error = %e, "slot lag: lookup failed");
                admin = None;
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
