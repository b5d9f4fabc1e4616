//! Who is signed in and who else is on the team: what the inbox needs before the
//! first click (its own name for "assigned to me", the team's clock for times, the
//! colleagues a conversation can be transferred to).

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::CurrentAgent;
use super::conversations::MAX_AGENT_SEGMENTS;
use super::extract::Json;
use super::{ApiError, AppState};
use crate::store::Role;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/me", get(me))
        .route("/api/v1/agents", get(agents))
}

/// The signed-in agent and the team settings their screen depends on.
#[derive(Serialize, ToSchema)]
pub struct Me {
    pub name: String,
    /// `agent` or `admin`.
    #[schema(value_type = String)]
    pub role: Role,
    pub team: Team,
}

#[derive(Serialize, ToSchema)]
pub struct Team {
    /// The business name from `prompts/policy.toml`.
    pub business: String,
    /// The team's IANA time zone (`[hours] timezone`); absent when no hours are set,
    /// and screens then show the viewer's own time.
    pub timezone: Option<String>,
    /// Whether the team is inside its opening hours now (always, without `[hours]`).
    pub open_now: bool,
    /// Whether resolving a handoff sends the satisfaction survey unless the agent
    /// says otherwise (`[csat] enabled`).
    pub csat_on_resolve: bool,
    /// The longest text an agent may send, in segments.
    pub max_agent_segments: u32,
}

#[utoipa::path(
    get, path = "/api/v1/me", tag = "agents",
    responses(
        (status = 200, description = "The agent the token belongs to", body = Me),
        (status = 401, description = "Missing or invalid token"),
    ),
    security(("bearer" = []))
)]
pub async fn me(agent: CurrentAgent, State(state): State<AppState>) -> Json<Me> {
    let policy = state.engine.policy();
    let now = state.engine.now_ms();
    Json(Me {
        name: agent.name.clone(),
        role: agent.role,
        team: Team {
            business: policy.business.name.clone(),
            timezone: policy.hours.as_ref().map(|h| h.timezone.clone()),
            open_now: policy.team_is_in(now),
            csat_on_resolve: state.csat.enabled,
            max_agent_segments: MAX_AGENT_SEGMENTS,
        },
    })
}

/// A colleague, as the inbox's team list and transfer list show them.
#[derive(Serialize, ToSchema)]
pub struct Colleague {
    pub name: String,
    #[schema(value_type = String)]
    pub role: Role,
    /// When their token was last used (ms since the epoch), if ever.
    pub last_seen_at: Option<i64>,
    /// Seen within `[routing] online_minutes` (the inbox, the API, or an open live
    /// stream): whom the router gives handoffs to.
    pub online: bool,
    /// Handoffs assigned to them and not resolved: how busy they are.
    pub open_handoffs: i64,
}

#[utoipa::path(
    get, path = "/api/v1/agents", tag = "agents",
    responses(
        (status = 200, description = "Active agents, by name", body = [Colleague]),
        (status = 401, description = "Missing or invalid token"),
    ),
    security(("bearer" = []))
)]
pub async fn agents(
    _agent: CurrentAgent,
    State(state): State<AppState>,
) -> Result<Json<Vec<Colleague>>, ApiError> {
    let online_since =
        state.engine.now_ms() - i64::from(state.engine.policy().routing.online_minutes) * 60_000;
    let open = state.engine.store.open_handoffs_by_agent().await?;
    let mut active: Vec<Colleague> = state
        .engine
        .store
        .list_agents()
        .await?
        .into_iter()
        .filter(|a| a.revoked_at.is_none())
        .map(|a| Colleague {
            name: a.name,
            role: a.role,
            online: a.last_seen_at.is_some_and(|seen| seen >= online_since),
            last_seen_at: a.last_seen_at,
            open_handoffs: open.get(&a.id).copied().unwrap_or(0),
        })
        .collect();
    active.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Json(active))
}
