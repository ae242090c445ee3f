//! `source.snapshot` markers for rows read in parallel.
//!
//! Debezium marks the first row of the first table `first`, the last row it emits `last`, and
//! the first and last row of every other table `first_in_data_collection` /
//! `last_in_data_collection`; everything else `true`. Here tables are read in ctid chunks by
//! several workers, so a worker only knows the first and last row of its chunk. It holds those
//! two back (encoding the rest with `true`) and reports them when the chunk is done; once all
//! chunks of a table are in, the first row of its first non-empty chunk and the last row of its
//! last non-empty chunk are the table's first and last rows, in ctid order, which is the order a
//! single sequential scan (Debezium's) would have emitted them in. The table's last row is held
//! until the whole snapshot is done, so that the snapshot's very last record can be `last` even
//! when later tables are empty (as Debezium does).

use crate::event::SnapshotMarker;

/// The rows a worker held back from one chunk: its first row, and its last when that is a
/// different row. A chunk that starts a table (index 0) is the table's first rows for sure, so
/// once its second row shows that the first is not also the table's last, the worker sends the
/// first row itself, marked, ahead of the rest (`first: None, last: Some`); the topic then
/// starts with `first` / `first_in_data_collection` as Debezium's does.
#[derive(Debug)]
pub struct ChunkEnds<T> {
    pub first: Option<T>,
    pub last: Option<T>,
}

impl<T> ChunkEnds<T> {
    pub fn empty() -> Self {
        ChunkEnds {
            first: None,
            last: None,
        }
    }
}

struct TableState<T> {
    chunks: Vec<Option<ChunkEnds<T>>>,
    done: usize,
}

struct Held<T> {
    row: T,
    first_in_snapshot: bool,
    first_in_table: bool,
}

/// Collects chunk ends per table and decides their markers.
pub struct Markers<T> {
    tables: Vec<TableState<T>>,
    held_last: Vec<Option<Held<T>>>,
}

impl<T> Markers<T> {
    /// `chunks[i]`: how many chunks table `i` (in snapshot table order) is read in.
    pub fn new(chunks: &[usize]) -> Self {
        Markers {
            tables: chunks
                .iter()
                .map(|&n| TableState {
                    chunks: (0..n).map(|_| None).collect(),
                    done: 0,
                })
                .collect(),
            held_last: chunks.iter().map(|_| None).collect(),
        }
    }

    /// Records a finished chunk; when it completes its table, returns the rows that can be
    /// emitted now with their markers (all but the table's last row).
    pub fn chunk_done(
        &mut self,
        table: usize,
        chunk: usize,
        ends: ChunkEnds<T>,
    ) -> Vec<(T, SnapshotMarker)> {
        let state = &mut self.tables[table];
        if state.chunks[chunk].replace(ends).is_none() {
            state.done += 1;
        }
        if state.done < state.chunks.len() {
            return Vec::new();
        }
        let nonempty = |c: &Option<ChunkEnds<T>>| {
            c.as_ref()
                .is_some_and(|e| e.first.is_some() || e.last.is_some())
        };
        let first_chunk = state.chunks.iter().position(nonempty);
        let last_chunk = state.chunks.iter().rposition(nonempty);
        let mut out = Vec::new();
        for (i, c) in state.chunks.iter_mut().enumerate() {
            let Some(ends) = c.take() else { continue };
            let first_in_table = Some(i) == first_chunk;
            let first_in_snapshot = first_in_table && table == 0;
            let is_last_chunk = Some(i) == last_chunk;
            let opening = SnapshotMarker::for_read(first_in_snapshot, false, first_in_table, false);
            let (closing, opening_held) = match (ends.first, ends.last) {
                (Some(first), Some(last)) => {
                    out.push((first, opening));
                    (last, false)
                }
                // A one-row chunk: its row is both ends.
                (Some(only), None) => (only, true),
                // The worker already sent the first row (see `ChunkEnds`).
                (None, Some(last)) => (last, false),
                (None, None) => continue,
            };
            if is_last_chunk {
                self.held_last[table] = Some(Held {
                    row: closing,
                    first_in_snapshot: opening_held && first_in_snapshot,
                    first_in_table: opening_held && first_in_table,
                });
            } else if opening_held {
                out.push((closing, opening));
            } else {
                out.push((closing, SnapshotMarker::True));
            }
        }
        out
    }

