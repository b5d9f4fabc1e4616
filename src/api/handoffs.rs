//! The handoff queue for agents: list, claim, release, transfer, resolve.
//!
//! Who may do what: any agent lists and claims; only the assignee (or an admin)
//! releases, transfers or resolves. The store makes each change a single conditional
//! update, so a lost race is a 409, never a double assignment.

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::CurrentAgent;
use super::extract::{Json, Path, Query};
use super::{ApiError, AppState};
use crate::engine::desk::Resolution;
use crate::engine::sla::SlaView;
use crate::store::{Actor, Agent, Handoff, HandoffStatus, Label};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/handoffs", get(list))
        .route("/api/v1/handoffs/{id}", get(show))
        .route("/api/v1/handoffs/{id}/claim", post(claim))
        .route("/api/v1/handoffs/{id}/release", post(release))
        .route("/api/v1/handoffs/{id}/transfer", post(transfer))
        .route("/api/v1/handoffs/{id}/resolve", post(resolve))
}

#[derive(Deserialize, IntoParams)]
pub struct ListQuery {
    /// waiting | assigned | resolved; all when absent.
    #[param(pattern = "^(waiting|assigned|resolved|all)?$")]
    status: Option<String>,
    /// Only conversations with this label.
    label: Option<String>,
}

/// A handoff as the queue shows it: the stored handoff plus how long it has waited.
#[derive(Serialize, ToSchema)]
pub struct HandoffView {
    #[serde(flatten)]
    #[schema(inline)]
    pub handoff: Handoff,
    /// The customer's number masked for display, e.g. +1303***0199.
    pub phone_masked: String,
    /// Milliseconds from creation to claim (or to now, while waiting).
    pub wait_ms: i64,
    /// The conversation's labels, in name order.
    pub labels: Vec<String>,
    /// What is due and what was missed (`[sla]` in policy.toml).
    pub sla: SlaView,
}

impl HandoffView {
    fn new(handoff: Handoff, labels: Vec<String>, sla: SlaView, now: i64) -> Self {
        let wait_ms = handoff.claimed_at.unwrap_or(now) - handoff.created_at;
        Self {
            phone_masked: handoff.phone.masked().to_string(),
            handoff,
            wait_ms,
            labels,
            sla,
        }
    }

    /// The view of one handoff, with its conversation's labels and its SLA.
    async fn of(state: &AppState, handoff: Handoff) -> Result<Self, ApiError> {
        let store = &state.engine.store;
        let id = handoff.conversation_id;
        let labels = store.labels_of(&[id]).await?.remove(&id);
        let breached = store
            .sla_breaches_of(&[handoff.id])
            .await?
            .remove(&handoff.id);
        let sla = SlaView::of(
            &state.engine.policy(),
            &handoff,
            breached.unwrap_or_default(),
        );
        Ok(Self::new(
            handoff,
            labels.unwrap_or_default(),
            sla,
            state.engine.now_ms(),
        ))
    }
}

#[utoipa::path(
    get, path = "/api/v1/handoffs", tag = "handoffs",
    params(ListQuery),
    responses(
        (status = 200, description = "Handoffs, most urgent first, then oldest", body = [HandoffView]),
        (status = 400, description = "Unknown status"),
        (status = 401, description = "Missing or invalid token"),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    _agent: CurrentAgent,
    State(state): State<AppState>,
    Query(query): Query<ListQuery>,
) -> Result<Json<Vec<HandoffView>>, ApiError> {
    let status = match query.status.as_deref() {
        None | Some("") | Some("all") => None,
        Some(s) => Some(HandoffStatus::parse(s).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "unknown status {s:?}: use waiting, assigned or resolved"
            ))
        })?),
    };
    let label = query
        .label
        .as_deref()
        .filter(|l| !l.is_empty())
        .map(|l| Label::parse(l).map_err(|e| ApiError::BadRequest(format!("\"label\": {e}"))))
        .transpose()?;
    let now = state.engine.now_ms();
    let store = &state.engine.store;
    let handoffs = store.list_handoffs(status, label.as_ref()).await?;
    let conversations: Vec<i64> = handoffs.iter().map(|h| h.conversation_id).collect();
    let labels = store.labels_of(&conversations).await?;
    let ids: Vec<i64> = handoffs.iter().map(|h| h.id).collect();
    let mut breaches = store.sla_breaches_of(&ids).await?;
    let policy = state.engine.policy();
    Ok(Json(
        handoffs
            .into_iter()
            .map(|h| {
                let of = labels.get(&h.conversation_id).cloned().unwrap_or_default();
                let sla = SlaView::of(&policy, &h, breaches.remove(&h.id).unwrap_or_default());
                HandoffView::new(h, of, sla, now)
            })
            .collect(),
    ))
}

