//! What the SLA sweep reads (the times of each open handoff) and writes (each missed
//! target once, with its `sla.breached` event, in one transaction).

use std::collections::BTreeMap;

use serde_json::json;
use sqlx::Row;

use super::events::NewEvent;
use super::{Result, Store};

/// The times an open handoff's targets are counted from.
#[derive(Debug, Clone, PartialEq)]
pub struct SlaTimes {
    pub handoff_id: i64,
    pub conversation_id: i64,
    /// 1 urgent … 4 low.
    pub priority: i64,
    pub created_at: i64,
    pub first_response_at: Option<i64>,
    /// After the first answer: the customer's first text since an agent last wrote,
    /// if it is still unanswered.
    pub unanswered_since: Option<i64>,
}

/// Which open handoffs an SLA check looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlaScope {
    /// Every handoff waiting or assigned: the periodic sweep.
    All,
    /// One handoff, just before an agent resolves it.
    Handoff(i64),
    /// A conversation's open handoff, just before an agent texts in it.
    Conversation(i64),
}

impl Store {
    /// The handoffs in `scope` that are waiting or assigned, with their SLA times.
    pub async fn sla_open_handoffs(&self, scope: SlaScope) -> Result<Vec<SlaTimes>> {
        const LAST_AGENT_TEXT: &str = "(SELECT MAX(a.created_at) FROM messages a
              WHERE a.conversation_id = h.conversation_id AND a.author = 'agent'
                AND a.created_at >= h.created_at)";
        let sql = format!(
            "SELECT h.id, h.conversation_id, h.priority, h.created_at, h.first_response_at,
                    (SELECT MIN(m.created_at) FROM messages m
                     WHERE m.conversation_id = h.conversation_id AND m.direction = 'inbound'
                       AND m.created_at > {LAST_AGENT_TEXT})
             FROM handoffs h WHERE h.status <> 'resolved' {} ORDER BY h.id",
            match scope {
                SlaScope::All => "",
                SlaScope::Handoff(_) => "AND h.id = $1",
                SlaScope::Conversation(_) => "AND h.conversation_id = $1",
            }
        );
        let query = sqlx::query(&sql);
        let rows = match scope {
            SlaScope::All => query,
            SlaScope::Handoff(id) | SlaScope::Conversation(id) => query.bind(id),
        }
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| {
                let first_response_at: Option<i64> = r.get(4);
                SlaTimes {
                    handoff_id: r.get(0),
                    conversation_id: r.get(1),
                    priority: r.get(2),
                    created_at: r.get(3),
                    first_response_at,
                    unanswered_since: first_response_at.and(r.get(5)),
                }
            })
            .collect())
    }

    /// Records that `handoff` missed its `metric` target due at `due_at`, with the
    /// `sla.breached` event; `false` when that was already recorded.
    pub async fn record_sla_breach(
        &self,
        handoff: &SlaTimes,
        metric: &str,
        due_at: i64,
        now: i64,
    ) -> Result<bool> {
        let (_writing, mut tx) = self.begin_write().await?;
        let inserted = sqlx::query(
            "INSERT INTO sla_breaches (handoff_id, metric, due_at, breached_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (handoff_id, metric, due_at) DO NOTHING",
        )
        .bind(handoff.handoff_id)
        .bind(metric)
        .bind(due_at)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if inserted {
            Self::append_event(
                &mut tx,
                NewEvent {
                    kind: "sla.breached",
                    handoff_id: Some(handoff.handoff_id),
                    conversation_id: Some(handoff.conversation_id),
                    payload: json!({
                        "metric": metric,
                        "due_at": due_at,
                        "priority": handoff.priority,
                    }),
                },
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(inserted)
    }

    /// The targets each of `handoff_ids` missed (metric names, oldest first).
    pub async fn sla_breaches_of(&self, handoff_ids: &[i64]) -> Result<BTreeMap<i64, Vec<String>>> {
        let mut out: BTreeMap<i64, Vec<String>> = BTreeMap::new();
        for ids in handoff_ids.chunks(500) {
            let placeholders: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT handoff_id, metric FROM sla_breaches WHERE handoff_id IN ({})
                 ORDER BY handoff_id, due_at",
                placeholders.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for id in ids {
                query = query.bind(*id);
            }
            for row in query.fetch_all(&self.pool).await? {
                let metric: String = row.get(1);
                let of = out.entry(row.get(0)).or_default();
                if !of.contains(&metric) {
                    of.push(metric);
                }
            }
        }
        Ok(out)
    }
}
