//! `column.include.list` / `column.exclude.list`: which columns appear in row values.
//!
//! Patterns match `schema.table.column`, anchored at both ends, ignoring case (as Debezium's
//! PostgreSQL column filters do). Keys are not affected: key columns always stay in the key.

use regex::{Regex, RegexBuilder};

#[derive(Debug, Clone, Default)]
pub struct ColumnFilter {
    include: Vec<Regex>,
    exclude: Vec<Regex>,
}

/// Two filters are equal when built from the same patterns.
impl PartialEq for ColumnFilter {
    fn eq(&self, other: &Self) -> bool {
        let pats = |v: &[Regex]| v.iter().map(|r| r.as_str().to_string()).collect::<Vec<_>>();
        pats(&self.include) == pats(&other.include) && pats(&self.exclude) == pats(&other.exclude)
    }
}

impl Eq for ColumnFilter {}

impl ColumnFilter {
    /// Compiles the lists; the error names the index and list of the bad pattern.
    pub fn new(include: &[String], exclude: &[String]) -> Result<Self, (usize, bool, String)> {
        let compile = |list: &[String], is_include: bool| {
            list.iter()
                .enumerate()
                .map(|(i, p)| {
                    RegexBuilder::new(&format!("^(?:{p})$"))
                        .case_insensitive(true)
                        .build()
                        .map_err(|e| (i, is_include, e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(ColumnFilter {
            include: compile(include, true)?,
            exclude: compile(exclude, false)?,
        })
    }

    pub fn is_everything(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty()
    }

    /// Whether `schema.table.column` is part of row values.
    pub fn matches(&self, schema: &str, table: &str, column: &str) -> bool {
        if self.is_everything() {
            return true;
        }
        let name = format!("{schema}.{table}.{column}");
        if !self.include.is_empty() {
            return self.include.iter().any(|r| r.is_match(&name));
        }
        !self.exclude.iter().any(|r| r.is_match(&name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn exclude_matches_whole_qualified_names_ignoring_case() {
        let f = ColumnFilter::new(&[], &s(&["public\\.items\\.secret", ".*\\.pw"])).unwrap();
        assert!(!f.matches("public", "items", "secret"));
        assert!(!f.matches("PUBLIC", "Items", "SECRET"));
        assert!(!f.matches("other", "users", "pw"));
        assert!(f.matches("public", "items", "secret2"));
        assert!(f.matches("public", "items2", "secret"));
    }

    #[test]
    fn include_keeps_only_listed_columns() {
        let f = ColumnFilter::new(&s(&["public\\.items\\.(id|name)"]), &[]).unwrap();
        assert!(f.matches("public", "items", "id"));
        assert!(!f.matches("public", "items", "qty"));
        assert!(ColumnFilter::default().matches("a", "b", "c"));
    }

    #[test]
    fn bad_pattern_is_reported_with_its_index() {
        let err = ColumnFilter::new(&[], &s(&["ok", "("])).unwrap_err();
        assert_eq!((err.0, err.1), (1, false));
    }
}
