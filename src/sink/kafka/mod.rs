//! The Kafka sink: an idempotent, acks=all producer. Every record gets a sequence number; the
//! delivery callback (on librdkafka's polling thread) advances a low-water mark below which
//! every record is acknowledged, so progress can be advanced only once Kafka has acknowledged —
//! without a future, allocation or task wake-up per record.
//!
//! Backpressure: when librdkafka's local queue is full we wait for it to drain instead of
//! dropping or spinning; the source stops reading the slot meanwhile, so PostgreSQL holds the
//! rest of the changes.

use std::collections::{BTreeSet, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::ClientConfig;
use tokio::sync::Notify;

pub mod read;
mod refusal;

use futures_util::future::BoxFuture;

use super::{Acknowledgements, ErrorClass, SinkError, SizeLimit, Transactions};
use crate::config::KafkaConfig;
use crate::format::{EventId, Record, EVENT_ID_HEADER};
use refusal::{refusal, Refusal};

/// librdkafka properties the sink sets itself because delivery guarantees depend on them.
pub const RESERVED_PROPERTIES: &[&str] = &[
    "bootstrap.servers",
    "enable.idempotence",
    "acks",
    "request.required.acks",
    "max.in.flight.requests.per.connection",
    "transactional.id",
];

/// librdkafka's default `message.max.bytes`.
const DEFAULT_MESSAGE_MAX_BYTES: u64 = 1_000_000;

/// How long librdkafka may take for one transaction call (init, commit, abort).
const TRANSACTION_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct KafkaSinkConfig {
    pub bootstrap_servers: String,
    /// Extra librdkafka properties, passed through as given.
    pub properties: Vec<(String, String)>,
    /// Create missing topics through the admin API (Kafka Connect `topic.creation.*`).
    pub create_topics: bool,
    pub partitions: i32,
    pub replication_factor: i32,
    /// Topic-level configs new topics are created with (`cleanup.policy`, ...).
    pub topic_configs: Vec<(String, String)>,
    /// Exactly-once mode: the producer's `transactional.id`. Every record is then produced
    /// inside a Kafka transaction, begun on the first record after a commit.
    pub transactional_id: Option<String>,
    /// Exactly-once mode: the compacted topic of the offset records, created by
    /// [`Transactions::init`] when missing.
    pub offsets_topic: Option<Arc<str>>,
}

impl KafkaSinkConfig {
    /// `[sink] type = "kafka"` of connector `connector`.
    pub fn from_config(c: &KafkaConfig, connector: &str, topic_prefix: &str) -> Self {
        let pairs = |m: &std::collections::BTreeMap<String, String>| {
            m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
        };
        KafkaSinkConfig {
            bootstrap_servers: c.bootstrap_servers.clone(),
            properties: pairs(&c.properties),
            create_topics: c.topic_creation.enabled,
            partitions: c.topic_creation.partitions,
            replication_factor: c.topic_creation.replication_factor,
            topic_configs: pairs(&c.topic_creation.configs),
            transactional_id: c.exactly_once.then(|| {
                c.transactional_id
                    .clone()
                    .unwrap_or_else(|| format!("pgcdc-{connector}"))
            }),
            offsets_topic: c
                .exactly_once
                .then(|| Arc::from(c.offsets_topic(topic_prefix))),
        }
    }

    /// The producer's `message.max.bytes`: larger records are refused before they are sent.
    pub fn size_limit(&self) -> SizeLimit {
        let bytes = self
            .properties
            .iter()
            .find(|(k, _)| k == "message.max.bytes")
            .and_then(|(_, v)| v.trim().parse().ok())
            .unwrap_or(DEFAULT_MESSAGE_MAX_BYTES);
        SizeLimit {
            bytes,
            how_to_raise: "raise message.max.bytes on the broker (and max.message.bytes of the \
                           topic) and in [sink.properties] \"message.max.bytes\""
                .into(),
        }
    }
}

impl Default for KafkaSinkConfig {
    fn default() -> Self {
        KafkaSinkConfig {
            bootstrap_servers: "127.0.0.1:9092".into(),
            properties: Vec::new(),
            create_topics: true,
            partitions: 1,
            replication_factor: 1,
            topic_configs: Vec::new(),
            transactional_id: None,
            offsets_topic: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KafkaSinkError {
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
    #[error("kafka transaction failed ({step}): {source} (sink.exactly_once needs brokers that support transactions, with transaction.state.log.replication.factor and min.isr no larger than the cluster)")]
    Transaction {
        step: &'static str,
        #[source]
        source: KafkaError,
    },
    #[error("kafka at {servers} refused pgcdc's connection: {reason}: {hint}")]
    Refused {
        servers: String,
        reason: String,
        hint: &'static str,
    },
    #[error("another producer with transactional id {id:?} took over ({source}): is a second pgcdc running this connector? Stop it; exactly-once mode allows one instance per sink.transactional_id")]
    Fenced {
        id: String,
        #[source]
        source: KafkaError,
    },
}

impl KafkaSinkError {
    fn refused(servers: &str, refusal: &Refusal) -> KafkaSinkError {
        KafkaSinkError::Refused {
            servers: servers.to_string(),
            reason: refusal.reason.clone(),
            hint: refusal.hint,
        }
    }

    /// What this failure means for the pipeline.
    pub fn class(&self) -> ErrorClass {
        let code = match self {
            KafkaSinkError::Create(_)
            | KafkaSinkError::Fenced { .. }
            | KafkaSinkError::Refused { .. } => return ErrorClass::Definite,
            KafkaSinkError::CreateTopic { .. } | KafkaSinkError::Transaction { .. } => {
                return ErrorClass::Transient
            }
            KafkaSinkError::Produce { source, .. } | KafkaSinkError::Delivery { source, .. } => {
                source.rdkafka_error_code()
            }
        };
        match code {
            Some(RDKafkaErrorCode::MessageSizeTooLarge)
            | Some(RDKafkaErrorCode::InvalidMessageSize) => ErrorClass::TooLarge,
            Some(RDKafkaErrorCode::InvalidRecord)
            | Some(RDKafkaErrorCode::TopicAuthorizationFailed)
            | Some(RDKafkaErrorCode::ClusterAuthorizationFailed)
            // Another instance took over the transactional id: retrying would fence it in
            // turn.
            | Some(RDKafkaErrorCode::Fenced)
            | Some(RDKafkaErrorCode::ProducerFenced) => ErrorClass::Definite,
            _ => ErrorClass::Transient,
        }
    }

    /// Whether reconnecting and re-sending from the last durable position may succeed.
    pub fn is_transient(&self) -> bool {
        self.class() == ErrorClass::Transient
    }
}

impl Acknowledgements for Acks {
    fn wait_for(&self, count: u64) -> BoxFuture<'_, Result<(), SinkError>> {
        Box::pin(async move { Ok(Acks::wait_for(self, count).await?) })
    }
}

impl Transactions for KafkaSink {
    fn init(&mut self) -> BoxFuture<'_, Result<(), SinkError>> {
        Box::pin(async move {
            self.init_transactions()?;
            if let Some(topic) = self.cfg.offsets_topic.clone() {
                self.ensure_offsets_topic(&topic).await?;
            }
            Ok(())
        })
    }

    fn age(&self) -> Option<Duration> {
        self.transaction_age()
    }

    fn records(&self) -> u64 {
        self.transaction_records()
    }

    fn commit(&mut self) -> Result<(), SinkError> {
        Ok(self.commit_transaction()?)
    }

    fn abort(&mut self) -> Result<(), SinkError> {
        Ok(self.abort_transaction()?)
    }
}

/// Which records Kafka has acknowledged, shared with librdkafka's delivery callback.
#[derive(Default)]
pub struct Acks {
    state: Mutex<AckState>,
    changed: Notify,
    /// `bootstrap.servers`, to name the listener when it refuses us.
    servers: Mutex<String>,
}

#[derive(Default)]
struct AckState {
    /// Every record with a sequence number below this is acknowledged.
    low_water: u64,
    /// Acknowledged records above the low-water mark (deliveries to different partitions can
    /// complete out of order); small, as most complete in order.
    ahead: BTreeSet<u64>,
    /// The first delivery that failed: nothing at or after it may ever count as acknowledged.
    failed: Option<(u64, String, KafkaError)>,
    /// The broker refused the connection itself (authentication, TLS): nothing will succeed.
    refused: Option<Refusal>,
}

impl Acks {
    /// Acknowledges record `seq` as the delivery callback would; for unit tests of the
    /// progress code.
    #[cfg(test)]
    pub fn acknowledge(&self, seq: u64) {
        self.record(seq, Ok(()));
    }

    fn record(&self, seq: u64, result: Result<(), (String, KafkaError)>) {
        let mut st = self.state.lock().expect("ack state lock");
        match result {
            Ok(()) if seq == st.low_water => {
                st.low_water += 1;
                while st.ahead.first() == Some(&st.low_water) {
                    st.ahead.pop_first();
                    st.low_water += 1;
                }
            }
            Ok(()) => {
                st.ahead.insert(seq);
            }
            Err((topic, e)) => {
                if st.failed.as_ref().is_none_or(|(s, _, _)| seq < *s) {
                    st.failed = Some((seq, topic, e));
                }
            }
        }
        drop(st);
        self.changed.notify_waiters();
    }

    fn servers(&self) -> String {
        self.servers.lock().expect("servers lock").clone()
    }

    fn refuse(&self, refusal: Refusal) {
        let mut st = self.state.lock().expect("ack state lock");
        st.refused.get_or_insert(refusal);
        drop(st);
        self.changed.notify_waiters();
    }

    fn refusal(&self) -> Option<Refusal> {
        self.state.lock().expect("ack state lock").refused.clone()
    }

    /// Resolves once the broker has refused the connection.
    async fn refused(&self) -> Refusal {
        loop {
            let notified = self.changed.notified();
            if let Some(r) = self.refusal() {
                return r;
            }
            notified.await;
        }
    }

    /// Waits until the first `count` records are acknowledged; fails if any of them failed.
    pub async fn wait_for(&self, count: u64) -> Result<(), KafkaSinkError> {
        loop {
            let notified = self.changed.notified();
            {
                let st = self.state.lock().expect("ack state lock");
                if let Some(r) = &st.refused {
                    return Err(KafkaSinkError::refused(&self.servers(), r));
                }
                if let Some((seq, topic, e)) = &st.failed {
                    if *seq < count {
                        return Err(KafkaSinkError::Delivery {
                            topic: topic.clone(),
                            source: e.clone(),
                        });
                    }
                }
                if st.low_water >= count {
                    return Ok(());
                }
            }
            notified.await;
        }
    }
}

/// Hands delivery reports to [`Acks`]; the opaque value is the record's sequence number.
pub struct AckContext {
    acks: Arc<Acks>,
}

impl ClientContext for AckContext {
    fn error(&self, error: KafkaError, reason: &str) {
        report_client_error(&self.acks, error, reason);
    }

    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        forward_log(level, fac, message);
    }
}

/// The admin client's context: its refusals count like the producer's.
pub struct AdminContext {
    acks: Arc<Acks>,
}

impl ClientContext for AdminContext {
    fn error(&self, error: KafkaError, reason: &str) {
        report_client_error(&self.acks, error, reason);
    }

    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        forward_log(level, fac, message);
    }
}

