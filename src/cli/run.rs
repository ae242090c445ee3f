//! `pgcdc run`: synchronous bootstrap (config, logging), then the Tokio runtime.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use pgcdc::pipeline::{self, RunOptions};
use tokio::sync::watch;

use super::args::RunArgs;
use super::{error_chain, load_all, logging, EXIT_FAILURE};

/// How long blocking tasks get to finish once the pipeline has returned.
const RUNTIME_SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

pub fn run(config: Option<&Path>, args: RunArgs) -> ExitCode {
    let (process, connectors) = match load_all(config, &args.paths) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };

    logging::init(&process.log);
    for c in &connectors {
        tracing::info!(
            connector = %c.name,
            file = %c.file.display(),
            slot = %c.slot.name,
            publication = %c.publication.name,
            offsets = ?c.offsets.store,
            "connector loaded"
        );
    }

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("pgcdc-worker")
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the tokio runtime");
            return ExitCode::from(EXIT_FAILURE);
        }
    };

    let opts = RunOptions {
        until_lsn: args.until_lsn,
    };
    let result = runtime.block_on(async move {
        let (tx, rx) = watch::channel(false);
        tokio::spawn(forward_signals(tx));
        pipeline::run(process, connectors, opts, rx).await
    });
    runtime.shutdown_timeout(RUNTIME_SHUTDOWN_GRACE);

    match result {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!(error = %error_chain(&e), "pipeline failed");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// The first SIGINT or SIGTERM asks the pipeline to stop cleanly (flush, acknowledge, save
/// offsets); a second one exits at once for an operator who does not want to wait.
async fn forward_signals(tx: watch::Sender<bool>) {
    let mut signals = match Signals::new() {
        Ok(signals) => signals,
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for signals; stop with SIGKILL");
            return;
        }
    };
    let signal = signals.next().await;
    tracing::info!(
        signal,
        "shutting down; send the signal again to exit immediately"
    );
    let _ = tx.send(true);
    let signal = signals.next().await;
    tracing::warn!(signal, "second signal, exiting without a clean shutdown");
    std::process::exit(130);
}

#[cfg(unix)]
struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    fn new() -> std::io::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
        })
    }

    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.int.recv() => "SIGINT",
            _ = self.term.recv() => "SIGTERM",
        }
    }
}

#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    fn new() -> std::io::Result<Self> {
        Ok(Signals)
    }

    async fn next(&mut self) -> &'static str {
        let _ = tokio::signal::ctrl_c().await;
        "ctrl-c"
    }
}
