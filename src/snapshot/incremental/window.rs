//! The DBLog window of one chunk. The chunk's rows are read between two watermarks written to
//! the signal table; while the stream is between the open and the close watermark, every
//! streamed change to a key of the chunk drops that row from the buffer, because the stream
//! already carries a state at least as new. At the close watermark the rows left are emitted,
//! in the order they were read, right there in the stream, so no snapshot row can overtake a
//! newer streamed change of its key.

use std::collections::HashMap;
use std::hash::Hash;

pub struct Window<K, V> {
    /// The chunk the buffer belongs to; watermarks of other chunks (older runs, replays) are
    /// ignored.
    chunk: Option<String>,
    open: bool,
    rows: Vec<Option<V>>,
    index: HashMap<K, usize>,
}

impl<K: Eq + Hash, V> Default for Window<K, V> {
    fn default() -> Self {
        Window {
            chunk: None,
            open: false,
            rows: Vec::new(),
            index: HashMap::new(),
        }
    }
}

impl<K: Eq + Hash, V> Window<K, V> {
    /// Buffers the rows of chunk `id`, read after its open watermark was written. Replaces any
    /// earlier buffer.
    pub fn fill(&mut self, id: &str, rows: impl IntoIterator<Item = (K, V)>) {
        self.clear();
        self.chunk = Some(id.to_string());
        for (k, v) in rows {
            // A key read twice (impossible for a primary key) keeps its last row.
            if let Some(&i) = self.index.get(&k) {
                self.rows[i] = None;
            }
            self.index.insert(k, self.rows.len());
            self.rows.push(Some(v));
        }
    }

    /// Drops the buffer (stop-snapshot).
    pub fn clear(&mut self) {
        self.chunk = None;
        self.open = false;
        self.rows.clear();
        self.index.clear();
    }

    /// The chunk whose watermarks are awaited.
    pub fn chunk(&self) -> Option<&str> {
        self.chunk.as_deref()
    }

    /// The open watermark `id` arrived through the stream. Returns whether it is this chunk's.
    pub fn open(&mut self, id: &str) -> bool {
        if self.chunk.as_deref() == Some(id) {
            self.open = true;
        }
        self.open
    }

    pub fn is_open(&self) -> bool {
        self.open
    }

    /// A streamed change of key `k` of the chunk's table: while the window is open, the stream
    /// wins over the buffered row. Returns whether a row was dropped.
    pub fn streamed(&mut self, k: &K) -> bool {
        if !self.open {
            return false;
        }
        match self.index.remove(k) {
            Some(i) => self.rows[i].take().is_some(),
            None => false,
        }
    }

    /// The close watermark `id` arrived: the rows to emit, in read order, or `None` when it is
    /// not this chunk's open window closing.
    pub fn close(&mut self, id: &str) -> Option<Vec<V>> {
        if !self.open || self.chunk.as_deref() != Some(id) {
            return None;
        }
        let rows = std::mem::take(&mut self.rows)
            .into_iter()
            .flatten()
            .collect();
        self.clear();
        Some(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window() -> Window<u32, &'static str> {
        let mut w = Window::default();
        w.fill("c1", [(1, "r1"), (2, "r2"), (3, "r3"), (4, "r4")]);
        w
    }

    #[test]
    fn changes_inside_the_window_drop_buffered_rows() {
        let mut w = window();
        // Before the open watermark the read already saw the change: nothing dropped.
        assert!(!w.streamed(&1));
        assert!(w.open("c1"));
        assert!(w.streamed(&2));
        assert!(!w.streamed(&2), "already dropped");
        assert!(!w.streamed(&9), "not in the chunk");
        assert!(w.streamed(&4));
        assert_eq!(w.close("c1"), Some(vec!["r1", "r3"]));
        // Closed: later changes are after the emitted rows anyway.
        assert!(!w.streamed(&1));
        assert_eq!(w.chunk(), None);
    }

    #[test]
    fn watermarks_of_other_chunks_are_ignored() {
        let mut w = window();
        assert!(!w.open("old"));
        assert_eq!(w.close("old"), None);
        assert_eq!(w.close("c1"), None, "never opened");
        assert!(w.open("c1"));
        assert_eq!(w.close("old"), None);
        assert!(w.is_open());
        assert_eq!(w.close("c1").unwrap().len(), 4);
        assert_eq!(w.close("c1"), None, "closes once");
    }

    #[test]
    fn refill_and_clear_forget_the_old_chunk() {
        let mut w = window();
        w.open("c1");
        w.fill("c2", [(7, "r7")]);
        assert!(!w.is_open());
        assert!(!w.streamed(&7));
        assert!(w.open("c2"));
        w.clear();
        assert_eq!(w.close("c2"), None);
        let mut e: Window<u32, u32> = Window::default();
        e.fill("c3", []);
        e.open("c3");
        assert_eq!(e.close("c3"), Some(vec![]));
    }
}
