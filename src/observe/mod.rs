//! What a running pgcdc tells the outside: Prometheus metrics and each connector's state, read
//! by the HTTP listener (`/metrics`, `/health`, `/ready`). Upstream of everything that records
//! into it; it knows nothing of the pipeline beyond the calls it receives.

pub mod meters;
pub mod state;

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

pub use meters::Metrics;
pub use state::{State, Status};

/// What stands in for a secret in anything served.
pub const MASK: &str = "***";

/// One connector as the outside sees it: its metric handles and its state.
pub struct Connector {
    pub name: String,
    pub metrics: Metrics,
    status: Mutex<Status>,
    /// Unix milliseconds of the last event handed to the sink; 0 before the first.
    last_event_ms: AtomicI64,
    /// Records accepted by the sink in the current session, and how many of them are
    /// acknowledged, for `pgcdc_records_in_flight`.
    sent: AtomicU64,
    acked: AtomicU64,
    /// Masked out of error messages.
    secret: Option<String>,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Connector {
    /// Registers the connector's metrics; `secret` (the database password) is masked in every
    /// error message it keeps.
    pub fn new(name: &str, secret: Option<&str>) -> Self {
        Connector {
            name: name.to_string(),
            metrics: Metrics::register(name),
            status: Mutex::new(Status {
                name: name.to_string(),
                state: State::Starting,
                last_error: None,
                last_error_definite: false,
            }),
            last_event_ms: AtomicI64::new(0),
            sent: AtomicU64::new(0),
            acked: AtomicU64::new(0),
            secret: secret.map(String::from),
        }
    }

    pub fn status(&self) -> Status {
        self.lock().clone()
    }

    pub fn set_state(&self, state: State) {
        self.lock().state = state;
        self.metrics
            .connected
            .set(if state == State::Streaming { 1.0 } else { 0.0 });
    }

    /// A session failed and will be retried (`definite` false), or the connector stopped on
    /// `error` for good.
    pub fn set_error(&self, error: &dyn std::error::Error, definite: bool) {
        let text = state::scrub(&error_chain(error), self.secret.as_deref());
        let mut st = self.lock();
        st.state = if definite {
            State::Failed
        } else {
            State::Retrying
        };
        st.last_error = Some(text);
        st.last_error_definite = definite;
        drop(st);
        self.metrics.connected.set(0.0);
    }

    /// Events were handed to the sink just now.
    pub fn mark_event(&self) {
        self.last_event_ms.store(now_ms(), Ordering::Relaxed);
    }

    /// The sink's count of accepted records (it starts over with each session's client).
    pub fn set_sent(&self, sent: u64) {
        self.sent.store(sent, Ordering::Relaxed);
    }

    pub fn set_acked(&self, acked: u64) {
        self.acked.store(acked, Ordering::Relaxed);
    }

    /// Updates the gauges that depend on the time of reading; called before each render.
    pub fn refresh(&self) {
        let last = self.last_event_ms.load(Ordering::Relaxed);
        let since = if last == 0 {
            -1.0
        } else {
            (now_ms() - last).max(0) as f64 / 1000.0
        };
        self.metrics.since_last_event.set(since);
        let (sent, acked) = (
            self.sent.load(Ordering::Relaxed),
            self.acked.load(Ordering::Relaxed),
        );
        self.metrics
            .in_flight
            .set(sent.saturating_sub(acked) as f64);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Status> {
        // A panic elsewhere while holding it leaves a status that is still worth reading.
        self.status.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Every connector of the process, shared between the pipeline and the HTTP listener.
#[derive(Clone, Default)]
pub struct Registry {
    connectors: Arc<Mutex<Vec<Arc<Connector>>>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.all().iter().map(|c| &c.name))
            .finish()
    }
}

impl Registry {
    pub fn add(&self, c: Arc<Connector>) {
        self.connectors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(c);
    }

    pub fn all(&self) -> Vec<Arc<Connector>> {
        self.connectors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn statuses(&self) -> Vec<Status> {
        self.all().iter().map(|c| c.status()).collect()
    }

    /// Every connector snapshotting or streaming (and there is at least one).
    pub fn ready(&self) -> bool {
        Self::all_ready(&self.statuses())
    }

    pub fn all_ready(statuses: &[Status]) -> bool {
        !statuses.is_empty() && statuses.iter().all(|s| s.state.is_ready())
    }

    pub fn refresh(&self) {
        for c in self.all() {
            c.refresh();
        }
    }
}

/// An error and its sources on one line (thiserror messages often embed their source; it is
/// not repeated then).
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut line = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let text = e.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = e.source();
    }
    line
}

/// Unix time in milliseconds.
pub fn now_ms() -> i64 {
    now_us() / 1000
}

/// Unix time in microseconds (the resolution of PostgreSQL's commit timestamps).
pub fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("password authentication failed (password was hunter2)")]
    struct AuthError;

    #[test]
    fn ready_needs_every_connector_working() {
        let r = Registry::default();
        assert!(!r.ready(), "no connector yet");
        let a = Arc::new(Connector::new("a", None));
        let b = Arc::new(Connector::new("b", None));
        r.add(a.clone());
        r.add(b.clone());
        a.set_state(State::Streaming);
        assert!(!r.ready(), "b is still starting");
        b.set_state(State::Snapshotting);
        assert!(r.ready());
        b.set_error(&AuthError, false);
        assert!(!r.ready(), "retrying is not ready");
        assert_eq!(b.status().state, State::Retrying);
    }

    #[test]
    fn errors_are_kept_without_the_secret() {
        let c = Connector::new("a", Some("hunter2"));
        c.set_error(&AuthError, true);
        let st = c.status();
        assert_eq!(st.state, State::Failed);
        assert!(st.last_error_definite);
        let text = st.last_error.unwrap();
        assert!(!text.contains("hunter2") && text.contains(MASK), "{text}");
    }
}
