//! One event that cannot go to Kafka: a column value that cannot be converted, or a record the
//! producer refuses (larger than `message.max.bytes`). `[errors] mode` decides between stopping
//! before it (`fail`), or passing it with a warning (`warn`) or only a count (`skip`); with a
//! dead-letter topic the event is published there instead of being dropped.
//!
//! Progress stays honest whatever the mode: a dead-letter record is sent through the same
//! producer and counted like any other, so the position passes the failed event only once that
//! record is acknowledged; a skipped event is passed deliberately, and logged or counted.

use std::fmt;
use std::sync::Arc;

use crate::config::{ErrorsConfig, FailureMode};
use crate::event::EventError;
use crate::event::TableSchema;
use crate::format::{EventId, Record};
use crate::lsn::Lsn;
use crate::sink::{ErrorClass, Sink, SinkError, SizeLimit};

#[derive(Debug, thiserror::Error)]
pub enum EmitError {
    /// One event failed and `[errors] mode` is `fail`: the position stays before it.
    #[error("{0}")]
    EventFailed(Box<EventFailure>),
    #[error(transparent)]
    Sink(#[from] SinkError),
}

impl EmitError {
    /// Whether reconnecting and re-sending from the last durable position may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            EmitError::EventFailed(_) => false,
            EmitError::Sink(e) => e.is_transient(),
        }
    }
}

/// Dead-letter headers: why the event failed and where it came from. The record keeps the
/// original headers too (`pgcdc.event.id`, the `__debezium.context.*` ones).
pub const HEADER_KIND: &str = "pgcdc.error.kind";
pub const HEADER_MESSAGE: &str = "pgcdc.error.message";
pub const HEADER_TABLE: &str = "pgcdc.error.table";
pub const HEADER_TOPIC: &str = "pgcdc.error.topic";
pub const HEADER_LSN: &str = "pgcdc.error.lsn";
pub const HEADER_COLUMN: &str = "pgcdc.error.column";
pub const HEADER_SIZE: &str = "pgcdc.error.size";

/// How much of a key an error line quotes.
const KEY_TEXT_LIMIT: usize = 200;

/// `[errors]`, resolved.
#[derive(Debug, Clone, Default)]
pub struct FailurePolicy {
    pub mode: FailureMode,
    pub dead_letter_topic: Option<Arc<str>>,
    /// The sink's record size limit, for the error line.
    pub size_limit: SizeLimit,
    /// Where failed and dead-lettered events are counted.
    pub obs: Option<Arc<crate::observe::Connector>>,
}

impl FailurePolicy {
    pub fn from_config(errors: &ErrorsConfig, size_limit: SizeLimit) -> Self {
        FailurePolicy {
            mode: errors.mode,
            dead_letter_topic: errors.dead_letter_topic.as_deref().map(Arc::from),
            size_limit,
            obs: None,
        }
    }
}

/// What went wrong with one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// A column value has no representation in the event (`pgcdc.error.kind` =
    /// `value_conversion`).
    Conversion,
    /// The producer refused the record as too large (`record_too_large`).
    TooLarge,
}

impl FailureKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Conversion => "value_conversion",
            FailureKind::TooLarge => "record_too_large",
        }
    }
}

/// One failed event, with everything the error line and the dead-letter headers need.
#[derive(Debug, Clone)]
pub struct EventFailure {
    pub kind: FailureKind,
    /// `schema.table`, when the event comes from a table.
    pub table: Option<String>,
    /// Where the event would have gone.
    pub topic: String,
    /// The serialized key (JSON), when it could be built.
    pub key: Option<Vec<u8>>,
    pub event_id: Option<EventId>,
    pub column: Option<String>,
    /// Size of the refused record in bytes (key, value and headers).
    pub size: Option<u64>,
    pub size_limit: SizeLimit,
    /// The underlying error.
    pub reason: String,
}