/// librdkafka's own log lines, at their level, except connection failures (facility `FAIL`):
/// those also reach the error callback, which reports them once, classified.
fn forward_log(level: RDKafkaLogLevel, fac: &str, message: &str) {
    use RDKafkaLogLevel as L;
    match level {
        _ if fac == "FAIL" => tracing::debug!(facility = fac, "librdkafka: {message}"),
        L::Emerg | L::Alert | L::Critical | L::Error => {
            tracing::error!(facility = fac, "librdkafka: {message}")
        }
        L::Warning => tracing::warn!(facility = fac, "librdkafka: {message}"),
        L::Notice | L::Info => tracing::info!(facility = fac, "librdkafka: {message}"),
        L::Debug => tracing::debug!(facility = fac, "librdkafka: {message}"),
    }
}

fn report_client_error(acks: &Acks, error: KafkaError, reason: &str) {
    match refusal(&error, reason) {
        Some(r) => acks.refuse(r),
        None => tracing::warn!(error = %error, reason, "kafka client error"),
    }
}

impl ProducerContext for AckContext {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, seq: usize) {
        let r = match result {
            Ok(_) => Ok(()),
            Err((e, m)) => Err((m.topic().to_string(), e.clone())),
        };
        self.acks.record(seq as u64, r);
    }
}

