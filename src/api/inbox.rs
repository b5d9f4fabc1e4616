//! `GET /inbox`: the agents' web inbox, plain HTML, CSS and JavaScript from `inbox/`
//! compiled into the binary (no CDN, no build step, nothing to deploy beside it).
//!
//! The page itself needs no sign-in: it holds no data. It asks for a token and then
//! talks to the agent API like any other client (`inbox/inbox.js`).

use axum::Router;
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use super::AppState;

const INDEX_HTML: &str = include_str!("../../inbox/index.html");
const INBOX_CSS: &str = include_str!("../../inbox/inbox.css");
const INBOX_JS: &str = include_str!("../../inbox/inbox.js");
const SEGMENTS_JS: &str = include_str!("../../inbox/segments.js");

/// Everything the page loads comes from this server; no inline script or style.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/inbox",
            get(|| async { asset("text/html; charset=utf-8", INDEX_HTML) }),
        )
        .route("/inbox/", get(|| async { Redirect::permanent("/inbox") }))
        .route(
            "/inbox/inbox.css",
            get(|| async { asset("text/css; charset=utf-8", INBOX_CSS) }),
        )
        .route(
            "/inbox/inbox.js",
            get(|| async { asset("text/javascript; charset=utf-8", INBOX_JS) }),
        )
        .route(
            "/inbox/segments.js",
            get(|| async { asset("text/javascript; charset=utf-8", SEGMENTS_JS) }),
        )
}

/// One embedded file. `no-cache` so an upgraded binary's page is picked up at once.
fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (CONTENT_TYPE, content_type),
            (CACHE_CONTROL, "no-cache"),
            (CONTENT_SECURITY_POLICY, CSP),
        ],
        body,
    )
        .into_response()
}
