//! Where serialized records go. Today: Kafka.
//!
//! The sink owns everything about its client: its settings, its errors and what they mean.
//! The pipeline only asks a failure which [`ErrorClass`] it is, and a refused record's
//! [`SizeLimit`], so no other module knows librdkafka's codes or properties.

pub mod kafka;
#[cfg(test)]
pub mod memory;
mod refusal;

use std::future::Future;

pub use kafka::{Acks, KafkaSink, KafkaSinkConfig, SinkError};

use crate::format::Record;

/// What the emit path needs of a sink: accept one record (queued; durable once the sink
/// acknowledges it) or refuse it with an error the sink has classified
/// ([`SinkError::class`]), and say when everything accepted so far is durable.
pub trait Sink: Send {
    fn send(&mut self, rec: &Record) -> impl Future<Output = Result<(), SinkError>> + Send;

    /// Waits until every record accepted so far is acknowledged; fails if one of them failed.
    fn durable(&self) -> impl Future<Output = Result<(), SinkError>> + Send;
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
