//! What to capture: `[slot]`, `[publication]`, `[tables]`, `[events]`.

use std::time::Duration;

use regex::Regex;
use serde::{Deserialize, Serialize};

use super::type_modes::{
    BinaryHandlingMode, DecimalHandlingMode, HstoreHandlingMode, IntervalHandlingMode,
    TimePrecisionMode, TypeModes, MONEY_FRACTION_DIGITS,
};
use crate::config::error::Violation;

/// `[slot]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlotConfig {
    /// `slot.name`. Default `debezium`. Must be unique per connector.
    pub name: String,
    /// `status.update.interval.ms`: how often to send standby status (feedback) to the server.
    /// Default `1s` (Debezium: 10 s), capped at half of `wal_sender_timeout`.
    #[serde(with = "humantime_serde")]
    pub status_interval: Duration,
    /// When the slot is held by another backend, terminate that backend
    /// (`pg_terminate_backend`) and take the slot over. Default `false`: report it and stop.
    pub takeover: bool,
    /// `slot.drop.on.stop`: drop the slot at a graceful stop (SIGTERM, `--until-lsn`), after
    /// the final progress is flushed. Default `false`. The next start cannot resume from the
    /// slot, so changes made while pgcdc is stopped are lost: for tests and throwaway setups.
    pub drop_on_stop: bool,
    /// `lsn.flush.mode`: who confirms positions to the slot. Default `connector`.
    pub lsn_flush_mode: LsnFlushMode,
}

/// `lsn.flush.mode`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LsnFlushMode {
    /// pgcdc confirms every durable position to the slot.
    #[default]
    Connector,
    /// pgcdc never confirms: the slot stays where it is until an external process advances
    /// it (`pg_replication_slot_advance`). pgcdc's own offsets still advance.
    Manual,
    /// As `connector`. In Debezium this adds pgJDBC's own confirmation of keepalive positions
    /// while nothing is in flight; pgcdc does that already under `connector` (a keepalive's
    /// `wal_end` outside a transaction is a checkpoint, confirmed once acknowledged).
    ConnectorAndDriver,
}

impl LsnFlushMode {
    /// Whether pgcdc reports its durable position to the server as flushed.
    pub fn confirms(self) -> bool {
        self != LsnFlushMode::Manual
    }
}

impl Default for SlotConfig {
    fn default() -> Self {
        SlotConfig {
            name: "debezium".to_string(),
            status_interval: Duration::from_secs(1),
            takeover: false,
            drop_on_stop: false,
            lsn_flush_mode: LsnFlushMode::Connector,
        }
    }
}

impl SlotConfig {
    pub(crate) fn validate(&self) -> Result<(), Violation> {
        let valid = !self.name.is_empty()
            && self.name.len() <= 63
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !valid {
            return Err(Violation::new(
                "slot.name",
                format!(
                    "{:?} must be 1 to 63 characters, lowercase letters, digits or _ \
                     (PostgreSQL slot names)",
                    self.name
                ),
            ));
        }
        if self.status_interval.is_zero() {
            return Err(Violation::new(
                "slot.status_interval",
                "must be greater than zero, e.g. \"10s\"",
            ));
        }
        Ok(())
    }
}

/// `[publication]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PublicationConfig {
    /// `publication.name`. Default `dbz_publication`.
    pub name: String,
    /// `publication.autocreate.mode`. Default `all_tables`.
    pub autocreate_mode: AutocreateMode,
}

impl Default for PublicationConfig {
    fn default() -> Self {
        PublicationConfig {
            name: "dbz_publication".to_string(),
            autocreate_mode: AutocreateMode::AllTables,
        }
    }
}

/// `publication.autocreate.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AutocreateMode {
    /// `CREATE PUBLICATION … FOR ALL TABLES` when missing.
    AllTables,
    /// Create or `ALTER … SET TABLE` from the include/exclude lists.
    Filtered,
    /// Never create; fail if the publication is missing.
    Disabled,
    /// Create a publication with no tables.
    NoTables,
}

impl PublicationConfig {
    pub(crate) fn validate(&self) -> Result<(), Violation> {
        if self.name.is_empty() || self.name.len() > 63 || self.name.contains('\0') {
            return Err(Violation::new(
                "publication.name",
                "must be 1 to 63 bytes without NUL (PostgreSQL identifiers)",
            ));
        }
        Ok(())
    }
}

