//! Signals: requests to a running connector (Debezium's signalling), arriving as rows of the
//! signal table through the replication stream (`table`) or as lines of a file (`file`).
//!
//! A signal is `id`, `type` and `data` (JSON text). The types pgcdc acts on are the
//! incremental snapshot ones: `execute-snapshot`, `stop-snapshot`, `pause-snapshot`,
//! `resume-snapshot`, and the window markers the snapshot writes itself
//! (`snapshot-window-open`, `snapshot-window-close`); and `log`, which writes its message to
//! pgcdc's log (a marker operators place in the stream).

pub mod file;
pub mod table;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One signal as sent: `id`, `type`, and `data` as JSON text (may be empty).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signal {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, deserialize_with = "data_text")]
    pub data: String,
}

/// The file channel writes `data` as a JSON object; the table stores it as text. Both become
/// the text.
fn data_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Null => String::new(),
        Value::String(s) => s,
        other => other.to_string(),
    })
}

pub const EXECUTE_SNAPSHOT: &str = "execute-snapshot";
pub const STOP_SNAPSHOT: &str = "stop-snapshot";
pub const PAUSE_SNAPSHOT: &str = "pause-snapshot";
pub const RESUME_SNAPSHOT: &str = "resume-snapshot";
pub const WINDOW_OPEN: &str = "snapshot-window-open";
pub const WINDOW_CLOSE: &str = "snapshot-window-close";
pub const LOG: &str = "log";

/// What a signal asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `execute-snapshot` of type `incremental`.
    ExecuteSnapshot(SnapshotSpec),
    /// `stop-snapshot`: the listed tables, or everything when the list is empty.
    StopSnapshot(Vec<String>),
    PauseSnapshot,
    ResumeSnapshot,
    /// The incremental snapshot's own markers; the id names the chunk.
    WindowOpen,
    WindowClose,
    /// `log`: the message of `{"message": ...}`.
    Log(String),
}

/// The tables an `execute-snapshot` names, each with an optional extra condition.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotSpec {
    /// `schema.table` names; empty means every captured table.
    pub tables: Vec<String>,
    /// `additional-conditions`: (`schema.table`, SQL condition).
    pub conditions: Vec<(String, String)>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignalError {
    #[error("signal {id:?}: unknown type {kind:?} (pgcdc acts on execute-snapshot, stop-snapshot, pause-snapshot, resume-snapshot, log)")]
    UnknownType { id: String, kind: String },
    #[error("signal {id:?}: data is not valid: {reason}")]
    BadData { id: String, reason: String },
    #[error("signal {id:?}: snapshot type {kind:?} is not supported; only \"incremental\"")]
    UnsupportedSnapshotType { id: String, kind: String },
}

