//! Serializers: change events → Kafka records (topic, key bytes, value bytes, headers).

pub mod json;

use std::sync::Arc;

pub use json::JsonFormat;

/// One Kafka record. `value: None` is a tombstone; `key: None` a null key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub topic: Arc<str>,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Vec<u8>)>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error(transparent)]
    Transform(#[from] crate::transforms::TransformError),
    #[error("cannot serialize event at {lsn} for topic {topic}: {reason}")]
    Unsupported {
        topic: String,
        lsn: crate::lsn::Lsn,
        reason: String,
    },
}