/// `[tables]`: `schema.table` regular expressions, anchored at both ends.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TablesConfig {
    /// `schema.include.list`: schema-name regexes, anchored, ignoring case. Default empty:
    /// every schema. Applies together with the table lists (a table must pass both).
    pub schema_include: Vec<String>,
    /// `schema.exclude.list`. Default empty.
    pub schema_exclude: Vec<String>,
    /// `table.include.list`. Default empty: every table in the publication.
    pub include: Vec<String>,
    /// `table.exclude.list`. Default empty.
    pub exclude: Vec<String>,
    /// `column.include.list`: `schema.table.column` regexes. Default empty: every column.
    pub column_include: Vec<String>,
    /// `column.exclude.list`. Default empty.
    pub column_exclude: Vec<String>,
    /// `message.key.columns` in Debezium's form, `<schema.table regex>:<col>,<col>;...`:
    /// key columns replacing the primary key. Default empty.
    pub message_key_columns: String,
    /// `replica.identity.autoset.values`, one `<schema.table regex>:<identity>` entry each
    /// (identity `DEFAULT`, `FULL`, `NOTHING` or `INDEX <name>`): at start, captured tables
    /// whose replica identity differs are altered. Default empty: identities are left alone.
    pub replica_identity_autoset: Vec<String>,
}

impl TablesConfig {
    pub(crate) fn validate(&self) -> Result<(), Violation> {
        self.filter()?;
        self.column_filter()?;
        self.key_columns()?;
        self.replica_identities()?;
        Ok(())
    }

    /// Compiles `replica_identity_autoset`.
    pub fn replica_identities(
        &self,
    ) -> Result<crate::config::filter::replica_identity::ReplicaIdentityRules, Violation> {
        crate::config::filter::replica_identity::ReplicaIdentityRules::parse(
            &self.replica_identity_autoset,
        )
        .map_err(|(i, e)| Violation::new(format!("tables.replica_identity_autoset[{i}]"), e))
    }

    /// Compiles the column lists (row values only; keys keep their columns).
    pub fn column_filter(&self) -> Result<crate::config::filter::columns::ColumnFilter, Violation> {
        if !self.column_include.is_empty() && !self.column_exclude.is_empty() {
            return Err(Violation::new(
                "tables.column_exclude",
                "cannot be set together with tables.column_include (as in Debezium, \
                 column.include.list and column.exclude.list are mutually exclusive); keep one",
            ));
        }
        crate::config::filter::columns::ColumnFilter::new(
            &self.column_include,
            &self.column_exclude,
        )
        .map_err(|(i, include, e)| {
            let key = if include {
                "column_include"
            } else {
                "column_exclude"
            };
            let list = if include {
                &self.column_include
            } else {
                &self.column_exclude
            };
            Violation::new(
                format!("tables.{key}[{i}]"),
                format!(
                    "{:?} is not a valid regular expression: {}",
                    list[i],
                    crate::config::parse::one_line(&e)
                ),
            )
        })
    }

    /// Parses `message_key_columns`.
    pub fn key_columns(&self) -> Result<crate::config::filter::key_columns::KeyColumns, Violation> {
        crate::config::filter::key_columns::KeyColumns::parse(&self.message_key_columns)
            .map_err(|e| Violation::new("tables.message_key_columns", e))
    }

    /// Compiles the lists. Fails on the first bad pattern, or when both lists are set.
    pub fn filter(&self) -> Result<TableFilter, Violation> {
        if !self.include.is_empty() && !self.exclude.is_empty() {
            return Err(Violation::new(
                "tables.exclude",
                "cannot be set together with tables.include (as in Debezium, \
                 table.include.list and table.exclude.list are mutually exclusive); keep one",
            ));
        }
        if !self.schema_include.is_empty() && !self.schema_exclude.is_empty() {
            return Err(Violation::new(
                "tables.schema_exclude",
                "cannot be set together with tables.schema_include (as in Debezium, \
                 schema.include.list and schema.exclude.list are mutually exclusive); keep one",
            ));
        }
        Ok(TableFilter {
            schema_include: compile_all(&self.schema_include, "tables.schema_include")?,
            schema_exclude: compile_all(&self.schema_exclude, "tables.schema_exclude")?,
            include: compile_all(&self.include, "tables.include")?,
            exclude: compile_all(&self.exclude, "tables.exclude")?,
            never: None,
        })
    }
}

