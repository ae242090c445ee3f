//! `[[transforms]]`: single-message transforms applied to each event before serialization,
//! in file order (Kafka Connect's `transforms` chain).

use serde::{Deserialize, Serialize};

use crate::config::error::Violation;
use crate::transforms::{DeleteMode, FieldRef, UnwrapOptions};

/// One `[[transforms]]` entry, selected by `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TransformConfig {
    /// Debezium's `io.debezium.transforms.ExtractNewRecordState`.
    Unwrap(UnwrapConfig),
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
            seen.insert(crate::transforms::unwrap::DELETED_FIELD.to_string());
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
        }
    }
    Ok(())
}
