//! The handlers. Bodies carry connector names, states and error messages (with the password
//! masked by [`crate::observe`]), never configuration.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use super::Exporter;
use crate::observe::{Registry, Status};

/// Prometheus' text exposition format.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Clone)]
struct Shared {
    registry: Registry,
    exporter: Exporter,
}

pub(super) fn router(registry: Registry, exporter: Exporter) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/health", get(health))
        .route("/ready", get(ready))
        .with_state(Shared { registry, exporter })
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
