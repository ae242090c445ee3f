//! Offset records in a Kafka topic (exactly-once mode). Each Kafka transaction ends with a
//! record keyed by the connector's name whose value is the same JSON the file store writes;
//! it commits together with the changes it covers, so the last committed one says exactly
//! what a `read_committed` consumer has seen.

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

use super::{OffsetError, StoredOffset};

/// Where the offsets topic is: the Kafka sink's brokers and security settings.
#[derive(Debug, Clone)]
pub struct OffsetsTopic {
    pub bootstrap_servers: String,
    pub properties: Vec<(String, String)>,
}

impl OffsetsTopic {
    pub fn from_config(c: &crate::config::KafkaConfig) -> Self {
        OffsetsTopic {
            bootstrap_servers: c.bootstrap_servers.clone(),
            properties: c
                .properties
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }

    /// [`read_latest`] on these brokers.
    pub fn read_latest(
        &self,
        topic: &str,
        connector: &str,
        slot: &str,
        timeout: Duration,
    ) -> Result<Option<StoredOffset>, OffsetError> {
        read_latest(
            &self.bootstrap_servers,
            &self.properties,
            topic,
            connector,
            slot,
            timeout,
        )
    }
}

/// The JSON value of an offset record.
pub fn encode(offset: &StoredOffset) -> Vec<u8> {
    serde_json::to_vec(offset).expect("offset record serializes")
}

/// Reads the offsets topic to its end with a `read_committed` consumer and returns the last
/// committed offset record of `connector`. Blocks: call it off the async workers.
///
/// Call it after the producer's `init_transactions`, which aborts a previous instance's open
/// transaction; otherwise the read could stop at that transaction and miss nothing, but
/// would wait for it to time out.
pub fn read_latest(
    bootstrap_servers: &str,
    properties: &[(String, String)],
    topic: &str,
    connector: &str,
    slot: &str,
    timeout: Duration,
) -> Result<Option<StoredOffset>, OffsetError> {
    let err = |reason: String| OffsetError::Kafka {
        topic: topic.to_string(),
        reason,
    };
    let mut cfg = ClientConfig::new();
    for (k, v) in properties {
        // Producer tuning does not apply to a consumer; security settings do.
        if k.starts_with("security.") || k.starts_with("sasl.") || k.starts_with("ssl.") {
            cfg.set(k, v);
        }
    }
    cfg.set("bootstrap.servers", bootstrap_servers)
        .set("group.id", format!("pgcdc-offsets-{connector}"))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        // The end of the partition is only reported once a fetch comes back empty; do not
        // let the broker hold that fetch for long.
        .set("fetch.wait.max.ms", "10")
        .set("isolation.level", "read_committed");
    let consumer: BaseConsumer = cfg.create().map_err(|e| err(e.to_string()))?;
    let (low, high) = consumer
        .fetch_watermarks(topic, 0, timeout)
        .map_err(|e| err(format!("cannot read its watermarks: {e}")))?;
    if high <= low {
        return Ok(None);
    }
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)
        .map_err(|e| err(e.to_string()))?;
    consumer.assign(&tpl).map_err(|e| err(e.to_string()))?;
    let deadline = Instant::now() + timeout;
    let mut latest = None;
    loop {
        if Instant::now() > deadline {
            return Err(err(format!(
                "did not reach its end within {timeout:?} (is a transaction of another producer still open?)"
            )));
        }
        match consumer.poll(Duration::from_millis(50)) {
            None => {}
            Some(Err(KafkaError::PartitionEOF(_))) => break,
            Some(Err(e)) => return Err(err(e.to_string())),
            Some(Ok(m)) => {
                if m.key() != Some(connector.as_bytes()) {
                    continue;
                }
                let Some(value) = m.payload() else {
                    latest = None;
                    continue;
                };
                let o: StoredOffset = serde_json::from_slice(value).map_err(|e| {
                    err(format!("offset record at {} is not valid: {e}", m.offset()))
                })?;
                latest = Some(o);
            }
        }
    }
    if let Some(o) = &latest {
        if o.slot != slot || o.lsn.as_u64() != o.lsn_int {
            return Err(err(format!(
                "the last offset record of connector {connector:?} is for slot {:?} at {} ({}), not slot {slot:?}: give each connector its own name",
                o.slot, o.lsn, o.lsn_int
            )));
        }
    }
    Ok(latest)
}
