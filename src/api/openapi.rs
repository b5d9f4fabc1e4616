//! `GET /api/v1/openapi.json`: the API's OpenAPI 3 document, generated from the
//! handlers' annotations and the types they exchange, so it cannot drift from the code.

use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{
    AppState, admin, agents, analytics, audit, consent, contacts, conversations, events, gaps,
    handoffs, labels, replies, search,
};

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
        contacts::forget,
        consent::record_by_agent,
        consent::show,
        consent::record_by_api,
        consent::import,
        conversations::list,
        conversations::show,
        conversations::history,
        conversations::send_message,
        conversations::add_note,
        labels::add,
        labels::remove,
        labels::in_use,
        replies::list,
        search::search,
        search::export_conversations,
        events::events,
        admin::webhooks,
        admin::redeliver,
        gaps::gaps_report,
        gaps::list_suggestions,
        gaps::draft_suggestions,
        gaps::accept,
        gaps::reject,
        gaps::feedback,
        audit::audit,
        analytics::analytics_report,
    ),
    modifiers(&BearerAuth, &CommonResponses),
    tags(
        (name = "agents", description = "Who is signed in, and the team"),
        (name = "handoffs", description = "The queue of conversations handed to people"),
        (name = "contacts", description = "Customers by number, their time zone, and consent they gave an agent"),
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

/// The refusals every operation of a kind can give, added where a handler's own
/// annotation does not name them: a token problem (401) or too many wrong tokens (429)
/// on authenticated operations; a path, query or body that does not parse (400); a
/// body without `Content-Type: application/json` (415) or of the wrong shape (422);
/// an id that names nothing (404). All carry `{"error": "…"}`.
struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::ResponseBuilder;
        for (path, item) in openapi.paths.paths.iter_mut() {
            let has_id = path.contains('{');
            let operations = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ];
            for operation in operations.into_iter().flatten() {
                let mut common = vec![("400", "Malformed path, query or body")];
                if operation.security.as_ref().is_some_and(|s| !s.is_empty()) {
                    common.push(("401", "Missing, invalid or revoked token"));
                    common.push((
                        "429",
                        "Too many wrong tokens from this address; see Retry-After",
                    ));
                }
                if operation.request_body.is_some() {
                    common.push(("415", "The body is not sent as application/json"));
                    common.push(("422", "The JSON body does not have the documented shape"));
                }
                if has_id {
                    common.push(("404", "Nothing with that id"));
                }
                for (status, description) in common {
                    operation
                        .responses
                        .responses
                        .entry(status.to_string())
                        .or_insert_with(|| {
                            ResponseBuilder::new()
                                .description(description)
                                .build()
                                .into()
                        });
                }
            }
        }
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route(
        "/api/v1/openapi.json",
        get(|| async { Json(ApiDoc::openapi()) }),
    )
}
