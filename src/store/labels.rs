//! Labels on conversations ("vip", "refund-asked"): agents add and remove them; the
//! queue and the analytics filter and split by them; outbound webhooks carry them.
//! Adding or removing one appends an event (for the live stream and webhooks) and an
//! audit entry in the same transaction.

use std::collections::BTreeMap;

use serde_json::json;
use sqlx::Row;

use super::audit::NewAudit;
use super::events::NewEvent;
use super::{AuditAction, AuditBy, Result, Store, StoreError};

/// The longest label, in characters.
pub const MAX_LABEL_CHARS: usize = 32;

/// A label as stored: lower case letters, digits, `-` and `_`, 1 to
/// [`MAX_LABEL_CHARS`] characters. "VIP Customer" is parsed as `vip-customer`, so
/// two agents typing the same word make one label.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Label(String);

impl Label {
    pub fn parse(text: &str) -> std::result::Result<Label, String> {
        let words: Vec<String> = text.split_whitespace().map(|w| w.to_lowercase()).collect();
        let label = words.join("-");
        if label.is_empty() {
            return Err("a label needs at least one letter or digit".into());
        }
        if label.chars().count() > MAX_LABEL_CHARS {
            return Err(format!(
                "{text:?} is longer than {MAX_LABEL_CHARS} characters; use a shorter label"
            ));
        }
        if let Some(bad) = label
            .chars()
            .find(|c| !(c.is_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(format!(
                "{text:?} has {bad:?}: labels are letters, digits, '-' and '_'"
            ));
        }
        Ok(Label(label))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Label {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A label in use, and on how many conversations.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct LabelCount {
    pub label: String,
    pub conversations: i64,
}

impl Store {
    /// Puts `label` on the conversation (nothing changes when it is there already);
    /// returns the conversation's labels.
    pub async fn add_label(
        &self,
        conversation_id: i64,
        label: &Label,
        agent_id: i64,
        now: i64,
    ) -> Result<Vec<String>> {
        let (_writing, mut tx) = self.begin_write().await?;
        Self::touch_conversation(&mut tx, conversation_id, now).await?;
        let added = sqlx::query(
            "INSERT INTO conversation_labels (conversation_id, label, added_by, created_at)
             VALUES ($1, $2, $3, $4) ON CONFLICT (conversation_id, label) DO NOTHING",
        )
        .bind(conversation_id)
        .bind(label.as_str())
        .bind(agent_id)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        let labels = Self::labels_in(&mut tx, conversation_id).await?;
        if added {
            Self::record_label_change(
                &mut tx,
                conversation_id,
                label,
                agent_id,
                true,
                &labels,
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(labels)
    }

    /// Takes `label` off the conversation (nothing changes when it is not there);
    /// returns the conversation's labels.
    pub async fn remove_label(
        &self,
        conversation_id: i64,
        label: &Label,
        agent_id: i64,
        now: i64,
    ) -> Result<Vec<String>> {
        let (_writing, mut tx) = self.begin_write().await?;
        Self::touch_conversation(&mut tx, conversation_id, now).await?;
        let removed = sqlx::query(
            "DELETE FROM conversation_labels WHERE conversation_id = $1 AND label = $2",
        )
        .bind(conversation_id)
        .bind(label.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        let labels = Self::labels_in(&mut tx, conversation_id).await?;
        if removed {
            Self::record_label_change(
                &mut tx,
                conversation_id,
                label,
                agent_id,
                false,
                &labels,
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(labels)
    }

    /// The labels of each of `conversation_ids` (absent: none), in name order.
    pub async fn labels_of(&self, conversation_ids: &[i64]) -> Result<BTreeMap<i64, Vec<String>>> {
        let mut out: BTreeMap<i64, Vec<String>> = BTreeMap::new();
        // A page of the queue at a time; the placeholders stay well under any limit.
        for ids in conversation_ids.chunks(500) {
            let placeholders: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT conversation_id, label FROM conversation_labels
                 WHERE conversation_id IN ({}) ORDER BY conversation_id, label",
                placeholders.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for id in ids {
                query = query.bind(*id);
            }
            for row in query.fetch_all(&self.pool).await? {
                out.entry(row.get(0)).or_default().push(row.get(1));
            }
        }
        Ok(out)
    }

    /// Every label in use, most used first.
    pub async fn labels_in_use(&self) -> Result<Vec<LabelCount>> {
        let rows = sqlx::query(
            "SELECT label, COUNT(*) AS n FROM conversation_labels GROUP BY label
             ORDER BY n DESC, label",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| LabelCount {
                label: r.get(0),
                conversations: r.get(1),
            })
            .collect())
    }

    /// Takes the write lock through the conversation row and checks it exists.
    async fn touch_conversation(
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        conversation_id: i64,
        now: i64,
    ) -> Result<()> {
        let touched = sqlx::query("UPDATE conversations SET updated_at = $2 WHERE id = $1")
            .bind(conversation_id)
            .bind(now)
            .execute(&mut **tx)
            .await?;
        if touched.rows_affected() != 1 {
            return Err(StoreError::NotFound {
                what: "conversation",
                id: conversation_id.to_string(),
            });
        }
        Ok(())
    }

    pub(super) async fn labels_in(
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        conversation_id: i64,
    ) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT label FROM conversation_labels WHERE conversation_id = $1 ORDER BY label",
        )
        .bind(conversation_id)
        .fetch_all(&mut **tx)
        .await?)
    }

    async fn record_label_change(
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        conversation_id: i64,
        label: &Label,
        agent_id: i64,
        added: bool,
        labels: &[String],
        now: i64,
    ) -> Result<()> {
        let (kind, action) = if added {
            ("conversation.labeled", AuditAction::LabelAdded)
        } else {
            ("conversation.unlabeled", AuditAction::LabelRemoved)
        };
        Self::append_event(
            tx,
            NewEvent {
                kind,
                handoff_id: None,
                conversation_id: Some(conversation_id),
                payload: json!({ "label": label, "labels": labels, "agent_id": agent_id }),
            },
            now,
        )
        .await?;
        Self::append_audit(
            tx,
            NewAudit {
                by: AuditBy::Agent(agent_id),
                action,
                target: format!("conversation {conversation_id}"),
                conversation_id: Some(conversation_id),
                detail: json!({ "label": label }),
            },
            now,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::Label;

    #[test]
    fn labels_are_one_lower_case_word() {
        assert_eq!(
            Label::parse(" VIP Customer ").unwrap().as_str(),
            "vip-customer"
        );
        assert_eq!(
            Label::parse("refund_asked").unwrap().as_str(),
            "refund_asked"
        );
        assert!(Label::parse("  ").is_err());
        assert!(Label::parse("a/b").unwrap_err().contains("'/'"));
        assert!(Label::parse(&"x".repeat(33)).is_err());
    }
}
