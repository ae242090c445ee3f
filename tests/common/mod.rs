//! Test harness: a real PostgreSQL and a real Apache Kafka broker, started per test, and the
//! real pgcdc binary run against them.
#![allow(dead_code)]

pub mod browser;
pub mod cdc;
pub mod http;
pub mod kafka;
pub mod pg;
pub mod prometheus;
pub mod proxy;
pub mod registry;
pub mod replay;
pub mod verify;
