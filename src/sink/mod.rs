//! Where serialized records go. Today: Kafka.
//!
//! A sink accepts records ([`Sink::send`]: queued, not yet safe) and reports which of them are
//! durable ([`Sink::acks`]: a watermark over the records accepted so far, which the progress
//! code waits on before it stores or confirms a position). What only some destinations can do
//! is a capability of its own ([`Transactions`] for exactly-once).
//!
//! The sink owns everything about its client: its settings, its errors and what they mean, its
//! logging. The rest of pgcdc only asks a failure which [`ErrorClass`] it is and a sink its
//! [`SizeLimit`], so no other module knows a client library's codes or properties. A new
//! destination is one module here, one variant of [`AnySink`] and one `[sink] type`.

pub mod kafka;
#[cfg(test)]
pub mod memory;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;

use crate::config::SinkConfig;
use crate::format::Record;

pub use kafka::read::{RawRecord, TopicError};

/// What the emit path needs of a destination.
pub trait Sink: Send {
    /// Accepts one record: queued, durable once [`Sink::acks`] covers it. Waits (without
    /// spinning) while the destination's queue is full; that is the backpressure on the slot.
    fn send(&mut self, rec: &Record) -> impl Future<Output = Result<(), SinkError>> + Send;

    /// Records accepted so far; the next one is number `sent()`.
    fn sent(&self) -> u64;

    /// Which accepted records are durable.
    fn acks(&self) -> Arc<dyn Acknowledgements>;

    /// Waits until every record accepted so far is durable; fails if one of them failed.
    fn durable(&self) -> impl Future<Output = Result<(), SinkError>> + Send {
        let (acks, count) = (self.acks(), self.sent());
        async move { acks.wait_for(count).await }
    }

    /// The largest record the destination takes, for the error line of a refused one.
    fn size_limit(&self) -> SizeLimit;

    /// After a failure: drops every record that is queued but not durable (it would arrive
    /// after the failed one, out of order) and starts over with a fresh client whose count of
    /// accepted records is 0. The caller re-sends from the last durable position.
    fn reset(&mut self) -> Result<(), SinkError>;

    /// Exactly-once: the destination's transactions, when it has them and they are on.
    fn transactions(&mut self) -> Option<&mut dyn Transactions> {
        None
    }
}

/// The durable watermark of a sink's accepted records.
pub trait Acknowledgements: Send + Sync {
    /// Waits until the first `count` accepted records are durable; fails if one of them
    /// failed (nothing at or after a failed record ever counts as durable).
    fn wait_for(&self, count: u64) -> BoxFuture<'_, Result<(), SinkError>>;
}

/// Atomic batches of records: everything sent between two commits becomes visible to readers
/// at once, or never.
pub trait Transactions: Send {
    /// Registers with the destination, which fences any older instance with the same
    /// identity and aborts what it left open. Call before sending; later calls do nothing.
    fn init(&mut self) -> BoxFuture<'_, Result<(), SinkError>>;
    /// How long the open transaction has been running, if one is open (the first record sent
    /// after a commit opens one).
    fn age(&self) -> Option<Duration>;
    /// Records sent in the open transaction.
    fn records(&self) -> u64;
    /// Makes every record of the open transaction durable and visible; nothing when none is
    /// open.
    fn commit(&mut self) -> Result<(), SinkError>;
    /// Drops the open transaction, if any. Best effort: a fresh client's `init` aborts it too.
    fn abort(&mut self) -> Result<(), SinkError>;
}

/// The configured sink. One variant per destination, so the pipeline is compiled against
/// each without a virtual call per record.
pub enum AnySink {
    Kafka(kafka::KafkaSink),
}

impl AnySink {
    /// The sink `[sink]` describes, for a connector named `connector` with `topic_prefix`
    /// (some defaults are made of them).
    pub fn build(cfg: &SinkConfig, connector: &str, topic_prefix: &str) -> Result<Self, SinkError> {
        match cfg {
            SinkConfig::Kafka(k) => Ok(AnySink::Kafka(kafka::KafkaSink::new(
                kafka::KafkaSinkConfig::from_config(k, connector, topic_prefix),
            )?)),
        }
    }
}

impl Sink for AnySink {
    async fn send(&mut self, rec: &Record) -> Result<(), SinkError> {
        match self {
            AnySink::Kafka(k) => Ok(k.send(rec).await?),
        }
    }

    fn sent(&self) -> u64 {
        match self {
            AnySink::Kafka(k) => k.sent(),
        }
    }

    fn acks(&self) -> Arc<dyn Acknowledgements> {
        match self {
            AnySink::Kafka(k) => k.acks(),
        }
    }

    fn size_limit(&self) -> SizeLimit {
        match self {
            AnySink::Kafka(k) => k.size_limit(),
        }
    }

    fn reset(&mut self) -> Result<(), SinkError> {
        match self {
            AnySink::Kafka(k) => Ok(k.reset()?),
        }
    }

    fn transactions(&mut self) -> Option<&mut dyn Transactions> {
        match self {
            AnySink::Kafka(k) => k.transactions(),
        }
    }
}

/// Reads every record of `topic` from its start to its current end, without joining a group
/// or committing anything (`pgcdc verify` / `replay`). Stops with an error when no record
/// arrives for `stall`.
pub fn read_topic(
    cfg: &SinkConfig,
    topic: &str,
    stall: Duration,
    f: impl FnMut(RawRecord<'_>),
) -> Result<u64, TopicError> {
    match cfg {
        SinkConfig::Kafka(k) => kafka::read::read(k, topic, stall, f),
    }
}

/// A sink failure, by destination.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error(transparent)]
    Kafka(#[from] kafka::KafkaSinkError),
    #[cfg(test)]
    #[error(transparent)]
    Memory(#[from] memory::MemoryError),
}

impl SinkError {
    /// What this failure means for the pipeline.
    pub fn class(&self) -> ErrorClass {
        match self {
            SinkError::Kafka(e) => e.class(),
            #[cfg(test)]
            SinkError::Memory(e) => e.class(),
        }
    }

    /// Whether reconnecting and re-sending from the last durable position may succeed.
    pub fn is_transient(&self) -> bool {
        self.class() == ErrorClass::Transient
    }
}

/// What a sink failure means for the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Reconnecting and re-sending from the last durable position may succeed.
    Transient,
    /// Retrying would fail the same way (bad settings, permissions, fenced).
    Definite,
    /// This one record is larger than the sink accepts; the next ones may pass.
    TooLarge,
}

/// The largest record a sink accepts, for the error line of a refused one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SizeLimit {
    pub bytes: u64,
    /// What to change to accept larger records.
    pub how_to_raise: String,
}
