//! Liveness, readiness and metrics for operators: `/healthz` (the process serves
//! HTTP), `/readyz` (database, knowledge index and workers are healthy; 503 naming the
//! failing part, or `stopping` from the moment a shutdown is asked for) and
//! `/metrics` (Prometheus text format).

use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use super::AppState;

/// A worker that has not turned its loop for this long is stuck (a single text takes
/// at most a few LLM timeouts).
const WORKER_STALE_AFTER: Duration = Duration::from_secs(60);

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// The process is up and serving HTTP.
async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// The process can do its job: the database answers, the knowledge index (when the
/// knowledge base is on) has been loaded, and an inbound worker turned its loop
/// recently. Each part is reported; any failure is a 503 naming it.
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    // Stopping: tell the load balancer at once, while requests are still served.
    if *state.stopping.borrow() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "stopping" })),
        );
    }
    let mut checks = serde_json::Map::new();
    let mut failing = Vec::new();

    let database = match state.engine.store.ping().await {
        Ok(()) => "ok".to_string(),
        Err(e) => {
            failing.push("database");
            format!("unavailable: {e}")
        }
    };
    checks.insert("database".into(), database.into());

    let knowledge = match &state.knowledge {
        None => "off".to_string(),
        Some(knowledge) => {
            if knowledge.is_ready() {
                "ok".to_string()
            } else {
                failing.push("knowledge");
                "not indexed yet".to_string()
            }
        }
    };
    checks.insert("knowledge".into(), knowledge.into());

    let workers = match state.engine.heartbeat.age() {
        Some(age) if age <= WORKER_STALE_AFTER => "ok".to_string(),
        Some(age) => {
            failing.push("workers");
            format!("no heartbeat for {}s", age.as_secs())
        }
        None => {
            failing.push("workers");
            "not started".to_string()
        }
    };
    checks.insert("workers".into(), workers.into());

    if failing.is_empty() {
        (
            StatusCode::OK,
            Json(json!({ "status": "ready", "checks": checks })),
        )
    } else {
        tracing::warn!(failing = ?failing, "readiness check failed");
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unavailable", "failing": failing, "checks": checks })),
        )
    }
}

/// Prometheus text exposition. Gauges (queue depth and age, outbox, waiting
/// handoffs) are read from the database at scrape time; without a database they are
/// left at their last value and the counters are still served.
async fn metrics(State(state): State<AppState>) -> Response {
    let now = state.engine.now_ms();
    let body = match crate::telemetry::render(&state.engine.store, now).await {
        Ok(body) => body,
        Err(e) => {
            tracing::warn!(error = %e, "metrics: database gauges unavailable");
            crate::telemetry::install()
                .map(|h| h.render())
                .unwrap_or_default()
        }
    };
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}