impl EventFailure {
    fn lsn(&self) -> Option<Lsn> {
        self.event_id.map(|id| id.lsn)
    }

    /// The key as a short readable text: the JSON payload without the embedded schema.
    fn key_text(&self) -> String {
        let Some(k) = &self.key else {
            return "none".into();
        };
        let shown = serde_json::from_slice::<serde_json::Value>(k)
            .ok()
            .and_then(|v| v.get("payload").cloned())
            .map(|p| p.to_string())
            .unwrap_or_else(|| String::from_utf8_lossy(k).into_owned());
        if shown.chars().count() > KEY_TEXT_LIMIT {
            let cut: String = shown.chars().take(KEY_TEXT_LIMIT).collect();
            format!("{cut}...")
        } else {
            shown
        }
    }
}

impl fmt::Display for EventFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            FailureKind::Conversion => "cannot build the change event",
            FailureKind::TooLarge => "the sink refused the change event",
        };
        write!(f, "{what} for {}", self.table.as_deref().unwrap_or("-"))?;
        if let Some(c) = &self.column {
            write!(f, " column {c}")?;
        }
        write!(f, " (key {}", self.key_text())?;
        match self.event_id {
            Some(id) => write!(f, ", commit lsn {}, event id {id}", id.lsn)?,
            None => write!(f, ", no lsn")?,
        }
        write!(f, ", topic {:?}): {}", self.topic, self.reason)?;
        match self.kind {
            FailureKind::Conversion => write!(
                f,
                "; fix: correct the value in the database, or leave the column out \
                 (tables.column_exclude), or set [errors] mode = \"warn\" or \"skip\" (with \
                 dead_letter_topic to keep the event) to pass it"
            ),
            FailureKind::TooLarge => write!(
                f,
                "; fix: the record is {} bytes and the sink accepts at most {}: {}, or set \
                 [errors] mode = \"warn\" or \"skip\" (with dead_letter_topic to keep the event) \
                 to pass it",
                self.size.unwrap_or(0),
                self.size_limit.bytes,
                self.size_limit.how_to_raise
            ),
        }
    }
}

/// Counts of the events passed under `warn`/`skip` and of dead-letter records, across the
/// sessions of one run.
#[derive(Debug, Default, Clone, Copy)]
pub struct FailureCounts {
    pub passed: u64,
    pub dead_lettered: u64,
}

/// The policy with its counts; lives as long as the connector runs.
#[derive(Debug, Default)]
pub struct Failures {
    pub policy: FailurePolicy,
    pub counts: FailureCounts,
}

impl Failures {
    /// Applies the policy to a failed event whose records (built with the failing values as
    /// null, for their topic and key) are `records`: stop, drop them, or turn them into
    /// dead-letter records in place. `key_lost` says the key itself had a failed value.
    fn apply(
        &mut self,
        mut failure: EventFailure,
        records: &mut Vec<Record>,
        first: usize,
        key_lost: bool,
    ) -> Result<(), EmitError> {
        if key_lost {
            failure.key = None;
        }
        if let Some(obs) = &self.policy.obs {
            obs.metrics.failed.increment(1);
        }
        if self.policy.mode == FailureMode::Fail {
            return Err(EmitError::EventFailed(Box::new(failure)));
        }
        self.counts.passed += 1;
        let to = self.policy.dead_letter_topic.as_deref();
        match self.policy.mode {
            FailureMode::Warn => tracing::warn!(
                kind = failure.kind.as_str(),
                dead_letter_topic = to.unwrap_or("-"),
                passed = self.counts.passed,
                "event passed under errors.mode = warn: {failure}"
            ),
            _ => tracing::debug!(
                kind = failure.kind.as_str(),
                dead_letter_topic = to.unwrap_or("-"),
                passed = self.counts.passed,
                "event skipped under errors.mode = skip: {failure}"
            ),
        }
        match &self.policy.dead_letter_topic {
            Some(topic) => {
                for rec in &mut records[first..] {
                    *rec = dead_letter_record(topic, &failure, rec, key_lost);
                    self.counts.dead_lettered += 1;
                }
                if let Some(obs) = &self.policy.obs {
                    obs.metrics
                        .dead_lettered
                        .increment((records.len() - first) as u64);
                }
            }
            None => records.truncate(first),
        }
        Ok(())
    }

