//! Where events go: `[format]`, `[sink]`, `[offsets]`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::config::error::Violation;
use crate::config::tagged;

/// `[format]`, chosen by `type`: Kafka Connect's converter, applied to keys and values alike.
/// Default: JSON with schemas (Kafka Connect's defaults). A new format is one variant here and
/// one module in `src/format/`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum FormatConfig {
    /// `org.apache.kafka.connect.json.JsonConverter`.
    Json(JsonConverterConfig),
    /// `io.confluent.connect.avro.AvroConverter` with a schema registry.
    Avro(AvroConverterConfig),
}

impl Default for FormatConfig {
    fn default() -> Self {
        FormatConfig::Json(JsonConverterConfig::default())
    }
}

impl<'de> Deserialize<'de> for FormatConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (kind, rest) = tagged::split(toml::Table::deserialize(d)?)?;
        match kind.as_str() {
            "json" => tagged::variant(rest).map(FormatConfig::Json),
            "avro" => tagged::variant(rest).map(FormatConfig::Avro),
            other => tagged::unknown(other, &["json", "avro"]),
        }
    }
}

impl FormatConfig {
    /// Whether each key and value carries its schema (JsonConverter `schemas.enable`).
    pub fn schemas(&self) -> bool {
        match self {
            FormatConfig::Json(j) => j.schemas,
            // The schema is in the registry; the record names it by id.
            FormatConfig::Avro(_) => false,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), Violation> {
        match self {
            FormatConfig::Json(_) => Ok(()),
            FormatConfig::Avro(a) => a.validate(),
        }
    }
}

/// `[format] type = "avro"`: Confluent's AvroConverter settings, without the
/// `schema.registry.` / `key.converter.` prefixes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AvroConverterConfig {
    /// `schema.registry.url`: one URL or a comma-separated list, tried in turn. Required.
    pub schema_registry_url: String,
    /// `basic.auth.user.info` (`user:password`, with `basic.auth.credentials.source=USER_INFO`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth_user_info: Option<crate::config::secret::Secret>,
    /// `auto.register.schemas`. Default true: a schema is registered before its first record.
    #[serde(default = "yes")]
    pub auto_register_schemas: bool,
    /// `key.subject.name.strategy` and `value.subject.name.strategy`. Default `topic_name`.
    #[serde(default)]
    pub subject_name_strategy: SubjectNameStrategy,
}

fn yes() -> bool {
    true
}

/// Confluent's subject name strategies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectNameStrategy {
    /// `TopicNameStrategy`: `<topic>-key`, `<topic>-value`.
    #[default]
    TopicName,
    /// `RecordNameStrategy`: the record's full name.
    RecordName,
    /// `TopicRecordNameStrategy`: `<topic>-<record full name>`.
    TopicRecordName,
}

impl AvroConverterConfig {
    /// The registry URLs, in the order they are tried.
    pub fn urls(&self) -> Vec<String> {
        self.schema_registry_url
            .split(',')
            .map(|u| u.trim().trim_end_matches('/').to_string())
            .filter(|u| !u.is_empty())
            .collect()
    }

    fn validate(&self) -> Result<(), Violation> {
        let urls = self.urls();
        if urls.is_empty() {
            return Err(Violation::new(
                "format.schema_registry_url",
                "must name the schema registry, e.g. \"http://127.0.0.1:8081\"",
            ));
        }
        if let Some(bad) = urls
            .iter()
            .find(|u| !u.starts_with("http://") && !u.starts_with("https://"))
        {
            return Err(Violation::new(
                "format.schema_registry_url",
                format!("{bad:?} is not an http:// or https:// URL"),
            ));
        }
        if self
            .basic_auth_user_info
            .as_ref()
            .is_some_and(|u| !u.expose().contains(':'))
        {
            return Err(Violation::new(
                "format.basic_auth_user_info",
                "must be \"user:password\"",
            ));
        }
        Ok(())
    }
}

/// `[format] type = "json"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JsonConverterConfig {
    /// JsonConverter `schemas.enable` for key and value. Default true (Kafka Connect's default).
    pub schemas: bool,
}

