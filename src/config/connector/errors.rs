//! `[errors]`: what happens to one event that cannot be built or that Kafka refuses, instead of
//! the whole connector (Debezium's `event.processing.failure.handling.mode`, Kafka Connect's
//! dead-letter queue).

use serde::{Deserialize, Serialize};

use crate::config::error::Violation;

/// `[errors]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ErrorsConfig {
    /// Debezium `event.processing.failure.handling.mode`: `fail` (default) stops the connector
    /// before the failing event, `warn` logs it and goes on, `skip` goes on and only counts it.
    pub mode: FailureMode,
    /// Kafka Connect `errors.deadletterqueue.topic.name`: failing events are published here
    /// (key, value when it could be built, the reason in `pgcdc.error.*` headers) instead of
    /// being dropped. Needs `mode` warn or skip.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dead_letter_topic: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailureMode {
    #[default]
    Fail,
    Warn,
    Skip,
}

impl ErrorsConfig {
    pub(crate) fn validate(&self) -> Result<(), Violation> {
        let Some(topic) = &self.dead_letter_topic else {
            return Ok(());
        };
        if !super::is_valid_topic_name(topic) {
            return Err(Violation::new(
                "errors.dead_letter_topic",
                format!("{topic:?} must be 1 to 249 Kafka topic characters [a-zA-Z0-9._-]"),
            ));
        }
        if self.mode == FailureMode::Fail {
            return Err(Violation::new(
                "errors.dead_letter_topic",
                "receives failing events only when errors.mode is \"warn\" or \"skip\" (with \
                 \"fail\" the connector stops at the first one): set errors.mode, or remove \
                 this key",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dead_letter_topic_needs_a_tolerant_mode_and_a_legal_name() {
        let mut e = ErrorsConfig {
            mode: FailureMode::Fail,
            dead_letter_topic: Some("dlq".into()),
        };
        let v = e.validate().unwrap_err();
        assert_eq!(v.key, "errors.dead_letter_topic");
        assert!(v.to_string().contains("warn"), "{v}");
        e.mode = FailureMode::Warn;
        e.validate().unwrap();
        e.dead_letter_topic = Some("bad topic".into());
        assert!(e.validate().is_err());
        ErrorsConfig::default().validate().unwrap();
    }

    #[test]
    fn parses_from_toml() {
        let e: ErrorsConfig =
            toml::from_str("mode = \"skip\"\ndead_letter_topic = \"pg.dlq\"").unwrap();
        assert_eq!(e.mode, FailureMode::Skip);
        assert_eq!(e.dead_letter_topic.as_deref(), Some("pg.dlq"));
        assert!(toml::from_str::<ErrorsConfig>("mode = \"ignore\"").is_err());
        assert!(toml::from_str::<ErrorsConfig>("tolerance = \"all\"").is_err());
    }
}
