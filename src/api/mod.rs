//! The HTTP surface (axum): provider webhooks, health probes, the agent API (handoffs,
//! conversations, live events, its OpenAPI document), the agents' web inbox and the
//! admin API. Handlers parse, authenticate and hand over to the store and engine;
//! business rules live there.

pub mod admin;
mod agents;
pub(crate) mod analytics;
mod audit;
pub mod auth;
pub mod connections;
mod consent;
mod contacts;
mod conversations;
mod error;
mod events;
mod extract;
mod gaps;
mod handoffs;
mod health;
mod inbox;
mod labels;
pub mod openapi;
mod replies;
mod search;
mod webhooks;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath};
use tower_http::timeout::RequestBodyTimeoutLayer;
use tower_http::trace::TraceLayer;

pub use error::ApiError;

use crate::engine::Engine;
use crate::knowledge::Knowledge;

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    pub engine: Arc<Engine>,
    /// Twilio's auth token, the key of its webhook signatures.
    pub auth_token: Option<String>,
    /// The URL Twilio calls, without the path (what it signs).
    pub public_base_url: String,
    pub insecure_skip_signature: bool,
    pub max_body_bytes: usize,
    /// The knowledge base, when it opened.
    pub knowledge: Option<Arc<Knowledge>>,
    /// The operator's prompt files (`intents.toml`, which accepted intent examples
    /// are added to).
    pub prompts_dir: std::path::PathBuf,
    /// Failed sign-ins per client address, for rate limiting.
    pub failed_attempts: Arc<auth::FailedAttempts>,
    /// Outbound webhook endpoints, for the admin view of their deliveries.
    pub webhooks: admin::Webhooks,
    /// The satisfaction survey sent when a handoff is resolved.
    pub csat: crate::config::CsatSettings,
    /// True once the process is stopping: `/readyz` answers 503, live streams end.
    pub stopping: tokio::sync::watch::Receiver<bool>,
    pub server: crate::config::ServerSettings,
    /// Where a text goes when the database cannot store it in time.
    pub spool: Arc<crate::engine::spool::InboundSpool>,
    pub webhook_write_timeout: std::time::Duration,
}

pub fn router(state: AppState) -> Router {
    let body_timeout = std::time::Duration::from_secs(state.server.body_timeout_secs);
    Router::new()
        .merge(webhooks::router(state.max_body_bytes))
        .merge(health::router())
        .merge(admin::router())
        .merge(gaps::router())
        .merge(analytics::router())
        .merge(audit::router())
        .merge(agents::router())
        .merge(handoffs::router())
        .merge(contacts::router())
        .merge(consent::router())
        .merge(conversations::router())
        .merge(labels::router())
        .merge(replies::router())
        .merge(search::router())
        .merge(events::router())
        .merge(openapi::router())
        .merge(inbox::router())
        // Every JSON body of the agent and admin API (a note, an agent's text) is
        // small; the webhook and the consent import set their own limits.
        .layer(DefaultBodyLimit::max(state.server.max_json_bytes))
        // A client that starts a request and trickles its body holds a connection.
        .layer(RequestBodyTimeoutLayer::new(body_timeout))
        // Spans name the route, never the path: paths and query strings may hold
        // phone numbers (`/api/v1/contacts/+13035550199`).
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
                let route = req
                    .extensions()
                    .get::<MatchedPath>()
                    .map_or("(no route)", |m| m.as_str())
                    .to_string();
                tracing::info_span!("http", method = %req.method(), route = %route)
            }),
        )
        .with_state(state)
}
