//! Test harness: real PostgreSQL and a real Kafka-protocol broker, started per test.
#![allow(dead_code)]

pub mod kafka;
