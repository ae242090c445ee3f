//! `message.key.columns`: per-table key columns that replace the primary key in message keys.
//!
//! The Debezium form is `<table regex>:<col>,<col>;<table regex>:<col>`. Table regexes match
//! `schema.table` as a whole, ignoring case; the first matching entry wins. Key fields come
//! in the listed order (as in Debezium 3.6.3); listed columns the table does not have are
//! left out.

use regex::{Regex, RegexBuilder};

#[derive(Debug, Clone, Default)]
pub struct KeyColumns {
    entries: Vec<(Regex, Vec<String>)>,
}

impl PartialEq for KeyColumns {
    fn eq(&self, other: &Self) -> bool {
        self.entries.len() == other.entries.len()
            && self
                .entries
                .iter()
                .zip(&other.entries)
                .all(|((a, ac), (b, bc))| a.as_str() == b.as_str() && ac == bc)
    }
}

impl Eq for KeyColumns {}

impl KeyColumns {
    /// Parses the Debezium property value; the error says what is wrong with which entry.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut entries = Vec::new();
        for (i, entry) in spec.split(';').enumerate() {
            let entry = entry.trim();
            if entry.is_empty() {
                continue;
            }
            let Some((table, cols)) = entry.rsplit_once(':') else {
                return Err(format!(
                    "entry {} ({entry:?}) has no ':'; write <schema.table regex>:<col>,<col>",
                    i + 1
                ));
            };
            let cols: Vec<String> = cols
                .split(',')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect();
            if table.trim().is_empty() || cols.is_empty() {
                return Err(format!(
                    "entry {} ({entry:?}) needs a table regex and at least one column",
                    i + 1
                ));
            }
            let re = RegexBuilder::new(&format!("^(?:{})$", table.trim()))
                .case_insensitive(true)
                .build()
                .map_err(|e| {
                    format!(
                        "entry {} ({entry:?}): {:?} is not a valid regular expression: {}",
                        i + 1,
                        table.trim(),
                        e.to_string().replace(char::is_whitespace, " ")
                    )
                })?;
            entries.push((re, cols));
        }
        Ok(KeyColumns { entries })
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The key columns configured for `schema.table`, if an entry matches.
    pub fn for_table(&self, schema: &str, table: &str) -> Option<&[String]> {
        let name = format!("{schema}.{table}");
        self.entries
            .iter()
            .find(|(re, _)| re.is_match(&name))
            .map(|(_, cols)| cols.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_entries_and_matches_whole_table_names() {
        let k = KeyColumns::parse("public\\.users:email, tenant ; inv\\..*:sku").unwrap();
        assert_eq!(
            k.for_table("public", "users").unwrap(),
            &["email".to_string(), "tenant".to_string()]
        );
        assert_eq!(k.for_table("PUBLIC", "Users").unwrap().len(), 2);
        assert!(k.for_table("public", "users2").is_none());
        assert_eq!(k.for_table("inv", "items").unwrap(), &["sku".to_string()]);
        assert!(KeyColumns::parse("").unwrap().is_empty());
    }

    #[test]
    fn rejects_malformed_entries() {
        assert!(KeyColumns::parse("public.users")
            .unwrap_err()
            .contains("no ':'"));
        assert!(KeyColumns::parse("public.users:")
            .unwrap_err()
            .contains("at least one column"));
        assert!(KeyColumns::parse("(:a")
            .unwrap_err()
            .contains("regular expression"));
    }
}