/// Debezium matches the whole `schema.table` name, ignoring case.
fn compile_all(patterns: &[String], key: &str) -> Result<Vec<Regex>, Violation> {
    crate::config::filter::anchored(patterns).map_err(|(i, e)| {
        Violation::new(
            format!("{key}[{i}]"),
            format!(
                "{:?} is not a valid regular expression: {}",
                patterns[i],
                crate::config::parse::one_line(&e)
            ),
        )
    })
}

/// Decides which tables are captured.
#[derive(Debug, Clone)]
pub struct TableFilter {
    schema_include: Vec<Regex>,
    schema_exclude: Vec<Regex>,
    include: Vec<Regex>,
    exclude: Vec<Regex>,
    /// A table never captured whatever the lists say (the signal table), as (schema, table).
    never: Option<(String, String)>,
}

impl TableFilter {
    /// The same filter, never capturing `schema.table` (the signal table: its rows are
    /// signals, not data).
    pub fn never(mut self, schema: &str, table: &str) -> Self {
        self.never = Some((schema.to_string(), table.to_string()));
        self
    }

    /// Whether `schema.table` is captured.
    pub fn matches(&self, schema: &str, table: &str) -> bool {
        if self
            .never
            .as_ref()
            .is_some_and(|(s, t)| s == schema && t == table)
        {
            return false;
        }
        if !self.schema_include.is_empty()
            && !self.schema_include.iter().any(|r| r.is_match(schema))
        {
            return false;
        }
        if self.schema_exclude.iter().any(|r| r.is_match(schema)) {
            return false;
        }
        let name = format!("{schema}.{table}");
        if !self.include.is_empty() {
            return self.include.iter().any(|r| r.is_match(&name));
        }
        !self.exclude.iter().any(|r| r.is_match(&name))
    }

    /// The place of the first `include` pattern matching `schema.table`, or `None` without an
    /// include list: Debezium snapshots tables in the order of `table.include.list`.
    pub fn include_position(&self, schema: &str, table: &str) -> Option<usize> {
        let name = format!("{schema}.{table}");
        self.include.iter().position(|r| r.is_match(&name))
    }

    /// True when no list is set and every table passes.
    pub fn is_everything(&self) -> bool {
        self.include.is_empty()
            && self.exclude.is_empty()
            && self.schema_include.is_empty()
            && self.schema_exclude.is_empty()
            && self.never.is_none()
    }
}

/// `[events]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventsConfig {
    /// `tombstones.on.delete`. Default true.
    pub tombstones_on_delete: bool,
    /// `skipped.operations`: any of `c`, `u`, `d`, `t`, or `["none"]`. Default `["t"]`.
    pub skipped_operations: Vec<String>,
    /// `unavailable.value.placeholder`. Default `__debezium_unavailable_value`; a `hex:`
    /// prefix gives raw bytes.
    pub unavailable_value_placeholder: String,
    /// `decimal.handling.mode`: `precise` (default), `double`, `string`.
    pub decimal_handling_mode: DecimalHandlingMode,
    /// `money.fraction.digits`: the scale of money values (rounded half up). Default 2.
    pub money_fraction_digits: u32,
    /// `binary.handling.mode`: `bytes` (default), `base64`, `base64-url-safe`, `hex`.
    pub binary_handling_mode: BinaryHandlingMode,
    /// `time.precision.mode`: `adaptive` (default), `adaptive_time_microseconds`, `connect`,
    /// `isostring`, `microseconds`, `nanoseconds`.
    pub time_precision_mode: TimePrecisionMode,
    /// `interval.handling.mode`: `numeric` (default), `string`.
    pub interval_handling_mode: IntervalHandlingMode,
    /// `hstore.handling.mode`: `json` (default), `map`.
    pub hstore_handling_mode: HstoreHandlingMode,
    /// `include.unknown.datatypes`: emit columns of types Debezium has no mapping for
    /// (geometric types other than point, composite types, tsquery, pg_lsn, ...) as the bytes
    /// of their text form. Default false: such columns are left out.
    pub include_unknown_datatypes: bool,
    /// `skip.messages.without.change`: drop updates that change no captured column (needs
    /// REPLICA IDENTITY FULL). Default false.
    pub skip_messages_without_change: bool,
    /// `message.prefix.include.list`: logical-message prefixes (regexes matching the whole
    /// prefix, ignoring case) that are emitted. Default empty: all.
    pub message_prefix_include: Vec<String>,
    /// `message.prefix.exclude.list`. Default empty.
    pub message_prefix_exclude: Vec<String>,
    /// `provide.transaction.metadata`: BEGIN/END records on `<prefix>.transaction` and the
    /// envelope's `transaction` block. Default false.
    pub provide_transaction_metadata: bool,
}

