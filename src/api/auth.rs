//! Bearer tokens for the agent and admin API.
//!
//! A token is 32 random bytes, shown once by `textdesk agent add`; the database keeps
//! only its SHA-256. A request's token is hashed, looked up, and the stored hash
//! compared again in constant time. Failed attempts are rate-limited per client
//! address, so guessing is slow even before the 256 bits make it hopeless.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine as _;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{ApiError, AppState};
use crate::store::Agent;

/// Prefix that makes a textdesk token recognisable (e.g. to secret scanners).
const TOKEN_PREFIX: &str = "tdk_";

/// Failed sign-ins allowed per client address per minute.
const FAILURES_PER_MINUTE: u32 = 10;

/// A new random token (shown once; store only [`hash_token`] of it).
pub fn generate_token() -> String {
    let bytes: [u8; 32] = rand::random();
    format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// The SHA-256 of a token, hex. Tokens are long and random, so a fast hash is the
/// right one: nothing to brute-force, unlike a password.
pub fn hash_token(token: &str) -> String {
    format!("{:x}", Sha256::digest(token.as_bytes()))
}

/// Counts failed attempts per client address.
pub struct FailedAttempts {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
}

impl Default for FailedAttempts {
    fn default() -> Self {
        let per_minute = NonZeroU32::new(FAILURES_PER_MINUTE).expect("non-zero");
        Self {
            limiter: RateLimiter::keyed(Quota::per_minute(per_minute)),
        }
    }
}

impl FailedAttempts {
    /// Records a failure; `Err` once the address is over its allowance.
    fn record(&self, ip: IpAddr) -> Result<(), ApiError> {
        self.limiter
            .check_key(&ip)
            .map_err(|_| ApiError::TooManyRequests {
                retry_after_secs: 60,
            })
    }
}

/// The signed-in agent (any role).
pub struct CurrentAgent(pub Agent);

/// The signed-in agent, who must be an admin.
pub struct AdminAgent(pub Agent);

impl std::ops::Deref for CurrentAgent {
    type Target = Agent;
    fn deref(&self) -> &Agent {
        &self.0
    }
}

/// The client address, for rate limiting failed sign-ins.
fn client_ip(parts: &Parts) -> IpAddr {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

/// The token of an `Authorization: Bearer …` header, if any.
fn bearer_token(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// Looks `token` up by its hash and compares the stored hash in constant time. A
/// wrong token counts against the client address; a missing one does not, since it
/// guesses nothing (a page or script that forgot the header must not lock out the
/// office's shared address).
async fn authenticate(
    token: Option<&str>,
    ip: IpAddr,
    state: &AppState,
) -> Result<Agent, ApiError> {
    let Some(token) = token else {
        return Err(ApiError::Unauthorized(
            "missing bearer token: send `Authorization: Bearer <token>` (create one with `textdesk agent add`)",
        ));
    };
    let hash = hash_token(token);
    let credential = state.engine.store.agent_credential(&hash).await?;
    match credential {
        Some(c) if bool::from(c.token_hash.as_bytes().ct_eq(hash.as_bytes())) => {
            let now = state.engine.now_ms();
            if let Err(e) = state.engine.store.touch_agent(c.agent.id, now).await {
                tracing::warn!(error = %e, "could not record the agent's last use");
            }
            Ok(c.agent)
        }
        _ => {
            state.failed_attempts.record(ip)?;
            Err(ApiError::Unauthorized(
                "invalid or revoked token (`textdesk agent list` shows active agents)",
            ))
        }
    }
}

impl FromRequestParts<AppState> for CurrentAgent {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let agent = authenticate(bearer_token(parts), client_ip(parts), state).await?;
        Ok(CurrentAgent(agent))
    }
}

/// The signed-in agent of a live event stream: the `Authorization` header as
/// everywhere else, or else an `?access_token=` query parameter.
///
/// Only `GET /api/v1/events` accepts the query parameter, because browsers' `EventSource`
/// (what the agent inbox uses) cannot send headers. A token in a URL can end up in
/// proxy logs and browser history, so no other endpoint takes one; our own request
/// spans log the path only. The token is checked exactly like the header's (hash,
/// lookup, constant-time compare, failures rate-limited).
pub struct StreamAgent(pub Agent);

#[derive(serde::Deserialize)]
struct AccessTokenQuery {
    access_token: Option<String>,
}

impl FromRequestParts<AppState> for StreamAgent {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let from_query = axum::extract::Query::<AccessTokenQuery>::try_from_uri(&parts.uri)
            .ok()
            .and_then(|q| q.0.access_token);
        let token = bearer_token(parts).or_else(|| {
            from_query
                .as_deref()
                .map(str::trim)
                .filter(|t| !t.is_empty())
        });
        let agent = authenticate(token, client_ip(parts), state).await?;
        Ok(StreamAgent(agent))
    }
}

impl FromRequestParts<AppState> for AdminAgent {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let CurrentAgent(agent) = CurrentAgent::from_request_parts(parts, state).await?;
        if !agent.is_admin() {
            return Err(ApiError::Forbidden(
                "this endpoint is for admins; ask an admin to run `textdesk agent add --role admin`".into(),
            ));
        }
        Ok(AdminAgent(agent))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_prefixed_and_hash_stably() {
        let a = generate_token();
        let b = generate_token();
        assert_ne!(a, b);
        assert!(a.starts_with("tdk_") && a.len() == 4 + 43, "{a}");
        assert_eq!(hash_token(&a), hash_token(&a));
        assert_eq!(hash_token(&a).len(), 64);
        assert_ne!(hash_token(&a), hash_token(&b));
    }

    #[test]
    fn failures_are_limited_per_address() {
        let attempts = FailedAttempts::default();
        let ip: IpAddr = "127.0.0.9".parse().unwrap();
        for _ in 0..FAILURES_PER_MINUTE {
            assert!(attempts.record(ip).is_ok());
        }
        assert!(attempts.record(ip).is_err());
        assert!(attempts.record("127.0.0.10".parse().unwrap()).is_ok());
    }
}
