//! Single-message transforms between the event model and the format, like Kafka Connect SMTs:
//! each takes one event and returns it (possibly rewritten) or drops it.
//!
//! They work on typed [`ChangeEvent`]s, so a transform never re-parses serialized JSON.

pub mod changed;
pub mod unwrap;

use crate::config::TransformConfig;
use crate::event::ChangeEvent;

pub use changed::ExtractChanged;
pub use unwrap::Unwrap;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransformError {
    #[error(
        "route_by_field {field:?} of the unwrap transform: {reason} in a row of {table}; name a \
         text column present in every routed table"
    )]
    RouteField {
        table: String,
        field: String,
        reason: &'static str,
    },
}

/// One transform. `Sync` so parallel snapshot workers can share a chain.
pub trait Transform: Send + Sync + std::fmt::Debug {
    /// The event to emit instead of `ev`, or `None` to drop it.
    fn apply(&self, ev: ChangeEvent) -> Result<Option<ChangeEvent>, TransformError>;
}

/// The connector's `[[transforms]]`, applied in order.
#[derive(Debug, Default)]
pub struct TransformChain {
    stages: Vec<Box<dyn Transform>>,
}

impl TransformChain {
    pub fn new(stages: Vec<Box<dyn Transform>>) -> Self {
        TransformChain { stages }
    }

    /// Builds the chain a connector file describes (validated configs only).
    pub fn from_config(configs: &[TransformConfig]) -> Self {
        let stages = configs
            .iter()
            .map(|c| match c {
                TransformConfig::Unwrap(u) => {
                    Box::new(Unwrap::new(u.options())) as Box<dyn Transform>
                }
                TransformConfig::ExtractChanged(c) => {
                    Box::new(ExtractChanged::new(c.options())) as Box<dyn Transform>
                }
            })
            .collect();
        TransformChain { stages }
    }

    pub fn is_empty(&self) -> bool {
        self.stages.is_empty()
    }

    pub fn apply(&self, mut ev: ChangeEvent) -> Result<Option<ChangeEvent>, TransformError> {
        for stage in &self.stages {
            match stage.apply(ev)? {
                Some(next) => ev = next,
                None => return Ok(None),
            }
        }
        Ok(Some(ev))
    }
}
