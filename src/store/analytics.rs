//! What analytics read: the facts of every conversation that started in a time window
//! (its messages, handoffs, survey, completed flows, opt-outs), and the operational
//! gauges `/metrics` reports. The arithmetic lives in [`crate::analytics`]; this file
//! only fetches, in a handful of queries per window whatever its size.

use std::collections::{BTreeSet, HashMap};

use sqlx::Row;

use super::{Author, Direction, Result, Store};

/// One conversation that started inside the window, with everything analytics need.
#[derive(Debug, Clone, Default)]
pub struct ConversationFacts {
    pub id: i64,
    pub created_at: i64,
    /// In id order.
    pub messages: Vec<MessageFact>,
    /// In id order.
    pub handoffs: Vec<HandoffFact>,
    pub survey: Option<SurveyFact>,
    /// The events log has `flow.completed` for this conversation.
    pub flow_completed: bool,
    /// The contact opted out with a text of this conversation (or a carrier error on
    /// one of its texts).
    pub opted_out: bool,
    /// Its labels, in name order.
    pub labels: Vec<String>,
    /// The SLA targets its handoffs missed (a metric name each).
    pub sla_breaches: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct MessageFact {
    pub id: i64,
    pub direction: Direction,
    pub author: Author,
    pub intent: Option<String>,
    pub segments: i64,
    pub delivery_status: String,
    pub created_at: i64,
    pub llm_fallback: bool,
    /// The customer's answer to a satisfaction survey (not a request).
    pub csat_answer: bool,
    /// Our satisfaction survey itself (not a reply).
    pub survey: bool,
}

#[derive(Debug, Clone)]
pub struct HandoffFact {
    pub rule: String,
    pub created_at: i64,
    pub claimed_at: Option<i64>,
    pub first_response_at: Option<i64>,
    pub resolved_at: Option<i64>,
    /// The agent it is (or was last) assigned to.
    pub assignee: Option<String>,
}

#[derive(Debug, Clone)]
pub struct SurveyFact {
    pub sent_at: i64,
    pub score: Option<i64>,
}

/// Queue and handoff gauges for `/metrics`.
#[derive(Debug, Clone, Copy, Default)]
pub struct OperationalGauges {
    pub inbound_pending: i64,
    pub inbound_oldest_ms: Option<i64>,
    pub outbox_pending: i64,
    pub handoffs_waiting: i64,
}

/// The conversations created in `[from, to)`.
const COHORT: &str = "SELECT id FROM conversations WHERE created_at >= $1 AND created_at < $2";

impl Store {
    /// Every conversation created in `[from, to)` with its facts, oldest first.
    pub async fn conversation_facts(&self, from: i64, to: i64) -> Result<Vec<ConversationFacts>> {
        let mut conversations: Vec<ConversationFacts> = sqlx::query(
            "SELECT id, created_at FROM conversations
             WHERE created_at >= $1 AND created_at < $2 ORDER BY id",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| ConversationFacts {
            id: r.get(0),
            created_at: r.get(1),
            ..Default::default()
        })
        .collect();
        let index: HashMap<i64, usize> = conversations
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id, i))
            .collect();

        let messages = sqlx::query(&format!(
            "SELECT m.id, m.conversation_id, m.direction, m.author, m.intent, m.segments,
                    m.delivery_status, m.created_at, m.llm_fallback,
                    (SELECT COUNT(*) FROM csat_responses r WHERE r.message_id = m.id),
                    (SELECT COUNT(*) FROM csat_surveys s WHERE s.message_id = m.id)
             FROM messages m WHERE m.conversation_id IN ({COHORT}) ORDER BY m.id"
        ))
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        for r in &messages {
            let Some(&i) = index.get(&r.get::<i64, _>(1)) else {
                continue;
            };
            let direction: String = r.get(2);
            let author: String = r.get(3);
            conversations[i].messages.push(MessageFact {
                id: r.get(0),
                direction: Direction::from_stored(&direction),
                author: Author::parse(&author).unwrap_or(Author::System),
                intent: r.get(4),
                segments: r.get(5),
                delivery_status: r.get(6),
                created_at: r.get(7),
                llm_fallback: r.get::<Option<i64>, _>(8) == Some(1),
                csat_answer: r.get::<i64, _>(9) > 0,
                survey: r.get::<i64, _>(10) > 0,
            });
        }

        let handoffs = sqlx::query(&format!(
            "SELECT h.conversation_id, h.rule, h.created_at, h.claimed_at, h.first_response_at,
                    h.resolved_at, a.name
             FROM handoffs h LEFT JOIN agents a ON a.id = h.assignee_id
             WHERE h.conversation_id IN ({COHORT}) ORDER BY h.id"
        ))
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        for r in &handoffs {
            let Some(&i) = index.get(&r.get::<i64, _>(0)) else {
                continue;
            };
            conversations[i].handoffs.push(HandoffFact {
                rule: r.get(1),
                created_at: r.get(2),
                claimed_at: r.get(3),
                first_response_at: r.get(4),
                resolved_at: r.get(5),
                assignee: r.get(6),
            });
        }

        let surveys = sqlx::query(&format!(
            "SELECT s.conversation_id, s.sent_at, r.score
             FROM csat_surveys s LEFT JOIN csat_responses r ON r.survey_id = s.id
             WHERE s.conversation_id IN ({COHORT})"
        ))
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        for r in &surveys {
            if let Some(&i) = index.get(&r.get::<i64, _>(0)) {
                conversations[i].survey = Some(SurveyFact {
                    sent_at: r.get(1),
                    score: r.get(2),
                });
            }
        }

        let flows: BTreeSet<i64> = sqlx::query_scalar(&format!(
            "SELECT DISTINCT conversation_id FROM events
             WHERE kind = 'flow.completed' AND conversation_id IN ({COHORT})"
        ))
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .collect();
        let opt_outs: BTreeSet<i64> = sqlx::query_scalar(&format!(
            "SELECT DISTINCT m.conversation_id FROM consent_events e
             JOIN messages m ON m.id = e.message_id
             WHERE e.kind = 'opt_out' AND m.conversation_id IN ({COHORT})"
        ))
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .collect();
        for c in &mut conversations {
            c.flow_completed = flows.contains(&c.id);
            c.opted_out = opt_outs.contains(&c.id);
        }
        let labels = sqlx::query(&format!(
            "SELECT conversation_id, label FROM conversation_labels
             WHERE conversation_id IN ({COHORT}) ORDER BY conversation_id, label"
        ))
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        for r in &labels {
            if let Some(&i) = index.get(&r.get::<i64, _>(0)) {
                conversations[i].labels.push(r.get(1));
            }
        }
        let breaches = sqlx::query(&format!(
            "SELECT h.conversation_id, b.metric FROM sla_breaches b JOIN handoffs h ON h.id = b.handoff_id
             WHERE h.conversation_id IN ({COHORT}) ORDER BY b.due_at"
        ))
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        for r in &breaches {
            if let Some(&i) = index.get(&r.get::<i64, _>(0)) {
                conversations[i].sla_breaches.push(r.get(1));
            }
        }
        Ok(conversations)
    }

    /// The numbers `/metrics` reads at scrape time.
    pub async fn operational_gauges(&self, now: i64) -> Result<OperationalGauges> {
        let (inbound_pending, inbound_oldest_ms) = self.inbound_backlog(now).await?;
        let outbox_pending = self.outbox_backlog().await?;
        let handoffs_waiting: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM handoffs WHERE status = 'waiting'")
                .fetch_one(&self.pool)
                .await?;
        Ok(OperationalGauges {
            inbound_pending,
            inbound_oldest_ms,
            outbox_pending,
            handoffs_waiting,
        })
    }
}
