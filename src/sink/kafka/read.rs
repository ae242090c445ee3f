//! Reads a topic from its start to its current end with a consumer that assigns partitions
//! itself: it joins no group and commits nothing, so it leaves no trace on the broker and
//! cannot take partitions from anyone. `read_committed` hides records of aborted Kafka
//! transactions (exactly-once mode).

use std::time::{Duration, Instant};

use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers, Message};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use crate::config::KafkaConfig;
use crate::format::EVENT_ID_HEADER;

#[derive(Debug, thiserror::Error)]
pub enum TopicError {
    #[error("cannot create a Kafka consumer for {servers}: {source}")]
    Consumer {
        servers: String,
        source: Box<KafkaError>,
    },
    #[error("cannot read the metadata of topic {topic} from {servers}: {source} (is the broker reachable with the connector's sink settings?)")]
    Metadata {
        topic: String,
        servers: String,
        source: Box<KafkaError>,
    },
    #[error("reading topic {topic}: {source}")]
    Read {
        topic: String,
        source: Box<KafkaError>,
    },
    #[error("topic {topic}: no progress for {secs} s while reading partition(s) {partitions:?} to their end")]
    Stalled {
        topic: String,
        secs: u64,
        partitions: Vec<i32>,
    },
}

/// One record as the fold needs it.
pub struct RawRecord<'a> {
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    /// The `pgcdc.event.id` header, when there is one.
    pub event_id: Option<&'a [u8]>,
}

/// Reports librdkafka's errors through tracing, except the end-of-partition events the reader
/// asks for (librdkafka also reports them as "global errors").
pub struct Quiet;

impl ClientContext for Quiet {
    fn error(&self, error: KafkaError, reason: &str) {
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::PartitionEOF) {
            return;
        }
        tracing::warn!(error = %error, reason, "kafka consumer");
    }
}

impl ConsumerContext for Quiet {}

/// Librdkafka settings of the consumer: the sink's connection and security properties, and
/// none of its own state.
fn consumer(sink: &KafkaConfig) -> Result<BaseConsumer<Quiet>, TopicError> {
    let mut cfg = ClientConfig::new();
    for (k, v) in &sink.properties {
        cfg.set(k, v);
    }
    cfg.set("bootstrap.servers", &sink.bootstrap_servers)
        .set("group.id", "pgcdc-verify")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "true")
        .set("isolation.level", "read_committed")
        // Read from the beginning even when a fetch reports the offset out of range:
        // librdkafka's default reset (the end) would skip records silently.
        .set("auto.offset.reset", "earliest")
        .set("log_level", "3");
    cfg.create_with_context(Quiet)
        .map_err(|source| TopicError::Consumer {
            servers: sink.bootstrap_servers.clone(),
            source: Box::new(source),
        })
}

/// Reads every record of `topic` up to the end its partitions have now (records produced
/// while it reads are left alone: a busy topic would otherwise never end), calling `f` for
/// each in partition order. A missing topic has no records. Returns the number of records read.
pub fn read(
    sink: &KafkaConfig,
    topic: &str,
    stall: Duration,
    mut f: impl FnMut(RawRecord<'_>),
) -> Result<u64, TopicError> {
    let c = consumer(sink)?;
    let md = c
        .fetch_metadata(Some(topic), Duration::from_secs(30))
        .map_err(|source| TopicError::Metadata {
            topic: topic.to_string(),
            servers: sink.bootstrap_servers.clone(),
            source: Box::new(source),
        })?;
    let partitions: Vec<i32> = md
        .topics()
        .first()
        .filter(|t| t.error().is_none())
        .map(|t| t.partitions().iter().map(|p| p.id()).collect())
        .unwrap_or_default();
    let mut pending = Vec::new();
    let mut tpl = TopicPartitionList::new();
    for &p in &partitions {
        let (low, high) = c
            .fetch_watermarks(topic, p, Duration::from_secs(30))
            .map_err(|source| TopicError::Read {
                topic: topic.to_string(),
                source: Box::new(source),
            })?;
        if high > low {
            pending.push((p, high));
            tpl.add_partition_offset(topic, p, Offset::Beginning)
                .map_err(|source| TopicError::Read {
                    topic: topic.to_string(),
                    source: Box::new(source),
                })?;
        }
    }
    if pending.is_empty() {
        return Ok(0);
    }
    c.assign(&tpl).map_err(|source| TopicError::Read {
        topic: topic.to_string(),
        source: Box::new(source),
    })?;
    drain(&c, topic, pending, stall, &mut f)
}

/// Polls until every partition in `pending` (partition, end offset) reached its end.
fn drain(
    c: &BaseConsumer<Quiet>,
    topic: &str,
    mut pending: Vec<(i32, i64)>,
    stall: Duration,
    f: &mut impl FnMut(RawRecord<'_>),
) -> Result<u64, TopicError> {
    let mut n = 0u64;
    let mut progress = Instant::now();
    while !pending.is_empty() {
        match c.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                progress = Instant::now();
                let Some(&(_, end)) = pending.iter().find(|(p, _)| *p == m.partition()) else {
                    continue;
                };
                // Past the end: produced after reading started (offsets may skip the
                // transaction markers of exactly-once mode, so "past" rather than "at").
                if m.offset() >= end {
                    pending.retain(|(p, _)| *p != m.partition());
                    continue;
                }
                if m.offset() + 1 >= end {
                    pending.retain(|(p, _)| *p != m.partition());
                }
                n += 1;
                let headers = m.headers();
                let event_id = headers.and_then(|h| {
                    h.iter()
                        .find(|h| h.key == EVENT_ID_HEADER)
                        .and_then(|h| h.value)
                });
                f(RawRecord {
                    key: m.key(),
                    value: m.payload(),
                    event_id,
                });
            }
            Some(Err(KafkaError::PartitionEOF(p))) => {
                progress = Instant::now();
                pending.retain(|(q, _)| *q != p);
            }
            Some(Err(source)) => {
                return Err(TopicError::Read {
                    topic: topic.to_string(),
                    source: Box::new(source),
                })
            }
            None if progress.elapsed() > stall => {
                return Err(TopicError::Stalled {
                    topic: topic.to_string(),
                    secs: stall.as_secs(),
                    partitions: pending.iter().map(|(p, _)| *p).collect(),
                })
            }
            None => {}
        }
    }
    Ok(n)
}
