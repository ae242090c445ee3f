//! How a connector's serializers are made. The stream, both snapshots and the heartbeats build
//! theirs from one value, so a record looks the same whichever path it leaves by: same
//! schemas setting, same binary mode, same Debezium context headers of this run.

use std::sync::Arc;

use super::{Header, Serializer};
use crate::config::BinaryHandlingMode;

#[derive(Debug, Clone, Default)]
pub struct FormatSettings {
    /// JsonConverter's `schemas.enable`.
    pub schemas: bool,
    pub binary_mode: BinaryHandlingMode,
    /// Debezium's `__debezium.context.*` headers, one set per connector run.
    pub context_headers: Vec<Header>,
}

impl FormatSettings {
    /// `context` as [`crate::event::context::context_headers`] gives them.
    pub fn new(
        schemas: bool,
        binary_mode: BinaryHandlingMode,
        context: Vec<(String, Vec<u8>)>,
    ) -> Self {
        let context_headers = context
            .into_iter()
            .map(|(k, v)| (Arc::from(k), Some(bytes::Bytes::from(v))))
            .collect();
        FormatSettings {
            schemas,
            binary_mode,
            context_headers,
        }
    }

    /// A serializer for one thread of work.
    pub fn build(&self) -> Box<dyn Serializer> {
        super::json::build(self)
    }
}