pub struct KafkaSink {
    producer: ThreadedProducer<AckContext>,
    acks: Arc<Acks>,
    /// Sequence number of the next record: records handed over so far.
    sent: u64,
    admin: AdminClient<AdminContext>,
    cfg: KafkaSinkConfig,
    known_topics: HashSet<Arc<str>>,
    /// When the open Kafka transaction began (exactly-once mode), and the value of `sent` then.
    transaction: Option<(Instant, u64)>,
    /// `init_transactions` succeeded.
    transactions_ready: bool,
}

impl KafkaSink {
    pub fn new(cfg: KafkaSinkConfig) -> Result<Self, KafkaSinkError> {
        let mut client = ClientConfig::new();
        client.set("bootstrap.servers", &cfg.bootstrap_servers);
        // The same partition for the same key as Kafka's Java client, so consumers that
        // co-partition with other Java-produced topics keep working after a switch.
        client.set("partitioner", "murmur2_random");
        client.set("linger.ms", "5");
        // lz4 batches cost little CPU here and much less at the broker, which on a shared host
        // is the bottleneck (measured with scripts/bench.sh: broker CPU down ~4x for bulk).
        client.set("compression.type", "lz4");
        for (k, v) in &cfg.properties {
            client.set(k, v);
        }
        // Set last so that passthrough properties cannot weaken the delivery guarantee.
        client.set("enable.idempotence", "true");
        client.set("acks", "all");
        if let Some(id) = &cfg.transactional_id {
            client.set("transactional.id", id);
        }
        let acks = Arc::new(Acks::default());
        *acks.servers.lock().expect("servers lock") = cfg.bootstrap_servers.clone();
        let producer: ThreadedProducer<AckContext> = client
            .create_with_context(AckContext { acks: acks.clone() })
            .map_err(KafkaSinkError::Create)?;
        // The admin client reaches the same listener, so it needs the same security settings.
        let mut admin = ClientConfig::new();
        admin.set("bootstrap.servers", &cfg.bootstrap_servers);
        for (k, v) in &cfg.properties {
            admin.set(k, v);
        }
        let admin: AdminClient<AdminContext> = admin
            .create_with_context(AdminContext { acks: acks.clone() })
            .map_err(KafkaSinkError::Create)?;
        Ok(KafkaSink {
            producer,
            acks,
            sent: 0,
            admin,
            cfg,
            known_topics: HashSet::new(),
            transaction: None,
            transactions_ready: false,
        })
    }

