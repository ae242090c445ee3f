//! `[columns]`: masking and truncation of column values (Debezium's `column.truncate.to.*`,
//! `column.mask.with.*`, `column.mask.hash.*`).

use serde::{Deserialize, Serialize};

use regex::Regex;

use crate::config::filter::{anchored, pattern_texts};
use crate::config::Violation;

/// Hash algorithms (Java `MessageDigest` names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlgorithm {
    Md5,
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlgorithm {
    /// From a Java `MessageDigest` name (`SHA-256`, case-insensitive; `SHA256` too).
    pub fn from_java_name(name: &str) -> Option<Self> {
        match name.to_ascii_uppercase().replace('-', "").as_str() {
            "MD5" => Some(HashAlgorithm::Md5),
            "SHA" | "SHA1" => Some(HashAlgorithm::Sha1),
            "SHA224" => Some(HashAlgorithm::Sha224),
            "SHA256" => Some(HashAlgorithm::Sha256),
            "SHA384" => Some(HashAlgorithm::Sha384),
            "SHA512" => Some(HashAlgorithm::Sha512),
            _ => None,
        }
    }
}

/// What one rule does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    Truncate(usize),
    Mask(usize),
    Hash {
        algorithm: HashAlgorithm,
        salt: Vec<u8>,
        /// `column.mask.hash.v2`: hash the value's bytes rather than its Java serialization.
        v2: bool,
    },
}

/// The compiled `[columns]` rules, tried in Debezium's order: source-type propagation, then
/// truncate, mask, hash rules (the first match wins).
#[derive(Debug, Clone, Default)]
pub struct ColumnRules {
    pub propagate_columns: Vec<Regex>,
    pub propagate_datatypes: Vec<Regex>,
    pub rules: Vec<(Vec<Regex>, Rule)>,
}

/// Two rule sets are equal when built from the same patterns and rules.
impl PartialEq for ColumnRules {
    fn eq(&self, other: &Self) -> bool {
        let same_rules = self.rules.len() == other.rules.len()
            && self
                .rules
                .iter()
                .zip(&other.rules)
                .all(|((a, ra), (b, rb))| pattern_texts(a) == pattern_texts(b) && ra == rb);
        same_rules
            && pattern_texts(&self.propagate_columns) == pattern_texts(&other.propagate_columns)
            && pattern_texts(&self.propagate_datatypes) == pattern_texts(&other.propagate_datatypes)
    }
}

impl ColumnRules {
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
            && self.propagate_columns.is_empty()
            && self.propagate_datatypes.is_empty()
    }
}

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
    pub fn masks(&self) -> Result<ColumnRules, Violation> {
        let bad = |key: String, list: &[String], (i, e): (usize, String)| {
            Violation::new(
                format!("{key}[{i}]"),
                format!(
                    "{:?} is not a valid regular expression: {}",
                    list[i],
                    e.replace(char::is_whitespace, " ")
                ),
            )
        };
        let compile =
            |key: &str, list: &[String]| anchored(list).map_err(|e| bad(key.into(), list, e));
        let mut m = ColumnRules {
            propagate_columns: compile(
                "columns.propagate_source_type",
                &self.propagate_source_type,
            )?,
            propagate_datatypes: compile(
                "columns.propagate_datatype_source_type",
                &self.propagate_datatype_source_type,
            )?,
            rules: Vec::new(),
        };
        for (i, r) in self.truncate.iter().enumerate() {
            let res = compile(&format!("columns.truncate[{i}].columns"), &r.columns)?;
            m.rules.push((res, Rule::Truncate(r.chars)));
        }
        for (i, r) in self.mask.iter().enumerate() {
            let res = compile(&format!("columns.mask[{i}].columns"), &r.columns)?;
            m.rules.push((res, Rule::Mask(r.chars)));
        }
        for (i, r) in self.hash.iter().enumerate() {
            let rule = r.rule(&format!("columns.hash[{i}]"))?;
            let res = compile(&format!("columns.hash[{i}].columns"), &r.columns)?;
            m.rules.push((res, rule));
        }
        Ok(m)
    }
}

impl HashRule {
    fn rule(&self, key: &str) -> Result<Rule, Violation> {
        let algorithm = HashAlgorithm::from_java_name(&self.algorithm).ok_or_else(|| {
            Violation::new(
                format!("{key}.algorithm"),
                format!(
                    "{:?} is not supported; use MD5, SHA-1, SHA-224, SHA-256, SHA-384 or SHA-512",
                    self.algorithm
                ),
            )
        })?;
        if self.version != 1 && self.version != 2 {
            return Err(Violation::new(
                format!("{key}.version"),
                "must be 1 (Debezium's column.mask.hash) or 2 (column.mask.hash.v2)",
            ));
        }
        Ok(Rule::Hash {
            algorithm,
            salt: self.salt.as_bytes().to_vec(),
            v2: self.version == 2,
        })
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
