//! Admin API: read-only views of the service's moving parts for operators.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/admin/knowledge", get(knowledge))
}

/// Documents and chunks indexed, when, and the files that could not be used (with
/// their line), so an operator sees a broken edit without reading logs.
async fn knowledge(State(state): State<AppState>) -> Response {
    match &state.knowledge {
        Some(knowledge) => Json(knowledge.status()).into_response(),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({ "error": "the knowledge base is not running; see the server log" })),
        )
            .into_response(),
    }
}
