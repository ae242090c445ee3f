//! Where serialized records go. Today: Kafka.

pub mod kafka;

pub use kafka::{Delivery, KafkaSink, KafkaSinkConfig, SinkError};
