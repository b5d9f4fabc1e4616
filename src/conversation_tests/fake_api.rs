//! A stand-in for a business's own system (an order API), on a loopback port: it
//! answers the routes a conversation test declares and remembers every call, so a
//! test can say "the lookup was called with #12345" without the real system.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

/// One answer the fake system gives.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FakeRoute {
    /// The request path, e.g. "/orders/12345" (query strings are ignored).
    pub path: String,
    #[serde(default = "get")]
    pub method: String,
    #[serde(default = "ok")]
    pub status: u16,
    /// The JSON answer; none means an empty body.
    #[serde(default)]
    pub json: Option<serde_json::Value>,
    /// Wait this long before answering (a slow or hanging system).
    #[serde(default)]
    pub delay_ms: u64,
}

fn get() -> String {
    "GET".into()
}
fn ok() -> u16 {
    200
}

/// A request the fake system received.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeCall {
    pub method: String,
    pub path: String,
}

#[derive(Default)]
struct Inner {
    routes: Vec<FakeRoute>,
    calls: Vec<FakeCall>,
}

#[derive(Clone, Default)]
pub struct FakeApi {
    inner: Arc<Mutex<Inner>>,
}

impl FakeApi {
    /// Starts the fake on a free loopback port; returns it and its base URL. It
    /// serves until the runtime ends.
    pub async fn start() -> std::io::Result<(Self, String)> {
        let api = Self::default();
        let app = Router::new().fallback(answer).with_state(api.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok((api, url))
    }

    /// Replaces the routes and forgets the calls (a new conversation).
    pub fn reset(&self, routes: Vec<FakeRoute>) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.routes = routes;
        inner.calls.clear();
    }

    pub fn calls(&self) -> Vec<FakeCall> {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .calls
            .clone()
    }
}

/// Any request: the declared route's answer, or 404 for anything undeclared.
async fn answer(State(api): State<FakeApi>, method: Method, uri: Uri, _body: Bytes) -> Response {
    let path = uri.path().to_string();
    let route = {
        let mut inner = api.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.calls.push(FakeCall {
            method: method.to_string(),
            path: path.clone(),
        });
        inner
            .routes
            .iter()
            .find(|r| r.path == path && r.method.eq_ignore_ascii_case(method.as_str()))
            .cloned()
    };
    let Some(route) = route else {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(serde_json::json!({"error": "not found"})),
        )
            .into_response();
    };
    if route.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(route.delay_ms)).await;
    }
    let status = StatusCode::from_u16(route.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match route.json {
        Some(json) => (status, axum::Json(json)).into_response(),
        None => status.into_response(),
    }
}