impl Default for JsonConverterConfig {
    fn default() -> Self {
        JsonConverterConfig { schemas: true }
    }
}

/// `[sink]`, chosen by `type`. Required: there is no sensible default destination. A new
/// destination is one variant here and one module in `src/sink/`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum SinkConfig {
    Kafka(KafkaConfig),
}

impl<'de> Deserialize<'de> for SinkConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (kind, rest) = tagged::split(toml::Table::deserialize(d)?)?;
        match kind.as_str() {
            "kafka" => tagged::variant(rest).map(SinkConfig::Kafka),
            other => tagged::unknown(other, &["kafka"]),
        }
    }
}

impl SinkConfig {
    pub(crate) fn validate(&self) -> Result<(), Violation> {
        match self {
            SinkConfig::Kafka(k) => k.validate(),
        }
    }

    /// The Kafka settings, when the sink is Kafka.
    pub fn kafka(&self) -> Option<&KafkaConfig> {
        match self {
            SinkConfig::Kafka(k) => Some(k),
        }
    }
}

/// `[sink] type = "kafka"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaConfig {
    /// Kafka `bootstrap.servers`: comma-separated `host:port` list. Required.
    pub bootstrap_servers: String,
    #[serde(default)]
    pub topic_creation: TopicCreationConfig,
    /// Kafka producer properties, passed to the client as is (values are strings). Quote keys
    /// that contain dots: `"linger.ms" = "5"`.
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
    /// Kafka transactions: each batch of changes and the offset record that covers it commit
    /// together, so `read_committed` consumers see every change once, across crashes.
    #[serde(default)]
    pub exactly_once: bool,
    /// `transactional.id` in exactly-once mode. Default `pgcdc-<name>`. Must stay the same
    /// across restarts: it is what fences a previous, still-running instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transactional_id: Option<String>,
    /// Topic of the offset records in exactly-once mode and for `offsets.store = "kafka"`.
    /// Default `<topic_prefix>.pgcdc-offsets`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offsets_topic: Option<String>,
    /// Exactly-once mode: a Kafka transaction is committed at the first PostgreSQL commit after
    /// it has been open this long. Longer means fewer commits (faster) but later visibility
    /// for `read_committed` consumers and more work redone after a crash. Default 500ms.
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub transaction_interval: Option<std::time::Duration>,
}

/// Default of `sink.transaction_interval`.
pub const DEFAULT_TRANSACTION_INTERVAL: std::time::Duration = std::time::Duration::from_millis(500);

/// `[sink.topic_creation]`: Kafka Connect `topic.creation.default.*`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TopicCreationConfig {
    /// `topic.creation.enable`. Default true: missing topics are created before producing.
    pub enabled: bool,
    /// `topic.creation.default.partitions`; -1 means the broker default. Default 1.
    pub partitions: i32,
    /// `topic.creation.default.replication.factor`; -1 means the broker default. Default 1.
    pub replication_factor: i32,
    /// The other `topic.creation.default.<config>` settings: topic-level configs the topics
    /// are created with, e.g. `"cleanup.policy" = "compact"` for table topics that keep the
    /// latest row per key (deletes end in a tombstone, which compaction removes after
    /// `delete.retention.ms`). Default none: the broker's defaults.
    pub configs: BTreeMap<String, String>,
}

impl Default for TopicCreationConfig {
    fn default() -> Self {
        TopicCreationConfig {
            enabled: true,
            partitions: 1,
            replication_factor: 1,
            configs: BTreeMap::new(),
        }
    }
}

