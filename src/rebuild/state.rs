//! A table's rows rebuilt by key: the last upsert wins, deletes and tombstones remove the key,
//! a truncate empties the table.
//!
//! Rows are kept as compact JSON text of the table's value columns only, in column order: the
//! unwrap transform's added fields (`__op`, `__lsn`, ...) differ between a streamed row and the
//! same row read now, and text costs far less memory than a parsed `Value` per row.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::change::Change;

#[derive(Debug, Default)]
pub struct TableState {
    /// The value columns, in order; a row is projected onto them.
    columns: Vec<String>,
    /// `events.unavailable_value_placeholder`: an unchanged TOAST column in an update.
    placeholder: Option<String>,
    rows: HashMap<String, String>,
}

impl TableState {
    pub fn new(columns: Vec<String>, placeholder: Option<String>) -> Self {
        TableState {
            columns,
            placeholder,
            rows: HashMap::new(),
        }
    }

    pub fn apply(&mut self, change: Change) {
        match change {
            Change::Upsert { key, row } => {
                let row = self.keep_unchanged_toast(&key, row);
                let text = project(&self.columns, &row);
                self.rows.insert(key, text);
            }
            Change::Delete { key } => {
                self.rows.remove(&key);
            }
            Change::Truncate => self.rows.clear(),
            Change::Ignore => {}
        }
    }

    /// An update that left a TOASTed column alone carries the placeholder instead of the
    /// value; the value is the one the key held before.
    fn keep_unchanged_toast(&self, key: &str, mut row: Map<String, Value>) -> Map<String, Value> {
        let Some(ph) = self.placeholder.as_deref() else {
            return row;
        };
        let unchanged: Vec<String> = row
            .iter()
            .filter(|(_, v)| v.as_str() == Some(ph))
            .map(|(k, _)| k.clone())
            .collect();
        if unchanged.is_empty() {
            return row;
        }
        let old: Option<Map<String, Value>> = self
            .rows
            .get(key)
            .and_then(|t| serde_json::from_str(t).ok());
        if let Some(mut old) = old {
            for col in unchanged {
                if let Some(v) = old.remove(&col) {
                    row.insert(col, v);
                }
            }
        }
        row
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Takes the row of `key` out (the comparison consumes the state as it goes).
    pub fn take(&mut self, key: &str) -> Option<String> {
        self.rows.remove(key)
    }

    /// Every key left, sorted by key (numbers as numbers, see [`key_order`]).
    pub fn into_sorted(self) -> Vec<(String, String)> {
        let mut rows: Vec<(Value, String, String)> = self
            .rows
            .into_iter()
            .map(|(k, r)| (serde_json::from_str(&k).unwrap_or(Value::Null), k, r))
            .collect();
        rows.sort_unstable_by(|a, b| key_order(&a.0, &b.0).then_with(|| a.1.cmp(&b.1)));
        rows.into_iter().map(|(_, k, r)| (k, r)).collect()
    }

    /// The rows as a map, for `pgcdc replay`.
    pub fn rows(&self) -> &HashMap<String, String> {
        &self.rows
    }

    pub fn columns(&self) -> &[String] {
        &self.columns
    }
}

/// Key order: objects field by field in their order, numbers numerically, strings by bytes,
/// so `{"id":2}` comes before `{"id":10}` (key text order would not).
pub fn key_order(a: &Value, b: &Value) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => x
            .values()
            .zip(y.values())
            .map(|(p, q)| key_order(p, q))
            .find(|o| *o != Ordering::Equal)
            .unwrap_or_else(|| x.len().cmp(&y.len())),
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
            x.partial_cmp(&y).unwrap_or(Ordering::Equal)
        }
        (Value::String(x), Value::String(y)) => x.cmp(y),
        _ => a.to_string().cmp(&b.to_string()),
    }
}

/// `row` reduced to `columns`, in their order, as compact JSON. A column the row lacks (a row
/// written before the column was added) stays absent, so it shows as a difference. No columns
/// (`pgcdc replay`, which knows only the topics) keep the row as it is.
pub fn project(columns: &[String], row: &Map<String, Value>) -> String {
    if columns.is_empty() {
        return serde_json::to_string(row).unwrap_or_default();
    }
    let mut out = Map::with_capacity(columns.len());
    for c in columns {
        if let Some(v) = row.get(c) {
            out.insert(c.clone(), v.clone());
        }
    }
    Value::Object(out).to_string()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn up(id: i64, v: Value) -> Change {
        Change::Upsert {
            key: format!(r#"{{"id":{id}}}"#),
            row: json!({"id": id, "v": v, "__op": "c"})
                .as_object()
                .unwrap()
                .clone(),
        }
    }

    fn state() -> TableState {
        TableState::new(vec!["id".into(), "v".into()], Some("__unavailable".into()))
    }

    #[test]
    fn last_upsert_wins_and_deletes_remove() {
        let mut s = state();
        s.apply(up(1, json!(1)));
        s.apply(up(2, json!(1)));
        s.apply(up(1, json!(5)));
        s.apply(Change::Delete {
            key: r#"{"id":2}"#.into(),
        });
        assert_eq!(
            s.into_sorted(),
            vec![(r#"{"id":1}"#.to_string(), r#"{"id":1,"v":5}"#.to_string())]
        );
    }

    #[test]
    fn sorted_by_key_value() {
        let mut s = state();
        for id in [10, 2, 1] {
            s.apply(up(id, json!(id)));
        }
        let keys: Vec<String> = s.into_sorted().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, [r#"{"id":1}"#, r#"{"id":2}"#, r#"{"id":10}"#]);
    }

    #[test]
    fn truncate_empties() {
        let mut s = state();
        s.apply(up(1, json!(1)));
        s.apply(Change::Truncate);
        s.apply(up(2, json!(2)));
        assert_eq!(s.len(), 1);
        assert!(s.take(r#"{"id":2}"#).is_some());
    }

    #[test]
    fn unchanged_toast_keeps_the_previous_value() {
        let mut s = state();
        s.apply(up(1, json!("long text")));
        s.apply(up(1, json!("__unavailable")));
        assert_eq!(
            s.take(r#"{"id":1}"#).unwrap(),
            r#"{"id":1,"v":"long text"}"#
        );
    }
}
