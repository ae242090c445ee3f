//! What the status page shows of one connector, gathered in one place for both the HTML and
//! its script's JSON (`/status/history`): state, last error split from its fix, snapshot
//! progress and the sampled history.

use serde::Serialize;

use super::history::{History, Series};
use super::scrape::{Incremental, Reading, Snapshot};
use crate::observe::{State, Status};

#[derive(Debug, Clone, Serialize)]
pub struct ConnectorView {
    pub name: String,
    pub state: State,
    /// The last error without its fix (already masked by `observe`).
    pub error: Option<String>,
    /// What to do about it, when the message says.
    pub fix: Option<String>,
    pub error_definite: bool,
    pub snapshot: Snapshot,
    /// The initial snapshot's progress in words; `None` when none ran in this process.
    pub snapshot_text: Option<String>,
    pub incremental: Incremental,
    pub incremental_text: Option<String>,
    pub history: Series,
}

/// The page's body for the JSON endpoint.
#[derive(Debug, Serialize)]
pub struct Page {
    pub now_ms: i64,
    pub window_ms: i64,
    pub connectors: Vec<ConnectorView>,
}

impl ConnectorView {
    pub fn new(status: Status, reading: Option<&Reading>, history: &History) -> Self {
        let (error, fix) = match &status.last_error {
            Some(text) => {
                let (e, f) = split_fix(text);
                (Some(e), f)
            }
            None => (None, None),
        };
        let reading = reading.cloned().unwrap_or_default();
        ConnectorView {
            history: history.series(&status.name),
            name: status.name,
            state: status.state,
            error,
            fix,
            error_definite: status.last_error_definite,
            snapshot_text: snapshot_text(&reading.snapshot),
            snapshot: reading.snapshot,
            incremental_text: incremental_text(&reading.incremental),
            incremental: reading.incremental,
        }
    }
}

impl Snapshot {
    pub fn tables_done(&self) -> u64 {
        self.tables_total.saturating_sub(self.tables_remaining)
    }
}

/// Formatted here, once, so that the page and its script's updates say the same.
fn snapshot_text(s: &Snapshot) -> Option<String> {
    let (done, total, rows) = (s.tables_done(), s.tables_total, grouped(s.rows_scanned));
    if s.running {
        Some(format!(
            "running: {done} of {total} tables done, {rows} rows scanned"
        ))
    } else if s.completed {
        Some(format!("completed: {total} tables, {rows} rows"))
    } else if total > 0 {
        Some(format!(
            "stopped: {done} of {total} tables done, {rows} rows scanned"
        ))
    } else {
        None
    }
}

fn incremental_text(s: &Incremental) -> Option<String> {
    let rows = grouped(s.rows);
    if s.running {
        let paused = if s.paused { " (paused)" } else { "" };
        Some(format!(
            "running{paused}: {} tables to go, {rows} rows",
            s.tables_remaining
        ))
    } else if s.rows > 0 {
        Some(format!("done: {rows} rows"))
    } else {
        None
    }
}

/// `1234567` as `1,234,567`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Words a fix starts with. pgcdc's messages end in what to do after a colon ("...: check
/// database.host and ..."), and only an imperative there tells a fix from a cause ("...:
/// connection refused").
const IMPERATIVES: [&str; 24] = [
    "add", "allow", "change", "check", "choose", "correct", "create", "drop", "enable", "give",
    "grant", "increase", "install", "leave", "let", "lower", "make", "raise", "remove", "restart",
    "set", "start", "stop", "use",
];

/// `text` split into the error and its fix: an explicit `; fix: ...`, else a last `: ...`
/// segment starting with an imperative (before a PostgreSQL `(SQLSTATE ...)`, `; detail:` or
/// `; hint:`, which stay with the error), else the server's `; hint: ...`.
pub fn split_fix(text: &str) -> (String, Option<String>) {
    if let Some((error, fix)) = text.split_once("; fix: ") {
        return (error.to_string(), Some(fix.to_string()));
    }
    let end = [" (SQLSTATE ", "; detail: ", "; hint: "]
        .iter()
        .filter_map(|m| text.find(m))
        .min()
        .unwrap_or(text.len());
    let (head, tail) = text.split_at(end);
    if let Some((error, fix)) = head.rsplit_once(": ") {
        let first = fix.split(|c: char| !c.is_alphabetic()).next().unwrap_or("");
        if IMPERATIVES.contains(&first.to_ascii_lowercase().as_str()) {
            return (format!("{error}{tail}"), Some(fix.to_string()));
        }
    }
    match text.split_once("; hint: ") {
        Some((error, hint)) => (error.to_string(), Some(hint.to_string())),
        None => (text.to_string(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str) -> (String, Option<String>) {
        split_fix(text)
    }

    #[test]
    fn a_postgresql_error_keeps_its_sqlstate_and_gives_its_advice() {
        let (e, f) = split(
            "replication failed: publication \"p\" does not exist: the publication does not \
             exist: check publication.name or enable publication autocreation (SQLSTATE 42704)",
        );
        assert_eq!(
            e,
            "replication failed: publication \"p\" does not exist: the publication does not \
             exist (SQLSTATE 42704)"
        );
        assert_eq!(
            f.as_deref(),
            Some("check publication.name or enable publication autocreation")
        );
    }

    #[test]
    fn explicit_fix_and_server_hint() {
        let (e, f) = split("value out of range; fix: correct the value in the database");
        assert_eq!(e, "value out of range");
        assert_eq!(f.as_deref(), Some("correct the value in the database"));
        let (e, f) = split("permission denied (SQLSTATE 42501); hint: ask the owner");
        assert_eq!(e, "permission denied (SQLSTATE 42501)");
        assert_eq!(f.as_deref(), Some("ask the owner"));
    }

    #[test]
    fn snapshot_progress_in_words() {
        let mut s = Snapshot {
            running: true,
            completed: false,
            tables_total: 3,
            tables_remaining: 2,
            rows_scanned: 1_234_567,
        };
        assert_eq!(
            snapshot_text(&s).unwrap(),
            "running: 1 of 3 tables done, 1,234,567 rows scanned"
        );
        s.running = false;
        s.completed = true;
        assert_eq!(
            snapshot_text(&s).unwrap(),
            "completed: 3 tables, 1,234,567 rows"
        );
        assert_eq!(snapshot_text(&Snapshot::default()), None);
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
    }

    #[test]
    fn a_cause_is_not_a_fix() {
        let text = "connection to PostgreSQL failed: connection refused (os error 111)";
        assert_eq!(split(text), (text.to_string(), None));
        assert_eq!(split("plain"), ("plain".to_string(), None));
    }
}