    /// A row change whose values could not be converted; `records[first..]` are what
    /// [`crate::event::EventBuilder::handle_with_nulls`] produced for it.
    pub fn conversion_failed(
        &mut self,
        err: EventError,
        table: Option<&TableSchema>,
        records: &mut Vec<Record>,
        first: usize,
    ) -> Result<(), EmitError> {
        let column = match &err {
            EventError::Value { column, .. } => Some(column.clone()),
            _ => None,
        };
        let key_lost = match (table, &column) {
            (Some(t), Some(c)) => t.key_indices.iter().any(|&i| &t.columns[i].name == c),
            _ => true,
        };
        let head = records.get(first);
        let failure = EventFailure {
            kind: FailureKind::Conversion,
            table: table.map(|t| format!("{}.{}", t.schema_name, t.table_name)),
            topic: head.map_or_else(
                || table.map_or_else(String::new, |t| t.topic.to_string()),
                |r| r.topic.to_string(),
            ),
            key: head.and_then(|r| r.key.clone()),
            event_id: head.and_then(|r| r.event_id),
            column,
            size: None,
            size_limit: self.policy.size_limit.clone(),
            reason: err.to_string(),
        };
        self.apply(failure, records, first, key_lost)
    }

    /// Sends `rec`; a record the producer refuses as too large is a failed event.
    pub async fn send(
        &mut self,
        sink: &mut impl Sink,
        rec: &Record,
        table: impl Fn() -> Option<Arc<TableSchema>>,
    ) -> Result<(), EmitError> {
        let err = match sink.send(rec).await {
            Ok(()) => return Ok(()),
            Err(e) if e.class() == ErrorClass::TooLarge => e,
            Err(e) => return Err(e.into()),
        };
        let failure = EventFailure {
            kind: FailureKind::TooLarge,
            table: table().map(|t| format!("{}.{}", t.schema_name, t.table_name)),
            topic: rec.topic.to_string(),
            key: rec.key.clone(),
            event_id: rec.event_id,
            column: None,
            size: Some(record_size(rec)),
            size_limit: self.policy.size_limit.clone(),
            reason: err.to_string(),
        };
        let mut one = vec![rec.clone()];
        self.apply(failure, &mut one, 0, false)?;
        for dl in &one {
            sink.send(dl).await?;
        }
        Ok(())
    }
}

/// Bytes the record takes in a Kafka batch, roughly: key, value, header names and values.
pub fn record_size(rec: &Record) -> u64 {
    let headers: usize = rec
        .headers
        .iter()
        .map(|(k, v)| k.len() + v.as_ref().map_or(0, |v| v.len()))
        .sum();
    (rec.key.as_ref().map_or(0, Vec::len) + rec.value.as_ref().map_or(0, Vec::len) + headers) as u64
}

