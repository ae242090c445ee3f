//! The tables an `execute-snapshot` signal names: plain `schema.table` names, or regular
//! expressions matched against the whole `schema.table` of every captured table (Debezium's
//! `data-collections` are regular expressions too). `additional-conditions` name their table
//! the same way.

use regex::Regex;

/// True when `entry` is a plain `schema.table` name rather than a pattern.
pub fn is_plain_name(entry: &str) -> bool {
    entry.matches('.').count() == 1
        && entry
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '$' | '.'))
}

fn full_match(pattern: &str) -> Option<Regex> {
    Regex::new(&format!("^(?:{pattern})$")).ok()
}

/// `entries` resolved against `captured`, in the order given, each table once. A plain name is
/// kept as it is; a pattern becomes the captured tables it matches, or stays as it is (and is
/// then reported as not captured) when it matches none or does not compile.
pub fn expand(entries: &[String], captured: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |name: &str| {
        if !out.iter().any(|n| n == name) {
            out.push(name.to_string());
        }
    };
    for entry in entries {
        let matched: Vec<&String> = if is_plain_name(entry) {
            Vec::new()
        } else {
            full_match(entry)
                .map(|re| captured.iter().filter(|t| re.is_match(t)).collect())
                .unwrap_or_default()
        };
        if matched.is_empty() {
            push(entry);
        }
        for t in matched {
            push(t);
        }
    }
    out
}

/// The condition for `table`: one named exactly, else the first whose pattern matches it.
pub fn condition_for<'a>(table: &str, conditions: &'a [(String, String)]) -> Option<&'a str> {
    conditions
        .iter()
        .find(|(t, _)| t == table)
        .or_else(|| {
            conditions.iter().find(|(t, _)| {
                !is_plain_name(t) && full_match(t).is_some_and(|re| re.is_match(table))
            })
        })
        .map(|(_, f)| f.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn patterns_expand_to_captured_tables_once_each() {
        let captured = strings(&["inv.orders", "inv.order_lines", "public.users"]);
        assert_eq!(
            expand(
                &strings(&["inv\\.order.*", "public.users", "inv.orders"]),
                &captured
            ),
            strings(&["inv.orders", "inv.order_lines", "public.users"])
        );
        // Anchored at both ends, as Debezium's full match.
        assert_eq!(
            expand(&strings(&["order.*"]), &captured),
            strings(&["order.*"])
        );
        // A plain name is not a pattern, even when it is not captured.
        assert_eq!(
            expand(&strings(&["inv.missing"]), &captured),
            strings(&["inv.missing"])
        );
        assert_eq!(
            expand(&strings(&["(broken"]), &captured),
            strings(&["(broken"])
        );
    }

    #[test]
    fn conditions_by_name_then_by_pattern() {
        let conditions = vec![
            ("inv\\..*".to_string(), "id > 1".to_string()),
            ("inv.orders".to_string(), "id > 2".to_string()),
        ];
        assert_eq!(condition_for("inv.orders", &conditions), Some("id > 2"));
        assert_eq!(
            condition_for("inv.order_lines", &conditions),
            Some("id > 1")
        );
        assert_eq!(condition_for("public.users", &conditions), None);
    }
}