impl Default for EventsConfig {
    fn default() -> Self {
        EventsConfig {
            tombstones_on_delete: true,
            skipped_operations: vec!["t".to_string()],
            unavailable_value_placeholder: "__debezium_unavailable_value".to_string(),
            decimal_handling_mode: DecimalHandlingMode::default(),
            money_fraction_digits: MONEY_FRACTION_DIGITS,
            binary_handling_mode: BinaryHandlingMode::default(),
            time_precision_mode: TimePrecisionMode::default(),
            interval_handling_mode: IntervalHandlingMode::default(),
            hstore_handling_mode: HstoreHandlingMode::default(),
            include_unknown_datatypes: false,
            skip_messages_without_change: false,
            message_prefix_include: Vec::new(),
            message_prefix_exclude: Vec::new(),
            provide_transaction_metadata: false,
        }
    }
}

const OPERATIONS: [(&str, &str); 4] = [
    ("c", "insert"),
    ("u", "update"),
    ("d", "delete"),
    ("t", "truncate"),
];

/// money is a 64-bit integer of cents: 19 digits at most, so a larger scale only adds zeros
/// that could not fit a 38-digit decimal with the integer part.
const MAX_MONEY_FRACTION_DIGITS: u32 = 19;

impl EventsConfig {
    pub(crate) fn validate(&self) -> Result<(), Violation> {
        if self.money_fraction_digits > MAX_MONEY_FRACTION_DIGITS {
            return Err(Violation::new(
                "events.money_fraction_digits",
                format!(
                    "{}: must be at most {MAX_MONEY_FRACTION_DIGITS} (money holds 19 digits)",
                    self.money_fraction_digits
                ),
            ));
        }
        let ops = &self.skipped_operations;
        let none = ops.iter().any(|o| o == "none");
        for (i, op) in ops.iter().enumerate() {
            let known = op == "none" || OPERATIONS.iter().any(|(c, _)| c == op);
            if !known || (none && ops.len() > 1) {
                return Err(Violation::new(
                    format!("events.skipped_operations[{i}]"),
                    format!(
                        "{op:?}: must be a list of c, u, d, t (create, update, delete, truncate), \
                         or [\"none\"] alone"
                    ),
                ));
            }
        }
        self.message_filter()?;
        if let Some(hex) = self.unavailable_value_placeholder.strip_prefix("hex:") {
            if decode_hex(hex).is_none() {
                return Err(Violation::new(
                    "events.unavailable_value_placeholder",
                    "after the hex: prefix, must be an even number of hex digits",
                ));
            }
        }
        Ok(())
    }

    /// The type-mapping modes for the event builder.
    pub fn type_modes(&self) -> TypeModes {
        TypeModes {
            decimal: self.decimal_handling_mode,
            binary: self.binary_handling_mode,
            time_precision: self.time_precision_mode,
            interval: self.interval_handling_mode,
            hstore: self.hstore_handling_mode,
            include_unknown: self.include_unknown_datatypes,
            money_fraction_digits: self.money_fraction_digits,
        }
    }

    /// Compiles the logical-message prefix lists.
    pub fn message_filter(
        &self,
    ) -> Result<crate::config::filter::message::MessageFilter, Violation> {
        if !self.message_prefix_include.is_empty() && !self.message_prefix_exclude.is_empty() {
            return Err(Violation::new(
                "events.message_prefix_exclude",
                "cannot be set together with events.message_prefix_include (as in Debezium, \
                 message.prefix.include.list and message.prefix.exclude.list are mutually \
                 exclusive); keep one",
            ));
        }
        crate::config::filter::message::MessageFilter::new(
            &self.message_prefix_include,
            &self.message_prefix_exclude,
        )
        .map_err(|(i, include, e)| {
            let (key, list) = if include {
                ("message_prefix_include", &self.message_prefix_include)
            } else {
                ("message_prefix_exclude", &self.message_prefix_exclude)
            };
            Violation::new(
                format!("events.{key}[{i}]"),
                format!(
                    "{:?} is not a valid regular expression: {}",
                    list[i],
                    crate::config::parse::one_line(&e)
                ),
            )
        })
    }

