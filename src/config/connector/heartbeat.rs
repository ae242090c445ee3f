//! `[heartbeat]`: periodic records and an optional query, so that an idle or fully filtered
//! database still moves the slot forward.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::error::Violation;

/// Debezium's `topic.heartbeat.prefix` default.
pub const TOPIC_PREFIX: &str = "__debezium-heartbeat";

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
    /// Debezium `topic.heartbeat.prefix`: heartbeats go to `<topic_prefix>.<connector's
    /// topic_prefix>`. Default `__debezium-heartbeat`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic_prefix: Option<String>,
    /// Debezium `topic.heartbeat.name`: the whole heartbeat topic name, replacing
    /// `<topic_prefix>.<connector's topic_prefix>`. Default unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
}

impl HeartbeatConfig {
    pub fn enabled(&self) -> bool {
        !self.interval.is_zero()
    }

    /// The heartbeat topic of a connector whose topic prefix is `connector_prefix`.
    pub fn topic(&self, connector_prefix: &str) -> String {
        if let Some(name) = &self.topic {
            return name.clone();
        }
        let prefix = self.topic_prefix.as_deref().unwrap_or(TOPIC_PREFIX);
        format!("{prefix}.{connector_prefix}")
    }

    pub(crate) fn validate(&self) -> Result<(), Violation> {
        self.validate_topic()?;
        if let Some(p) = &self.topic_prefix {
            if !super::is_valid_topic_name(p) {
                return Err(Violation::new(
                    "heartbeat.topic_prefix",
                    format!("{p:?}: must be a Kafka topic name (letters, digits, '.', '_', '-')"),
                ));
            }
        }
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

impl HeartbeatConfig {
    fn validate_topic(&self) -> Result<(), Violation> {
        let Some(name) = &self.topic else {
            return Ok(());
        };
        if self.topic_prefix.is_some() {
            return Err(Violation::new(
                "heartbeat.topic",
                "names the whole topic, so heartbeat.topic_prefix would be ignored: keep one",
            ));
        }
        if !super::is_valid_topic_name(name) {
            return Err(Violation::new(
                "heartbeat.topic",
                format!("{name:?}: must be a Kafka topic name (letters, digits, '.', '_', '-')"),
            ));
        }
        Ok(())
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

    #[test]
    fn topic_prefix_names_the_heartbeat_topic() {
        let mut h = HeartbeatConfig::default();
        assert_eq!(h.topic("shop"), "__debezium-heartbeat.shop");
        h.topic_prefix = Some("beats".into());
        h.validate().unwrap();
        assert_eq!(h.topic("shop"), "beats.shop");
        h.topic_prefix = Some("two words".into());
        assert_eq!(h.validate().unwrap_err().key, "heartbeat.topic_prefix");
    }

    #[test]
    fn topic_names_the_whole_heartbeat_topic() {
        let mut h = HeartbeatConfig {
            topic: Some("shop-beats".into()),
            ..Default::default()
        };
        h.validate().unwrap();
        assert_eq!(h.topic("shop"), "shop-beats");
        h.topic_prefix = Some("beats".into());
        assert_eq!(h.validate().unwrap_err().key, "heartbeat.topic");
        h.topic_prefix = None;
        h.topic = Some("a/b".into());
        assert_eq!(h.validate().unwrap_err().key, "heartbeat.topic");
    }
}
