//! `message.prefix.include.list` / `message.prefix.exclude.list`: which logical decoding
//! messages (`pg_logical_emit_message`) become events.
//!
//! Patterns match the whole prefix, ignoring case, like Debezium's other include/exclude
//! lists. A filtered message still advances the stream position; it only emits nothing.

use super::name::NameFilter;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageFilter(NameFilter);

impl MessageFilter {
    /// Compiles the lists; the error names the index and list (`true`: include) of the bad
    /// pattern and the regex error.
    pub fn new(include: &[String], exclude: &[String]) -> Result<Self, (usize, bool, String)> {
        NameFilter::new(include, exclude).map(MessageFilter)
    }

    /// Whether a message with this prefix is emitted.
    pub fn matches(&self, prefix: &str) -> bool {
        self.0.matches(prefix)
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
