//! The one way out for records. The stream, the initial and incremental snapshots, heartbeats,
//! transaction metadata and dead letters all leave through an [`Emitter`]: each path turns its
//! events into records with [`crate::format::encode_transformed`] (transforms, then the
//! serializer), and the emitter hands them to the sink under `[errors]` (fail, warn, skip,
//! dead-letter topic). Nothing else calls a sink.

pub mod failure;

use std::sync::Arc;

pub use failure::{EmitError, EventFailure, FailureCounts, FailureKind, FailurePolicy, Failures};

use crate::event::TableSchema;
use crate::format::Record;
use crate::sink::{Sink, SinkError};

/// A sink with the `[errors]` policy in front of it. Lives as long as the connector runs, so
/// the counts of passed events cover every session.
pub struct Emitter<S> {
    sink: S,
    failures: Failures,
}

impl<S: Sink> Emitter<S> {
    /// `policy` with the sink's own size limit, for the error line of a refused record.
    pub fn new(sink: S, mut policy: FailurePolicy) -> Self {
        policy.size_limit = sink.size_limit();
        Emitter {
            sink,
            failures: Failures {
                policy,
                counts: FailureCounts::default(),
            },
        }
    }

    /// Sends `rec`; a record the sink refuses as too large is a failed event, which
    /// `[errors]` stops at, passes, or turns into a dead letter. `table` is looked up only
    /// then, for the error line.
    pub async fn emit(
        &mut self,
        rec: &Record,
        table: impl Fn() -> Option<Arc<TableSchema>>,
    ) -> Result<(), EmitError> {
        self.failures.send(&mut self.sink, rec, table).await
    }

    /// [`Emitter::emit`] for each of `records`, which it leaves empty.
    pub async fn emit_all(
        &mut self,
        records: &mut Vec<Record>,
        table: impl Fn() -> Option<Arc<TableSchema>>,
    ) -> Result<(), EmitError> {
        for rec in records.drain(..) {
            self.failures.send(&mut self.sink, &rec, &table).await?;
        }
        Ok(())
    }

    /// A record of the pipeline's own bookkeeping (an offset record in exactly-once mode): not
    /// an event, so no `[errors]` policy; any refusal stops the session.
    pub async fn emit_control(&mut self, rec: &Record) -> Result<(), SinkError> {
        self.sink.send(rec).await
    }

    /// `[errors]` and what it passed so far, for a change whose values could not be converted.
    pub fn failures(&mut self) -> &mut Failures {
        &mut self.failures
    }

    pub fn sink(&self) -> &S {
        &self.sink
    }

    /// For the sink's capabilities (acknowledgements, transactions, reset), never for sending.
    pub fn sink_mut(&mut self) -> &mut S {
        &mut self.sink
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ErrorsConfig, FailureMode};
    use crate::format::EventId;
    use crate::lsn::Lsn;
    use crate::sink::memory::MemorySink;

    /// Version `v` of row `key`, the `index`-th record of the transaction committed at `lsn`.
    fn change(key: u8, v: u32, lsn: u64) -> Record {
        Record {
            topic: "p.public.t".into(),
            key: Some(vec![key]),
            value: Some(v.to_be_bytes().to_vec()),
            headers: Vec::new(),
            event_id: Some(EventId::wal(Lsn(lsn), 0)),
        }
    }

    fn emitter(sink: MemorySink, mode: FailureMode, dlq: Option<&str>) -> Emitter<MemorySink> {
        let errors = ErrorsConfig {
            mode,
            dead_letter_topic: dlq.map(String::from),
        };
        Emitter::new(
            sink,
            FailurePolicy::from_config(&errors, Default::default()),
        )
    }

    /// The versions of each key in the order the sink holds them.
    fn versions(sink: &MemorySink) -> Vec<(u8, u32)> {
        sink.accepted
            .iter()
            .map(|r| {
                let v = r.value.as_deref().unwrap().try_into().unwrap();
                (r.key.as_ref().unwrap()[0], u32::from_be_bytes(v))
            })
            .collect()
    }

    /// A failed delivery in the middle: what was acknowledged before it stays, the rest is
    /// dropped by the reset and sent again from the durable position, so every key's versions
    /// reach the sink in order, none skipped.
    #[tokio::test]
    async fn per_key_order_holds_across_a_retry() {
        let changes: Vec<Record> = (0..12u32)
            .map(|i| change((i % 3) as u8, i / 3, 0x100 + u64::from(i)))
            .collect();
        let mut emit = emitter(MemorySink::manual(), FailureMode::Fail, None);
        for rec in &changes[..8] {
            emit.emit(rec, || None).await.unwrap();
        }
        let acks = emit.sink().memory_acks();
        acks.ack_through(5);
        acks.fail(5);
        let err = emit.sink().durable().await.unwrap_err();
        assert!(err.is_transient(), "{err}");
        // What a session does after a transient failure: reset, resume after the durable ones.
        let durable = 5;
        emit.sink_mut().reset().unwrap();
        assert_eq!(emit.sink().sent(), 0, "a fresh client counts from 0");
        for rec in &changes[durable..] {
            emit.emit(rec, || None).await.unwrap();
        }
        emit.sink().memory_acks().ack_through(7);
        emit.sink().durable().await.unwrap();
        let got = versions(emit.sink());
        assert_eq!(got.len(), changes.len(), "{got:?}");
        for key in 0..3u8 {
            let seq: Vec<u32> = got.iter().filter(|(k, _)| *k == key).map(|p| p.1).collect();
            assert_eq!(seq, [0, 1, 2, 3], "versions of key {key}");
        }
    }

    /// The stream hands the emitter a transaction's records at once, a snapshot one row at a
    /// time; an oversized record follows `[errors]` the same way on both.
    #[tokio::test]
    async fn an_oversized_record_follows_the_mode_on_every_path() {
        let mut big = change(1, 1, 0x200);
        big.value = Some(vec![0; 100]);
        let batch = vec![change(0, 0, 0x200), big, change(2, 0, 0x200)];
        for (mode, dlq, want) in [
            (FailureMode::Fail, None, vec!["p.public.t"]),
            (FailureMode::Skip, None, vec!["p.public.t", "p.public.t"]),
            (
                FailureMode::Warn,
                Some("dlq"),
                vec!["p.public.t", "dlq", "p.public.t"],
            ),
        ] {
            let mut stream = emitter(MemorySink::with_limit(50), mode, dlq);
            let res = stream.emit_all(&mut batch.clone(), || None).await;
            let mut snapshot = emitter(MemorySink::with_limit(50), mode, dlq);
            let mut res2 = Ok(());
            for rec in &batch {
                res2 = snapshot.emit(rec, || None).await;
                if res2.is_err() {
                    break;
                }
            }
            for (path, e, r) in [("stream", &stream, &res), ("snapshot", &snapshot, &res2)] {
                let topics: Vec<&str> = e.sink().accepted.iter().map(|r| &*r.topic).collect();
                assert_eq!(topics, want, "{path} under {mode:?}");
                assert_eq!(r.is_err(), mode == FailureMode::Fail, "{path}: {r:?}");
            }
        }
    }
}
