//! Where serialized records go. Today: Kafka.

pub mod kafka;
mod refusal;

pub use kafka::{Acks, KafkaSink, KafkaSinkConfig, SinkError};