    /// Whether events of operation `op` (`"c"`, `"u"`, `"d"`, `"t"`) are dropped.
    pub fn is_skipped(&self, op: &str) -> bool {
        self.skipped_operations.iter().any(|o| o == op)
    }

    /// The PostgreSQL `publish` option of a publication created for this connector, e.g.
    /// `insert, update, delete`: every operation that is not skipped.
    pub fn publish_option(&self) -> String {
        OPERATIONS
            .iter()
            .filter(|(c, _)| !self.is_skipped(c))
            .map(|(_, name)| *name)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The placeholder as bytes: hex-decoded after a `hex:` prefix, UTF-8 otherwise.
    pub fn placeholder_bytes(&self) -> Vec<u8> {
        let p = &self.unavailable_value_placeholder;
        p.strip_prefix("hex:")
            .and_then(decode_hex)
            .unwrap_or_else(|| p.as_bytes().to_vec())
    }
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) || !hex.is_ascii() {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_names_follow_postgres_rules() {
        let ok = |n: &str| {
            SlotConfig {
                name: n.into(),
                ..Default::default()
            }
            .validate()
        };
        assert!(ok("pgcdc_1").is_ok());
        assert!(ok(&"a".repeat(63)).is_ok());
        for bad in ["", "Upper", "has-dash", "spa ce", &"a".repeat(64)] {
            let v = ok(bad).unwrap_err();
            assert_eq!(v.key, "slot.name");
            assert!(
                v.rule.contains("lowercase letters, digits or _"),
                "{}",
                v.rule
            );
        }
    }

    #[test]
    fn table_filter_is_anchored_and_case_insensitive() {
        let t = TablesConfig {
            include: vec!["public\\.orders".into(), "inv\\..*".into()],
            exclude: vec![],
            ..Default::default()
        };
        let f = t.filter().unwrap();
        assert!(f.matches("public", "orders"));
        assert!(f.matches("PUBLIC", "Orders"));
        assert!(!f.matches("public", "orders_archive"));
        assert!(!f.matches("xpublic", "orders"));
        assert!(f.matches("inv", "anything"));

        let t = TablesConfig {
            include: vec![],
            exclude: vec!["public\\.audit_.*".into()],
            ..Default::default()
        };
        let f = t.filter().unwrap();
        assert!(!f.matches("public", "audit_log"));
        assert!(f.matches("public", "orders"));
        assert!(TablesConfig::default().filter().unwrap().is_everything());
    }

    #[test]
    fn schema_lists_apply_with_the_table_lists() {
        let t = TablesConfig {
            schema_include: vec!["inv.*".into()],
            exclude: vec!["inventory\\.audit".into()],
            ..Default::default()
        };
        let f = t.filter().unwrap();
        assert!(f.matches("inventory", "orders"));
        assert!(f.matches("INV", "x"), "case is ignored");
        assert!(!f.matches("inventory", "audit"), "table list still applies");
        assert!(!f.matches("public", "orders"), "schema not included");
        assert!(!f.matches("xinv", "orders"), "anchored");
        assert!(!f.is_everything());

        let t = TablesConfig {
            schema_exclude: vec!["staging".into()],
            ..Default::default()
        };
        let f = t.filter().unwrap();
        assert!(!f.matches("staging", "t"));
        assert!(f.matches("staging2", "t"));

        let both = TablesConfig {
            schema_include: vec!["a".into()],
            schema_exclude: vec!["b".into()],
            ..Default::default()
        };
        assert_eq!(both.filter().unwrap_err().key, "tables.schema_exclude");
        let bad = TablesConfig {
            schema_include: vec!["(".into()],
            ..Default::default()
        };
        assert_eq!(bad.filter().unwrap_err().key, "tables.schema_include[0]");
    }

    #[test]
    fn column_lists_are_exclusive_and_checked() {
        let t = TablesConfig {
            column_include: vec!["a\\.b\\.c".into()],
            column_exclude: vec!["a\\.b\\.d".into()],
            ..Default::default()
        };
        assert_eq!(t.column_filter().unwrap_err().key, "tables.column_exclude");
        let t = TablesConfig {
            column_exclude: vec!["ok".into(), "(".into()],
            ..Default::default()
        };
        assert_eq!(t.validate().unwrap_err().key, "tables.column_exclude[1]");
        let t = TablesConfig {
            column_exclude: vec!["public\\.t\\.secret".into()],
            ..Default::default()
        };
        let f = t.column_filter().unwrap();
        assert!(!f.matches("public", "t", "secret"));
        assert!(f.matches("public", "t", "id"));
    }

    #[test]
    fn bad_regex_names_its_index() {
        let t = TablesConfig {
            include: vec!["ok".into(), "(".into()],
            exclude: vec![],
            ..Default::default()
        };
        let v = t.filter().unwrap_err();
        assert_eq!(v.key, "tables.include[1]");
        assert!(v.rule.contains("regular expression"));
    }

    #[test]
    fn skipped_operations_drive_the_publish_option() {
        let mut e = EventsConfig::default();
        assert!(e.is_skipped("t"));
        assert_eq!(e.publish_option(), "insert, update, delete");
        e.skipped_operations = vec!["none".into()];
        e.validate().unwrap();
        assert_eq!(e.publish_option(), "insert, update, delete, truncate");
        e.skipped_operations = vec!["c".into(), "d".into()];
        assert_eq!(e.publish_option(), "update, truncate");
        e.skipped_operations = vec!["none".into(), "c".into()];
        assert_eq!(
            e.validate().unwrap_err().key,
            "events.skipped_operations[0]"
        );
        e.skipped_operations = vec!["x".into()];
        assert!(e.validate().unwrap_err().rule.contains("c, u, d, t"));
    }

    #[test]
    fn type_modes_parse_and_reject_unknown_values() {
        let e: EventsConfig = toml::from_str(
            r#"
            decimal_handling_mode = "string"
            binary_handling_mode = "base64-url-safe"
            time_precision_mode = "adaptive_time_microseconds"
            interval_handling_mode = "string"
            "#,
        )
        .unwrap();
        let m = e.type_modes();
        assert_eq!(m.decimal, DecimalHandlingMode::String);
        assert_eq!(m.binary, BinaryHandlingMode::Base64UrlSafe);
        assert_eq!(
            m.time_precision,
            TimePrecisionMode::AdaptiveTimeMicroseconds
        );
        assert_eq!(m.interval, IntervalHandlingMode::String);
        assert_eq!(EventsConfig::default().type_modes(), TypeModes::default());
        for (key, bad) in [
            ("decimal_handling_mode", "exact"),
            ("binary_handling_mode", "base64_url_safe"),
            ("time_precision_mode", "nanos"),
            ("interval_handling_mode", "iso"),
        ] {
            let err = toml::from_str::<EventsConfig>(&format!("{key} = \"{bad}\""))
                .unwrap_err()
                .to_string();
            assert!(err.contains("unknown variant"), "{key}: {err}");
        }
    }

    #[test]
    fn money_fraction_digits_is_bounded_and_reaches_the_type_modes() {
        let mut e = EventsConfig::default();
        assert_eq!(e.type_modes().money_fraction_digits, 2);
        e.money_fraction_digits = 4;
        e.validate().unwrap();
        assert_eq!(e.type_modes().money_fraction_digits, 4);
        e.money_fraction_digits = 20;
        let err = e.validate().unwrap_err().to_string();
        assert!(err.contains("events.money_fraction_digits"), "{err}");
    }

    #[test]
    fn placeholder_hex_prefix_gives_bytes() {
        let mut e = EventsConfig::default();
        assert_eq!(e.placeholder_bytes(), b"__debezium_unavailable_value");
        e.unavailable_value_placeholder = "hex:00ff".into();
        e.validate().unwrap();
        assert_eq!(e.placeholder_bytes(), vec![0, 255]);
        e.unavailable_value_placeholder = "hex:0g".into();
        assert_eq!(
            e.validate().unwrap_err().key,
            "events.unavailable_value_placeholder"
        );
    }
}
