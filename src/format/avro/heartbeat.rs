//! Debezium's heartbeat record in Avro: key `ServerNameKey {serverName}`, value
//! `Heartbeat {ts_ms}`, under subjects of the heartbeat topic.

use std::sync::Arc;

use super::{datum, header, AvroFormat};
use crate::event::schema::{heartbeat_key_schema, heartbeat_value_schema};
use crate::format::{FormatError, Record};

pub fn record(
    f: &AvroFormat,
    topic: String,
    topic_prefix: &str,
    ts_ms: i64,
) -> Result<Record, FormatError> {
    let key_id = f.register(&topic, "key", &heartbeat_key_schema())?;
    let value_id = f.register(&topic, "value", &heartbeat_value_schema())?;
    let mut key = header(key_id);
    datum::bytes(&mut key, topic_prefix.as_bytes());
    let mut value = header(value_id);
    datum::long(&mut value, ts_ms);
    Ok(Record {
        topic: Arc::from(topic),
        key: Some(key),
        value: Some(value),
        headers: Vec::new(),
        event_id: None,
    })
}
