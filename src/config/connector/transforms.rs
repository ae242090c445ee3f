//! `[[transforms]]`: single-message transforms applied to each event before serialization,
//! in file order (Kafka Connect's `transforms` chain).

use serde::{Deserialize, Serialize};

use super::field_ref::FieldRef;
use crate::config::error::Violation;

/// `__deleted`: Debezium's rewrite marker field (not affected by the prefixes).
pub const DELETED_FIELD: &str = "__deleted";

/// `delete.tombstone.handling.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeleteMode {
    /// Deletes and tombstones are dropped.
    Drop,
    /// A delete becomes a record with a null value (still carrying the row schema); tombstones
    /// are dropped. Debezium's default.
    #[default]
    Tombstone,
    /// A delete becomes its old row with `__deleted: "true"`; tombstones are dropped; other
    /// rows carry `__deleted: "false"`.
    Rewrite,
    /// Like `rewrite`, but tombstones are kept.
    RewriteWithTombstone,
    /// A delete becomes a real tombstone (no value schema); tombstones are dropped.
    DeleteToTombstone,
}

impl DeleteMode {
    pub fn rewrites(self) -> bool {
        matches!(self, DeleteMode::Rewrite | DeleteMode::RewriteWithTombstone)
    }
}

/// Validated options of one unwrap stage.
#[derive(Debug, Clone, PartialEq)]
pub struct UnwrapOptions {
    pub mode: DeleteMode,
    pub add_fields: Vec<FieldRef>,
    pub add_headers: Vec<FieldRef>,
    pub route_by_field: Option<String>,
    /// `replace.null.with.default`: JsonConverter substitutes schema defaults for nulls
    /// anyway, so the serialized output is the same either way.
    pub replace_null_with_default: bool,
    /// `drop.fields.header.name`: a header holding a list of field names (e.g. the unchanged
    /// list of the `extract_changed` transform) to leave out of the flattened row.
    pub drop_fields_header: Option<String>,
    /// `drop.fields.from.key`: leave them out of the key too.
    pub drop_fields_from_key: bool,
    /// `drop.fields.keep.schema.compatible`: only optional fields are left out.
    pub drop_fields_keep_schema_compatible: bool,
}

impl Default for UnwrapOptions {
    fn default() -> Self {
        UnwrapOptions {
            mode: DeleteMode::default(),
            add_fields: Vec::new(),
            add_headers: Vec::new(),
            route_by_field: None,
            replace_null_with_default: true,
            drop_fields_header: None,
            drop_fields_from_key: false,
            drop_fields_keep_schema_compatible: true,
        }
    }
}

/// Validated options of the extract_changed transform: header names (`None`: that header is
/// not written).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtractChangedOptions {
    pub changed: Option<String>,
    pub unchanged: Option<String>,
}

/// One `[[transforms]]` entry, selected by `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TransformConfig {
    /// Debezium's `io.debezium.transforms.ExtractNewRecordState`.
    Unwrap(UnwrapConfig),
    /// Debezium's `io.debezium.transforms.ExtractChangedRecordState`.
    ExtractChanged(ExtractChangedConfig),
}

/// `type = "extract_changed"`: headers listing the fields an update changed / left unchanged.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExtractChangedConfig {
    /// `header.changed.name`: header with the changed field names. Default none.
    pub header_changed_name: String,
    /// `header.unchanged.name`: header with the unchanged field names. Default none.
    pub header_unchanged_name: String,
}

impl ExtractChangedConfig {
    pub fn options(&self) -> ExtractChangedOptions {
        let name = |n: &str| (!n.trim().is_empty()).then(|| n.to_string());
        ExtractChangedOptions {
            changed: name(&self.header_changed_name),
            unchanged: name(&self.header_unchanged_name),
        }
    }

    fn validate(&self, index: usize) -> Result<(), Violation> {
        if self.options() == ExtractChangedOptions::default() {
            return Err(Violation::new(
                format!("transforms[{index}].header_unchanged_name"),
                "set header_changed_name, header_unchanged_name or both: without either the \
                 transform does nothing",
            ));
        }
        Ok(())
    }
}

