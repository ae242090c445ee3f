//! `column.include.list` / `column.exclude.list`: which columns appear in row values.
//!
//! Patterns match `schema.table.column`, anchored at both ends, ignoring case (as Debezium's
//! PostgreSQL column filters do). Keys are not affected: key columns always stay in the key.

use super::name::NameFilter;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ColumnFilter(NameFilter);

impl ColumnFilter {
    /// Compiles the lists; the error names the index and list of the bad pattern.
    pub fn new(include: &[String], exclude: &[String]) -> Result<Self, (usize, bool, String)> {
        NameFilter::new(include, exclude).map(ColumnFilter)
    }

    pub fn is_everything(&self) -> bool {
        self.0.is_everything()
    }

    /// Whether `schema.table.column` is part of row values.
    pub fn matches(&self, schema: &str, table: &str, column: &str) -> bool {
        self.is_everything() || self.0.matches(&format!("{schema}.{table}.{column}"))
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
