//! Full-text search over what was written in conversations: messages (customer, bot,
//! agents) and agents' private notes. SQLite answers from FTS5 tables kept in step by
//! triggers; PostgreSQL from GIN indexes on `to_tsvector('simple', body)`. Both match
//! whole words, all of them, in any order, accents folded on SQLite.

use sqlx::Row;

use super::{ConversationStatus, Dialect, Label, Result, Store, StoreError};
use crate::sms::PhoneNumber;

/// Whether a hit is a message or a note.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HitKind {
    Message,
    Note,
}

/// What to search for, and where.
#[derive(Debug, Clone, Default)]
pub struct SearchQuery {
    /// The words, as typed; every one must appear.
    pub words: String,
    pub phone: Option<PhoneNumber>,
    pub label: Option<Label>,
    pub status: Option<ConversationStatus>,
    /// Conversations a handoff of which was assigned to this agent (by name).
    pub agent: Option<String>,
    /// Epoch ms, inclusive.
    pub from: Option<i64>,
    /// Epoch ms, exclusive.
    pub to: Option<i64>,
    pub limit: i64,
    pub offset: i64,
}

/// One message or note that matched.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct SearchHit {
    pub kind: HitKind,
    /// The message's or the note's id.
    pub id: i64,
    pub conversation_id: i64,
    /// The contact's number masked for display.
    pub phone_masked: String,
    /// customer, bot, agent or system for a message; the agent's name for a note.
    pub author: String,
    pub body: String,
    pub created_at: i64,
}

impl Store {
    /// Messages and notes with every word of `query.words`, newest first.
    pub async fn search(&self, query: &SearchQuery) -> Result<Vec<SearchHit>> {
        let Some(words) = match_expression(&query.words, self.dialect) else {
            return Ok(Vec::new());
        };
        let (messages_match, notes_match) = match self.dialect {
            Dialect::Sqlite => (
                "m.id IN (SELECT rowid FROM messages_search WHERE messages_search MATCH $1)",
                "n.id IN (SELECT rowid FROM notes_search WHERE notes_search MATCH $1)",
            ),
            Dialect::Postgres => (
                "to_tsvector('simple', m.body) @@ plainto_tsquery('simple', $1)",
                "to_tsvector('simple', n.body) @@ plainto_tsquery('simple', $1)",
            ),
        };
        // The conversation filters, shared by both halves ($2…$6).
        const FILTERS: &str = "($2 IS NULL OR c.phone = $2)
            AND ($3 IS NULL OR EXISTS (SELECT 1 FROM conversation_labels l
                 WHERE l.conversation_id = v.id AND l.label = $3))
            AND ($4 IS NULL OR v.status = $4)
            AND ($5 IS NULL OR EXISTS (SELECT 1 FROM handoffs h JOIN agents g ON g.id = h.assignee_id
                 WHERE h.conversation_id = v.id AND g.name = $5))";
        let sql = format!(
            "SELECT * FROM (
                SELECT 'message' AS kind, m.id, m.conversation_id, c.phone, m.author AS author, m.body,
                       m.created_at
                FROM messages m JOIN conversations v ON v.id = m.conversation_id
                     JOIN contacts c ON c.id = v.contact_id
                WHERE {messages_match} AND {FILTERS}
                  AND ($6 IS NULL OR m.created_at >= $6) AND ($7 IS NULL OR m.created_at < $7)
                UNION ALL
                SELECT 'note' AS kind, n.id, n.conversation_id, c.phone, a.name AS author, n.body,
                       n.created_at
                FROM notes n JOIN agents a ON a.id = n.agent_id
                     JOIN conversations v ON v.id = n.conversation_id
                     JOIN contacts c ON c.id = v.contact_id
                WHERE {notes_match} AND {FILTERS}
                  AND ($6 IS NULL OR n.created_at >= $6) AND ($7 IS NULL OR n.created_at < $7)
             ) hits
             ORDER BY created_at DESC, kind, id DESC LIMIT $8 OFFSET $9"
        );
        let rows = sqlx::query(&sql)
            .bind(words)
            .bind(query.phone.as_ref().map(PhoneNumber::as_str))
            .bind(query.label.as_ref().map(Label::as_str))
            .bind(query.status.map(|s| s.as_str()))
            .bind(query.agent.as_deref())
            .bind(query.from)
            .bind(query.to)
            .bind(query.limit)
            .bind(query.offset)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let kind: String = r.get(0);
                let phone: String = r.get(3);
                let phone = PhoneNumber::parse(&phone)
                    .map_err(|e| StoreError::Corrupt(format!("contact phone: {e}")))?;
                Ok(SearchHit {
                    kind: if kind == "note" {
                        HitKind::Note
                    } else {
                        HitKind::Message
                    },
                    id: r.get(1),
                    conversation_id: r.get(2),
                    phone_masked: phone.masked(),
                    author: r.get(4),
                    body: r.get(5),
                    created_at: r.get(6),
                })
            })
            .collect()
    }
}

/// The words as the engine's query language wants them, or `None` when there is no
/// word to look for. FTS5 gets each word quoted (its operators and punctuation in
/// a customer's text are not syntax); PostgreSQL's `plainto_tsquery` takes plain text.
fn match_expression(words: &str, dialect: Dialect) -> Option<String> {
    let tokens: Vec<&str> = words
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    if tokens.is_empty() {
        return None;
    }
    Some(match dialect {
        Dialect::Sqlite => tokens
            .iter()
            .map(|w| format!("\"{w}\""))
            .collect::<Vec<_>>()
            .join(" "),
        Dialect::Postgres => tokens.join(" "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_words_become_a_safe_query() {
        assert_eq!(
            match_expression("refund \"NOW\" OR -x*", Dialect::Sqlite).as_deref(),
            Some("\"refund\" \"NOW\" \"OR\" \"x\"")
        );
        assert_eq!(
            match_expression("order #48213", Dialect::Postgres).as_deref(),
            Some("order 48213")
        );
        assert_eq!(match_expression(" !? ", Dialect::Sqlite), None);
    }
}