/// `type = "unwrap"`: the options of `ExtractNewRecordState`, dots written as underscores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UnwrapConfig {
    /// `delete.tombstone.handling.mode`. Default `tombstone`.
    pub delete_tombstone_handling_mode: DeleteMode,
    /// `add.fields`: envelope fields appended to the row (`op`, `table`, `lsn`,
    /// `source.ts_ms`, `name:new_name`, ...).
    pub add_fields: Vec<String>,
    /// `add.fields.prefix`. Default `__`.
    pub add_fields_prefix: String,
    /// `add.headers`: envelope fields added as headers.
    pub add_headers: Vec<String>,
    /// `add.headers.prefix`. Default `__`.
    pub add_headers_prefix: String,
    /// `route.by.field`: a text column whose value becomes the topic. Default none.
    pub route_by_field: String,
    /// `replace.null.with.default`. Default true.
    pub replace_null_with_default: bool,
    /// `drop.fields.header.name`: a header listing field names to leave out of the row
    /// (normally the `extract_changed` transform's unchanged header). Default none.
    pub drop_fields_header_name: String,
    /// `drop.fields.from.key`: leave those fields out of the key too. Default false.
    pub drop_fields_from_key: bool,
    /// `drop.fields.keep.schema.compatible`: only drop optional fields. Default true.
    pub drop_fields_keep_schema_compatible: bool,
}

impl Default for UnwrapConfig {
    fn default() -> Self {
        UnwrapConfig {
            delete_tombstone_handling_mode: DeleteMode::default(),
            add_fields: Vec::new(),
            add_fields_prefix: "__".into(),
            add_headers: Vec::new(),
            add_headers_prefix: "__".into(),
            route_by_field: String::new(),
            replace_null_with_default: true,
            drop_fields_header_name: String::new(),
            drop_fields_from_key: false,
            drop_fields_keep_schema_compatible: true,
        }
    }
}

impl UnwrapConfig {
    fn refs(list: &[String], prefix: &str) -> Result<Vec<FieldRef>, String> {
        list.iter().map(|s| FieldRef::parse(s, prefix)).collect()
    }

    /// The validated options; fails on the first bad field reference.
    pub fn try_options(&self, index: usize) -> Result<UnwrapOptions, Violation> {
        let key = |k: &str| format!("transforms[{index}].{k}");
        let add_fields = Self::refs(&self.add_fields, &self.add_fields_prefix)
            .map_err(|e| Violation::new(key("add_fields"), e))?;
        let add_headers = Self::refs(&self.add_headers, &self.add_headers_prefix)
            .map_err(|e| Violation::new(key("add_headers"), e))?;
        let mut seen = std::collections::HashSet::new();
        let deleted = matches!(
            self.delete_tombstone_handling_mode,
            DeleteMode::Rewrite | DeleteMode::RewriteWithTombstone
        );
        if deleted {
            seen.insert(DELETED_FIELD.to_string());
        }
        for f in &add_fields {
            if !seen.insert(f.name.clone()) {
                return Err(Violation::new(
                    key("add_fields"),
                    format!(
                        "field {:?} would be added twice; rename one with `field:new_name`",
                        f.name
                    ),
                ));
            }
        }
        let route = self.route_by_field.trim();
        Ok(UnwrapOptions {
            mode: self.delete_tombstone_handling_mode,
            add_fields,
            add_headers,
            route_by_field: (!route.is_empty()).then(|| route.to_string()),
            replace_null_with_default: self.replace_null_with_default,
            drop_fields_header: (!self.drop_fields_header_name.trim().is_empty())
                .then(|| self.drop_fields_header_name.clone()),
            drop_fields_from_key: self.drop_fields_from_key,
            drop_fields_keep_schema_compatible: self.drop_fields_keep_schema_compatible,
        })
    }

    /// Options of a validated config.
    pub fn options(&self) -> UnwrapOptions {
        self.try_options(0).unwrap_or_default()
    }
}

pub(crate) fn validate(list: &[TransformConfig]) -> Result<(), Violation> {
    for (i, t) in list.iter().enumerate() {
        match t {
            TransformConfig::Unwrap(u) => {
                u.try_options(i)?;
            }
            TransformConfig::ExtractChanged(c) => c.validate(i)?,
        }
    }
    Ok(())
}
