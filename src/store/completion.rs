//! Committing the engine's outcomes: the queue row done, what the brain understood,
//! the conversation's new state, the replies queued, and the rarer parts of a turn (a
//! consent change, a handoff, a finished flow, a survey answer, a gap) — all or nothing
//! per text.
//!
//! The workers' group commit ([`crate::engine::completions`]) hands over a batch of
//! outcomes at once, and what nearly every text needs is written for the whole batch
//! with one multi-row statement per stage (see [`super::sql`]): on SQLite each
//! statement is a hand-off to the connection's thread and back while the one write
//! lock is held against the webhooks, and five statements per text were most of what
//! the workers cost the database under a flood. The rarer parts are written text by
//! text, in the same stage order. A single text is a batch of one, so both paths are
//! the same code.

use std::collections::{HashMap, HashSet};

use serde_json::json;
use sqlx::{Any, Row, Transaction};

use super::events::NewEvent;
use super::sql::value_rows;
use super::{
    ClaimedInbound, Completion, Dialect, HandoffChange, InboundContext, InboundOutcome, Result,
    Store, StoreError,
};

type Tx = Transaction<'static, Any>;

/// One text's outcome, borrowed for writing.
#[derive(Clone, Copy)]
struct Finished<'a> {
    claim: &'a ClaimedInbound,
    ctx: &'a InboundContext,
    outcome: &'a InboundOutcome,
    now: i64,
}

impl<'a> From<&'a Completion> for Finished<'a> {
    fn from(text: &'a Completion) -> Self {
        Finished {
            claim: &text.claim,
            ctx: &text.ctx,
            outcome: &text.outcome,
            now: text.now,
        }
    }
}

impl Store {
    /// Commits the engine's outcome: marks the queue row done, applies a consent change
    /// and queues the replies — all or nothing. Fails with [`StoreError::LeaseLost`] if
    /// another worker took the row over meanwhile (its outcome wins, ours is dropped).
    pub async fn complete_inbound(
        &self,
        claim: &ClaimedInbound,
        ctx: &InboundContext,
        outcome: &InboundOutcome,
        now: i64,
    ) -> Result<Vec<i64>> {
        let (_writing, mut tx) = self.begin_write().await?;
        // The contact's row lock first, the order `receive_inbound` takes them in
        // (contact, then the conversation's pending queue rows): on PostgreSQL the
        // opposite order deadlocks against a new text from the same contact arriving
        // meanwhile, and the loser is that text's webhook. SQLite has one writer, so
        // no order to keep.
        if self.dialect == Dialect::Postgres {
            sqlx::query("UPDATE contacts SET updated_at = updated_at WHERE id = $1")
                .bind(ctx.contact_id)
                .execute(&mut *tx)
                .await?;
        }
        let text = Finished {
            claim,
            ctx,
            outcome,
            now,
        };
        match write_completions(&mut tx, &[text]).await?.pop().flatten() {
            Some(outbox_ids) => {
                tx.commit().await?;
                Ok(outbox_ids)
            }
            None => {
                tx.rollback().await?;
                Err(StoreError::LeaseLost(claim.queue_id))
            }
        }
    }

    /// [`Self::complete_inbound`] for several texts in one transaction (the workers'
    /// group commit: one turn at SQLite's writer and one commit for all of them).
    /// A text whose lease was lost is [`StoreError::LeaseLost`] in the answer and
    /// nothing of it is written; the others are. Any other error fails them all, and
    /// the caller may then commit them one by one. For SQLite: on PostgreSQL the texts
    /// would take their contacts' locks in no set order, and transactions run side by
    /// side there anyway.
    pub async fn complete_inbound_all(
        &self,
        texts: &[Completion],
    ) -> Result<Vec<Result<Vec<i64>>>> {
        let (_writing, mut tx) = self.begin_write().await?;
        // A conversation's next text is claimable only once this one is done, so a
        // batch holds each conversation once; were it not so, a multi-row update
        // would apply one of two states at random. Then they are written in turn.
        let written = if distinct_conversations(texts) {
            let batch: Vec<Finished> = texts.iter().map(Finished::from).collect();
            write_completions(&mut tx, &batch).await?
        } else {
            let mut written = Vec::with_capacity(texts.len());
            for text in texts {
                written.extend(write_completions(&mut tx, &[text.into()]).await?);
            }
            written
        };
        tx.commit().await?;
        Ok(texts
            .iter()
            .zip(written)
            .map(|(text, outbox_ids)| outbox_ids.ok_or(StoreError::LeaseLost(text.claim.queue_id)))
            .collect())
    }
}

fn distinct_conversations(texts: &[Completion]) -> bool {
    let mut seen = HashSet::with_capacity(texts.len());
    texts.iter().all(|t| seen.insert(t.claim.conversation_id))
}

