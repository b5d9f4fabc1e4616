//! Pages of messages and conversations for exports, by id after a cursor, so an export
//! of any size holds one page in memory at a time.

use sqlx::Row;

use super::{Result, Store};

/// One message as exported.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ExportedMessage {
    pub id: i64,
    pub conversation_id: i64,
    /// E.164.
    pub phone: String,
    pub direction: String,
    pub author: String,
    /// The agent who wrote it, for agents' texts.
    pub agent: Option<String>,
    pub body: String,
    pub intent: Option<String>,
    pub encoding: String,
    pub segments: i64,
    pub delivery_status: String,
    #[serde(serialize_with = "rfc3339")]
    pub created_at: i64,
}

/// One conversation as exported.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ExportedConversation {
    pub id: i64,
    /// E.164.
    pub phone: String,
    pub status: String,
    #[serde(serialize_with = "rfc3339")]
    pub created_at: i64,
    #[serde(serialize_with = "maybe_rfc3339")]
    pub resolved_at: Option<i64>,
    pub messages: i64,
    pub handoffs: i64,
    /// Comma-separated, in name order.
    pub labels: String,
}

/// Times as RFC 3339 in UTC: what a spreadsheet or a script reads without help.
fn rfc3339<S: serde::Serializer>(ms: &i64, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&crate::clock::format_ms(*ms))
}

fn maybe_rfc3339<S: serde::Serializer>(
    ms: &Option<i64>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    match ms {
        Some(ms) => rfc3339(ms, s),
        None => s.serialize_none(),
    }
}

impl Store {
    /// Messages created in `[from, to)` with an id above `after`, oldest first.
    pub async fn export_messages_page(
        &self,
        from: i64,
        to: i64,
        after: i64,
        limit: i64,
    ) -> Result<Vec<ExportedMessage>> {
        let rows = sqlx::query(
            "SELECT m.id, m.conversation_id, c.phone, m.direction, m.author, a.name, m.body, m.intent,
                    m.encoding, m.segments, m.delivery_status, m.created_at
             FROM messages m JOIN contacts c ON c.id = m.contact_id
                  LEFT JOIN agents a ON a.id = m.agent_id
             WHERE m.id > $1 AND m.created_at >= $2 AND m.created_at < $3
             ORDER BY m.id LIMIT $4",
        )
        .bind(after)
        .bind(from)
        .bind(to)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| ExportedMessage {
                id: r.get(0),
                conversation_id: r.get(1),
                phone: r.get(2),
                direction: r.get(3),
                author: r.get(4),
                agent: r.get(5),
                body: r.get(6),
                intent: r.get(7),
                encoding: r.get(8),
                segments: r.get(9),
                delivery_status: r.get(10),
                created_at: r.get(11),
            })
            .collect())
    }

    /// Conversations started in `[from, to)` with an id above `after`, oldest first.
    pub async fn export_conversations_page(
        &self,
        from: i64,
        to: i64,
        after: i64,
        limit: i64,
    ) -> Result<Vec<ExportedConversation>> {
        let rows = sqlx::query(
            "SELECT v.id, c.phone, v.status, v.created_at, v.resolved_at,
                    (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = v.id),
                    (SELECT COUNT(*) FROM handoffs h WHERE h.conversation_id = v.id)
             FROM conversations v JOIN contacts c ON c.id = v.contact_id
             WHERE v.id > $1 AND v.created_at >= $2 AND v.created_at < $3
             ORDER BY v.id LIMIT $4",
        )
        .bind(after)
        .bind(from)
        .bind(to)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut page: Vec<ExportedConversation> = rows
            .iter()
            .map(|r| ExportedConversation {
                id: r.get(0),
                phone: r.get(1),
                status: r.get(2),
                created_at: r.get(3),
                resolved_at: r.get(4),
                messages: r.get(5),
                handoffs: r.get(6),
                labels: String::new(),
            })
            .collect();
        let ids: Vec<i64> = page.iter().map(|c| c.id).collect();
        let labels = self.labels_of(&ids).await?;
        for conversation in &mut page {
            if let Some(labels) = labels.get(&conversation.id) {
                conversation.labels = labels.join(",");
            }
        }
        Ok(page)
    }
}