    /// Exactly-once mode: registers the transactional id with the broker, which fences any
    /// older producer with the same id and aborts its open transaction. Call once, before
    /// sending; later calls do nothing. Blocks the calling worker thread while the broker
    /// answers.
    pub fn init_transactions(&mut self) -> Result<(), KafkaSinkError> {
        let Some(id) = self.cfg.transactional_id.clone() else {
            return Ok(());
        };
        if self.transactions_ready {
            return Ok(());
        }
        tokio::task::block_in_place(|| self.producer.init_transactions(TRANSACTION_TIMEOUT))
            .map_err(|e| self.transaction_error("init", e, &id))?;
        self.transactions_ready = true;
        tracing::info!(transactional_id = %id, "kafka transactions initialized");
        Ok(())
    }

    /// The transactions, in exactly-once mode.
    pub fn transactions(&mut self) -> Option<&mut dyn Transactions> {
        if self.cfg.transactional_id.is_some() {
            Some(self)
        } else {
            None
        }
    }

    /// A new producer in place of this one, whose queued records are purged.
    pub fn reset(&mut self) -> Result<(), KafkaSinkError> {
        let fresh = KafkaSink::new(self.cfg.clone())?;
        let old = std::mem::replace(self, fresh);
        // Dropping purges and briefly flushes, which blocks.
        tokio::task::block_in_place(|| drop(old));
        Ok(())
    }

