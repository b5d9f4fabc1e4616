//! The people who take conversations over. An agent is known by name and signs in with
//! a bearer token; only the token's SHA-256 is stored, so a leaked database does not
//! leak working tokens.

use serde_json::json;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::audit::NewAudit;
use super::{AuditAction, AuditBy, Result, Store, StoreError};

/// What an agent may do: `agent` works the queue; `admin` also acts on anyone's
/// conversation and reaches the admin API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Agent,
    Admin,
}

impl Role {
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Admin => "admin",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "agent" => Some(Role::Agent),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Agent {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    pub last_seen_at: Option<i64>,
}

impl Agent {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// An agent row and its stored token hash, for the constant-time check.
#[derive(Debug, Clone)]
pub struct AgentCredential {
    pub agent: Agent,
    pub token_hash: String,
}

const COLUMNS: &str = "id, name, role, created_at, revoked_at, last_seen_at";

fn agent_from_row(r: &AnyRow) -> Result<Agent> {
    let role: String = r.get(2);
    Ok(Agent {
        id: r.get(0),
        name: r.get(1),
        role: Role::parse(&role)
            .ok_or_else(|| StoreError::Corrupt(format!("agent role {role:?}")))?,
        created_at: r.get(3),
        revoked_at: r.get(4),
        last_seen_at: r.get(5),
    })
}

impl Store {
    /// Adds an agent (the operator does, at the command line: the audit log says
    /// so). Fails with [`StoreError::Conflict`] when the name is taken.
    pub async fn create_agent(
        &self,
        name: &str,
        role: Role,
        token_hash: &str,
        now: i64,
    ) -> Result<Agent> {
        let (_writing, mut tx) = self.begin_write().await?;
        let inserted = sqlx::query(&format!(
            "INSERT INTO agents (name, role, token_hash, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (name) DO NOTHING RETURNING {COLUMNS}"
        ))
        .bind(name)
        .bind(role.as_str())
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = inserted else {
            return Err(StoreError::Conflict(format!(
                "an agent named {name:?} already exists"
            )));
        };
        let agent = agent_from_row(&row)?;
        Self::append_audit(
            &mut tx,
            NewAudit {
                by: AuditBy::CommandLine,
                action: AuditAction::AgentAdded,
                target: format!("agent {}", agent.name),
                conversation_id: None,
                detail: json!({ "agent_id": agent.id, "role": role.as_str() }),
            },
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(agent)
    }

    /// The active (not revoked) agent whose token hashes to `token_hash`.
    pub async fn agent_credential(&self, token_hash: &str) -> Result<Option<AgentCredential>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS}, token_hash FROM agents WHERE token_hash = $1 AND revoked_at IS NULL"
        ))
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(AgentCredential {
                agent: agent_from_row(&r)?,
                token_hash: r.get(6),
            })
        })
        .transpose()
    }

    /// Records that the agent used the API (at most one write a minute per agent).
    pub async fn touch_agent(&self, agent_id: i64, now: i64) -> Result<()> {
        let _writing = self.writing().await;
        sqlx::query(
            "UPDATE agents SET last_seen_at = $2
             WHERE id = $1 AND (last_seen_at IS NULL OR last_seen_at < $3)",
        )
        .bind(agent_id)
        .bind(now)
        .bind(now - 60_000)
        .execute(&self.writes)
        .await?;
        Ok(())
    }

    pub async fn list_agents(&self) -> Result<Vec<Agent>> {
        sqlx::query(&format!("SELECT {COLUMNS} FROM agents ORDER BY id"))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(agent_from_row)
            .collect()
    }

    pub async fn agent_by_id(&self, id: i64) -> Result<Option<Agent>> {
        sqlx::query(&format!("SELECT {COLUMNS} FROM agents WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(agent_from_row)
            .transpose()
    }

    pub async fn agent_by_name(&self, name: &str) -> Result<Option<Agent>> {
        sqlx::query(&format!("SELECT {COLUMNS} FROM agents WHERE name = $1"))
            .bind(name)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(agent_from_row)
            .transpose()
    }

    /// Revokes an agent's token (the operator does, at the command line); `false`
    /// when no active agent has that name.
    pub async fn revoke_agent(&self, name: &str, now: i64) -> Result<bool> {
        let (_writing, mut tx) = self.begin_write().await?;
        let revoked: Option<i64> = sqlx::query_scalar(
            "UPDATE agents SET revoked_at = $2 WHERE name = $1 AND revoked_at IS NULL RETURNING id",
        )
        .bind(name)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(agent_id) = revoked else {
            return Ok(false);
        };
        Self::append_audit(
            &mut tx,
            NewAudit {
                by: AuditBy::CommandLine,
                action: AuditAction::AgentRevoked,
                target: format!("agent {name}"),
                conversation_id: None,
                detail: json!({ "agent_id": agent_id }),
            },
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}
