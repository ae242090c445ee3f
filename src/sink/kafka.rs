//! The Kafka sink: an idempotent, acks=all producer that hands back one delivery future per
//! record, so that progress can be advanced only once Kafka has acknowledged.
//!
//! Backpressure: when librdkafka's local queue is full we wait for it to drain instead of
//! dropping or spinning; the source stops reading the slot meanwhile, so PostgreSQL holds the
//! rest of the changes.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};
use rdkafka::ClientConfig;

use crate::format::{EventId, Record, EVENT_ID_HEADER};

/// librdkafka properties the sink sets itself because delivery guarantees depend on them.
pub const RESERVED_PROPERTIES: &[&str] = &[
    "bootstrap.servers",
    "enable.idempotence",
    "acks",
    "request.required.acks",
    "max.in.flight.requests.per.connection",
];

#[derive(Debug, Clone)]
pub struct KafkaSinkConfig {
    pub bootstrap_servers: String,
    /// Extra librdkafka properties, passed through as given.
    pub properties: Vec<(String, String)>,
    /// Create missing topics through the admin API (Kafka Connect `topic.creation.*`).
    pub create_topics: bool,
    pub partitions: i32,
    pub replication_factor: i32,
}

impl Default for KafkaSinkConfig {
    fn default() -> Self {
        KafkaSinkConfig {
            bootstrap_servers: "127.0.0.1:9092".into(),
            properties: Vec::new(),
            create_topics: true,
            partitions: 1,
            replication_factor: 1,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("kafka producer could not be created: {0}: check sink.bootstrap_servers and sink.properties")]
    Create(#[source] KafkaError),
    #[error("could not create topic {topic:?}: {reason}: create it by hand or check the broker's permissions (sink.topic_creation)")]
    CreateTopic { topic: String, reason: String },
    #[error("kafka rejected a record for topic {topic:?}: {source}")]
    Produce {
        topic: String,
        #[source]
        source: KafkaError,
    },
    #[error("kafka delivery failed for topic {topic:?}: {source}")]
    Delivery {
        topic: String,
        #[source]
        source: KafkaError,
    },
    #[error("kafka producer was shut down before delivery was confirmed")]
    Canceled,
}

impl SinkError {
    /// Whether reconnecting and re-sending from the last durable position may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            SinkError::Create(_) => false,
            SinkError::CreateTopic { .. } => true,
            SinkError::Produce { source, .. } | SinkError::Delivery { source, .. } => !matches!(
                source.rdkafka_error_code(),
                Some(RDKafkaErrorCode::MessageSizeTooLarge)
                    | Some(RDKafkaErrorCode::InvalidRecord)
                    | Some(RDKafkaErrorCode::TopicAuthorizationFailed)
                    | Some(RDKafkaErrorCode::ClusterAuthorizationFailed)
                    | Some(RDKafkaErrorCode::InvalidMessageSize)
            ),
            SinkError::Canceled => true,
        }
    }
}

/// A record handed to librdkafka; resolves once the broker acknowledged it (or failed).
pub struct Delivery {
    topic: Arc<str>,
    future: DeliveryFuture,
}

impl Delivery {
    pub async fn wait(self) -> Result<(), SinkError> {
        match self.future.await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err((source, _))) => Err(SinkError::Delivery {
                topic: self.topic.to_string(),
                source,
            }),
            Err(_) => Err(SinkError::Canceled),
        }
    }
}

pub struct KafkaSink {
    producer: FutureProducer,
    admin: AdminClient<DefaultClientContext>,
    cfg: KafkaSinkConfig,
    known_topics: HashSet<Arc<str>>,
}

impl KafkaSink {
    pub fn new(cfg: KafkaSinkConfig) -> Result<Self, SinkError> {
        let mut client = ClientConfig::new();
        client.set("bootstrap.servers", &cfg.bootstrap_servers);
        // The same partition for the same key as Kafka's Java client, so consumers that
        // co-partition with other Java-produced topics keep working after a switch.
        client.set("partitioner", "murmur2_random");
        client.set("linger.ms", "5");
        for (k, v) in &cfg.properties {
            client.set(k, v);
        }
        // Set last so that passthrough properties cannot weaken the delivery guarantee.
        client.set("enable.idempotence", "true");
        client.set("acks", "all");
        let producer: FutureProducer = client.create().map_err(SinkError::Create)?;
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", &cfg.bootstrap_servers)
            .create()
            .map_err(SinkError::Create)?;
        Ok(KafkaSink {
            producer,
            admin,
            cfg,
            known_topics: HashSet::new(),
        })
    }

    /// Makes sure `topic` exists before the first record goes to it (Kafka Connect's
    /// `topic.creation` behaviour; brokers without auto-creation need it).
    pub async fn ensure_topic(&mut self, topic: &Arc<str>) -> Result<(), SinkError> {
        if self.known_topics.contains(topic) {
            return Ok(());
        }
        if self.cfg.create_topics {
            let new = NewTopic::new(
                topic,
                self.cfg.partitions,
                TopicReplication::Fixed(self.cfg.replication_factor),
            );
            let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
            let results = self.admin.create_topics([&new], &opts).await.map_err(|e| {
                SinkError::CreateTopic {
                    topic: topic.to_string(),
                    reason: e.to_string(),
                }
            })?;
            for r in results {
                match r {
                    Ok(_) => tracing::info!(topic = %topic, "created topic"),
                    Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                    Err((t, code)) => {
                        return Err(SinkError::CreateTopic {
                            topic: t,
                            reason: code.to_string(),
                        })
                    }
                }
            }
        }
        self.known_topics.insert(topic.clone());
        Ok(())
    }

    /// Queues one record. Waits (without spinning) while the producer queue is full.
    pub async fn send(&mut self, rec: &Record) -> Result<Delivery, SinkError> {
        self.ensure_topic(&rec.topic).await?;
        let mut backoff = Duration::from_millis(1);
        loop {
            let mut fr: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&rec.topic);
            if let Some(k) = &rec.key {
                fr = fr.key(k.as_slice());
            }
            if let Some(v) = &rec.value {
                fr = fr.payload(v.as_slice());
            }
            let n_headers = rec.headers.len() + rec.event_id.is_some() as usize;
            if n_headers > 0 {
                let mut h = OwnedHeaders::new_with_capacity(n_headers);
                for (k, v) in &rec.headers {
                    h = h.insert(Header {
                        key: k,
                        value: Some(v.as_slice()),
                    });
                }
                if let Some(id) = rec.event_id {
                    // librdkafka copies header values, so a stack buffer will do.
                    let mut buf = [0u8; EventId::MAX_LEN];
                    h = h.insert(Header {
                        key: EVENT_ID_HEADER,
                        value: Some(id.write_to(&mut buf)),
                    });
                }
                fr = fr.headers(h);
            }
            match self.producer.send_result(fr) {
                Ok(future) => {
                    return Ok(Delivery {
                        topic: rec.topic.clone(),
                        future,
                    })
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_millis(50));
                }
                Err((source, _)) => {
                    return Err(SinkError::Produce {
                        topic: rec.topic.to_string(),
                        source,
                    })
                }
            }
        }
    }

    /// Waits for everything queued to be delivered (used on shutdown).
    pub fn flush(&self, timeout: Duration) -> Result<(), SinkError> {
        self.producer
            .flush(timeout)
            .map_err(|source| SinkError::Delivery {
                topic: String::new(),
                source,
            })
    }
}
