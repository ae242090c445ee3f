//! Where serialized records go. Today: Kafka.

pub mod kafka;

pub use kafka::{Acks, KafkaSink, KafkaSinkConfig, SinkError};
