//! `[heartbeat]`: periodic records and an optional query, so that an idle or fully filtered
//! database still moves the slot forward.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::error::Violation;

/// `[heartbeat]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HeartbeatConfig {
    /// Debezium `heartbeat.interval.ms`: how often to send a heartbeat record to
    /// `__debezium-heartbeat.<topic_prefix>`. Default `0s` (off).
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// Debezium `heartbeat.action.query`: SQL run on the admin connection at every heartbeat,
    /// typically an insert into a captured table so that the slot has a change to confirm.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action_query: Option<String>,
}

impl HeartbeatConfig {
    pub fn enabled(&self) -> bool {
        !self.interval.is_zero()
    }

    pub(crate) fn validate(&self) -> Result<(), Violation> {
        match &self.action_query {
            Some(q) if q.trim().is_empty() => Err(Violation::new(
                "heartbeat.action_query",
                "must be an SQL statement, or be left out",
            )),
            Some(_) if !self.enabled() => Err(Violation::new(
                "heartbeat.action_query",
                "runs at every heartbeat, so heartbeat.interval must be set too, e.g. \"10s\"",
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_query_needs_an_interval() {
        let mut h = HeartbeatConfig {
            action_query: Some("SELECT 1".into()),
            ..Default::default()
        };
        assert_eq!(h.validate().unwrap_err().key, "heartbeat.action_query");
        h.interval = Duration::from_secs(5);
        h.validate().unwrap();
        h.action_query = Some("  ".into());
        assert!(h.validate().is_err());
        assert!(!HeartbeatConfig::default().enabled());
    }
}
