//! The incremental snapshot's progress as stored with the offsets: which tables remain, how
//! far the current one was emitted, whether it is paused. Written at the checkpoint whose
//! records it describes, so after a restart the snapshot continues after the last chunk Kafka
//! acknowledged (that chunk's successor is read again; none is skipped).
//!
//! The offset store owns this document because it persists it; the incremental snapshot
//! (downstream) fills it in.

use serde::{Deserialize, Serialize};

/// A primary key (or `message.key.columns` key) as the text PostgreSQL prints for each column,
/// in key order; `None` for SQL NULL.
pub type KeyText = Vec<Option<String>>;

/// One table of an incremental snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableTask {
    /// `schema.table`.
    pub table: String,
    /// `additional-conditions` filter, an SQL condition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// The key of the last row emitted and acknowledged; the next chunk starts after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_key: Option<KeyText>,
    /// The table's largest key when its snapshot started: rows inserted above it later are
    /// streamed anyway, so the snapshot ends there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_key: Option<KeyText>,
    /// Chunks and rows of this table emitted so far.
    #[serde(default)]
    pub chunks: u64,
    #[serde(default)]
    pub rows: u64,
}

impl TableTask {
    pub fn new(table: String, filter: Option<String>) -> Self {
        TableTask {
            table,
            filter,
            last_key: None,
            max_key: None,
            chunks: 0,
            rows: 0,
        }
    }
}

/// Everything the incremental snapshot and the signal file channel need to resume.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncrementalState {
    /// Tables still to read, in order; the first one is being read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<TableTask>,
    /// `pause-snapshot` received: no new chunk is read until `resume-snapshot`.
    #[serde(default)]
    pub paused: bool,
    /// Chunks and rows emitted since the snapshot was requested (all its tables).
    #[serde(default)]
    pub chunks: u64,
    #[serde(default)]
    pub rows: u64,
    /// Tables whose snapshot completed since it was requested.
    #[serde(default)]
    pub tables_done: u64,
    /// Byte offset in the signal file of the first line not yet acted on.
    #[serde(default)]
    pub signal_file_offset: u64,
}

impl IncrementalState {
    /// A snapshot is running (possibly paused).
    pub fn running(&self) -> bool {
        !self.tables.is_empty()
    }

    pub fn current(&self) -> Option<&TableTask> {
        self.tables.first()
    }

    /// Queues tables not already queued; a new snapshot (none running) starts its counters
    /// from zero. Returns the names added.
    pub fn add(&mut self, tables: Vec<TableTask>) -> Vec<String> {
        if !self.running() {
            self.chunks = 0;
            self.rows = 0;
            self.tables_done = 0;
            self.paused = false;
        }
        let mut added = Vec::new();
        for t in tables {
            if !self.tables.iter().any(|q| q.table == t.table) {
                added.push(t.table.clone());
                self.tables.push(t);
            }
        }
        added
    }

    /// Drops the named tables, or all of them when `tables` is empty. Returns whether the
    /// current table was among them.
    pub fn stop(&mut self, tables: &[String]) -> bool {
        let current = self.current().map(|t| t.table.clone());
        if tables.is_empty() {
            self.tables.clear();
        } else {
            self.tables.retain(|t| !tables.contains(&t.table));
        }
        if !self.running() {
            self.paused = false;
        }
        current.is_some_and(|c| self.current().is_none_or(|n| n.table != c))
    }

    /// A chunk of the current table was emitted: `rows` rows, the last with `last_key`;
    /// `table_done` when the table has nothing after it.
    pub fn chunk_emitted(&mut self, rows: u64, last_key: Option<KeyText>, table_done: bool) {
        self.chunks += 1;
        self.rows += rows;
        if let Some(t) = self.tables.first_mut() {
            t.chunks += 1;
            t.rows += rows;
            if last_key.is_some() {
                t.last_key = last_key;
            }
        }
        if table_done {
            self.finish_current();
        }
    }

    /// The current table is complete (or cannot be read); the next one becomes current.
    pub fn finish_current(&mut self) {
        if !self.tables.is_empty() {
            self.tables.remove(0);
            self.tables_done += 1;
        }
        if !self.running() {
            self.paused = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(v: &str) -> Option<KeyText> {
        Some(vec![Some(v.to_string())])
    }

    #[test]
    fn tables_progress_and_stop() {
        let mut s = IncrementalState::default();
        assert!(!s.running());
        let added = s.add(vec![
            TableTask::new("public.a".into(), None),
            TableTask::new("public.b".into(), Some("x > 1".into())),
        ]);
        assert_eq!(added, vec!["public.a", "public.b"]);
        assert!(s
            .add(vec![TableTask::new("public.a".into(), None)])
            .is_empty());
        s.chunk_emitted(10, key("10"), false);
        assert_eq!(s.current().unwrap().last_key, key("10"));
        // An empty last chunk keeps the key it had.
        s.chunk_emitted(0, None, true);
        assert_eq!(s.current().unwrap().table, "public.b");
        assert_eq!((s.chunks, s.rows, s.tables_done), (2, 10, 1));
        s.paused = true;
        assert!(s.stop(&["public.b".into()]));
        assert!(!s.running());
        assert!(!s.paused, "nothing to pause once stopped");
        // A new request starts the counters again.
        s.add(vec![TableTask::new("public.c".into(), None)]);
        assert_eq!((s.chunks, s.rows), (0, 0));
        assert!(!s.stop(&["public.zzz".into()]));
        assert!(s.stop(&[]));
    }

    #[test]
    fn old_offsets_without_fields_read_as_idle() {
        let s: IncrementalState = serde_json::from_str("{}").unwrap();
        assert_eq!(s, IncrementalState::default());
        let text = serde_json::to_string(&IncrementalState {
            tables: vec![TableTask::new("public.a".into(), None)],
            ..Default::default()
        })
        .unwrap();
        let back: IncrementalState = serde_json::from_str(&text).unwrap();
        assert_eq!(back.current().unwrap().table, "public.a");
    }
}
