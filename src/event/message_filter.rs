//! `message.prefix.include.list` / `message.prefix.exclude.list`: which logical decoding
//! messages (`pg_logical_emit_message`) become events.
//!
//! Patterns match the whole prefix, ignoring case, like Debezium's other include/exclude
//! lists. A filtered message still advances the stream position; it only emits nothing.

use regex::{Regex, RegexBuilder};

#[derive(Debug, Clone, Default)]
pub struct MessageFilter {
    include: Vec<Regex>,
    exclude: Vec<Regex>,
}

/// Two filters are equal when built from the same patterns.
impl PartialEq for MessageFilter {
    fn eq(&self, other: &Self) -> bool {
        let pats = |v: &[Regex]| v.iter().map(|r| r.as_str().to_string()).collect::<Vec<_>>();
        pats(&self.include) == pats(&other.include) && pats(&self.exclude) == pats(&other.exclude)
    }
}

impl Eq for MessageFilter {}

impl MessageFilter {
    /// Compiles the lists; the error names the index and list (`true`: include) of the bad
    /// pattern and the regex error.
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
        Ok(MessageFilter {
            include: compile(include, true)?,
            exclude: compile(exclude, false)?,
        })
    }

    /// Whether a message with this prefix is emitted.
    pub fn matches(&self, prefix: &str) -> bool {
        if !self.include.is_empty() {
            return self.include.iter().any(|r| r.is_match(prefix));
        }
        !self.exclude.iter().any(|r| r.is_match(prefix))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn include_is_anchored_and_ignores_case() {
        let f = MessageFilter::new(&s(&["audit", "app\\..*"]), &[]).unwrap();
        assert!(f.matches("audit"));
        assert!(f.matches("AUDIT"));
        assert!(!f.matches("audit2"));
        assert!(!f.matches("xaudit"));
        assert!(f.matches("app.orders"));
        assert!(!f.matches("app"));
    }

    #[test]
    fn exclude_drops_matches_and_dot_star_drops_all() {
        let f = MessageFilter::new(&[], &s(&["noise"])).unwrap();
        assert!(!f.matches("noise"));
        assert!(f.matches("noise2"));
        let all = MessageFilter::new(&[], &s(&[".*"])).unwrap();
        assert!(!all.matches(""));
        assert!(!all.matches("anything"));
        assert!(MessageFilter::default().matches("x"));
    }

    #[test]
    fn bad_pattern_names_its_list_and_index() {
        let e = MessageFilter::new(&s(&["ok", "[", "ok"]), &[]).unwrap_err();
        assert_eq!((e.0, e.1), (1, true));
    }
}
