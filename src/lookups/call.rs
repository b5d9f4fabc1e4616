//! Making one lookup: render the request, send it with the file's timeout, and read
//! the answer. Slot values are customer data: they go to the business's system and
//! nowhere else (never into logs).

use std::time::Instant;

use serde_json::{Map, Value};

use super::file::Lookup;
use super::template::{self, Today};

/// What the business's system said.
#[derive(Debug, Clone, PartialEq)]
pub enum LookupResult {
    /// A 2xx answer in JSON: the file's `read` names and their values (as text; a
    /// pointer the answer lacks reads as "").
    Found(Map<String, Value>),
    /// One of the file's `not_found_status` answers (404 by default).
    NotFound,
    /// Anything else: unreachable, timed out, another status, not JSON. The reason is
    /// for the log.
    Failed(String),
}

/// Sends lookups; one HTTP client (and its connection pool) for all of them.
#[derive(Clone)]
pub struct LookupCaller {
    http: reqwest::Client,
}

impl Default for LookupCaller {
    fn default() -> Self {
        Self::new()
    }
}

impl LookupCaller {
    pub fn new() -> Self {
        let http = crate::http::client_builder()
            .user_agent(concat!("textdesk/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Self { http }
    }

    /// Calls `lookup` with `vars` (the slots, `contact` and `business`); the file's
    /// environment values are added as `env`.
    pub async fn call(
        &self,
        lookup: &Lookup,
        vars: &Map<String, Value>,
        today: &Today,
    ) -> LookupResult {
        let Ok(env) = &lookup.env else {
            return LookupResult::Failed("the lookup is off (environment variables unset)".into());
        };
        let mut vars = vars.clone();
        vars.insert(
            "env".into(),
            Value::Object(
                env.iter()
                    .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
                    .collect(),
            ),
        );
        let started = Instant::now();
        let result = self.send(lookup, &vars, today).await;
        let elapsed_ms = started.elapsed().as_millis() as u64;
        match &result {
            LookupResult::Found(_) => {
                tracing::info!(lookup = %lookup.name, elapsed_ms, "lookup found")
            }
            LookupResult::NotFound => {
                tracing::info!(lookup = %lookup.name, elapsed_ms, "lookup found nothing")
            }
            LookupResult::Failed(why) => {
                tracing::warn!(lookup = %lookup.name, elapsed_ms, reason = %why, "lookup failed; the customer gets the fallback")
            }
        }
        crate::telemetry::lookup(
            &lookup.name,
            outcome_name(&result),
            started.elapsed().as_secs_f64(),
        );
        result
    }

    async fn send(
        &self,
        lookup: &Lookup,
        vars: &Map<String, Value>,
        today: &Today,
    ) -> LookupResult {
        let request = &lookup.request;
        let url = match template::render(&request.url, vars, today) {
            Ok(url) => url,
            Err(e) => return LookupResult::Failed(format!("url template: {e}")),
        };
        let url = match url::Url::parse(url.trim()) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => u,
            // The URL holds slot values: say what is wrong without printing it.
            _ => return LookupResult::Failed("the rendered url is not an http(s) URL".into()),
        };
        let mut builder = self
            .http
            .request(request.method.clone(), url)
            .timeout(request.timeout)
            .header(reqwest::header::ACCEPT, "application/json");
        for (name, value) in &request.headers {
            match template::render(value, vars, today) {
                Ok(v) => builder = builder.header(name.as_str(), v.trim()),
                Err(e) => return LookupResult::Failed(format!("header {name}: {e}")),
            }
        }
        if let Some(body) = &request.body {
            match template::render(body, vars, today) {
                Ok(b) => {
                    builder = builder
                        .header(reqwest::header::CONTENT_TYPE, "application/json")
                        .body(b)
                }
                Err(e) => return LookupResult::Failed(format!("body template: {e}")),
            }
        }
        let response = match builder.send().await {
            Ok(r) => r,
            Err(e) if e.is_timeout() => {
                return LookupResult::Failed(format!("no answer within {:?}", request.timeout));
            }
            Err(e) => return LookupResult::Failed(format!("request failed: {}", without_url(&e))),
        };
        let status = response.status();
        if request.not_found_status.contains(&status.as_u16()) {
            return LookupResult::NotFound;
        }
        if !status.is_success() {
            return LookupResult::Failed(format!("status {status}"));
        }
        let json: Value = match response.json().await {
            Ok(j) => j,
            Err(e) if e.is_timeout() => {
                return LookupResult::Failed(format!("no answer within {:?}", request.timeout));
            }
            Err(_) => return LookupResult::Failed("the answer is not JSON".into()),
        };
        LookupResult::Found(read(&lookup.read, &json))
    }
}

/// The `read` values: strings as they are, numbers and booleans as text, anything
/// missing or null as "" (so `{% if tracking_url %}` works), objects as JSON.
fn read(pointers: &std::collections::BTreeMap<String, String>, json: &Value) -> Map<String, Value> {
    pointers
        .iter()
        .map(|(name, pointer)| {
            let value = match json.pointer(pointer) {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => s.clone(),
                Some(other @ (Value::Number(_) | Value::Bool(_))) => other.to_string(),
                Some(other) => other.to_string(),
            };
            (name.clone(), Value::from(value))
        })
        .collect()
}

/// A reqwest error's text without its URL, which holds slot values.
fn without_url(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    if let Some(url) = e.url() {
        text = text.replace(url.as_str(), "<lookup url>");
    }
    text
}

pub fn outcome_name(result: &LookupResult) -> &'static str {
    match result {
        LookupResult::Found(_) => "found",
        LookupResult::NotFound => "not_found",
        LookupResult::Failed(_) => "failed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_turns_answers_into_text() {
        let json = serde_json::json!({"a": "x", "n": 3, "o": {"b": true}, "z": null});
        let pointers = [
            ("a", "/a"),
            ("n", "/n"),
            ("b", "/o/b"),
            ("z", "/z"),
            ("m", "/missing"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let out = read(&pointers, &json);
        assert_eq!(out["a"], "x");
        assert_eq!(out["n"], "3");
        assert_eq!(out["b"], "true");
        assert_eq!(out["z"], "");
        assert_eq!(out["m"], "");
    }
}
