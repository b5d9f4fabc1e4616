//! Customer satisfaction: the one survey a conversation may get ("How did we do? Reply
//! 1-5") and the customer's score.
//!
//! A survey goes out in the same transaction that records it, so a conversation is
//! surveyed at most once (`csat_surveys.conversation_id` is unique) and never an
//! opted-out contact. An answer is recorded at most once per survey
//! (`csat_responses.survey_id` is unique).

use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::{InboundContext, NewOutbound, Result, Store};

/// How long after the survey a lone digit still counts as its answer.
pub const SURVEY_REPLY_WINDOW_MS: i64 = 24 * 3600 * 1000;

/// What ended the conversation that is surveyed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SurveyTrigger {
    /// An agent resolved its handoff.
    Handoff,
    /// The bot handled it alone and the customer went quiet.
    Bot,
}

impl SurveyTrigger {
    pub fn as_str(&self) -> &'static str {
        match self {
            SurveyTrigger::Handoff => "handoff",
            SurveyTrigger::Bot => "bot",
        }
    }
}

/// Joins, as `s`, the latest survey of the contact `c` still unanswered and recent when
/// the message `m` arrived (NULLs when there is none); [`pending_survey_from`] reads it.
pub(super) fn pending_survey_join() -> String {
    format!(
        "LEFT JOIN csat_surveys s ON s.id = (
             SELECT p.id FROM csat_surveys p
             WHERE p.contact_id = c.id AND p.sent_at >= m.created_at - {SURVEY_REPLY_WINDOW_MS}
               AND NOT EXISTS (SELECT 1 FROM csat_responses r WHERE r.survey_id = p.id)
             ORDER BY p.id DESC LIMIT 1)"
    )
}

/// The columns [`pending_survey_from`] reads.
pub(super) const PENDING_SURVEY_COLUMNS: &str = "s.id, s.conversation_id, s.thanks";

/// The survey in [`PENDING_SURVEY_COLUMNS`] starting at column `first`, if any.
pub(super) fn pending_survey_from(row: &AnyRow, first: usize) -> Option<PendingSurvey> {
    let id = row.get::<Option<i64>, _>(first)?;
    Some(PendingSurvey {
        id,
        conversation_id: row.get(first + 1),
        thanks: row.get(first + 2),
    })
}

/// A survey the contact has not answered yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingSurvey {
    pub id: i64,
    pub conversation_id: i64,
    /// The thank-you to send with an answer (written when the survey went out).
    pub thanks: String,
}

/// The customer's answer to a pending survey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsatAnswer {
    pub survey_id: i64,
    pub score: i64,
}

impl Store {
    /// Sends the survey for `conversation_id` unless its contact opted out or the
    /// conversation was surveyed before. Returns the survey id when one was queued.
    pub async fn queue_csat_survey(
        &self,
        conversation_id: i64,
        handoff_id: Option<i64>,
        trigger: SurveyTrigger,
        question: &NewOutbound,
        thanks: &str,
        now: i64,
    ) -> Result<Option<i64>> {
        let (_writing, mut tx) = self.begin_write().await?;
        // A write first (see the module docs), on the contact before the conversation.
        let row = sqlx::query(
            "UPDATE contacts SET updated_at = updated_at
             WHERE id = (SELECT contact_id FROM conversations WHERE id = $1)
             RETURNING id, consent",
        )
        .bind(conversation_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            tx.rollback().await?;
            return Ok(None);
        };
        let contact_id: i64 = row.get(0);
        let consent: String = row.get(1);
        let surveyed: Option<i64> =
            sqlx::query_scalar("SELECT id FROM csat_surveys WHERE conversation_id = $1")
                .bind(conversation_id)
                .fetch_optional(&mut *tx)
                .await?;
        if consent == "opted_out" || surveyed.is_some() {
            tx.rollback().await?;
            return Ok(None);
        }
        let queued =
            Self::queue_outbound(&mut tx, conversation_id, contact_id, question, None, now).await?;
        let survey_id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO csat_surveys (conversation_id, contact_id, handoff_id, message_id,
                 trigger_kind, thanks, sent_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (conversation_id) DO NOTHING RETURNING id",
        )
        .bind(conversation_id)
        .bind(contact_id)
        .bind(handoff_id)
        .bind(queued.message_id)
        .bind(trigger.as_str())
        .bind(thanks)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        if survey_id.is_none() {
            // Another process surveyed it meanwhile.
            tx.rollback().await?;
            return Ok(None);
        }
        tx.commit().await?;
        Ok(survey_id)
    }

    /// Records an answer inside the inbound text's transaction; a second answer to
    /// the same survey is ignored.
    pub(super) async fn record_csat(
        tx: &mut Transaction<'static, Any>,
        ctx: &InboundContext,
        answer: &CsatAnswer,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO csat_responses (survey_id, conversation_id, contact_id, message_id, score, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (survey_id) DO NOTHING",
        )
        .bind(answer.survey_id)
        .bind(ctx.conversation_id)
        .bind(ctx.contact_id)
        .bind(ctx.message_id)
        .bind(answer.score)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Bot-only conversations that have gone quiet: never handed to a person, never
    /// surveyed, answered by the bot, last message between `active_after` and
    /// `idle_before`, contact not opted out, and not merely a survey answer.
    pub async fn quiet_bot_conversations(
        &self,
        idle_before: i64,
        active_after: i64,
    ) -> Result<Vec<i64>> {
        let ids = sqlx::query_scalar(
            "SELECT v.id FROM conversations v JOIN contacts c ON c.id = v.contact_id
             WHERE v.status = 'bot' AND c.consent <> 'opted_out'
               AND NOT EXISTS (SELECT 1 FROM handoffs h WHERE h.conversation_id = v.id)
               AND NOT EXISTS (SELECT 1 FROM csat_surveys s WHERE s.conversation_id = v.id)
               AND EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = v.id
                           AND m.direction = 'outbound' AND m.author = 'bot')
               AND EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = v.id
                           AND m.direction = 'inbound'
                           AND NOT EXISTS (SELECT 1 FROM csat_responses r WHERE r.message_id = m.id))
               AND (SELECT MAX(m.created_at) FROM messages m WHERE m.conversation_id = v.id)
                   BETWEEN $1 AND $2
             ORDER BY v.id LIMIT 100",
        )
        .bind(active_after)
        .bind(idle_before)
        .fetch_all(&self.pool)
        .await?;
        Ok(ids)
    }
}
