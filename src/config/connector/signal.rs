//! `[signal]`: how a running connector receives signals (Debezium's `signal.*`), the way to
//! ask for an incremental snapshot while streaming.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::error::Violation;

/// A signal channel (`signal.enabled.channels`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalChannel {
    /// Rows inserted into `signal.data_collection`, read back through the replication stream.
    Source,
    /// JSON lines appended to `signal.file`.
    File,
}

/// `[signal]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SignalConfig {
    /// Debezium `signal.data.collection`: the signal table, `schema.table`, with columns
    /// `id text, type text, data text`. Also where incremental snapshots write their window
    /// markers, so incremental snapshots need it. Default none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_collection: Option<String>,
    /// Debezium `signal.enabled.channels`. Default `["source"]`.
    pub enabled_channels: Vec<SignalChannel>,
    /// Debezium `signal.file`: the file channel's JSON-lines file. Default
    /// `<data_dir>/<name>.signals`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    /// Debezium `signal.poll.interval.ms`: how often the file channel is read. Default `5s`.
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
}

impl Default for SignalConfig {
    fn default() -> Self {
        SignalConfig {
            data_collection: None,
            enabled_channels: vec![SignalChannel::Source],
            file: None,
            poll_interval: Duration::from_secs(5),
        }
    }
}

impl SignalConfig {
    pub fn channel_enabled(&self, c: SignalChannel) -> bool {
        self.enabled_channels.contains(&c)
    }

    /// The signal table as (schema, table), when configured.
    pub fn table(&self) -> Option<(String, String)> {
        self.data_collection.as_deref().and_then(split_table)
    }

    pub(crate) fn validate(&self) -> Result<(), Violation> {
        if let Some(t) = &self.data_collection {
            if split_table(t).is_none() {
                return Err(Violation::new(
                    "signal.data_collection",
                    format!("{t:?} must be `schema.table`, e.g. \"public.debezium_signal\""),
                ));
            }
        }
        for (i, c) in self.enabled_channels.iter().enumerate() {
            if self.enabled_channels[..i].contains(c) {
                return Err(Violation::new(
                    "signal.enabled_channels",
                    format!("{c:?} is listed twice"),
                ));
            }
        }
        if self.poll_interval.is_zero() {
            return Err(Violation::new(
                "signal.poll_interval",
                "must be longer than 0, e.g. \"5s\"",
            ));
        }
        Ok(())
    }
}

/// `schema.table` split at its only dot; both parts non-empty.
pub fn split_table(name: &str) -> Option<(String, String)> {
    let (schema, table) = name.split_once('.')?;
    if schema.is_empty() || table.is_empty() || table.contains('.') {
        return None;
    }
    Some((schema.to_string(), table.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_name_the_key() {
        let mut c = SignalConfig::default();
        c.validate().unwrap();
        assert!(c.table().is_none());
        c.data_collection = Some("signals".into());
        assert_eq!(c.validate().unwrap_err().key, "signal.data_collection");
        c.data_collection = Some("public.signals".into());
        assert_eq!(c.table(), Some(("public".into(), "signals".into())));
        c.enabled_channels = vec![SignalChannel::File, SignalChannel::File];
        assert_eq!(c.validate().unwrap_err().key, "signal.enabled_channels");
        c.enabled_channels = vec![SignalChannel::File];
        c.poll_interval = Duration::ZERO;
        assert_eq!(c.validate().unwrap_err().key, "signal.poll_interval");
    }
}
