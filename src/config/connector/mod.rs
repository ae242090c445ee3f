//! One capture (`connectors/<name>.toml`): a database, a slot, a publication, a Kafka sink.

mod capture;
mod columns;
mod database;
mod errors;
mod field_ref;
mod heartbeat;
mod output;
mod signal;
mod snapshot;
mod transforms;
mod type_modes;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use capture::{
    AutocreateMode, EventsConfig, LsnFlushMode, PublicationConfig, SlotConfig, TableFilter,
    TablesConfig,
};
pub use columns::{ColumnRules, ColumnsConfig, HashAlgorithm, Rule};
pub use database::{DatabaseConfig, SslMode};
pub use errors::{ErrorsConfig, FailureMode};
pub use field_ref::{EnvelopeField, FieldRef, SOURCE_FIELDS, TRANSACTION_FIELDS};
pub use heartbeat::HeartbeatConfig;
pub use output::{
    AvroConverterConfig, FormatConfig, JsonConverterConfig, KafkaConfig, MismatchStrategy,
    OffsetStoreKind, OffsetsConfig, SinkConfig, SubjectNameStrategy, TopicCreationConfig,
    DEFAULT_TRANSACTION_INTERVAL,
};
pub use signal::{split_table, SignalChannel, SignalConfig};
pub use snapshot::{SnapshotConfig, SnapshotMode, MAX_SNAPSHOT_PARALLELISM};
pub use transforms::{
    DeleteMode, ExtractChangedConfig, ExtractChangedOptions, TransformConfig, UnwrapConfig,
    UnwrapOptions, DELETED_FIELD,
};
pub use type_modes::{
    BinaryHandlingMode, DecimalHandlingMode, HstoreHandlingMode, IntervalHandlingMode,
    TimePrecisionMode, TypeModes, MONEY_FRACTION_DIGITS,
};

use super::error::{ConfigError, Violation};
use super::parse::{self, EnvLookup};
use super::process::ProcessConfig;

/// A connector file. `name`, `topic_prefix` and `[sink]` are required; everything else has
/// Debezium's default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectorConfig {
    /// Debezium `name`: unique, letters, digits, `_` or `-`. Names the offsets file.
    pub name: String,
    /// `topic.prefix`: data topics are `<topic_prefix>.<schema>.<table>`.
    pub topic_prefix: String,
    #[serde(default)]
    pub database: DatabaseConfig,
    #[serde(default)]
    pub slot: SlotConfig,
    #[serde(default)]
    pub publication: PublicationConfig,
    #[serde(default)]
    pub tables: TablesConfig,
    #[serde(default)]
    pub events: EventsConfig,
    /// `[columns]`: masking and truncation.
    #[serde(default)]
    pub columns: ColumnsConfig,
    #[serde(default)]
    pub snapshot: SnapshotConfig,
    #[serde(default)]
    pub format: FormatConfig,
    /// `[[transforms]]`, applied in order between the event model and the format.
    #[serde(default)]
    pub transforms: Vec<TransformConfig>,
    pub sink: SinkConfig,
    #[serde(default)]
    pub offsets: OffsetsConfig,
    #[serde(default)]
    pub heartbeat: HeartbeatConfig,
    /// `[signal]`: signal channels (incremental snapshots on demand).
    #[serde(default)]
    pub signal: SignalConfig,
    /// `[errors]`: per-event failure handling and the dead-letter topic.
    #[serde(default)]
    pub errors: ErrorsConfig,
    /// The file this connector was loaded from (empty when built in code).
    #[serde(skip)]
    pub file: PathBuf,
}

/// Kafka's legal topic characters.
fn is_topic_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

/// A name Kafka accepts as a topic: 1 to 249 legal characters, not `.` or `..`.
pub(super) fn is_valid_topic_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_TOPIC_LEN
        && name.chars().all(is_topic_char)
        && name != "."
        && name != ".."
}

/// Kafka's topic name length limit.
const MAX_TOPIC_LEN: usize = 249;