#[utoipa::path(
    get, path = "/api/v1/handoffs/{id}", tag = "handoffs",
    params(("id" = i64, Path, description = "Handoff id")),
    responses((status = 200, body = HandoffView), (status = 404, description = "No such handoff")),
    security(("bearer" = []))
)]
pub async fn show(
    _agent: CurrentAgent,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<HandoffView>, ApiError> {
    let handoff = find(&state, id).await?;
    Ok(Json(HandoffView::of(&state, handoff).await?))
}

#[utoipa::path(
    post, path = "/api/v1/handoffs/{id}/claim", tag = "handoffs",
    params(("id" = i64, Path, description = "Handoff id")),
    responses(
        (status = 200, description = "Claimed: assigned to you", body = HandoffView),
        (status = 404, description = "No such handoff"),
        (status = 409, description = "Already claimed (by whom) or resolved"),
    ),
    security(("bearer" = []))
)]
pub async fn claim(
    agent: CurrentAgent,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<HandoffView>, ApiError> {
    let handoff = state.engine.claim_handoff(id, agent.id).await?;
    Ok(Json(HandoffView::of(&state, handoff).await?))
}

#[utoipa::path(
    post, path = "/api/v1/handoffs/{id}/release", tag = "handoffs",
    params(("id" = i64, Path, description = "Handoff id")),
    responses(
        (status = 200, description = "Back in the waiting queue", body = HandoffView),
        (status = 403, description = "Assigned to another agent"),
        (status = 409, description = "Not assigned"),
    ),
    security(("bearer" = []))
)]
pub async fn release(
    agent: CurrentAgent,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<HandoffView>, ApiError> {
    let actor = authorize(&state, &agent, id).await?;
    let handoff = state.engine.release_handoff(id, actor).await?;
    Ok(Json(HandoffView::of(&state, handoff).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct TransferRequest {
    /// The name of the agent who takes the conversation over.
    pub agent: String,
}

#[utoipa::path(
    post, path = "/api/v1/handoffs/{id}/transfer", tag = "handoffs",
    params(("id" = i64, Path, description = "Handoff id")),
    request_body = TransferRequest,
    responses(
        (status = 200, description = "Assigned to the named agent", body = HandoffView),
        (status = 400, description = "No active agent by that name"),
        (status = 403, description = "Assigned to another agent"),
        (status = 409, description = "Not assigned to you, or resolved"),
    ),
    security(("bearer" = []))
)]
pub async fn transfer(
    agent: CurrentAgent,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Json(request): Json<TransferRequest>,
) -> Result<Json<HandoffView>, ApiError> {
    let actor = authorize(&state, &agent, id).await?;
    let handoff = state
        .engine
        .transfer_handoff(id, actor, &request.agent)
        .await?;
    Ok(Json(HandoffView::of(&state, handoff).await?))
}

#[derive(Deserialize, ToSchema, Default)]
pub struct ResolveRequest {
    /// Hand the conversation back to the bot: it answers the customer's next text in
    /// the same conversation. Otherwise the conversation is closed and the next text
    /// starts a new one.
    #[serde(default)]
    pub hand_back: bool,
    /// Text the customer the satisfaction survey ("How did we do? Reply 1-5").
    /// Absent: as configured (`[csat] enabled`). Never sent to an opted-out
    /// contact, nor twice in one conversation.
    #[serde(default)]
    pub send_csat: Option<bool>,
}

#[utoipa::path(
    post, path = "/api/v1/handoffs/{id}/resolve", tag = "handoffs",
    params(("id" = i64, Path, description = "Handoff id")),
    request_body(content = ResolveRequest, description = "Optional; `{}` or no body resolves without hand-back"),
    responses(
        (status = 200, description = "Resolved", body = HandoffView),
        (status = 403, description = "Assigned to another agent"),
        (status = 409, description = "Already resolved, or still waiting (claim it first)"),
    ),
    security(("bearer" = []))
)]
pub async fn resolve(
    agent: CurrentAgent,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    body: Option<Json<ResolveRequest>>,
) -> Result<Json<HandoffView>, ApiError> {
    let request = body.map(|Json(r)| r).unwrap_or_default();
    let actor = authorize(&state, &agent, id).await?;
    let resolution = Resolution {
        hand_back: request.hand_back,
        survey: request
            .send_csat
            .unwrap_or(state.csat.enabled)
            .then_some(&state.csat),
    };
    let handoff = state.engine.resolve_handoff(id, actor, resolution).await?;
    Ok(Json(HandoffView::of(&state, handoff).await?))
}

async fn find(state: &AppState, id: i64) -> Result<Handoff, ApiError> {
    state
        .engine
        .store
        .handoff(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("handoff {id} not found")))
}

/// An agent may act on a handoff assigned to them; an admin on any. A handoff that
/// is someone else's is a 403; state conflicts (waiting, resolved) are left to the
/// store's conditional update, which reports them as 409.
async fn authorize(state: &AppState, agent: &Agent, id: i64) -> Result<Actor, ApiError> {
    let handoff = find(state, id).await?;
    if !agent.is_admin() {
        if let Some(owner) = handoff.assignee_id.filter(|owner| *owner != agent.id) {
            let name = handoff.assignee.as_deref().unwrap_or("another agent");
            return Err(ApiError::Forbidden(format!(
                "handoff {id} is assigned to {name}, not to you (owner id {owner})"
            )));
        }
    }
    Ok(Actor {
        agent_id: agent.id,
        admin: agent.is_admin(),
    })
}
