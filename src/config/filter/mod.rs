//! Compiled name filters of a connector file: which columns, message keys and logical-message
//! prefixes are captured. They only match names, so they belong to the configuration; the
//! event model applies them.

pub mod columns;
pub mod key_columns;
pub mod message;
mod name;
pub mod replica_identity;

use regex::{Regex, RegexBuilder};

/// Debezium's pattern form: the whole name must match (anchored at both ends), ignoring case.
/// The error is the index of the bad pattern and the regex error.
pub fn anchored(patterns: &[String]) -> Result<Vec<Regex>, (usize, String)> {
    patterns
        .iter()
        .enumerate()
        .map(|(i, p)| {
            RegexBuilder::new(&format!("^(?:{p})$"))
                .case_insensitive(true)
                .build()
                .map_err(|e| (i, e.to_string()))
        })
        .collect()
}

/// The pattern texts, to compare compiled lists by what they were built from.
pub fn pattern_texts(list: &[Regex]) -> Vec<&str> {
    list.iter().map(Regex::as_str).collect()
}
