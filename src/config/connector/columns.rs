//! `[columns]`: masking and truncation of column values (Debezium's `column.truncate.to.*`,
//! `column.mask.with.*`, `column.mask.hash.*`).

use serde::{Deserialize, Serialize};

use crate::config::Violation;
use crate::event::masking::{ColumnMasks, HashAlgorithm, Rule};
use crate::event::propagate::Propagation;

/// `[columns]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ColumnsConfig {
    /// `[[columns.truncate]]`: `column.truncate.to.<chars>.chars=<columns>`.
    pub truncate: Vec<LengthRule>,
    /// `[[columns.mask]]`: `column.mask.with.<chars>.chars=<columns>`.
    pub mask: Vec<LengthRule>,
    /// `[[columns.hash]]`: `column.mask.hash[.v2].<algorithm>.with.salt.<salt>=<columns>`.
    pub hash: Vec<HashRule>,
    /// `column.propagate.source.type`: `schema.table.column` regular expressions (anchored,
    /// case-insensitive) of columns whose value schema gets `__debezium.source.column.*`
    /// parameters. Takes precedence over truncate, mask and hash rules, as in Debezium.
    pub propagate_source_type: Vec<String>,
    /// `datatype.propagate.source.type`: `schema.table.typename` regular expressions (e.g.
    /// `.+\\.varchar`), the same parameters for every column of those types.
    pub propagate_datatype_source_type: Vec<String>,
}

/// A truncate or mask rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LengthRule {
    /// `schema.table.column` regular expressions (anchored, case-insensitive).
    pub columns: Vec<String>,
    /// Truncate: the maximum length; mask: how many `*`.
    pub chars: usize,
}

/// A hash rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HashRule {
    pub columns: Vec<String>,
    /// Java `MessageDigest` name: `MD5`, `SHA-1`, `SHA-224`, `SHA-256`, `SHA-384`, `SHA-512`.
    pub algorithm: String,
    pub salt: String,
    /// 1 (Debezium's default: the value as Java serializes it) or 2 (`column.mask.hash.v2`:
    /// the value's UTF-8 bytes).
    #[serde(default = "default_hash_version")]
    pub version: u8,
}

fn default_hash_version() -> u8 {
    1
}

impl ColumnsConfig {
    pub(crate) fn validate(&self) -> Result<(), Violation> {
        self.masks().map(|_| ())
    }

    /// Compiles the rules in Debezium's order: propagation, truncate, mask, hash (the first
    /// match wins).
    pub fn masks(&self) -> Result<ColumnMasks, Violation> {
        let mut m = ColumnMasks::default();
        let propagation = Propagation::new(
            &self.propagate_source_type,
            &self.propagate_datatype_source_type,
        )
        .map_err(|(columns, i, e)| {
            let (key, list) = if columns {
                ("propagate_source_type", &self.propagate_source_type)
            } else {
                (
                    "propagate_datatype_source_type",
                    &self.propagate_datatype_source_type,
                )
            };
            Violation::new(
                format!("columns.{key}[{i}]"),
                format!(
                    "{:?} is not a valid regular expression: {}",
                    list[i],
                    e.replace(char::is_whitespace, " ")
                ),
            )
        })?;
        m.set_propagation(propagation);
        let bad = |key: String, list: &[String], (i, e): (usize, String)| {
            Violation::new(
                format!("{key}.columns[{i}]"),
                format!(
                    "{:?} is not a valid regular expression: {}",
                    list[i],
                    e.replace(char::is_whitespace, " ")
                ),
            )
        };
        for (i, r) in self.truncate.iter().enumerate() {
            m.add(&r.columns, Rule::Truncate(r.chars))
                .map_err(|e| bad(format!("columns.truncate[{i}]"), &r.columns, e))?;
        }
        for (i, r) in self.mask.iter().enumerate() {
            m.add(&r.columns, Rule::Mask(r.chars))
                .map_err(|e| bad(format!("columns.mask[{i}]"), &r.columns, e))?;
        }
        for (i, r) in self.hash.iter().enumerate() {
            let key = format!("columns.hash[{i}]");
            let algorithm = HashAlgorithm::from_java_name(&r.algorithm).ok_or_else(|| {
                Violation::new(
                    format!("{key}.algorithm"),
                    format!(
                        "{:?} is not supported; use MD5, SHA-1, SHA-224, SHA-256, SHA-384 or SHA-512",
                        r.algorithm
                    ),
                )
            })?;
            if r.version != 1 && r.version != 2 {
                return Err(Violation::new(
                    format!("{key}.version"),
                    "must be 1 (Debezium's column.mask.hash) or 2 (column.mask.hash.v2)",
                ));
            }
            let rule = Rule::Hash {
                algorithm,
                salt: r.salt.as_bytes().to_vec(),
                v2: r.version == 2,
            };
            m.add(&r.columns, rule)
                .map_err(|e| bad(key.clone(), &r.columns, e))?;
        }
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rules_and_names_bad_keys() {
        let c: ColumnsConfig = toml::from_str(
            r#"
[[mask]]
columns = ['public\.users\.email']
chars = 5
[[truncate]]
columns = ['public\.users\.bio']
chars = 10
[[hash]]
columns = ['public\.users\.ssn']
algorithm = "SHA-256"
salt = "pepper"
"#,
        )
        .unwrap();
        assert_eq!(c.hash[0].version, 1);
        assert!(!c.masks().unwrap().is_empty());
        let mut bad = c.clone();
        bad.hash[0].algorithm = "MD2".into();
        assert_eq!(bad.validate().unwrap_err().key, "columns.hash[0].algorithm");
        let mut bad = c.clone();
        bad.mask[0].columns.push("(".into());
        assert_eq!(
            bad.validate().unwrap_err().key,
            "columns.mask[0].columns[1]"
        );
        let mut bad = c;
        bad.hash[0].version = 3;
        assert_eq!(bad.validate().unwrap_err().key, "columns.hash[0].version");
    }

    #[test]
    fn propagation_lists_and_new_algorithms() {
        let c: ColumnsConfig = toml::from_str(
            r#"
propagate_source_type = ['public\.t\..*']
propagate_datatype_source_type = ['.+\.varchar', '(']
[[hash]]
columns = ['public\.users\.ssn']
algorithm = "SHA-224"
salt = "s"
"#,
        )
        .unwrap();
        assert_eq!(
            c.validate().unwrap_err().key,
            "columns.propagate_datatype_source_type[1]"
        );
        let mut ok = c.clone();
        ok.propagate_datatype_source_type.pop();
        ok.hash[0].algorithm = "md5".into();
        assert!(!ok.masks().unwrap().is_empty());
        let only_propagation = ColumnsConfig {
            propagate_source_type: vec!["x".into()],
            ..Default::default()
        };
        assert!(!only_propagation.masks().unwrap().is_empty());
    }
}
