//! Labels on conversations: any agent adds or removes one; the team sees which are in
//! use. The queue filters by them (`GET /api/v1/handoffs?label=vip`), the analytics
//! split by them (`group_by=label`), and webhooks carry them.

use axum::Router;
use axum::extract::State;
use axum::routing::{delete, get, post};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::CurrentAgent;
use super::extract::{Json, Path};
use super::{ApiError, AppState};
use crate::store::{Label, LabelCount};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/labels", get(in_use))
        .route("/api/v1/conversations/{id}/labels", post(add))
        .route("/api/v1/conversations/{id}/labels/{label}", delete(remove))
}

#[derive(Deserialize, ToSchema)]
pub struct LabelRequest {
    /// Letters, digits, '-' and '_', at most 32; "VIP customer" is stored as
    /// `vip-customer`.
    pub label: String,
}

/// A conversation's labels after the change.
#[derive(Serialize, ToSchema)]
pub struct Labels {
    pub conversation_id: i64,
    /// In name order.
    pub labels: Vec<String>,
}

fn parse(label: &str) -> Result<Label, ApiError> {
    Label::parse(label).map_err(|e| ApiError::BadRequest(format!("\"label\": {e}")))
}

#[utoipa::path(
    post, path = "/api/v1/conversations/{id}/labels", tag = "conversations",
    params(("id" = i64, Path, description = "Conversation id")),
    request_body = LabelRequest,
    responses(
        (status = 200, description = "Labelled (already labelled is no change)", body = Labels),
        (status = 400, description = "Not a label"),
        (status = 404, description = "No such conversation"),
    ),
    security(("bearer" = []))
)]
pub async fn add(
    agent: CurrentAgent,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Json(request): Json<LabelRequest>,
) -> Result<Json<Labels>, ApiError> {
    let label = parse(&request.label)?;
    let labels = state.engine.add_label(id, agent.id, &label).await?;
    Ok(Json(Labels {
        conversation_id: id,
        labels,
    }))
}

#[utoipa::path(
    delete, path = "/api/v1/conversations/{id}/labels/{label}", tag = "conversations",
    params(
        ("id" = i64, Path, description = "Conversation id"),
        ("label" = String, Path, description = "The label to take off"),
    ),
    responses(
        (status = 200, description = "Removed (not there is no change)", body = Labels),
        (status = 400, description = "Not a label"),
        (status = 404, description = "No such conversation"),
    ),
    security(("bearer" = []))
)]
pub async fn remove(
    agent: CurrentAgent,
    State(state): State<AppState>,
    Path((id, label)): Path<(i64, String)>,
) -> Result<Json<Labels>, ApiError> {
    let label = parse(&label)?;
    let labels = state.engine.remove_label(id, agent.id, &label).await?;
    Ok(Json(Labels {
        conversation_id: id,
        labels,
    }))
}

#[utoipa::path(
    get, path = "/api/v1/labels", tag = "conversations",
    responses((status = 200, description = "Labels in use, most used first", body = [LabelCount])),
    security(("bearer" = []))
)]
pub async fn in_use(
    _agent: CurrentAgent,
    State(state): State<AppState>,
) -> Result<Json<Vec<LabelCount>>, ApiError> {
    Ok(Json(state.engine.store.labels_in_use().await?))
}
