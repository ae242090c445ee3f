//! `pgcdc run`: synchronous bootstrap (config, logging), then the Tokio runtime, with the
//! HTTP listener (`[http]`) up before the connectors start and down after they stopped.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use pgcdc::config::HttpConfig;
use pgcdc::http;
use pgcdc::observe::Registry;
use pgcdc::pipeline::{self, PipelineError, RunOptions};
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

    let registry = Registry::default();
    let opts = RunOptions {
        until_lsn: args.until_lsn,
        registry: registry.clone(),
    };
    let http_cfg = process.http.clone();
    // A one-shot run (--until-lsn) is nobody's sidecar: it exits on failure whatever [http] says.
    let stay_up = http_cfg.stay_up_after_failure && args.until_lsn.is_none();
    let result = runtime.block_on(async move {
        let (tx, rx) = watch::channel(false);
        tokio::spawn(forward_signals(tx));
        let server = start_http(&http_cfg, registry).await?;
        let result = pipeline::run(process, connectors, opts, rx.clone()).await;
        let result = match (result, &server) {
            (Err(e), Some(_)) if stay_up => {
                tracing::error!(error = %error_chain(&e), "pipeline failed; still serving /health, /ready and /metrics until SIGTERM (http.stay_up_after_failure)");
                wait_for_stop(rx).await;
                Err(Failure::Reported)
            }
            (r, _) => r.map_err(Failure::Pipeline),
        };
        if let Some(server) = server {
            server.shutdown().await;
        }
        result
    });
    runtime.shutdown_timeout(RUNTIME_SHUTDOWN_GRACE);

    match result {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(Failure::Reported) => ExitCode::from(EXIT_FAILURE),
        Err(Failure::Pipeline(e)) => {
            tracing::error!(error = %error_chain(&e), "pipeline failed");
            ExitCode::from(EXIT_FAILURE)
        }
        Err(Failure::Http(e)) => {
            tracing::error!(error = %e, "cannot start");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// Why `pgcdc run` exits 1.
enum Failure {
    /// The listener could not start; nothing was captured.
    Http(String),
    Pipeline(PipelineError),
    /// The pipeline failed, was logged, and the listener served until SIGTERM.
    Reported,
}

/// Installs the metrics recorder and binds the listener, before any connector registers its
/// metrics; `None` when `[http] enabled = false`.
async fn start_http(cfg: &HttpConfig, registry: Registry) -> Result<Option<http::Server>, Failure> {
    if !cfg.enabled {
        return Ok(None);
    }
    let addr = cfg
        .addr()
        .map_err(|e| Failure::Http(format!("http.listen: {e}")))?;
    let exporter = http::install_recorder().map_err(|e| Failure::Http(e.to_string()))?;
    let server = http::start(addr, registry, exporter)
        .await
        .map_err(|e| Failure::Http(error_chain(&e)))?;
    Ok(Some(server))
}

/// Returns once a stop was asked for (SIGTERM, ctrl-c).
async fn wait_for_stop(mut rx: watch::Receiver<bool>) {
    while !*rx.borrow_and_update() {
        if rx.changed().await.is_err() {
            return;
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
