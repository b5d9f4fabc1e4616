//! `GET /api/v1/openapi.json`: the API's OpenAPI 3 document, generated from the
//! handlers' annotations and the types they exchange, so it cannot drift from the code.

use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{AppState, admin, agents, analytics, contacts, conversations, events, handoffs};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "textdesk agent API",
        description = "Pick up escalated SMS conversations, reply, and follow the queue live. \
            Every endpoint needs `Authorization: Bearer <token>` (`textdesk agent add`)."
    ),
    paths(
        agents::me,
        agents::agents,
        handoffs::list,
        handoffs::show,
        handoffs::claim,
        handoffs::release,
        handoffs::transfer,
        handoffs::resolve,
        contacts::show,
        contacts::update,
        conversations::list,
        conversations::show,
        conversations::send_message,
        conversations::add_note,
        events::events,
        admin::webhooks,
        admin::redeliver,
        analytics::analytics_report,
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "agents", description = "Who is signed in, and the team"),
        (name = "handoffs", description = "The queue of conversations handed to people"),
        (name = "contacts", description = "Customers by number, and their time zone"),
        (name = "conversations", description = "Threads, replies and private notes"),
        (name = "events", description = "Live updates (Server-Sent Events)"),
        (name = "admin", description = "Operators only (`--role admin`)"),
        (name = "analytics", description = "Support figures for a time window (admin)"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route(
        "/api/v1/openapi.json",
        get(|| async { Json(ApiDoc::openapi()) }),
    )
}
