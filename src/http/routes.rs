//! The handlers. Bodies carry connector names, states, error messages (with the password
//! masked by [`crate::observe`]) and a few metric values, never configuration.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use super::history::{self, History};
use super::view::{ConnectorView, Page};
use super::{page, scrape, Exporter};
use crate::observe::{now_ms, Registry, Status};

/// Prometheus' text exposition format.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Clone)]
struct Shared {
    registry: Registry,
    exporter: Exporter,
    history: History,
}

pub(super) fn router(registry: Registry, exporter: Exporter, history: History) -> Router {
    Router::new()
        .route("/", get(status_page))
        .route("/status/history", get(status_history))
        .route("/metrics", get(metrics))
        .route("/health", get(health))
        .route("/ready", get(ready))
        .with_state(Shared {
            registry,
            exporter,
            history,
        })
}

/// Each connector as the status page shows it: state now, metric values now (read from a
/// fresh rendering, so a snapshot's progress is not a sampling interval old), history so far.
fn views(s: &Shared) -> Vec<ConnectorView> {
    let readings = scrape::read(&s.exporter.render());
    s.registry
        .statuses()
        .into_iter()
        .map(|st| {
            let reading = readings.get(&st.name);
            ConnectorView::new(st, reading, &s.history)
        })
        .collect()
}

async fn status_page(State(s): State<Shared>) -> Html<String> {
    Html(page::render(&views(&s)))
}

/// What the page's script redraws from.
async fn status_history(State(s): State<Shared>) -> Json<Page> {
    Json(Page {
        now_ms: now_ms(),
        window_ms: (history::INTERVAL * history::CAPACITY as u32).as_millis() as i64,
        connectors: views(&s),
    })
}

async fn metrics(State(s): State<Shared>) -> Response {
    // Time-dependent gauges (seconds since the last event, records in flight) are computed
    // now rather than on every event.
    s.registry.refresh();
    ([(header::CONTENT_TYPE, TEXT_FORMAT)], s.exporter.render()).into_response()
}

#[derive(Serialize)]
struct Body {
    status: &'static str,
    connectors: Vec<Status>,
}

/// Live as long as the process answers: a connector that failed for good is reported in the
/// body but does not make the process worth restarting (it would fail the same way).
async fn health(State(s): State<Shared>) -> Response {
    let body = Body {
        status: "live",
        connectors: s.registry.statuses(),
    };
    (StatusCode::OK, Json(body)).into_response()
}

/// Ready when every connector is snapshotting or streaming; 503 while one starts, retries,
/// or after a definite error.
async fn ready(State(s): State<Shared>) -> Response {
    // One reading for both the code and the body, so they cannot disagree.
    let connectors = s.registry.statuses();
    let ready = Registry::all_ready(&connectors);
    let body = Body {
        status: if ready { "ready" } else { "not_ready" },
        connectors,
    };
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body)).into_response()
}
