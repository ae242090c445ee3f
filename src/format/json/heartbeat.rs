//! Debezium's heartbeat record (`heartbeat.interval.ms`), as the JsonConverter writes it.

use std::sync::Arc;

use serde_json::{json, Value};

use super::JsonFormat;
use crate::format::Record;

impl JsonFormat {
    /// One heartbeat for `topic`: key `{"serverName": <topic_prefix>}`, value
    /// `{"ts_ms": <ts_ms>}`, each wrapped in its Connect schema when schemas are on.
    pub fn heartbeat(&self, topic: String, topic_prefix: &str, ts_ms: i64) -> Record {
        record(topic, topic_prefix, self.schemas, ts_ms)
    }
}

fn record(topic: String, topic_prefix: &str, schemas: bool, ts_ms: i64) -> Record {
    let key = json!({ "serverName": topic_prefix });
    let value = json!({ "ts_ms": ts_ms });
    let (key, value) = if schemas {
        (
            envelope(
                "io.debezium.connector.common.ServerNameKey",
                "string",
                "serverName",
                key,
            ),
            envelope(
                "io.debezium.connector.common.Heartbeat",
                "int64",
                "ts_ms",
                value,
            ),
        )
    } else {
        (key, value)
    };
    Record {
        topic: Arc::from(topic),
        key: Some(key.to_string().into_bytes()),
        value: Some(value.to_string().into_bytes()),
        headers: Vec::new(),
        event_id: None,
    }
}

/// A one-field struct schema (version 1, like Debezium's SchemaFactory) with its payload.
fn envelope(name: &str, field_type: &str, field: &str, payload: Value) -> Value {
    json!({
        "schema": {
            "type": "struct",
            "fields": [{ "type": field_type, "optional": false, "field": field }],
            "optional": false,
            "name": name,
            "version": 1
        },
        "payload": payload
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(b: &Option<Vec<u8>>) -> Value {
        serde_json::from_slice(b.as_deref().unwrap()).unwrap()
    }

    #[test]
    fn plain_heartbeat() {
        let r = record("beats.shop".into(), "shop", false, 1700000000123);
        assert_eq!(&*r.topic, "beats.shop");
        assert_eq!(parse(&r.key), json!({"serverName": "shop"}));
        assert_eq!(parse(&r.value), json!({"ts_ms": 1700000000123_i64}));
    }

    #[test]
    fn heartbeat_with_schemas() {
        let r = record("beats.shop".into(), "shop", true, 5);
        let k = parse(&r.key);
        assert_eq!(
            k["schema"]["name"],
            "io.debezium.connector.common.ServerNameKey"
        );
        assert_eq!(k["schema"]["fields"][0]["field"], "serverName");
        assert_eq!(k["payload"]["serverName"], "shop");
        let v = parse(&r.value);
        assert_eq!(
            v["schema"]["name"],
            "io.debezium.connector.common.Heartbeat"
        );
        assert_eq!(v["schema"]["fields"][0]["type"], "int64");
        assert_eq!(v["payload"]["ts_ms"], 5);
    }
}