    /// After every chunk is done: the held last rows of all tables, the snapshot's last record
    /// (the last row of the last non-empty table) at the end and marked `last`.
    pub fn finish(self) -> Vec<(T, SnapshotMarker)> {
        let last_table = self.held_last.iter().rposition(Option::is_some);
        self.held_last
            .into_iter()
            .enumerate()
            .filter_map(|(i, h)| {
                let h = h?;
                let last_in_snapshot = Some(i) == last_table;
                Some((
                    h.row,
                    SnapshotMarker::for_read(
                        h.first_in_snapshot,
                        last_in_snapshot,
                        h.first_in_table,
                        true,
                    ),
                ))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use SnapshotMarker as M;

    fn ends(first: Option<&'static str>, last: Option<&'static str>) -> ChunkEnds<&'static str> {
        ChunkEnds { first, last }
    }

    #[test]
    fn two_tables_one_row_each_like_the_debezium_sample() {
        let mut m = Markers::new(&[1, 1]);
        assert_eq!(m.chunk_done(0, 0, ends(Some("a1"), None)), vec![]);
        assert_eq!(m.chunk_done(1, 0, ends(Some("b1"), None)), vec![]);
        assert_eq!(m.finish(), vec![("a1", M::First), ("b1", M::Last)]);
    }

    #[test]
    fn chunks_finish_out_of_order_and_empty_chunks_are_skipped() {
        // Table 0: chunks [a1..a2] [empty] [a3..a4]; table 1: [empty] [b1] [b2..b3] [empty].
        let mut m = Markers::new(&[3, 4]);
        assert!(m.chunk_done(1, 3, ChunkEnds::empty()).is_empty());
        assert!(m.chunk_done(0, 2, ends(Some("a3"), Some("a4"))).is_empty());
        assert!(m.chunk_done(1, 1, ends(Some("b1"), None)).is_empty());
        assert!(m.chunk_done(0, 1, ChunkEnds::empty()).is_empty());
        let t0 = m.chunk_done(0, 0, ends(Some("a1"), Some("a2")));
        assert_eq!(t0, vec![("a1", M::First), ("a2", M::True), ("a3", M::True)]);
        assert!(m.chunk_done(1, 0, ChunkEnds::empty()).is_empty());
        let t1 = m.chunk_done(1, 2, ends(Some("b2"), Some("b3")));
        assert_eq!(t1, vec![("b1", M::FirstInDataCollection), ("b2", M::True)]);
        assert_eq!(
            m.finish(),
            vec![("a4", M::LastInDataCollection), ("b3", M::Last)]
        );
    }

    #[test]
    fn empty_last_table_moves_last_to_the_previous_one() {
        let mut m = Markers::new(&[1, 1, 1]);
        assert!(m.chunk_done(0, 0, ChunkEnds::empty()).is_empty());
        assert!(m.chunk_done(1, 0, ends(Some("b1"), Some("b2"))).len() == 1);
        assert!(m.chunk_done(2, 0, ChunkEnds::empty()).is_empty());
        // Table 0 is empty, so nothing is `first` (as in Debezium).
        assert_eq!(m.finish(), vec![("b2", M::Last)]);
    }

    #[test]
    fn single_row_snapshot_is_last() {
        let mut m = Markers::new(&[2]);
        assert!(m.chunk_done(0, 1, ChunkEnds::empty()).is_empty());
        assert!(m.chunk_done(0, 0, ends(Some("x"), None)).is_empty());
        assert_eq!(m.finish(), vec![("x", M::Last)]);
    }

    #[test]
    fn first_row_already_sent_by_the_worker() {
        let mut m = Markers::new(&[2, 1]);
        assert!(m.chunk_done(0, 0, ends(None, Some("a2"))).is_empty());
        assert_eq!(
            m.chunk_done(0, 1, ends(Some("a3"), Some("a4"))),
            vec![("a2", M::True), ("a3", M::True)]
        );
        assert!(m.chunk_done(1, 0, ends(None, Some("b9"))).is_empty());
        assert_eq!(
            m.finish(),
            vec![("a4", M::LastInDataCollection), ("b9", M::Last)]
        );
    }
}
