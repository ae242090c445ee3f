//! A sink in memory, for unit tests of the emit path: it keeps what it accepts, in order, and
//! refuses records above a size limit the way the Kafka producer does.

use rdkafka::error::{KafkaError, RDKafkaErrorCode};

use super::{Sink, SinkError};
use crate::format::Record;

#[derive(Debug, Default)]
pub struct MemorySink {
    /// Records accepted, in the order they were sent.
    pub accepted: Vec<Record>,
    /// Larger records (key and value bytes) are refused as too large.
    pub max_bytes: Option<usize>,
}

impl MemorySink {
    pub fn with_limit(max_bytes: usize) -> Self {
        MemorySink {
            accepted: Vec::new(),
            max_bytes: Some(max_bytes),
        }
    }

    fn size(rec: &Record) -> usize {
        rec.key.as_ref().map_or(0, Vec::len) + rec.value.as_ref().map_or(0, Vec::len)
    }
}

impl Sink for MemorySink {
    async fn send(&mut self, rec: &Record) -> Result<(), SinkError> {
        if self.max_bytes.is_some_and(|max| Self::size(rec) > max) {
            return Err(SinkError::Produce {
                topic: rec.topic.to_string(),
                source: KafkaError::MessageProduction(RDKafkaErrorCode::MessageSizeTooLarge),
            });
        }
        self.accepted.push(rec.clone());
        Ok(())
    }

    /// Accepting is acknowledging here.
    async fn durable(&self) -> Result<(), SinkError> {
        Ok(())
    }
}