/// The `data` of `execute-snapshot` and `stop-snapshot` (Debezium's field names).
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct SnapshotData {
    #[serde(rename = "data-collections")]
    pub data_collections: Vec<String>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(
        rename = "additional-conditions",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub additional_conditions: Vec<Condition>,
}

#[derive(Debug, Deserialize, Serialize)]
pub struct Condition {
    #[serde(rename = "data-collection")]
    pub data_collection: String,
    pub filter: String,
}

impl SnapshotData {
    /// The `data` of an incremental `execute-snapshot` for `spec`.
    pub fn incremental(spec: &SnapshotSpec) -> Self {
        SnapshotData {
            data_collections: spec.tables.clone(),
            kind: Some("incremental".into()),
            additional_conditions: spec
                .conditions
                .iter()
                .map(|(t, f)| Condition {
                    data_collection: t.clone(),
                    filter: f.clone(),
                })
                .collect(),
        }
    }
}

impl Signal {
    /// What the signal asks for.
    pub fn action(&self) -> Result<Action, SignalError> {
        match self.kind.as_str() {
            EXECUTE_SNAPSHOT => {
                let d = self.snapshot_data()?;
                let kind = d.kind.unwrap_or_else(|| "incremental".into());
                if !kind.eq_ignore_ascii_case("incremental") {
                    return Err(SignalError::UnsupportedSnapshotType {
                        id: self.id.clone(),
                        kind,
                    });
                }
                Ok(Action::ExecuteSnapshot(SnapshotSpec {
                    tables: d.data_collections,
                    conditions: d
                        .additional_conditions
                        .into_iter()
                        .map(|c| (c.data_collection, c.filter))
                        .collect(),
                }))
            }
            STOP_SNAPSHOT => Ok(Action::StopSnapshot(self.snapshot_data()?.data_collections)),
            PAUSE_SNAPSHOT => Ok(Action::PauseSnapshot),
            RESUME_SNAPSHOT => Ok(Action::ResumeSnapshot),
            WINDOW_OPEN => Ok(Action::WindowOpen),
            WINDOW_CLOSE => Ok(Action::WindowClose),
            LOG => {
                #[derive(Deserialize)]
                struct LogData {
                    message: String,
                }
                serde_json::from_str::<LogData>(&self.data)
                    .map(|d| Action::Log(d.message))
                    .map_err(|e| SignalError::BadData {
                        id: self.id.clone(),
                        reason: format!("{e} (a log signal's data is {{\"message\": \"...\"}})"),
                    })
            }
            _ => Err(SignalError::UnknownType {
                id: self.id.clone(),
                kind: self.kind.clone(),
            }),
        }
    }

    fn snapshot_data(&self) -> Result<SnapshotData, SignalError> {
        if self.data.trim().is_empty() {
            return Ok(SnapshotData::default());
        }
        serde_json::from_str(&self.data).map_err(|e| SignalError::BadData {
            id: self.id.clone(),
            reason: e.to_string(),
        })
    }
}

/// A signal id that does not repeat: the time in nanoseconds and a process-wide counter.
pub fn new_id(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{prefix}{nanos:x}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sig(kind: &str, data: &str) -> Signal {
        Signal {
            id: "s1".into(),
            kind: kind.into(),
            data: data.into(),
        }
    }

    #[test]
    fn execute_snapshot_with_conditions() {
        let s = sig(
            EXECUTE_SNAPSHOT,
            r#"{"data-collections": ["public.a", "public.b"], "type": "INCREMENTAL",
                "additional-conditions": [{"data-collection": "public.a", "filter": "x > 10"}]}"#,
        );
        assert_eq!(
            s.action().unwrap(),
            Action::ExecuteSnapshot(SnapshotSpec {
                tables: vec!["public.a".into(), "public.b".into()],
                conditions: vec![("public.a".into(), "x > 10".into())],
            })
        );
        let blocking = sig(
            EXECUTE_SNAPSHOT,
            r#"{"data-collections": [], "type": "blocking"}"#,
        );
        assert!(matches!(
            blocking.action(),
            Err(SignalError::UnsupportedSnapshotType { .. })
        ));
        assert!(matches!(
            sig(EXECUTE_SNAPSHOT, "{nope").action(),
            Err(SignalError::BadData { .. })
        ));
        assert!(matches!(
            sig("alert", "").action(),
            Err(SignalError::UnknownType { .. })
        ));
        assert_eq!(
            sig(LOG, r#"{"message": "backfill done"}"#)
                .action()
                .unwrap(),
            Action::Log("backfill done".into())
        );
        assert!(matches!(
            sig(LOG, "").action(),
            Err(SignalError::BadData { .. })
        ));
        assert_eq!(
            sig(STOP_SNAPSHOT, "").action().unwrap(),
            Action::StopSnapshot(vec![])
        );
    }

    #[test]
    fn file_lines_take_data_as_object_or_text() {
        let a: Signal = serde_json::from_str(
            r#"{"id":"x","type":"execute-snapshot","data":{"data-collections":["public.t"]}}"#,
        )
        .unwrap();
        assert!(matches!(a.action(), Ok(Action::ExecuteSnapshot(s)) if s.tables == ["public.t"]));
        let b: Signal =
            serde_json::from_str(r#"{"id":"y","type":"pause-snapshot","data":null}"#).unwrap();
        assert_eq!(b.action().unwrap(), Action::PauseSnapshot);
        let round = SnapshotData::incremental(&SnapshotSpec {
            tables: vec!["public.t".into()],
            conditions: vec![("public.t".into(), "a > 1".into())],
        });
        let text = serde_json::to_string(&round).unwrap();
        let again = sig(EXECUTE_SNAPSHOT, &text).action().unwrap();
        assert!(matches!(again, Action::ExecuteSnapshot(s) if s.conditions.len() == 1));
        assert_ne!(new_id("a-"), new_id("a-"));
    }
}