/// Kafka's topic config names: lowercase words joined by dots (`cleanup.policy`).
fn is_topic_config_name(k: &str) -> bool {
    !k.is_empty()
        && k.split('.').all(|w| {
            !w.is_empty()
                && w.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// Producer properties pgcdc sets itself, with the reason a user may not change them.
const MANAGED_PROPERTIES: [(&str, &str); 4] = [
    (
        "enable.idempotence",
        "pgcdc always enables the idempotent producer so that retries cannot reorder or \
         duplicate events",
    ),
    (
        "acks",
        "pgcdc always uses acks=all: the slot only advances past events every in-sync \
         replica has",
    ),
    (
        "bootstrap.servers",
        "set it with sink.bootstrap_servers instead",
    ),
    (
        "transactional.id",
        "set sink.exactly_once = true and sink.transactional_id instead",
    ),
];

impl KafkaConfig {
    /// `offsets_topic`, or its default for `topic_prefix`.
    pub fn offsets_topic(&self, topic_prefix: &str) -> String {
        self.offsets_topic
            .clone()
            .unwrap_or_else(|| format!("{topic_prefix}.pgcdc-offsets"))
    }

    fn validate(&self) -> Result<(), Violation> {
        let servers: Vec<&str> = self.bootstrap_servers.split(',').map(str::trim).collect();
        for server in &servers {
            let port_ok = server.rsplit_once(':').is_some_and(|(host, port)| {
                !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0)
            });
            if !port_ok {
                return Err(Violation::new(
                    "sink.bootstrap_servers",
                    format!(
                        "{server:?} must be host:port (a comma-separated list for several brokers)"
                    ),
                ));
            }
        }
        let tc = &self.topic_creation;
        for (key, value) in [
            ("sink.topic_creation.partitions", tc.partitions),
            (
                "sink.topic_creation.replication_factor",
                tc.replication_factor,
            ),
        ] {
            if value < 1 && value != -1 {
                return Err(Violation::new(
                    key,
                    format!("{value} must be at least 1, or -1 for the broker default"),
                ));
            }
        }
        if let Some(key) = tc.configs.keys().find(|k| !is_topic_config_name(k)) {
            return Err(Violation::new(
                format!("sink.topic_creation.configs.{key}"),
                "is not a topic config name (lowercase words joined by dots, e.g. \"cleanup.policy\")",
            ));
        }
        for key in self.properties.keys() {
            if let Some((_, why)) = MANAGED_PROPERTIES.iter().find(|(k, _)| k == key) {
                return Err(Violation::new(
                    format!("sink.properties.{key}"),
                    format!("may not be overridden: {why}; remove it"),
                ));
            }
        }
        for (key, value) in [
            ("sink.transactional_id", &self.transactional_id),
            ("sink.offsets_topic", &self.offsets_topic),
        ] {
            let Some(v) = value else { continue };
            if !self.exactly_once {
                return Err(Violation::new(
                    key,
                    "is only used with sink.exactly_once = true: set that, or remove this key",
                ));
            }
            if v.trim().is_empty() || v.len() > 249 {
                return Err(Violation::new(
                    key,
                    "must be a non-empty name of at most 249 characters, or be left out for the default",
                ));
            }
        }
        if let Some(d) = self.transaction_interval {
            if !self.exactly_once {
                return Err(Violation::new(
                    "sink.transaction_interval",
                    "is only used with sink.exactly_once = true: set that, or remove this key",
                ));
            }
            if d.is_zero() || d > std::time::Duration::from_secs(30) {
                return Err(Violation::new(
                    "sink.transaction_interval",
                    format!(
                        "{} must be more than 0 and at most 30s (a Kafka transaction must end within transaction.timeout.ms)",
                        humantime::format_duration(d)
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// `[offsets]`: where the last Kafka-acknowledged position is kept.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OffsetsConfig {
    /// Default `file`.
    pub store: OffsetStoreKind,
    /// Default `<data_dir>/<name>.offsets.json`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// What to do when the offsets file and the slot disagree (Debezium
    /// `offset.mismatch.strategy`). Default `fail`.
    pub mismatch_strategy: MismatchStrategy,
}

/// `offsets.mismatch_strategy`.
///
/// The offsets file is written once Kafka acknowledged and the slot is confirmed after that,
/// so the file being ahead of the slot is the normal state after a crash and every strategy
/// resumes from the file then. The slot being ahead means someone else consumed changes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MismatchStrategy {
    /// Slot ahead of the offsets file: stop with an error.
    #[default]
    Fail,
    /// Slot ahead of the offsets file: resume from the slot, warning about the skipped range.
    TrustSlot,
    /// Resume from the offsets file (e.g. a restored backup ahead of the slot); a slot ahead
    /// cannot be moved back, so that stops with an error as with `fail`.
    TrustOffset,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OffsetStoreKind {
    /// A JSON file: `offsets.path`.
    #[default]
    File,
    /// Records in the compacted topic `sink.offsets_topic` on the sink's brokers (Debezium's
    /// `KafkaOffsetBackingStore`): no local state, so a pgcdc started without its data
    /// directory resumes where the last one stopped. Needs `sink.type = "kafka"`.
    Kafka,
}

impl OffsetsConfig {
    pub(crate) fn validate(&self) -> Result<(), Violation> {
        if self.path.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
            return Err(Violation::new(
                "offsets.path",
                "must be a file path, or be left out for <data_dir>/<name>.offsets.json",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sink(props: &[(&str, &str)]) -> KafkaConfig {
        KafkaConfig {
            bootstrap_servers: "127.0.0.1:9092".into(),
            topic_creation: TopicCreationConfig::default(),
            properties: props
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            exactly_once: false,
            transactional_id: None,
            offsets_topic: None,
            transaction_interval: None,
        }
    }

    #[test]
    fn mismatch_strategies_parse() {
        let parse =
            |v: &str| toml::from_str::<OffsetsConfig>(&format!("mismatch_strategy = {v:?}"));
        assert_eq!(
            parse("trust_slot").unwrap().mismatch_strategy,
            MismatchStrategy::TrustSlot
        );
        assert_eq!(
            parse("trust_offset").unwrap().mismatch_strategy,
            MismatchStrategy::TrustOffset
        );
        assert_eq!(
            OffsetsConfig::default().mismatch_strategy,
            MismatchStrategy::Fail
        );
        let e = parse("trust_greater_lsn").unwrap_err().to_string();
        assert!(e.contains("trust_slot"), "{e}");
    }

    #[test]
    fn exactly_once_keys_need_exactly_once() {
        let mut s = sink(&[]);
        s.transactional_id = Some("t".into());
        let e = s.validate().unwrap_err().to_string();
        assert!(e.contains("sink.transactional_id"), "{e}");
        s.exactly_once = true;
        assert!(s.validate().is_ok());
        s.offsets_topic = Some(" ".into());
        let e = s.validate().unwrap_err().to_string();
        assert!(e.contains("sink.offsets_topic"), "{e}");
        s.offsets_topic = None;
        s.transaction_interval = Some(std::time::Duration::ZERO);
        let e = s.validate().unwrap_err().to_string();
        assert!(e.contains("sink.transaction_interval"), "{e}");
        s.transaction_interval = Some(std::time::Duration::from_millis(200));
        assert!(s.validate().is_ok());
        let e = sink(&[("transactional.id", "x")])
            .validate()
            .unwrap_err()
            .to_string();
        assert!(e.contains("sink.exactly_once"), "{e}");
    }

    #[test]
    fn managed_properties_cannot_be_overridden() {
        for key in ["acks", "enable.idempotence", "bootstrap.servers"] {
            let v = sink(&[(key, "x")]).validate().unwrap_err();
            assert_eq!(v.key, format!("sink.properties.{key}"));
            assert!(v.rule.contains("may not be overridden"), "{}", v.rule);
        }
        sink(&[("linger.ms", "5")]).validate().unwrap();
    }

    #[test]
    fn bootstrap_servers_need_host_and_port() {
        let mut s = sink(&[]);
        s.bootstrap_servers = "a:9092, b:9093".into();
        s.validate().unwrap();
        for bad in ["", "a", "a:0", ":9092", "a:9092,b", "a:x"] {
            s.bootstrap_servers = bad.into();
            assert_eq!(
                s.validate().unwrap_err().key,
                "sink.bootstrap_servers",
                "{bad}"
            );
        }
    }

    #[test]
    fn topic_creation_counts() {
        let mut s = sink(&[]);
        s.topic_creation.partitions = -1;
        s.validate().unwrap();
        s.topic_creation.partitions = 0;
        assert_eq!(
            s.validate().unwrap_err().key,
            "sink.topic_creation.partitions"
        );
        s.topic_creation.partitions = 3;
        s.topic_creation.replication_factor = -2;
        assert_eq!(
            s.validate().unwrap_err().key,
            "sink.topic_creation.replication_factor"
        );
    }
}
