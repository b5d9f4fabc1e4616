//! Admin API for operators: views of the service's moving parts (knowledge, webhook
//! deliveries), a dry-run preview, and the few actions on them (start a flow for a
//! contact, send a webhook delivery again).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::engine::flow_starts::{self, StartError};
use crate::engine::preview;
use crate::sms::PhoneNumber;
use crate::store::{AuditBy, DeliveryView, EndpointDeliveries};

use super::AppState;
use super::auth::AdminAgent;
use super::extract::{Json, Path};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/knowledge", get(knowledge))
        .route("/api/v1/admin/preview", post(preview_text))
        .route("/api/v1/admin/flows/{name}/start", post(start_flow))
        .route("/api/v1/admin/webhooks", get(webhooks))
        .route(
            "/api/v1/admin/webhooks/deliveries/{id}/redeliver",
            post(redeliver),
        )
}

/// Most recent deliveries listed per endpoint.
const RECENT_DELIVERIES: i64 = 20;

/// The outbound webhook endpoints and how their deliveries are going.
#[derive(Serialize, ToSchema)]
pub struct WebhooksView {
    pub endpoints: Vec<EndpointView>,
}

#[derive(Serialize, ToSchema)]
pub struct EndpointView {
    pub url: String,
    /// The event types it receives; all when absent.
    pub events: Option<Vec<String>>,
    #[serde(flatten)]
    #[schema(inline)]
    pub deliveries: EndpointDeliveries,
}

#[utoipa::path(
    get, path = "/api/v1/admin/webhooks", tag = "admin",
    responses(
        (status = 200, description = "Each configured endpoint (never its secret) with its \
            pending, delivered and failed deliveries and the most recent ones, with the \
            receiver's last status code and error", body = WebhooksView),
        (status = 401, description = "Missing or invalid token"),
        (status = 403, description = "Not an admin"),
    ),
    security(("bearer" = []))
)]
pub async fn webhooks(
    _admin: AdminAgent,
    State(state): State<AppState>,
) -> Result<Json<WebhooksView>, super::ApiError> {
    let mut endpoints = Vec::with_capacity(state.webhooks.len());
    for endpoint in state.webhooks.iter() {
        endpoints.push(EndpointView {
            url: endpoint.url.clone(),
            events: endpoint.events.clone(),
            deliveries: state
                .engine
                .store
                .webhook_deliveries(&endpoint.url, RECENT_DELIVERIES)
                .await?,
        });
    }
    Ok(Json(WebhooksView { endpoints }))
}

#[utoipa::path(
    post, path = "/api/v1/admin/webhooks/deliveries/{id}/redeliver", tag = "admin",
    params(("id" = i64, Path, description = "Delivery id (from GET /api/v1/admin/webhooks)")),
    responses(
        (status = 202, description = "Queued to be sent now, with a fresh set of attempts \
            and the same X-Textdesk-Delivery id", body = DeliveryView),
        (status = 403, description = "Not an admin"),
        (status = 404, description = "No such delivery"),
        (status = 409, description = "Still pending, or its endpoint is no longer configured"),
    ),
    security(("bearer" = []))
)]
pub async fn redeliver(
    AdminAgent(admin): AdminAgent,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<(StatusCode, Json<DeliveryView>), super::ApiError> {
    let store = &state.engine.store;
    let (endpoint, _) = store
        .webhook_delivery(id)
        .await?
        .ok_or_else(|| super::ApiError::NotFound(format!("webhook delivery {id} not found")))?;
    if !state.webhooks.iter().any(|e| e.url == endpoint) {
        return Err(super::ApiError::Conflict(format!(
            "delivery {id} was for {endpoint}, which is no longer configured"
        )));
    }
    let (_, delivery) = store
        .redeliver_webhook(id, AuditBy::Agent(admin.id), state.engine.now_ms())
        .await?
        .ok_or_else(|| super::ApiError::NotFound(format!("webhook delivery {id} not found")))?;
    Ok((StatusCode::ACCEPTED, Json(delivery)))
}

/// The configured endpoints, shared by handlers.
pub type Webhooks = Arc<Vec<crate::config::WebhookEndpoint>>;

/// Documents and chunks indexed, when, and the files that could not be used (with
/// their line), so an operator sees a broken edit without reading logs.
async fn knowledge(AdminAgent(_): AdminAgent, State(state): State<AppState>) -> Response {
    match &state.knowledge {
        Some(knowledge) => Json(knowledge.status()).into_response(),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({ "error": "the knowledge base is not running; see the server log" })),
        )
            .into_response(),
    }
}

#[derive(Deserialize)]
struct PreviewRequest {
    text: String,
    /// Preview as this contact (their consent, history and conversation state).
    from: Option<String>,
}

/// Runs the whole pipeline on a text without storing or sending anything, and shows
/// the intent, retrieval, decision and fitted reply.
async fn preview_text(
    AdminAgent(_): AdminAgent,
    State(state): State<AppState>,
    Json(request): Json<PreviewRequest>,
) -> Result<Response, super::ApiError> {
    let phone = match request.from.as_deref() {
        Some(raw) => Some(PhoneNumber::parse(raw).map_err(|e| {
            super::ApiError::BadRequest(format!("\"from\" is not an E.164 phone number: {e}"))
        })?),
        None => None,
    };
    if request.text.trim().is_empty() {
        return Err(super::ApiError::BadRequest(
            "\"text\" must not be empty".into(),
        ));
    }
    let result = preview::preview(&state.engine, &request.text, phone.as_ref()).await?;
    Ok(Json(result).into_response())
}

#[derive(Deserialize)]
struct StartFlowRequest {
    phone: String,
}

/// Starts a flow for a contact (a reminder, an order confirmation): `202` with
/// `status` `sent`, or `scheduled` and `send_at` when the contact's quiet hours are
/// on; `409` for an opted-out contact or one a person is handling (an open handoff);
/// `404` for an unknown flow.
async fn start_flow(
    AdminAgent(_): AdminAgent,
    State(state): State<AppState>,
    Path(name): Path<String>,
    Json(request): Json<StartFlowRequest>,
) -> Result<Response, super::ApiError> {
    let phone = PhoneNumber::parse(&request.phone).map_err(|e| {
        super::ApiError::BadRequest(format!("\"phone\" is not an E.164 phone number: {e}"))
    })?;
    match flow_starts::start(&state.engine, &name, &phone).await {
        Ok(started) => Ok((StatusCode::ACCEPTED, Json(started)).into_response()),
        Err(StartError::UnknownFlow(_)) => Err(super::ApiError::NotFound(format!(
            "there is no flow named `{name}` in prompts/flows/"
        ))),
        Err(StartError::Store(e)) => Err(e.into()),
    }
}
