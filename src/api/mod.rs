//! The HTTP surface (axum): provider webhooks, health probes, the agent API (handoffs,
//! conversations, live events, its OpenAPI document), the agents' web inbox and the
//! admin API. Handlers parse, authenticate and hand over to the store and engine;
//! business rules live there.

pub mod admin;
mod agents;
pub(crate) mod analytics;
pub mod auth;
mod consent;
mod contacts;
mod conversations;
mod error;
mod events;
mod extract;
mod handoffs;
mod health;
mod inbox;
pub mod openapi;
mod webhooks;

use std::sync::Arc;

use axum::Router;
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
    /// Failed sign-ins per client address, for rate limiting.
    pub failed_attempts: Arc<auth::FailedAttempts>,
    /// Outbound webhook endpoints, for the admin view of their deliveries.
    pub webhooks: admin::Webhooks,
    /// The satisfaction survey sent when a handoff is resolved.
    pub csat: crate::config::CsatSettings,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(webhooks::router(state.max_body_bytes))
        .merge(health::router())
        .merge(admin::router())
        .merge(analytics::router())
        .merge(agents::router())
        .merge(handoffs::router())
        .merge(contacts::router())
        .merge(consent::router())
        .merge(conversations::router())
        .merge(events::router())
        .merge(openapi::router())
        .merge(inbox::router())
        // Spans carry the path only: query strings may hold phone numbers.
        .layer(TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
            tracing::info_span!("http", method = %req.method(), path = %req.uri().path())
        }))
        .with_state(state)
}