    pub fn size_limit(&self) -> SizeLimit {
        self.cfg.size_limit()
    }

    /// How long the open Kafka transaction has been running, if one is open.
    pub fn transaction_age(&self) -> Option<Duration> {
        self.transaction.map(|(t, _)| t.elapsed())
    }

    /// Records produced in the open Kafka transaction.
    pub fn transaction_records(&self) -> u64 {
        self.transaction.map_or(0, |(_, first)| self.sent - first)
    }

    /// Commits the open transaction: flushes it, and makes every record in it visible to
    /// `read_committed` consumers at once. Does nothing when none is open.
    pub fn commit_transaction(&mut self) -> Result<(), KafkaSinkError> {
        if self.transaction.is_none() {
            return Ok(());
        }
        let id = self.cfg.transactional_id.clone().unwrap_or_default();
        let r =
            tokio::task::block_in_place(|| self.producer.commit_transaction(TRANSACTION_TIMEOUT));
        self.transaction = None;
        r.map_err(|e| self.transaction_error("commit", e, &id))
    }

    /// Aborts the open transaction, if any: its records are never shown to `read_committed`
    /// consumers. Best effort: a producer that cannot abort is dropped and a new one's
    /// `init_transactions` aborts the transaction instead.
    pub fn abort_transaction(&mut self) -> Result<(), KafkaSinkError> {
        if self.transaction.take().is_none() {
            return Ok(());
        }
        let id = self.cfg.transactional_id.clone().unwrap_or_default();
        tokio::task::block_in_place(|| self.producer.abort_transaction(TRANSACTION_TIMEOUT))
            .map_err(|e| self.transaction_error("abort", e, &id))
    }

    fn transaction_error(
        &self,
        step: &'static str,
        source: KafkaError,
        id: &str,
    ) -> KafkaSinkError {
        let fenced = matches!(
            source.rdkafka_error_code(),
            Some(RDKafkaErrorCode::ProducerFenced)
                | Some(RDKafkaErrorCode::Fenced)
                | Some(RDKafkaErrorCode::InvalidProducerEpoch)
                | Some(RDKafkaErrorCode::TransactionalIdAuthorizationFailed)
        );
        if fenced {
            KafkaSinkError::Fenced {
                id: id.to_string(),
                source,
            }
        } else {
            KafkaSinkError::Transaction { step, source }
        }
    }

    fn begin_if_needed(&mut self) -> Result<(), KafkaSinkError> {
        if self.transaction.is_some() || self.cfg.transactional_id.is_none() {
            return Ok(());
        }
        let id = self.cfg.transactional_id.clone().unwrap_or_default();
        self.producer
            .begin_transaction()
            .map_err(|e| self.transaction_error("begin", e, &id))?;
        self.transaction = Some((Instant::now(), self.sent));
        Ok(())
    }

    /// Creates the compacted, single-partition topic that holds offset records (exactly-once
    /// mode), unless it exists.
    pub async fn ensure_offsets_topic(&mut self, topic: &Arc<str>) -> Result<(), KafkaSinkError> {
        if self.known_topics.contains(topic) {
            return Ok(());
        }
        let new = NewTopic::new(
            topic,
            1,
            TopicReplication::Fixed(self.cfg.replication_factor),
        )
        .set("cleanup.policy", "compact");
        self.create_topic(topic, new).await
    }

    async fn create_topic(
        &mut self,
        topic: &Arc<str>,
        new: NewTopic<'_>,
    ) -> Result<(), KafkaSinkError> {
        let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
        let results = tokio::select! {
            r = self.admin.create_topics([&new], &opts) => r.map_err(|e| KafkaSinkError::CreateTopic {
                topic: topic.to_string(),
                reason: e.to_string(),
            })?,
            r = self.acks.refused() => {
                return Err(KafkaSinkError::refused(&self.cfg.bootstrap_servers, &r));
            }
        };
        for r in results {
            match r {
                Ok(_) => tracing::info!(topic = %topic, "created topic"),
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((t, code)) => {
                    return Err(KafkaSinkError::CreateTopic {
                        topic: t,
                        reason: code.to_string(),
                    })
                }
            }
        }
        self.known_topics.insert(topic.clone());
        Ok(())
    }

