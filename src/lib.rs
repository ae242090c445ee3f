//! pgcdc: change data capture from PostgreSQL into Kafka, Debezium-compatible.
//!
//! The module tree follows the pipeline, and data flows one way through it:
//! `source` (replication client, pgoutput decoder) → `event` (Debezium event model) →
//! `format` (serializers) → `sink` (Kafka), with `offsets` and `progress` beside it.
//! `config` describes the process and each connector; `pipeline` wires one connector together.

pub mod config;
pub mod emit;
pub mod event;
pub mod format;
pub mod heartbeat;
pub mod http;
pub mod lsn;
pub mod observe;
pub mod offsets;
pub mod pipeline;
pub mod progress;
pub mod rebuild;
pub mod signal;
pub mod sink;
pub mod snapshot;
pub mod source;
pub mod transforms;

pub use lsn::Lsn;
