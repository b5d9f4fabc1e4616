//! What the router reads: the agents who are online with how many handoffs each holds,
//! and the handoffs waiting for someone.

use sqlx::Row;

use super::{Result, Store};

/// An online agent and their load.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentLoad {
    pub id: i64,
    pub name: String,
    /// Handoffs assigned to them and not resolved.
    pub open: i64,
    /// When they were last given (or took) a handoff; `None` never.
    pub last_assigned_at: Option<i64>,
}

/// A handoff waiting for someone, with what decides its team.
#[derive(Debug, Clone, PartialEq)]
pub struct WaitingHandoff {
    pub id: i64,
    pub rule: String,
    pub intent: Option<String>,
}

impl Store {
    /// Active agents seen (API, inbox, live stream) at or after `online_since`.
    pub async fn agent_loads(&self, online_since: i64) -> Result<Vec<AgentLoad>> {
        let rows = sqlx::query(
            "SELECT a.id, a.name,
                    (SELECT COUNT(*) FROM handoffs h WHERE h.assignee_id = a.id AND h.status = 'assigned'),
                    (SELECT MAX(h.claimed_at) FROM handoffs h WHERE h.assignee_id = a.id)
             FROM agents a
             WHERE a.revoked_at IS NULL AND a.last_seen_at >= $1
             ORDER BY a.id",
        )
        .bind(online_since)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| AgentLoad {
                id: r.get(0),
                name: r.get(1),
                open: r.get(2),
                last_assigned_at: r.get(3),
            })
            .collect())
    }

    /// How many handoffs each agent holds (assigned, not resolved), by agent id;
    /// agents holding none are absent.
    pub async fn open_handoffs_by_agent(&self) -> Result<std::collections::HashMap<i64, i64>> {
        let rows = sqlx::query(
            "SELECT assignee_id, COUNT(*) FROM handoffs
             WHERE status = 'assigned' AND assignee_id IS NOT NULL GROUP BY assignee_id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// Waiting handoffs, most urgent first, then oldest.
    pub async fn waiting_handoffs(&self, limit: i64) -> Result<Vec<WaitingHandoff>> {
        let rows = sqlx::query(
            "SELECT id, rule, intent FROM handoffs WHERE status = 'waiting'
             ORDER BY priority, created_at, id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| WaitingHandoff {
                id: r.get(0),
                rule: r.get(1),
                intent: r.get(2),
            })
            .collect())
    }
}