    /// Makes sure `topic` exists before the first record goes to it (Kafka Connect's
    /// `topic.creation` behaviour; brokers without auto-creation need it).
    pub async fn ensure_topic(&mut self, topic: &Arc<str>) -> Result<(), KafkaSinkError> {
        if self.known_topics.contains(topic) {
            return Ok(());
        }
        if self.cfg.create_topics {
            let mut new = NewTopic::new(
                topic,
                self.cfg.partitions,
                TopicReplication::Fixed(self.cfg.replication_factor),
            );
            let configs = self.cfg.topic_configs.clone();
            for (k, v) in &configs {
                new = new.set(k, v);
            }
            return self.create_topic(topic, new).await;
        }
        self.known_topics.insert(topic.clone());
        Ok(())
    }

    /// Records handed to the producer so far; pass it to [`Acks::wait_for`] to wait until all
    /// of them are acknowledged.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    pub fn acks(&self) -> Arc<Acks> {
        self.acks.clone()
    }

    /// Queues one record. Waits (without spinning) while the producer queue is full.
    pub async fn send(&mut self, rec: &Record) -> Result<(), KafkaSinkError> {
        self.ensure_topic(&rec.topic).await?;
        self.begin_if_needed()?;
        let mut headers = None;
        let n_headers = rec.headers.len() + rec.event_id.is_some() as usize;
        if n_headers > 0 {
            let mut h = OwnedHeaders::new_with_capacity(n_headers);
            for (k, v) in &rec.headers {
                h = h.insert(Header {
                    key: k,
                    value: v.as_deref(),
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
            headers = Some(h);
        }
        let mut br: BaseRecord<'_, [u8], [u8], usize> =
            BaseRecord::with_opaque_to(&rec.topic, self.sent as usize);
        if let Some(k) = &rec.key {
            br = br.key(k.as_slice());
        }
        if let Some(v) = &rec.value {
            br = br.payload(v.as_slice());
        }
        if let Some(h) = headers {
            br = br.headers(h);
        }
        let mut backoff = Duration::from_millis(1);
        loop {
            match self.producer.send(br) {
                Ok(()) => {
                    self.sent += 1;
                    return Ok(());
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    br = back;
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_millis(50));
                }
                Err((source, _)) => {
                    return Err(KafkaSinkError::Produce {
                        topic: rec.topic.to_string(),
                        source,
                    })
                }
            }
        }
    }

    /// Waits for everything queued to be delivered (used on shutdown).
    pub fn flush(&self, timeout: Duration) -> Result<(), KafkaSinkError> {
        self.producer
            .flush(timeout)
            .map_err(|source| KafkaSinkError::Delivery {
                topic: String::new(),
                source,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn low_water(a: &Acks) -> u64 {
        a.state.lock().unwrap().low_water
    }

    #[test]
    fn low_water_mark_waits_for_gaps() {
        let a = Acks::default();
        a.record(2, Ok(()));
        a.record(0, Ok(()));
        assert_eq!(low_water(&a), 1, "record 1 is still outstanding");
        a.record(1, Ok(()));
        assert_eq!(low_water(&a), 3);
        assert!(a.state.lock().unwrap().ahead.is_empty());
    }

    #[tokio::test]
    async fn a_failed_delivery_blocks_everything_after_it() {
        let a = Acks::default();
        for seq in 0..3 {
            a.record(seq, Ok(()));
        }
        a.record(
            4,
            Err((
                "t".into(),
                KafkaError::MessageProduction(RDKafkaErrorCode::MessageSizeTooLarge),
            )),
        );
        a.record(5, Ok(()));
        a.record(3, Ok(()));
        assert!(
            a.wait_for(4).await.is_ok(),
            "records before the failure count"
        );
        let err = a.wait_for(5).await.unwrap_err();
        assert!(err.to_string().contains("topic \"t\""), "{err}");
        assert!(
            !err.is_transient(),
            "an oversized record will not fit on retry"
        );
    }
}