impl ConnectorConfig {
    /// Reads, interpolates, deserializes and validates a connector file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        Self::load_with_env(path, &parse::process_env)
    }

    pub fn load_with_env(path: impl AsRef<Path>, env: EnvLookup<'_>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let text = parse::read(path)?;
        Self::from_toml(path, &text, env)
    }

    /// Like [`ConnectorConfig::load`] on text already read; `file` names it in errors.
    pub fn from_toml(file: &Path, text: &str, env: EnvLookup<'_>) -> Result<Self, ConfigError> {
        let mut config: ConnectorConfig = parse::parse(file, text, env)?;
        config.file = file.to_path_buf();
        config.validate().map_err(|v| v.in_text(file, text))?;
        Ok(config)
    }

    /// Checks every rule that needs no connection; the first broken one is returned.
    pub fn validate(&self) -> Result<(), Violation> {
        if self.name.is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(Violation::new(
                "name",
                format!(
                    "{:?} must be non-empty letters, digits, _ or - (it names the offsets file)",
                    self.name
                ),
            ));
        }
        if !is_valid_topic_name(&self.topic_prefix) {
            return Err(Violation::new(
                "topic_prefix",
                format!(
                    "{:?} must be 1 to {MAX_TOPIC_LEN} Kafka topic characters [a-zA-Z0-9._-] \
                     (Debezium topic.prefix)",
                    self.topic_prefix
                ),
            ));
        }
        self.database.validate()?;
        self.slot.validate()?;
        self.publication.validate()?;
        self.tables.validate()?;
        self.events.validate()?;
        self.columns.validate()?;
        self.snapshot.validate()?;
        transforms::validate(&self.transforms)?;
        self.format.validate()?;
        if matches!(self.format, FormatConfig::Avro(_))
            && self
                .transforms
                .iter()
                .any(|t| matches!(t, transforms::TransformConfig::Unwrap(_)))
        {
            return Err(Violation::new(
                "format.type",
                "\"avro\" does not write the unwrap transform's flattened rows yet: use \"json\" with an unwrap transform",
            ));
        }
        self.sink.validate()?;
        self.offsets.validate()?;
        if self.offsets.store == OffsetStoreKind::Kafka && self.sink.kafka().is_none() {
            return Err(Violation::new(
                "offsets.store",
                "\"kafka\" keeps the offsets on the sink's brokers, so it needs sink.type = \"kafka\"",
            ));
        }
        self.heartbeat.validate()?;
        self.signal.validate()?;
        self.errors.validate()?;
        Ok(())
    }

    /// Where this connector's offsets live: `offsets.path`, or `<data_dir>/<name>.offsets.json`.
    pub fn offsets_path(&self, process: &ProcessConfig) -> PathBuf {
        match &self.offsets.path {
            Some(path) => path.clone(),
            None => process.data_dir.join(format!("{}.offsets.json", self.name)),
        }
    }

    /// The file channel's signal file: `signal.file`, or `<data_dir>/<name>.signals`.
    pub fn signal_file(&self, process: &ProcessConfig) -> PathBuf {
        match &self.signal.file {
            Some(path) => path.clone(),
            None => process.data_dir.join(format!("{}.signals", self.name)),
        }
    }

    /// The compiled table filter. Infallible after a successful `validate()`.
    pub fn table_filter(&self) -> Result<TableFilter, Violation> {
        self.tables.filter()
    }

    /// The data topic of a table: `<topic_prefix>.<schema>.<table>`, with characters Kafka
    /// rejects replaced by `_` (as Debezium's topic name sanitizer does).
    pub fn topic_name(&self, schema: &str, table: &str) -> String {
        format!("{}.{}.{}", self.topic_prefix, schema, table)
            .chars()
            .map(|c| if is_topic_char(c) { c } else { '_' })
            .collect()
    }

    /// The `application_name` pgcdc reports to PostgreSQL (visible in `pg_stat_replication`).
    pub fn application_name(&self) -> String {
        format!("pgcdc-{}", self.name)
    }

    /// The effective configuration as TOML, secrets masked. For `pgcdc validate --print`.
    pub fn to_masked_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot print: {e}\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str =
        "name = \"inv\"\ntopic_prefix = \"dbz\"\n[sink]\ntype = \"kafka\"\nbootstrap_servers = \"127.0.0.1:9092\"\n";

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn load(text: &str) -> Result<ConnectorConfig, ConfigError> {
        ConnectorConfig::from_toml(Path::new("connectors/t.toml"), text, &no_env)
    }

    #[test]
    fn slot_knobs_parse_with_debezium_defaults() {
        let c = load(MINIMAL).unwrap();
        assert!(!c.slot.drop_on_stop);
        assert_eq!(c.slot.lsn_flush_mode, LsnFlushMode::Connector);
        assert!(c.tables.replica_identity_autoset.is_empty());
        let text = MINIMAL.replace(
            "[sink]",
            "[slot]\ndrop_on_stop = true\nlsn_flush_mode = \"manual\"\n[sink]",
        );
        let c = load(&text).unwrap();
        assert!(c.slot.drop_on_stop);
        assert!(!c.slot.lsn_flush_mode.confirms());
        assert!(LsnFlushMode::ConnectorAndDriver.confirms());
        let bad = MINIMAL.replace("[sink]", "[slot]\nlsn_flush_mode = \"driver\"\n[sink]");
        assert!(load(&bad)
            .unwrap_err()
            .to_string()
            .contains("lsn_flush_mode"));
        let bad = MINIMAL.replace(
            "[sink]",
            "[tables]\nreplica_identity_autoset = [\"public.a:FULL\", \"public.b:PARTIAL\"]\n[sink]",
        );
        let e = load(&bad).unwrap_err().to_string();
        assert!(e.contains("tables.replica_identity_autoset[1]"), "{e}");
    }

    #[test]
    fn transforms_parse_in_order_with_defaults() {
        let c = load(&format!(
            "{MINIMAL}[[transforms]]\ntype = \"unwrap\"\n\
             delete_tombstone_handling_mode = \"rewrite\"\n\
             add_fields = [\"op\", \"source.ts_ms\"]\n\
             [[transforms]]\ntype = \"unwrap\"\n"
        ))
        .unwrap();
        assert_eq!(c.transforms.len(), 2);
        let TransformConfig::Unwrap(first) = &c.transforms[0] else {
            panic!("{:?}", c.transforms[0])
        };
        let opts = first.options();
        assert_eq!(opts.mode, DeleteMode::Rewrite);
        let names: Vec<&str> = opts.add_fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, vec!["__op", "__source_ts_ms"]);
        let TransformConfig::Unwrap(second) = &c.transforms[1] else {
            panic!("{:?}", c.transforms[1])
        };
        assert_eq!(second, &UnwrapConfig::default());
        assert_eq!(second.options().mode, DeleteMode::Tombstone);
        assert!(second.replace_null_with_default);
        assert!(load(MINIMAL).unwrap().transforms.is_empty());
    }

    #[test]
    fn extract_changed_and_drop_fields() {
        let c = load(&format!(
            "{MINIMAL}[[transforms]]\ntype = \"extract_changed\"\n\
             header_unchanged_name = \"Unchanged\"\n\
             [[transforms]]\ntype = \"unwrap\"\n\
             drop_fields_header_name = \"Unchanged\"\ndrop_fields_from_key = true\n"
        ))
        .unwrap();
        let TransformConfig::ExtractChanged(first) = &c.transforms[0] else {
            panic!("{:?}", c.transforms[0])
        };
        assert_eq!(first.options().unchanged.as_deref(), Some("Unchanged"));
        assert_eq!(first.options().changed, None);
        let TransformConfig::Unwrap(second) = &c.transforms[1] else {
            panic!("{:?}", c.transforms[1])
        };
        let opts = second.options();
        assert_eq!(opts.drop_fields_header.as_deref(), Some("Unchanged"));
        assert!(opts.drop_fields_from_key && opts.drop_fields_keep_schema_compatible);
        let e = load(&format!(
            "{MINIMAL}[[transforms]]\ntype = \"extract_changed\"\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("transforms[0].header_unchanged_name"), "{e}");
        let e = load(&format!(
            "{MINIMAL}[[transforms]]\ntype = \"extract_changed\"\nheader_name = \"x\"\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("unknown field"), "{e}");
    }

    #[test]
    fn bad_transforms_are_rejected_with_the_key() {
        let cases = [
            (
                "type = \"unwrap\"\ndelete_tombstone_handling_mode = \"nope\"\n",
                "nope",
            ),
            (
                "type = \"unwrap\"\nadd_fields = [\"nope\"]\n",
                "transforms[0].add_fields",
            ),
            (
                "type = \"unwrap\"\nadd_headers = [\"a:b:c\"]\n",
                "transforms[0].add_headers",
            ),
            (
                "type = \"unwrap\"\ndrop_tombstones = true\n",
                "drop_tombstones",
            ),
            ("type = \"flatten\"\n", "flatten"),
            (
                "type = \"unwrap\"\ndelete_tombstone_handling_mode = \"rewrite\"\n\
                 add_fields = [\"op:deleted\"]\n",
                "twice",
            ),
        ];
        for (body, needle) in cases {
            let err = load(&format!("{MINIMAL}[[transforms]]\n{body}")).unwrap_err();
            assert!(err.to_string().contains(needle), "{body}: {err}");
        }
    }

    #[test]
    fn minimal_file_gets_debezium_defaults() {
        let c = load(MINIMAL).unwrap();
        assert_eq!(c.slot.name, "debezium");
        assert_eq!(c.slot.status_interval, std::time::Duration::from_secs(1));
        assert_eq!(c.publication.name, "dbz_publication");
        assert_eq!(c.publication.autocreate_mode, AutocreateMode::AllTables);
        assert_eq!(c.database.port, 5432);
        assert_eq!(c.database.sslmode, SslMode::Prefer);
        assert!(c.events.tombstones_on_delete);
        assert!(c.events.is_skipped("t"));
        assert!(c.format.schemas());
        assert_eq!(c.snapshot.mode, SnapshotMode::Initial);
        assert_eq!(c.snapshot.parallelism, 2);
        assert_eq!(c.file, PathBuf::from("connectors/t.toml"));
    }

    #[test]
    fn offsets_path_defaults_under_data_dir() {
        let mut c = load(MINIMAL).unwrap();
        let p = ProcessConfig {
            data_dir: "/var/lib/pgcdc".into(),
            ..Default::default()
        };
        assert_eq!(
            c.offsets_path(&p),
            PathBuf::from("/var/lib/pgcdc/inv.offsets.json")
        );
        c.offsets.path = Some("/tmp/x.json".into());
        assert_eq!(c.offsets_path(&p), PathBuf::from("/tmp/x.json"));
    }

    #[test]
    fn topic_names_are_sanitized() {
        let c = load(MINIMAL).unwrap();
        assert_eq!(c.topic_name("public", "orders"), "dbz.public.orders");
        assert_eq!(
            c.topic_name("public", "order lines"),
            "dbz.public.order_lines"
        );
        assert_eq!(c.topic_name("café", "t"), "dbz.caf_.t");
    }

    #[test]
    fn missing_required_keys_are_named() {
        let e = load("name = \"x\"\n[sink]\ntype = \"kafka\"\nbootstrap_servers = \"h:1\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing field `topic_prefix`"), "{e}");
        let e = load("name = \"x\"\ntopic_prefix = \"p\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing field `sink`"), "{e}");
    }

    #[test]
    fn sink_and_format_are_chosen_by_type() {
        let base = "name = \"x\"\ntopic_prefix = \"p\"\n";
        let err = |text: &str| load(&format!("{base}{text}")).unwrap_err().to_string();
        let e = err("[sink]\ntype = \"carrier-pigeon\"\nbootstrap_servers = \"h:1\"\n");
        assert!(
            e.contains("sink") && e.contains("unknown variant `carrier-pigeon`"),
            "{e}"
        );
        assert!(
            e.contains("`kafka`"),
            "the error lists the known types: {e}"
        );
        let e = err("[sink]\nbootstrap_servers = \"h:1\"\n");
        assert!(
            e.contains("sink") && e.contains("missing field `type`"),
            "{e}"
        );
        let e = err("[sink]\ntype = \"kafka\"\nbootstrap_servers = \"h:1\"\nlinger = 5\n");
        assert!(e.contains("unknown field `linger`"), "{e}");
        let e = err(&format!(
            "{}[format]\ntype = \"xml\"\n",
            "[sink]\ntype = \"kafka\"\nbootstrap_servers = \"h:1\"\n"
        ));
        assert!(
            e.contains("format") && e.contains("unknown variant `xml`"),
            "{e}"
        );
        let c = load(&format!(
            "{MINIMAL}[format]\ntype = \"json\"\nschemas = false\n"
        ))
        .unwrap();
        assert!(!c.format.schemas());
        assert!(c.sink.kafka().is_some());
    }

    #[test]
    fn avro_format_names_its_registry() {
        let c = load(&format!(
            "{MINIMAL}[format]\ntype = \"avro\"\nschema_registry_url = \"http://a:8081/, https://b:8081\"\n\
             basic_auth_user_info = \"u:p\"\nsubject_name_strategy = \"record_name\"\n"
        ))
        .unwrap();
        let FormatConfig::Avro(a) = &c.format else {
            panic!("{:?}", c.format)
        };
        assert_eq!(a.urls(), ["http://a:8081", "https://b:8081"]);
        assert!(a.auto_register_schemas);
        assert_eq!(a.subject_name_strategy, SubjectNameStrategy::RecordName);
        assert!(
            !format!("{c:?}").contains("u:p"),
            "the credentials are a secret"
        );
        let err = |text: &str| load(&format!("{MINIMAL}{text}")).unwrap_err().to_string();
        let e = err("[format]\ntype = \"avro\"\n");
        assert!(e.contains("schema_registry_url"), "{e}");
        let e = err("[format]\ntype = \"avro\"\nschema_registry_url = \"registry:8081\"\n");
        assert!(
            e.contains("format.schema_registry_url") && e.contains("http://"),
            "{e}"
        );
        let e =
            err("[format]\ntype = \"avro\"\nschema_registry_url = \"http://r\"\nschemas = true\n");
        assert!(e.contains("unknown field `schemas`"), "{e}");
        let e = err(
            "[format]\ntype = \"avro\"\nschema_registry_url = \"http://r\"\n[[transforms]]\ntype = \"unwrap\"\n",
        );
        assert!(e.contains("format.type") && e.contains("unwrap"), "{e}");
    }

    #[test]
    fn snapshot_section_parses_and_validates() {
        let c = load(&format!(
            "{MINIMAL}[snapshot]\nmode = \"initial_only\"\nparallelism = 4\nchunk_pages = 8\n"
        ))
        .unwrap();
        assert_eq!(c.snapshot.mode, SnapshotMode::InitialOnly);
        assert_eq!((c.snapshot.parallelism, c.snapshot.chunk_pages), (4, 8));
        let e = load(&format!("{MINIMAL}[snapshot]\nmode = \"never\"\n")).unwrap_err();
        assert!(e.to_string().contains("snapshot.mode"), "{e}");
        let e = load(&format!("{MINIMAL}[snapshot]\nparallelism = 0\n")).unwrap_err();
        assert!(
            matches!(&e, ConfigError::Invalid { key, .. } if key == "snapshot.parallelism"),
            "{e}"
        );
    }

    #[test]
    fn bad_names_are_rejected() {
        let e = load(&MINIMAL.replace("\"inv\"", "\"a b\"")).unwrap_err();
        assert!(
            matches!(&e, ConfigError::Invalid { key, .. } if key == "name"),
            "{e}"
        );
        let e = load(&MINIMAL.replace("\"dbz\"", "\"..\"")).unwrap_err();
        assert!(
            matches!(&e, ConfigError::Invalid { key, .. } if key == "topic_prefix"),
            "{e}"
        );
    }

    #[test]
    fn masked_toml_round_trips_except_the_password() {
        let text = format!("{MINIMAL}[database]\npassword = \"s3cret-pw\"\n");
        let c = load(&text).unwrap();
        let printed = c.to_masked_toml();
        assert!(!printed.contains("s3cret-pw"), "{printed}");
        assert!(printed.contains("password = \"***\""), "{printed}");
        let again = load(&printed).unwrap();
        assert_eq!(again.slot, c.slot);
        assert_eq!(again.sink, c.sink);
        assert_eq!(again.database.connect_timeout, c.database.connect_timeout);
    }
}
