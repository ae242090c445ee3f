//! The comparison of one table: the database's rows are probed, one at a time, against the
//! rows rebuilt from the topic, which the probe consumes; what is left over afterwards is in
//! the topics only. The database side is never held in memory.

use serde_json::{Map, Value};

use super::state::TableState;

/// How many keys of each kind of mismatch a report names.
pub const SAMPLES: usize = 5;

/// The outcome for one table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableReport {
    pub table: String,
    /// Rows read from PostgreSQL.
    pub compared: u64,
    /// In PostgreSQL, not in the topics.
    pub missing: u64,
    /// In the topics, not in PostgreSQL.
    pub extra: u64,
    /// In both, with other values.
    pub different: u64,
    pub missing_keys: Vec<String>,
    pub extra_keys: Vec<String>,
    /// Keys and the names of the columns that differ.
    pub different_keys: Vec<(String, Vec<String>)>,
}

impl TableReport {
    pub fn equal(&self) -> bool {
        self.missing == 0 && self.extra == 0 && self.different == 0
    }
}

pub struct Comparer {
    state: TableState,
    report: TableReport,
}

impl Comparer {
    pub fn new(table: impl Into<String>, state: TableState) -> Self {
        Comparer {
            state,
            report: TableReport {
                table: table.into(),
                ..TableReport::default()
            },
        }
    }

    /// One row of the database: `key` and `row` as [`super::state::project`] writes them.
    pub fn probe(&mut self, key: &str, row: &str) {
        let r = &mut self.report;
        r.compared += 1;
        match self.state.take(key) {
            None => {
                r.missing += 1;
                sample(&mut r.missing_keys, key);
            }
            Some(rebuilt) if rebuilt == row => {}
            Some(rebuilt) => {
                r.different += 1;
                if r.different_keys.len() < SAMPLES {
                    r.different_keys
                        .push((key.to_string(), differing_columns(row, &rebuilt)));
                }
            }
        }
    }

    /// The report, with every key the database did not have counted as extra.
    pub fn finish(mut self) -> TableReport {
        let left = self.state.into_sorted();
        self.report.extra = left.len() as u64;
        self.report.extra_keys = left.into_iter().take(SAMPLES).map(|(k, _)| k).collect();
        self.report
    }
}

fn sample(keys: &mut Vec<String>, key: &str) {
    if keys.len() < SAMPLES {
        keys.push(key.to_string());
    }
}

/// Names of the columns whose values differ (or that only one side has).
pub fn differing_columns(a: &str, b: &str) -> Vec<String> {
    let parse = |t: &str| serde_json::from_str::<Map<String, Value>>(t).unwrap_or_default();
    let (a, b) = (parse(a), parse(b));
    let mut cols: Vec<String> = a
        .iter()
        .filter(|(k, v)| b.get(*k) != Some(v))
        .map(|(k, _)| k.clone())
        .collect();
    cols.extend(b.keys().filter(|k| !a.contains_key(*k)).cloned());
    cols
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::rebuild::change::Change;

    #[test]
    fn counts_missing_extra_and_different() {
        let mut s = TableState::new(vec!["id".into(), "v".into()], None);
        for (id, v) in [(1, 1), (2, 2), (4, 4)] {
            s.apply(Change::Upsert {
                key: format!("{id}"),
                row: json!({"id": id, "v": v}).as_object().unwrap().clone(),
            });
        }
        let mut c = Comparer::new("public.t", s);
        c.probe("1", r#"{"id":1,"v":1}"#);
        c.probe("2", r#"{"id":2,"v":9}"#);
        c.probe("3", r#"{"id":3,"v":3}"#);
        let r = c.finish();
        assert_eq!((r.compared, r.missing, r.extra, r.different), (3, 1, 1, 1));
        assert_eq!(r.missing_keys, vec!["3"]);
        assert_eq!(r.extra_keys, vec!["4"]);
        assert_eq!(
            r.different_keys,
            vec![("2".to_string(), vec!["v".to_string()])]
        );
        assert!(!r.equal());
    }
}
