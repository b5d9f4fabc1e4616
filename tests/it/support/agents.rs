//! Agent-API helpers for story tests: agents with real tokens, authenticated calls,
//! and a reader for the Server-Sent Events stream.

use std::time::Duration;

use serde_json::Value;
use textdesk::api::auth::{generate_token, hash_token};
use textdesk::store::Role;

use super::TestApp;

/// An agent with a working token.
#[derive(Clone)]
pub struct TestAgent {
    pub id: i64,
    pub name: String,
    pub token: String,
}

impl TestApp {
    /// Adds an agent straight in the store, as `textdesk agent add` does.
    pub async fn add_agent(&self, name: &str, role: Role) -> TestAgent {
        let token = generate_token();
        let agent = self
            .store()
            .create_agent(name, role, &hash_token(&token), 0)
            .await
            .expect("agent is created");
        TestAgent {
            id: agent.id,
            name: agent.name,
            token,
        }
    }

    /// `GET` with no token, as a scraper, a probe or a page that forgot its header
    /// sends it.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{}", self.base_url, path))
            .send()
            .await
            .expect("request reaches textdesk")
    }

    pub async fn api_get(&self, token: &str, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{}", self.base_url, path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request reaches textdesk")
    }

    pub async fn api_post(&self, token: &str, path: &str, body: Value) -> reqwest::Response {
        self.http
            .post(format!("{}{}", self.base_url, path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("request reaches textdesk")
    }

    /// Records, as a system would through the admin API, that `phone` gave express
    /// consent (a flow may start for them only then).
    pub async fn record_express_consent(&self, admin_token: &str, phone: &str) {
        let response = self
            .api_post(
                admin_token,
                "/api/v1/admin/consent",
                serde_json::json!({
                    "phone": phone,
                    "consent": "opted_in",
                    "detail": "ticked 'text me about my orders' at checkout",
                }),
            )
            .await;
        let status = response.status();
        assert_eq!(status, 201, "{}", response.text().await.unwrap());
    }

    /// `GET` that must succeed, as JSON.
    pub async fn api_json(&self, token: &str, path: &str) -> Value {
        let response = self.api_get(token, path).await;
        let status = response.status();
        let body = response.text().await.unwrap();
        assert!(status.is_success(), "GET {path}: {status} {body}");
        serde_json::from_str(&body).unwrap()
    }

    /// The handoffs in one status, as the queue lists them.
    pub async fn handoffs(&self, token: &str, status: &str) -> Vec<Value> {
        let list = self
            .api_json(token, &format!("/api/v1/handoffs?status={status}"))
            .await;
        list.as_array().expect("a JSON array").clone()
    }

    /// Opens the live event stream, resuming after `after` when given.
    pub async fn events(&self, token: &str, after: Option<i64>) -> EventStream {
        let mut request = self
            .http
            .get(format!("{}/api/v1/events", self.base_url))
            .bearer_auth(token);
        if let Some(id) = after {
            request = request.header("Last-Event-ID", id.to_string());
        }
        let response = request.send().await.expect("stream opens");
        assert_eq!(response.status(), 200, "event stream refused");
        EventStream {
            response,
            buffer: String::new(),
        }
    }
}

/// One parsed Server-Sent Event.
#[derive(Debug, Clone)]
pub struct StreamEvent {
    pub id: i64,
    pub kind: String,
    pub data: Value,
}

pub struct EventStream {
    response: reqwest::Response,
    buffer: String,
}

impl EventStream {
    /// The next event (keep-alive comments skipped), or `None` after `wait`.
    pub async fn next(&mut self, wait: Duration) -> Option<StreamEvent> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                if let Some(event) = parse(&block) {
                    return Some(event);
                }
                continue;
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk()).await;
            match chunk {
                Ok(Ok(Some(bytes))) => self.buffer.push_str(&String::from_utf8_lossy(&bytes)),
                _ => return None,
            }
        }
    }

    /// Reads events until one of `kind` arrives (others are returned too, in order).
    pub async fn until(&mut self, kind: &str, wait: Duration) -> Vec<StreamEvent> {
        let mut seen = Vec::new();
        while let Some(event) = self.next(wait).await {
            let done = event.kind == kind;
            seen.push(event);
            if done {
                return seen;
            }
        }
        panic!("no {kind} event within {wait:?}; saw {seen:?}");
    }
}

fn parse(block: &str) -> Option<StreamEvent> {
    let (mut id, mut kind, mut data) = (None, None, String::new());
    for line in block.lines() {
        if let Some(v) = line.strip_prefix("id:") {
            id = v.trim().parse().ok();
        } else if let Some(v) = line.strip_prefix("event:") {
            kind = Some(v.trim().to_string());
        } else if let Some(v) = line.strip_prefix("data:") {
            data.push_str(v.trim_start());
        }
    }
    Some(StreamEvent {
        id: id?,
        kind: kind?,
        data: serde_json::from_str(&data).ok()?,
    })
}
