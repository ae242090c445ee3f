//! Offset records in a Kafka topic (exactly-once mode). Each Kafka transaction ends with a
//! record keyed by the connector's name whose value is the same JSON the file store writes;
//! it commits together with the changes it covers, so the last committed one says exactly
//! what a `read_committed` consumer has seen.
//!
//! The same topic is an offset store of its own (`offsets.store = "kafka"`, Debezium's
//! `KafkaOffsetBackingStore`): [`OffsetTopic`] writes each checkpoint as such a record, outside
//! any transaction, so a pgcdc without its data directory resumes where the last one stopped.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientConfig, ClientContext, Message, Offset, TopicPartitionList};

use super::{OffsetBackend, OffsetError, StoredOffset};

/// How long a read or a write of the offsets topic may take before it counts as failed.
const TIMEOUT: Duration = Duration::from_secs(60);

/// Where the offsets topic is: the Kafka sink's brokers and security settings.
#[derive(Debug, Clone)]
pub struct OffsetsTopic {
    pub bootstrap_servers: String,
    pub properties: Vec<(String, String)>,
    /// For creating the topic: the sink's `topic_creation.replication_factor`.
    pub replication_factor: i32,
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
            replication_factor: c.topic_creation.replication_factor,
        }
    }

    /// A client configuration for these brokers: the connection's security settings, none of
    /// the producer tuning.
    fn client(&self) -> ClientConfig {
        let mut cfg = ClientConfig::new();
        for (k, v) in &self.properties {
            if k.starts_with("security.") || k.starts_with("sasl.") || k.starts_with("ssl.") {
                cfg.set(k, v);
            }
        }
        cfg.set("bootstrap.servers", &self.bootstrap_servers);
        cfg
    }

    /// Creates `topic` compacted with one partition, unless it exists: one partition keeps
    /// the records of a connector in order, compaction keeps the newest per connector.
    pub async fn ensure(&self, topic: &str) -> Result<(), OffsetError> {
        let err = |reason: String| OffsetError::Kafka {
            topic: topic.to_string(),
            reason,
        };
        let admin: AdminClient<DefaultClientContext> =
            self.client().create().map_err(|e| err(e.to_string()))?;
        let new = NewTopic::new(topic, 1, TopicReplication::Fixed(self.replication_factor))
            .set("cleanup.policy", "compact");
        let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
        let results = tokio::time::timeout(TIMEOUT, admin.create_topics([&new], &opts))
            .await
            .map_err(|_| err(format!("could not create it within {TIMEOUT:?}")))?
            .map_err(|e| err(format!("could not create it: {e}")))?;
        for r in results {
            match r {
                Ok(_) => tracing::info!(topic = %topic, "created offsets topic"),
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((_, code)) => return Err(err(format!("could not create it: {code}"))),
            }
        }
        Ok(())
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
    let brokers = OffsetsTopic {
        bootstrap_servers: bootstrap_servers.to_string(),
        properties: properties.to_vec(),
        replication_factor: -1,
    };
    let mut cfg = brokers.client();
    cfg.set("group.id", format!("pgcdc-offsets-{connector}"))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        // The end of the partition is only reported once a fetch comes back empty; do not
        // let the broker hold that fetch for long.
        .set("fetch.wait.max.ms", "10")
        .set("isolation.level", "read_committed")
        // Read from the beginning even when a fetch reports the offset out of range:
        // librdkafka's default reset (the end) would skip records silently.
        .set("auto.offset.reset", "earliest");
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

/// `offsets.store = "kafka"`: each checkpoint is a record in the offsets topic, keyed by the
/// connector's name, written with the idempotent producer and `acks=all`; a write returns
/// once the broker acknowledged it.
pub struct OffsetTopic {
    brokers: OffsetsTopic,
    topic: String,
    connector: String,
    slot: String,
    producer: BaseProducer<DeliveryContext>,
    delivered: Arc<Mutex<Option<Result<(), String>>>>,
}

/// Keeps the outcome of the last delivery for [`OffsetTopic::save`] to check.
struct DeliveryContext(Arc<Mutex<Option<Result<(), String>>>>);

impl ClientContext for DeliveryContext {}

impl ProducerContext for DeliveryContext {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        let outcome = result.as_ref().map(|_| ()).map_err(|(e, _)| e.to_string());
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(outcome);
    }
}

impl OffsetTopic {
    /// Creates the topic when it is missing and connects a producer to it.
    pub async fn connect(
        brokers: &OffsetsTopic,
        topic: &str,
        connector: &str,
        slot: &str,
    ) -> Result<Self, OffsetError> {
        brokers.ensure(topic).await?;
        let delivered = Arc::new(Mutex::new(None));
        let producer = brokers
            .client()
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .create_with_context(DeliveryContext(delivered.clone()))
            .map_err(|e| OffsetError::Kafka {
                topic: topic.to_string(),
                reason: e.to_string(),
            })?;
        Ok(OffsetTopic {
            brokers: brokers.clone(),
            topic: topic.to_string(),
            connector: connector.to_string(),
            slot: slot.to_string(),
            producer,
            delivered,
        })
    }

    fn error(&self, reason: String) -> OffsetError {
        OffsetError::Kafka {
            topic: self.topic.clone(),
            reason,
        }
    }
}

impl OffsetBackend for OffsetTopic {
    fn location(&self) -> String {
        format!(
            "offsets topic {} (record key {:?})",
            self.topic, self.connector
        )
    }

    fn reset_hint(&self) -> String {
        format!(
            "write a tombstone (a record with key {:?} and a null value) to the offsets topic {}",
            self.connector, self.topic
        )
    }

    fn load(&mut self) -> Result<Option<StoredOffset>, OffsetError> {
        self.brokers
            .read_latest(&self.topic, &self.connector, &self.slot, TIMEOUT)
    }

    fn save(&mut self, offset: &StoredOffset) -> Result<(), OffsetError> {
        *self.delivered.lock().unwrap_or_else(|p| p.into_inner()) = None;
        let value = encode(offset);
        self.producer
            .send(
                BaseRecord::to(&self.topic)
                    .key(&self.connector)
                    .payload(&value),
            )
            .map_err(|(e, _)| self.error(format!("could not queue the offset record: {e}")))?;
        // flush polls, which runs the delivery callback before returning.
        self.producer
            .flush(TIMEOUT)
            .map_err(|e| self.error(format!("the offset record was not acknowledged: {e}")))?;
        match self
            .delivered
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            Some(Ok(())) => Ok(()),
            Some(Err(e)) => Err(self.error(format!("the offset record was refused: {e}"))),
            None => Err(self.error("the offset record's delivery was not reported".into())),
        }
    }
}