/// The dead-letter form of `rec`: same key (unless the key itself failed) and headers, the
/// value only when it exists and is not what was refused, and the reason in `pgcdc.error.*`.
fn dead_letter_record(
    topic: &Arc<str>,
    failure: &EventFailure,
    rec: &Record,
    key_lost: bool,
) -> Record {
    let mut headers = rec.headers.clone();
    let mut add = |k: &str, v: String| headers.push((Arc::from(k), Some(v.into_bytes().into())));
    add(HEADER_KIND, failure.kind.as_str().into());
    add(HEADER_MESSAGE, failure.reason.clone());
    if let Some(t) = &failure.table {
        add(HEADER_TABLE, t.clone());
    }
    add(HEADER_TOPIC, rec.topic.to_string());
    if let Some(lsn) = failure.lsn() {
        add(HEADER_LSN, lsn.to_string());
    }
    if let Some(c) = &failure.column {
        add(HEADER_COLUMN, c.clone());
    }
    if let Some(sz) = failure.size {
        add(HEADER_SIZE, sz.to_string());
    }
    Record {
        topic: topic.clone(),
        key: if key_lost { None } else { rec.key.clone() },
        // A conversion failure has no faithful value (the failing column would read null); a
        // refused record's value is what did not fit.
        value: None,
        headers,
        event_id: rec.event_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::memory::MemorySink;

    fn policy(mode: FailureMode, dlq: Option<&str>) -> FailurePolicy {
        FailurePolicy::from_config(
            &ErrorsConfig {
                mode,
                dead_letter_topic: dlq.map(String::from),
            },
            size_limit(),
        )
    }

    fn rec(id: u64) -> Record {
        Record {
            topic: "p.public.t".into(),
            key: Some(br#"{"schema":{"type":"struct"},"payload":{"id":7}}"#.to_vec()),
            value: Some(b"{}".to_vec()),
            headers: vec![("h".into(), Some(b"v".to_vec().into()))],
            event_id: Some(EventId::wal(Lsn(0x16B3748), id)),
        }
    }

    fn size_limit() -> SizeLimit {
        SizeLimit {
            bytes: 2000,
            how_to_raise: "raise message.max.bytes in [sink.properties]".into(),
        }
    }

    fn failure() -> EventFailure {
        EventFailure {
            kind: FailureKind::TooLarge,
            table: Some("public.t".into()),
            topic: "p.public.t".into(),
            key: rec(0).key,
            event_id: rec(2).event_id,
            column: None,
            size: Some(5000),
            size_limit: size_limit(),
            reason: "Message production error: MessageSizeTooLarge".into(),
        }
    }

    #[test]
    fn the_error_line_names_table_key_lsn_size_and_fix() {
        let line = failure().to_string();
        for needle in [
            "public.t",
            "{\"id\":7}",
            "0/16B3748",
            "0/16B3748:2",
            "5000 bytes",
            "accepts at most 2000",
            "[sink.properties]",
            "mode = \"warn\"",
        ] {
            assert!(line.contains(needle), "{needle:?} missing in {line}");
        }
        assert!(
            !line.contains("schema"),
            "key shown without its schema: {line}"
        );
        assert!(!line.contains('\n'));
    }

    #[test]
    fn fail_stops_skip_drops_dead_letter_replaces() {
        let mut f = Failures {
            policy: policy(FailureMode::Fail, None),
            counts: FailureCounts::default(),
        };
        let mut recs = vec![rec(0), rec(1)];
        let err = f.apply(failure(), &mut recs, 1, false).unwrap_err();
        assert!(matches!(err, EmitError::EventFailed(_)));
        assert!(!err.is_transient());
        assert_eq!(recs.len(), 2);

        f.policy = policy(FailureMode::Skip, None);
        f.apply(failure(), &mut recs, 1, false).unwrap();
        assert_eq!(
            recs.len(),
            1,
            "the failed record is dropped, the one before kept"
        );
        assert_eq!(f.counts.passed, 1);

        f.policy = policy(FailureMode::Warn, Some("dlq"));
        let mut recs = vec![rec(0), rec(1)];
        f.apply(failure(), &mut recs, 1, false).unwrap();
        assert_eq!(recs[0].topic.as_ref(), "p.public.t");
        let dl = &recs[1];
        assert_eq!(dl.topic.as_ref(), "dlq");
        assert_eq!(dl.key, rec(1).key);
        assert_eq!(dl.value, None);
        assert_eq!(dl.event_id, rec(1).event_id);
        let h = |k: &str| {
            dl.headers
                .iter()
                .find(|(n, _)| &**n == k)
                .map(|(_, v)| String::from_utf8(v.clone().unwrap().to_vec()).unwrap())
        };
        assert_eq!(h("h").as_deref(), Some("v"), "original headers kept");
        assert_eq!(h(HEADER_KIND).as_deref(), Some("record_too_large"));
        assert_eq!(h(HEADER_TABLE).as_deref(), Some("public.t"));
        assert_eq!(h(HEADER_TOPIC).as_deref(), Some("p.public.t"));
        assert_eq!(h(HEADER_LSN).as_deref(), Some("0/16B3748"));
        assert_eq!(h(HEADER_SIZE).as_deref(), Some("5000"));
        assert_eq!(f.counts.passed, 2);
        assert_eq!(f.counts.dead_lettered, 1);

        let mut recs = vec![rec(0)];
        f.apply(failure(), &mut recs, 0, true).unwrap();
        assert_eq!(recs[0].key, None, "a key with a failed value is not sent");
    }

    #[test]
    fn record_size_counts_key_value_and_headers() {
        let r = rec(0);
        assert_eq!(
            record_size(&r),
            (r.key.as_ref().unwrap().len() + 2 + 2) as u64
        );
    }

    /// A small record with event id `index`, keyed by `key`.
    fn small(key: i64, index: u64) -> Record {
        Record {
            key: Some(format!("{{\"id\":{key}}}").into_bytes()),
            value: Some(b"{}".to_vec()),
            ..rec(index)
        }
    }

    fn big(key: i64, index: u64) -> Record {
        Record {
            value: Some(vec![b'x'; 5000]),
            ..small(key, index)
        }
    }

    fn failures(mode: FailureMode, dlq: Option<&str>) -> Failures {
        Failures {
            policy: policy(mode, dlq),
            counts: FailureCounts::default(),
        }
    }

    /// Sends `recs` in order through the emit path into a sink that refuses records over 2000
    /// bytes; the first error stops, as it stops a session.
    async fn emit(f: &mut Failures, recs: &[Record]) -> (MemorySink, Result<(), EmitError>) {
        let mut sink = MemorySink::with_limit(2000);
        for r in recs {
            if let Err(e) = f.send(&mut sink, r, || None).await {
                return (sink, Err(e));
            }
        }
        (sink, Ok(()))
    }

    fn accepted(sink: &MemorySink) -> Vec<(String, u64)> {
        sink.accepted
            .iter()
            .map(|r| (r.topic.to_string(), r.event_id.unwrap().index))
            .collect()
    }

    #[tokio::test]
    async fn a_record_refused_as_too_large_follows_the_mode() {
        let recs = [small(1, 0), big(2, 1), small(3, 2)];
        let topic = "p.public.t".to_string();

        let mut f = failures(FailureMode::Fail, None);
        let (sink, res) = emit(&mut f, &recs).await;
        assert!(matches!(res, Err(EmitError::EventFailed(_))), "{res:?}");
        assert!(!res.unwrap_err().is_transient());
        assert_eq!(
            accepted(&sink),
            [(topic.clone(), 0)],
            "nothing after the failed record"
        );

        for mode in [FailureMode::Warn, FailureMode::Skip] {
            let mut f = failures(mode, None);
            let (sink, res) = emit(&mut f, &recs).await;
            res.unwrap();
            assert_eq!(accepted(&sink), [(topic.clone(), 0), (topic.clone(), 2)]);
            assert_eq!(f.counts.passed, 1);
            assert_eq!(f.counts.dead_lettered, 0);
        }

        let mut f = failures(FailureMode::Skip, Some("dlq"));
        let (sink, res) = emit(&mut f, &recs).await;
        res.unwrap();
        assert_eq!(
            accepted(&sink),
            [(topic.clone(), 0), ("dlq".into(), 1), (topic, 2)],
            "the dead letter takes the refused record's place, in order"
        );
        assert_eq!(sink.accepted[1].key, recs[1].key);
        assert_eq!(f.counts.dead_lettered, 1);
    }
}
