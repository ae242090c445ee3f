//! Debezium's include/exclude list semantics, shared by the filters that use them: patterns
//! match the whole name (anchored at both ends), ignoring case; a non-empty include list wins
//! over the exclude list.

use regex::Regex;

#[derive(Debug, Clone, Default)]
pub struct NameFilter {
    include: Vec<Regex>,
    exclude: Vec<Regex>,
}

/// Two filters are equal when built from the same patterns.
impl PartialEq for NameFilter {
    fn eq(&self, other: &Self) -> bool {
        use super::pattern_texts as pats;
        pats(&self.include) == pats(&other.include) && pats(&self.exclude) == pats(&other.exclude)
    }
}

impl Eq for NameFilter {}

impl NameFilter {
    /// Compiles the lists; the error names the index and list (`true`: include) of the bad
    /// pattern and the regex error.
    pub fn new(include: &[String], exclude: &[String]) -> Result<Self, (usize, bool, String)> {
        let compile = |list: &[String], is_include: bool| {
            super::anchored(list).map_err(|(i, e)| (i, is_include, e))
        };
        Ok(NameFilter {
            include: compile(include, true)?,
            exclude: compile(exclude, false)?,
        })
    }

    pub fn is_everything(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty()
    }

    pub fn matches(&self, name: &str) -> bool {
        if !self.include.is_empty() {
            return self.include.iter().any(|r| r.is_match(name));
        }
        !self.exclude.iter().any(|r| r.is_match(name))
    }
}
