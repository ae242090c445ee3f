//! Reads a topic from its start to its current end with a consumer that assigns partitions
//! itself: it joins no group and commits nothing, so it leaves no trace on the broker and
//! cannot take partitions from anyone. `read_committed` hides records of aborted Kafka
//! transactions (exactly-once mode).

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use crate::format::EVENT_ID_HEADER;
use crate::sink::KafkaSinkConfig;

#[derive(Debug, thiserror::Error)]
pub enum TopicError {
    #[error("cannot create a Kafka consumer for {servers}: {source}")]
    Consumer { servers: String, source: KafkaError },
    #[error("cannot read the metadata of topic {topic} from {servers}: {source} (is the broker reachable with the connector's sink settings?)")]
    Metadata {
        topic: String,
        servers: String,
        source: KafkaError,
    },
    #[error("reading topic {topic}: {source}")]
    Read { topic: String, source: KafkaError },
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

/// Librdkafka settings of the consumer: the sink's connection and security properties, and
/// none of its own state.
fn consumer(sink: &KafkaSinkConfig) -> Result<BaseConsumer, TopicError> {
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
        .set("log_level", "3");
    cfg.create().map_err(|source| TopicError::Consumer {
        servers: sink.bootstrap_servers.clone(),
        source,
    })
}

/// Reads every record of `topic` up to the end its partitions have now, calling `f` for each in
/// partition order. A missing topic has no records. Returns the number of records read.
pub fn read(
    sink: &KafkaSinkConfig,
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
            source,
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
                source,
            })?;
        if high > low {
            pending.push(p);
            tpl.add_partition_offset(topic, p, Offset::Beginning)
                .map_err(|source| TopicError::Read {
                    topic: topic.to_string(),
                    source,
                })?;
        }
    }
    if pending.is_empty() {
        return Ok(0);
    }
    c.assign(&tpl).map_err(|source| TopicError::Read {
        topic: topic.to_string(),
        source,
    })?;
    drain(&c, topic, pending, stall, &mut f)
}

/// Polls until every partition in `pending` reported its end.
fn drain(
    c: &BaseConsumer,
    topic: &str,
    mut pending: Vec<i32>,
    stall: Duration,
    f: &mut impl FnMut(RawRecord<'_>),
) -> Result<u64, TopicError> {
    let mut n = 0u64;
    let mut progress = Instant::now();
    while !pending.is_empty() {
        match c.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                progress = Instant::now();
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
                pending.retain(|&q| q != p);
            }
            Some(Err(source)) => {
                return Err(TopicError::Read {
                    topic: topic.to_string(),
                    source,
                })
            }
            None if progress.elapsed() > stall => {
                return Err(TopicError::Stalled {
                    topic: topic.to_string(),
                    secs: stall.as_secs(),
                    partitions: pending,
                })
            }
            None => {}
        }
    }
    Ok(n)
}
