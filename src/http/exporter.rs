//! The process-wide Prometheus recorder: every `metrics` handle registered after
//! [`install_recorder`] lands in it, and `/metrics` renders it.

use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};

use crate::observe::meters;

#[derive(Debug, thiserror::Error)]
#[error("cannot install the metrics recorder: {0}")]
pub struct ExporterError(#[from] BuildError);

/// What renders the metrics; cheap to clone.
#[derive(Clone)]
pub struct Exporter {
    handle: PrometheusHandle,
}

/// Installs the recorder; call once, before any connector registers its metrics (handles
/// registered earlier stay no-ops).
pub fn install_recorder() -> Result<Exporter, ExporterError> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(meters::COMMIT_TO_ACK.to_string()),
            &meters::LATENCY_BUCKETS,
        )?
        .install_recorder()?;
    meters::describe();
    Ok(Exporter { handle })
}

impl Exporter {
    /// A recorder of its own, not the process-wide one: for tests of the listener.
    #[cfg(test)]
    pub fn private() -> Self {
        Exporter {
            handle: PrometheusBuilder::new().build_recorder().handle(),
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        self.handle.render()
    }

    pub fn upkeep(&self) {
        self.handle.run_upkeep();
    }
}
