//! STUB (config branch): the real pipeline replaces this file on merge. Only the signature
//! matters here, so that the binary can be written and tested against it.

use crate::config::{ConnectorConfig, ProcessConfig};
use crate::Lsn;

/// Options from the command line.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Stop once everything up to this LSN has been published and acknowledged.
    pub until_lsn: Option<Lsn>,
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("the pipeline is not implemented in this build")]
    NotImplemented,
}

/// Runs every connector until `shutdown` turns true (or `until_lsn` is reached).
pub async fn run(
    process: ProcessConfig,
    connectors: Vec<ConnectorConfig>,
    opts: RunOptions,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> Result<(), PipelineError> {
    let _ = (process, connectors, opts);
    // Lets the binary's signal handling be exercised: returns Ok once shutdown is requested.
    while !*shutdown.borrow() {
        if shutdown.changed().await.is_err() {
            break;
        }
    }
    Ok(())
}
