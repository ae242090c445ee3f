//! The HTTP listener of `pgcdc run` (`[http]`): `/` a status page for people (with
//! `/status/history`, the JSON its script polls), `/metrics` for Prometheus, `/health` and
//! `/ready` for an orchestrator's probes. It only reads what the pipeline records in
//! [`crate::observe`]; nothing served here can change the capture.

mod exporter;
mod history;
mod page;
mod routes;
mod scrape;
mod view;

use std::net::SocketAddr;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::observe::Registry;

pub use exporter::{install_recorder, Exporter, ExporterError};

/// How often the exporter drains its histograms when nobody scrapes (bounds their memory).
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("cannot listen on {addr} (http.listen): {source}; choose another address or port, or set [http] enabled = false")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// A running listener; [`Server::shutdown`] stops it after the requests in progress.
pub struct Server {
    pub addr: SocketAddr,
    stop: oneshot::Sender<()>,
    serve: JoinHandle<()>,
    upkeep: JoinHandle<()>,
    sampler: JoinHandle<()>,
}

/// Binds `addr` and serves until [`Server::shutdown`]. Binding happens here, before the
/// connectors start, so a port already in use fails the start instead of going unnoticed.
pub async fn start(
    addr: SocketAddr,
    registry: Registry,
    exporter: Exporter,
) -> Result<Server, HttpError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| HttpError::Bind { addr, source })?;
    let addr = listener.local_addr().unwrap_or(addr);
    let upkeep = tokio::spawn(upkeep(exporter.clone()));
    let samples = history::History::default();
    let sampler = tokio::spawn(history::sample(exporter.clone(), samples.clone()));
    let app = routes::router(registry, exporter, samples);
    let (stop, stopped) = oneshot::channel();
    let serve = tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(error = %e, "http listener failed");
        }
    });
    tracing::info!(
        addr = %addr,
        "http listening (/ status page, /metrics, /health, /ready)"
    );
    Ok(Server {
        addr,
        stop,
        serve,
        upkeep,
        sampler,
    })
}

impl Server {
    /// Stops accepting, lets requests in progress finish, and returns when the listener is
    /// closed.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        self.upkeep.abort();
        self.sampler.abort();
        if let Err(e) = self.serve.await {
            tracing::debug!(error = %e, "http listener task ended abnormally");
        }
    }
}

async fn upkeep(exporter: Exporter) {
    let mut tick = tokio::time::interval(UPKEEP_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        exporter.upkeep();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::observe::{Connector, State};

    async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.unwrap();
        let mut buf = String::new();
        s.read_to_string(&mut buf).await.unwrap();
        let (head, body) = buf.split_once("\r\n\r\n").unwrap();
        (head[9..12].parse().unwrap(), body.to_string())
    }

    #[tokio::test]
    async fn ready_follows_the_connectors_and_health_stays_live() {
        let registry = Registry::default();
        let any_port = "127.0.0.1:0".parse().unwrap();
        let server = start(any_port, registry.clone(), Exporter::private())
            .await
            .unwrap();
        let addr = server.addr;
        let (code, body) = get(addr, "/ready").await;
        assert_eq!(code, 503, "no connector yet: {body}");

        let c = Arc::new(Connector::new("inv", Some("pw-secret")));
        registry.add(c.clone());
        c.set_state(State::Streaming);
        let (code, body) = get(addr, "/ready").await;
        assert_eq!(code, 200, "{body}");
        assert!(
            body.contains(r#""name":"inv","state":"streaming""#),
            "{body}"
        );

        #[derive(Debug, thiserror::Error)]
        #[error("login with pw-secret refused")]
        struct Refused;
        c.set_error(&Refused, true);
        let (code, body) = get(addr, "/ready").await;
        assert_eq!(code, 503, "{body}");
        assert!(body.contains("login with *** refused"), "{body}");
        assert!(!body.contains("pw-secret"), "{body}");
        let (code, body) = get(addr, "/health").await;
        assert_eq!(code, 200, "{body}");
        assert!(body.contains(r#""state":"failed""#), "{body}");
        let (code, _) = get(addr, "/metrics").await;
        assert_eq!(code, 200);
        let (code, page) = get(addr, "/").await;
        assert_eq!(code, 200, "{page}");
        assert!(page.contains(">failed</span>"), "{page}");
        assert!(page.contains("login with *** refused"), "{page}");
        let (code, json) = get(addr, "/status/history").await;
        assert_eq!(code, 200, "{json}");
        assert!(json.contains(r#""state":"failed""#), "{json}");
        for body in [&page, &json] {
            assert!(!body.contains("pw-secret"), "{body}");
        }

        server.shutdown().await;
        assert!(
            tokio::net::TcpStream::connect(addr).await.is_err(),
            "closed after shutdown"
        );
    }

    #[tokio::test]
    async fn a_port_in_use_names_the_key() {
        let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = taken.local_addr().unwrap();
        let Err(e) = start(addr, Registry::default(), Exporter::private()).await else {
            panic!("bound a port in use");
        };
        let text = e.to_string();
        assert!(
            text.contains("http.listen") && text.contains(&addr.to_string()),
            "{text}"
        );
    }
}
