//! One Kafka record, decoded into what it does to a table's state: upsert a row, delete a key,
//! truncate the table, or nothing. The serialized forms are JsonConverter's, with or without
//! embedded schemas, either Debezium's envelope or the unwrap transform's flat rows.

use serde_json::{Map, Value};

use crate::lsn::Lsn;

/// How a connector's records are laid out, from its `[format]` and `[[transforms]]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// `format.schemas`: every key and value is `{"schema": ..., "payload": ...}`.
    pub schemas: bool,
    /// An unwrap transform (`ExtractNewRecordState`) flattens values to the row itself.
    pub flat: bool,
}

/// What one record does to the rebuilt state. Keys are the key payload as compact JSON.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Upsert {
        key: String,
        row: Map<String, Value>,
    },
    Delete {
        key: String,
    },
    Truncate,
    /// Not a row change (a logical message, transaction metadata, a tombstone without key).
    Ignore,
}

#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error("a record's {part} is not JSON ({source}): is the connector's [format] the one that wrote the topic?")]
    NotJson {
        part: &'static str,
        source: serde_json::Error,
    },
    #[error("a row change without a message key: the table needs a primary key (or tables.message_key_columns) to be rebuilt by key")]
    NoKey,
    #[error("a record value of an unexpected shape ({0}): is the connector's [format] / [[transforms]] the one that wrote the topic?")]
    Shape(String),
}

/// Decodes one record.
pub fn decode(
    shape: Shape,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
) -> Result<Change, ChangeError> {
    let key = key.map(|k| parse(shape, "key", k)).transpose()?;
    let key = key.filter(|k| !k.is_null()).map(|k| k.to_string());
    let Some(value) = value else {
        // A tombstone: the key's row is gone (or will be, once compacted).
        return Ok(key.map_or(Change::Ignore, |key| Change::Delete { key }));
    };
    if shape.flat {
        flat(key, parse(shape, "value", value)?)
    } else {
        envelope(key, parse_envelope(shape, value)?)
    }
}

/// The parts of an envelope the fold uses; `before`, `source` and the schema are skipped
/// while parsing instead of being built into values (most of a record's bytes).
#[derive(serde::Deserialize)]
struct Envelope {
    #[serde(default)]
    op: Option<String>,
    #[serde(default)]
    after: Option<Map<String, Value>>,
}

#[derive(serde::Deserialize)]
struct WithSchema {
    payload: Option<Envelope>,
}

fn parse_envelope(shape: Shape, bytes: &[u8]) -> Result<Option<Envelope>, ChangeError> {
    let parsed = if shape.schemas {
        serde_json::from_slice::<WithSchema>(bytes).map(|w| w.payload)
    } else {
        serde_json::from_slice::<Option<Envelope>>(bytes)
    };
    parsed.map_err(|source| {
        if source.is_data() {
            ChangeError::Shape(format!(
                "{source}; with format.schemas = {} every value is expected {}",
                shape.schemas,
                if shape.schemas {
                    "as {\"schema\": ..., \"payload\": ...}"
                } else {
                    "without an embedded schema"
                }
            ))
        } else {
            ChangeError::NotJson {
                part: "value",
                source,
            }
        }
    })
}

/// The payload of a serialized key or value.
fn parse(shape: Shape, part: &'static str, bytes: &[u8]) -> Result<Value, ChangeError> {
    let v: Value =
        serde_json::from_slice(bytes).map_err(|source| ChangeError::NotJson { part, source })?;
    if !shape.schemas {
        return Ok(v);
    }
    match v {
        Value::Object(mut m) if m.contains_key("payload") => {
            Ok(m.remove("payload").unwrap_or(Value::Null))
        }
        other => Err(ChangeError::Shape(format!(
            "{part} without schema/payload although format.schemas = true: {}",
            short(&other)
        ))),
    }
}

fn envelope(key: Option<String>, value: Option<Envelope>) -> Result<Change, ChangeError> {
    let Some(v) = value else {
        // A null payload under schemas: a delete that the unwrap transform would have made.
        return Ok(key.map_or(Change::Ignore, |key| Change::Delete { key }));
    };
    let op = v.op.unwrap_or_default();
    match op.as_str() {
        "r" | "c" | "u" => match v.after {
            Some(row) => Ok(Change::Upsert {
                key: key.ok_or(ChangeError::NoKey)?,
                row,
            }),
            None => Err(ChangeError::Shape(format!("op {op:?} without after"))),
        },
        "d" => Ok(Change::Delete {
            key: key.ok_or(ChangeError::NoKey)?,
        }),
        "t" => Ok(Change::Truncate),
        _ => Ok(Change::Ignore),
    }
}

