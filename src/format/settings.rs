//! How a connector's serializers are made. The stream, both snapshots and the heartbeats build
//! theirs from one value, so a record looks the same whichever path it leaves by: same
//! schemas setting, same binary mode, same Debezium context headers of this run.

use std::sync::Arc;

use super::avro::SchemaIds;
use super::{Header, Serializer};
use crate::config::BinaryHandlingMode;

#[derive(Debug, Clone, Default)]
pub struct FormatSettings {
    /// JsonConverter's `schemas.enable`.
    pub schemas: bool,
    pub binary_mode: BinaryHandlingMode,
    /// Debezium's `__debezium.context.*` headers, one set per connector run.
    pub context_headers: Vec<Header>,
    /// `[format] type = "avro"`: the schema registry all of the run's serializers share.
    pub registry: Option<Arc<dyn SchemaIds>>,
    /// `format.subject_name_strategy` (Avro).
    pub subject_name_strategy: crate::config::SubjectNameStrategy,
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
            registry: None,
            subject_name_strategy: Default::default(),
        }
    }

    /// The serializers of this run write `[format]`'s format: with `type = "avro"`, through
    /// one registry client.
    pub fn with_format(mut self, format: &crate::config::FormatConfig) -> Self {
        self.registry = match format {
            crate::config::FormatConfig::Json(_) => None,
            crate::config::FormatConfig::Avro(a) => {
                self.subject_name_strategy = a.subject_name_strategy;
                Some(Arc::new(super::avro::Registry::new(a)) as Arc<dyn SchemaIds>)
            }
        };
        self
    }

    /// A serializer for one thread of work.
    pub fn build(&self) -> Box<dyn Serializer> {
        match &self.registry {
            Some(ids) => super::avro::build(self, ids.clone()),
            None => super::json::build(self),
        }
    }
}