/// Writes the texts' outcomes in `tx`: for each, in order, the outbox ids of its
/// replies, or `None` (and nothing of it written) when its lease is no longer ours.
async fn write_completions(tx: &mut Tx, texts: &[Finished<'_>]) -> Result<Vec<Option<Vec<i64>>>> {
    let done = mark_done(tx, texts).await?;
    let texts_done: Vec<Finished> = texts
        .iter()
        .filter(|t| done.contains(&t.claim.queue_id))
        .copied()
        .collect();
    if texts_done.is_empty() {
        return Ok(vec![None; texts.len()]);
    }

    for text in &texts_done {
        mark_rest_of_burst_done(tx, text).await?;
    }
    record_understanding(tx, &texts_done).await?;
    for text in &texts_done {
        record_gap_and_consent(tx, text).await?;
    }
    save_states(tx, &texts_done).await?;
    for text in &texts_done {
        record_handoff_flow_and_survey(tx, text).await?;
    }
    let mut outbox_ids = queue_replies(tx, &texts_done).await?;
    Ok(texts
        .iter()
        .map(|t| {
            done.contains(&t.claim.queue_id)
                .then(|| outbox_ids.remove(&t.claim.queue_id).unwrap_or_default())
        })
        .collect())
}

/// Marks the texts' queue rows done where the lease is still the claim's; the queue
/// ids marked.
async fn mark_done(tx: &mut Tx, texts: &[Finished<'_>]) -> Result<HashSet<i64>> {
    let sql = format!(
        "UPDATE inbound_queue SET status = 'done', done_at = b.column3, lease_owner = NULL, lease_until = NULL
         FROM (VALUES {}) AS b
         WHERE inbound_queue.id = b.column1 AND inbound_queue.lease_owner = b.column2
           AND inbound_queue.status = 'pending'
         RETURNING inbound_queue.id",
        value_rows(texts.len(), "?, ?, ?")
    );
    let mut update = sqlx::query(&sql);
    for text in texts {
        update = update
            .bind(text.claim.queue_id)
            .bind(&text.claim.lease_owner)
            .bind(text.now);
    }
    Ok(update
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|row| row.get::<i64, _>(0))
        .collect())
}

/// The rest of the burst was read with the text. Nobody else can hold these rows: a
/// conversation's later texts are not claimable while an earlier one is pending.
async fn mark_rest_of_burst_done(tx: &mut Tx, text: &Finished<'_>) -> Result<()> {
    for folded in &text.ctx.folded {
        sqlx::query(
            "UPDATE inbound_queue SET status = 'done', done_at = $3
             WHERE id = $1 AND conversation_id = $2 AND status = 'pending'",
        )
        .bind(folded.queue_id)
        .bind(text.ctx.conversation_id)
        .bind(text.now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// What the brain made of each text (intent, confidence, sentiment, by whom), on its
/// message.
async fn record_understanding(tx: &mut Tx, texts: &[Finished<'_>]) -> Result<()> {
    let understood: Vec<_> = texts
        .iter()
        .filter_map(|t| t.outcome.understanding.as_ref().map(|u| (t, u)))
        .collect();
    if understood.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "UPDATE messages SET intent = b.column2, confidence = b.column3, sentiment = b.column4,
             understood_by = b.column5, llm_fallback = b.column6
         FROM (VALUES {}) AS b WHERE messages.id = b.column1",
        value_rows(understood.len(), "?, ?, ?, ?, ?, ?")
    );
    let mut update = sqlx::query(&sql);
    for (text, understanding) in understood {
        update = update
            .bind(text.ctx.message_id)
            .bind(&understanding.intent)
            .bind(understanding.confidence)
            .bind(understanding.sentiment)
            .bind(text.outcome.understood_by)
            .bind(i64::from(text.outcome.llm_fallback));
    }
    update.execute(&mut **tx).await?;
    Ok(())
}

/// A text the bot could not handle is marked for the gaps report; a consent change
/// (STOP, START …) is recorded with the text that made it.
async fn record_gap_and_consent(tx: &mut Tx, text: &Finished<'_>) -> Result<()> {
    let (ctx, outcome) = (text.ctx, text.outcome);
    if let Some(gap) = &outcome.gap {
        sqlx::query("UPDATE messages SET gap = $2, gap_intents = $3 WHERE id = $1")
            .bind(ctx.message_id)
            .bind(gap.kind.as_str())
            .bind(serde_json::to_string(&gap.intents).unwrap_or_else(|_| "[]".into()))
            .execute(&mut **tx)
            .await?;
    }
    if let Some(change) = &outcome.consent_change {
        Store::record_consent(tx, ctx.contact_id, change, Some(ctx.message_id), text.now).await?;
    }
    Ok(())
}

/// Each conversation's new engine state, where the turn changed it.
async fn save_states(tx: &mut Tx, texts: &[Finished<'_>]) -> Result<()> {
    let changed: Vec<_> = texts
        .iter()
        .filter_map(|t| t.outcome.state_json.as_ref().map(|s| (t, s)))
        .collect();
    if changed.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "UPDATE conversations SET state = b.column2, updated_at = b.column3
         FROM (VALUES {}) AS b WHERE conversations.id = b.column1",
        value_rows(changed.len(), "?, ?, ?")
    );
    let mut update = sqlx::query(&sql);
    for (text, state) in changed {
        update = update
            .bind(text.ctx.conversation_id)
            .bind(state)
            .bind(text.now);
    }
    update.execute(&mut **tx).await?;
    Ok(())
}

/// A handoff opened or its summary refreshed, a finished flow, the text shown to the
/// agents who own the conversation, and a survey answer.
async fn record_handoff_flow_and_survey(tx: &mut Tx, text: &Finished<'_>) -> Result<()> {
    let (ctx, outcome, now) = (text.ctx, text.outcome, text.now);
    match &outcome.handoff {
        Some(HandoffChange::Open(new)) => {
            Store::open_handoff(
                tx,
                ctx.conversation_id,
                ctx.contact_id,
                ctx.message_id,
                new,
                now,
            )
            .await?;
        }
        Some(HandoffChange::Refresh {
            handoff_id,
            summary,
            summary_by,
            headline,
        }) => {
            Store::refresh_summary(
                tx,
                *handoff_id,
                ctx.conversation_id,
                summary,
                summary_by,
                headline,
                now,
            )
            .await?;
        }
        None => {}
    }
    if let Some(done) = &outcome.flow_completed {
        Store::complete_flow(tx, ctx, done, now).await?;
    }
    // Agents see every customer text of a conversation they own, as it arrives.
    if let Some(handoff) = &ctx.handoff {
        Store::append_event(
            tx,
            NewEvent {
                kind: "message.inbound",
                handoff_id: Some(handoff.id),
                conversation_id: Some(ctx.conversation_id),
                payload: json!({
                    "message_id": ctx.message_id,
                    "body": ctx.body,
                    "intent": outcome.understanding.as_ref().and_then(|u| u.intent.as_ref()),
                    "sentiment": outcome.understanding.as_ref().and_then(|u| u.sentiment),
                    "consent": outcome.consent_change.as_ref().map(|c| c.to.as_str()),
                }),
            },
            now,
        )
        .await?;
    }
    if let Some(answer) = &outcome.csat {
        Store::record_csat(tx, ctx, answer, now).await?;
    }
    Ok(())
}

/// Queues every text's replies (a message and an outbox row each) with two
/// statements; the outbox ids by queue id, in the order of each text's replies.
///
/// The messages' ids are matched to the replies by order: a multi-row `INSERT`
/// inserts its rows in the order of its `VALUES`, and both engines number them in
/// that order (SQLite's next rowid, PostgreSQL's identity sequence), while `RETURNING`
/// promises no order. The outbox rows carry their message id, so they need no such
/// matching.
async fn queue_replies(tx: &mut Tx, texts: &[Finished<'_>]) -> Result<HashMap<i64, Vec<i64>>> {
    let replies: Vec<_> = texts
        .iter()
        .flat_map(|t| t.outcome.replies.iter().map(move |r| (t, r)))
        .collect();
    let mut outbox_ids: HashMap<i64, Vec<i64>> = HashMap::new();
    if replies.is_empty() {
        return Ok(outbox_ids);
    }
    let sql = format!(
        "INSERT INTO messages (conversation_id, contact_id, direction, author, body, encoding,
             segments, units, delivery_status, agent_id, created_at, updated_at)
         VALUES {} RETURNING id",
        value_rows(
            replies.len(),
            "?, ?, 'outbound', ?, ?, ?, ?, ?, 'queued', NULL, ?, ?"
        )
    );
    let mut insert = sqlx::query(&sql);
    for (text, reply) in &replies {
        insert = insert
            .bind(text.ctx.conversation_id)
            .bind(text.ctx.contact_id)
            .bind(reply.author.as_str())
            .bind(&reply.body)
            .bind(reply.encoding)
            .bind(i64::from(reply.segments))
            .bind(i64::from(reply.units))
            .bind(text.now)
            .bind(text.now);
    }
    let mut message_ids: Vec<i64> = insert
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect();
    message_ids.sort_unstable();
    if message_ids.len() != replies.len() {
        return Err(StoreError::Corrupt(format!(
            "{} replies inserted {} messages",
            replies.len(),
            message_ids.len()
        )));
    }

    let sql = format!(
        "INSERT INTO outbox (message_id, contact_id, kind, status, next_attempt_at, created_at, updated_at)
         VALUES {} RETURNING id, message_id",
        value_rows(replies.len(), "?, ?, ?, 'pending', ?, ?, ?")
    );
    let mut insert = sqlx::query(&sql);
    for ((text, reply), message_id) in replies.iter().zip(&message_ids) {
        insert = insert
            .bind(message_id)
            .bind(text.ctx.contact_id)
            .bind(reply.kind.as_str())
            .bind(text.now)
            .bind(text.now)
            .bind(text.now);
    }
    let outbox_of: HashMap<i64, i64> = insert
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|row| (row.get::<i64, _>(1), row.get::<i64, _>(0)))
        .collect();
    for ((text, _), message_id) in replies.iter().zip(&message_ids) {
        let outbox_id = outbox_of.get(message_id).copied().ok_or_else(|| {
            StoreError::Corrupt(format!("the reply message {message_id} got no outbox row"))
        })?;
        outbox_ids
            .entry(text.claim.queue_id)
            .or_default()
            .push(outbox_id);
    }
    Ok(outbox_ids)
}