/// Unwrap's output: the row, or the old row with `__deleted: "true"` (rewrite modes).
fn flat(key: Option<String>, value: Value) -> Result<Change, ChangeError> {
    match value {
        Value::Null => Ok(key.map_or(Change::Ignore, |key| Change::Delete { key })),
        Value::Object(row) => {
            let key = key.ok_or(ChangeError::NoKey)?;
            if row
                .get(crate::config::DELETED_FIELD)
                .and_then(Value::as_str)
                == Some("true")
            {
                Ok(Change::Delete { key })
            } else {
                Ok(Change::Upsert { key, row })
            }
        }
        other => Err(ChangeError::Shape(format!(
            "a flat value {}",
            short(&other)
        ))),
    }
}

/// The commit LSN in a `pgcdc.event.id` header (`<commit LSN>:<index>`).
pub fn event_lsn(header: &[u8]) -> Option<Lsn> {
    let text = std::str::from_utf8(header).ok()?;
    text.split_once(':')?.0.parse().ok()
}

fn short(v: &Value) -> String {
    let mut s = v.to_string();
    if s.len() > 120 {
        let mut end = 120;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const PLAIN: Shape = Shape {
        schemas: false,
        flat: false,
    };

    fn dec(shape: Shape, key: Value, value: Option<Value>) -> Change {
        let k = key.to_string();
        let v = value.map(|v| v.to_string());
        decode(shape, Some(k.as_bytes()), v.as_deref().map(str::as_bytes)).unwrap()
    }

    #[test]
    fn envelope_ops() {
        let up = dec(
            PLAIN,
            json!({"id": 1}),
            Some(json!({"op": "u", "after": {"id": 1, "v": 2}})),
        );
        assert_eq!(
            up,
            Change::Upsert {
                key: r#"{"id":1}"#.into(),
                row: json!({"id": 1, "v": 2}).as_object().unwrap().clone()
            }
        );
        let d = dec(
            PLAIN,
            json!({"id": 1}),
            Some(json!({"op": "d", "before": {"id": 1}, "after": null})),
        );
        assert_eq!(
            d,
            Change::Delete {
                key: r#"{"id":1}"#.into()
            }
        );
        assert_eq!(
            dec(PLAIN, json!({"id": 1}), None),
            Change::Delete {
                key: r#"{"id":1}"#.into()
            }
        );
        assert_eq!(
            dec(PLAIN, Value::Null, Some(json!({"op": "t"}))),
            Change::Truncate
        );
        assert_eq!(
            dec(PLAIN, Value::Null, Some(json!({"op": "m"}))),
            Change::Ignore
        );
    }

    #[test]
    fn schemas_are_unwrapped_from_payload() {
        let shape = Shape {
            schemas: true,
            flat: false,
        };
        let c = dec(
            shape,
            json!({"schema": {}, "payload": {"id": 7}}),
            Some(json!({"schema": {}, "payload": {"op": "c", "after": {"id": 7}}})),
        );
        assert!(matches!(c, Change::Upsert { ref key, .. } if key == r#"{"id":7}"#));
        let e = decode(shape, Some(b"{\"id\":7}"), Some(b"{\"op\":\"c\"}")).unwrap_err();
        assert!(e.to_string().contains("format.schemas"), "{e}");
    }

    #[test]
    fn flat_rows_and_rewritten_deletes() {
        let shape = Shape {
            schemas: false,
            flat: true,
        };
        assert!(matches!(
            dec(shape, json!({"id": 1}), Some(json!({"id": 1, "v": 3}))),
            Change::Upsert { .. }
        ));
        assert_eq!(
            dec(
                shape,
                json!({"id": 1}),
                Some(json!({"id": 1, "__deleted": "true"}))
            ),
            Change::Delete {
                key: r#"{"id":1}"#.into()
            }
        );
        assert_eq!(
            dec(shape, json!({"id": 1}), None),
            Change::Delete {
                key: r#"{"id":1}"#.into()
            }
        );
    }

    #[test]
    fn keyless_change_is_an_error() {
        let e = decode(PLAIN, None, Some(br#"{"op":"c","after":{"v":1}}"#)).unwrap_err();
        assert!(matches!(e, ChangeError::NoKey));
    }

    #[test]
    fn event_id_gives_the_commit_lsn() {
        assert_eq!(
            event_lsn(b"0/16B3748:2"),
            Some("0/16B3748".parse().unwrap())
        );
        assert_eq!(event_lsn(b"nonsense"), None);
    }
}
