//! What `/health`, `/ready` and `pgcdc status --json` say about a running connector: its
//! state and its last error.

use serde::Serialize;

/// Where a connector is in its life within this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Connecting, checking the slot, or setting up the publication.
    Starting,
    /// An initial snapshot runs.
    Snapshotting,
    /// The replication stream is open.
    Streaming,
    /// A session failed transiently; the next one starts after a backoff.
    Retrying,
    /// A definite error stopped the connector; it will not retry.
    Failed,
    /// Done: shutdown, `--until-lsn` reached, or `initial_only`.
    Stopped,
}

impl State {
    /// Whether the connector is doing its work: what `/ready` asks of every connector.
    pub fn is_ready(self) -> bool {
        matches!(self, State::Snapshotting | State::Streaming)
    }
}

/// One connector's state for the JSON bodies.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub name: String,
    pub state: State,
    /// The newest error, with its hint (kept after a successful retry, as the last one seen).
    pub last_error: Option<String>,
    /// Whether `last_error` stopped the connector for good.
    pub last_error_definite: bool,
}

/// `text` with every occurrence of `secret` masked. Error messages should never hold a
/// password; this makes sure of it for the bodies served over HTTP.
pub fn scrub(text: &str, secret: Option<&str>) -> String {
    match secret.filter(|s| !s.is_empty()) {
        Some(s) => text.replace(s, crate::observe::MASK),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_working_states_are_ready() {
        assert!(State::Streaming.is_ready());
        assert!(State::Snapshotting.is_ready());
        for s in [
            State::Starting,
            State::Retrying,
            State::Failed,
            State::Stopped,
        ] {
            assert!(!s.is_ready(), "{s:?}");
        }
    }

    #[test]
    fn scrub_masks_the_secret() {
        assert_eq!(
            scrub("auth s3cret failed", Some("s3cret")),
            "auth *** failed"
        );
        assert_eq!(scrub("no secret", Some("")), "no secret");
        assert_eq!(scrub("no secret", None), "no secret");
    }
}
