//! Storing webhooks' texts: the contact, its open conversation, the message and its
//! queue row, with the burst's wait. A batch of texts (the webhook's group commit,
//! [`crate::engine::intake`]) is stored in one transaction with a handful of
//! multi-row statements, not a handful per text: each statement is a round trip to
//! the database, and on SQLite every one of them is spent holding the one write lock.
//!
//! A batch is stored in rounds in which each phone number appears once (a contact's
//! first text of the batch in the first round, its second in the second …), so a
//! contact's texts are stored in arrival order and a multi-row upsert never meets
//! the same contact twice (PostgreSQL refuses that).

use std::collections::HashMap;

use sqlx::Row;

use super::sql::{Column, json_param, json_rows};
use super::{ConversationStatus, Dialect, NewInbound, Received, Result, Store, StoreError};

/// A burst is read at most this many burst windows after its first text, however
/// many texts keep arriving: a chatty customer is answered, not postponed forever.
const LONGEST_BURST_WINDOWS: i64 = 4;

type Tx = sqlx::Transaction<'static, sqlx::Any>;

impl Store {
    /// Stores an inbound text and queues it, in one transaction, so that a `200` to the
    /// provider always means the text is safe. A provider message id seen before is a
    /// no-op ([`Received::Duplicate`]).
    pub async fn receive_inbound(&self, msg: &NewInbound) -> Result<Received> {
        let mut received = self
            .receive_inbound_batch(std::slice::from_ref(msg))
            .await?;
        received
            .pop()
            .ok_or_else(|| StoreError::Corrupt("a text was not stored".into()))
    }

    /// Stores and queues several texts in one transaction (group commit: one commit,
    /// one turn at SQLite's write lock, for every webhook that arrived meanwhile).
    /// The results are in the order of `msgs`; an error fails them all, and the
    /// caller may then store them one by one to find the one that cannot be stored.
    pub async fn receive_inbound_batch(&self, msgs: &[NewInbound]) -> Result<Vec<Received>> {
        let (_writing, mut tx) = self.begin_write_first().await?;
        let received = receive_in(&mut tx, self.dialect, msgs).await?;
        tx.commit().await?;
        Ok(received)
    }
}

/// Stores and queues texts in a transaction the caller commits; the results are in
/// the order of `msgs`.
pub(super) async fn receive_in(
    tx: &mut Tx,
    dialect: Dialect,
    msgs: &[NewInbound],
) -> Result<Vec<Received>> {
    let mut received = vec![None; msgs.len()];
    for round in rounds(msgs) {
        let texts: Vec<&NewInbound> = round.iter().map(|&i| &msgs[i]).collect();
        let stored = receive_round(tx, dialect, &texts).await?;
        for (i, one) in round.into_iter().zip(stored) {
            received[i] = Some(one);
        }
    }
    received
        .into_iter()
        .map(|r| r.ok_or_else(|| StoreError::Corrupt("a text was not stored".into())))
        .collect()
}

/// The batch's texts in rounds of distinct phone numbers, each round in phone order:
/// PostgreSQL locks the contacts in that order, so two batches cannot wait for each
/// other. A later round's phones all appear in the first round, whose upsert has
/// already locked them.
fn rounds(msgs: &[NewInbound]) -> Vec<Vec<usize>> {
    let mut texts_of: HashMap<&str, usize> = HashMap::new();
    let mut rounds: Vec<Vec<usize>> = Vec::new();
    for (i, msg) in msgs.iter().enumerate() {
        let nth = texts_of.entry(msg.from.as_str()).or_insert(0);
        if rounds.len() <= *nth {
            rounds.push(Vec::new());
        }
        rounds[*nth].push(i);
        *nth += 1;
    }
    for round in &mut rounds {
        round.sort_by(|&a, &b| msgs[a].from.as_str().cmp(msgs[b].from.as_str()));
    }
    rounds
}

/// An open conversation a text goes to.
#[derive(Clone, Copy)]
struct Destination {
    conversation_id: i64,
    /// People read each text as it arrives; the bot waits for the rest of a burst.
    with_people: bool,
    /// Opened by this text: it has no earlier texts to push back, and its
    /// `last_inbound_at` was set when it was opened.
    opened_now: bool,
}

/// A text of the round whose message was inserted, on its way to the queue.
struct Queueing<'a> {
    slot: usize,
    msg: &'a NewInbound,
    message_id: i64,
    to: Destination,
    /// When the engine may read it: after the burst window, unless people have it.
    ready_at: i64,
    wait_ms: i64,
}

/// Stores one round (distinct phone numbers); the results are in the round's order.
async fn receive_round(
    tx: &mut Tx,
    dialect: Dialect,
    round: &[&NewInbound],
) -> Result<Vec<Received>> {
    // Touching the contact rows takes their locks on PostgreSQL, so two texts from one
    // new contact cannot open two conversations at once.
    let contacts = upsert_contacts(tx, dialect, round).await?;
    let contact_of = |msg: &NewInbound| contacts[msg.from.as_str()];

    let mut received: Vec<Option<Received>> = vec![None; round.len()];
    let sids: Vec<&str> = round
        .iter()
        .map(|m| m.provider_message_id.as_str())
        .collect();
    let known = stored_messages(tx, dialect, &sids).await?;
    let mut fresh = Vec::new();
    for (slot, msg) in round.iter().enumerate() {
        match known.get(msg.provider_message_id.as_str()) {
            Some(&message_id) => received[slot] = Some(Received::Duplicate { message_id }),
            None => fresh.push(slot),
        }
    }
    if fresh.is_empty() {
        return collect(received);
    }

    let contact_ids: Vec<i64> = fresh.iter().map(|&s| contact_of(round[s])).collect();
    let mut destinations = open_conversations(tx, dialect, &contact_ids).await?;
    let unopened: Vec<&NewInbound> = fresh
        .iter()
        .map(|&s| round[s])
        .filter(|m| !destinations.contains_key(&contact_of(m)))
        .collect();
    if !unopened.is_empty() {
        let opened = open_conversations_for(tx, dialect, &unopened, &contact_of).await?;
        destinations.extend(opened);
    }

    let texts: Vec<(&NewInbound, i64, Destination)> = fresh
        .iter()
        .map(|&s| {
            let contact_id = contact_of(round[s]);
            (round[s], contact_id, destinations[&contact_id])
        })
        .collect();
    let inserted = insert_messages(tx, dialect, &texts).await?;

    // Texts whose id another text of this round (or a concurrent transaction) stored
    // first are duplicates; the rest are queued.
    let mut queued = Vec::new();
    for (&slot, &(msg, _, to)) in fresh.iter().zip(&texts) {
        match inserted.get(msg.provider_message_id.as_str()) {
            Some(&message_id) => {
                let wait_ms = if to.with_people {
                    0
                } else {
                    msg.burst_wait_ms.max(0)
                };
                queued.push(Queueing {
                    slot,
                    msg,
                    message_id,
                    to,
                    ready_at: msg.received_at + wait_ms,
                    wait_ms,
                });
            }
            None => {
                let message_id =
                    sqlx::query_scalar("SELECT id FROM messages WHERE provider_message_id = $1")
                        .bind(&msg.provider_message_id)
                        .fetch_one(&mut **tx)
                        .await?;
                received[slot] = Some(Received::Duplicate { message_id });
            }
        }
    }
    if queued.is_empty() {
        return collect(received);
    }

    // Earlier texts of a burst wait with the new one (never longer than
    // LONGEST_BURST_WINDOWS after their own arrival); a keyword reads them at once.
    let continuing: Vec<&Queueing> = queued.iter().filter(|q| !q.to.opened_now).collect();
    if !continuing.is_empty() {
        let sql = format!(
            "UPDATE inbound_queue SET ready_at =
                 CASE WHEN inbound_queue.created_at + b.longest < b.ready_at
                      THEN inbound_queue.created_at + b.longest ELSE b.ready_at END
             FROM {} AS b
             WHERE inbound_queue.conversation_id = b.conversation_id
               AND inbound_queue.status = 'pending' AND inbound_queue.ready_at <> b.ready_at",
            json_rows(
                dialect,
                &[
                    ("conversation_id", Column::Int),
                    ("ready_at", Column::Int),
                    ("longest", Column::Int),
                ]
            )
        );
        let rows: Vec<(i64, i64, i64)> = continuing
            .iter()
            .map(|t| {
                let longest = t.wait_ms * LONGEST_BURST_WINDOWS;
                (t.to.conversation_id, t.ready_at, longest)
            })
            .collect();
        sqlx::query(&sql)
            .bind(json_param(&rows)?)
            .execute(&mut **tx)
            .await?;
    }

    let sql = format!(
        "INSERT INTO inbound_queue (message_id, conversation_id, status, created_at, ready_at)
         SELECT b.message_id, b.conversation_id, 'pending', b.created_at, b.ready_at FROM {} AS b",
        json_rows(
            dialect,
            &[
                ("message_id", Column::Int),
                ("conversation_id", Column::Int),
                ("created_at", Column::Int),
                ("ready_at", Column::Int),
            ]
        )
    );
    let rows: Vec<(i64, i64, i64, i64)> = queued
        .iter()
        .map(|t| {
            let at = t.msg.received_at;
            (t.message_id, t.to.conversation_id, at, t.ready_at)
        })
        .collect();
    sqlx::query(&sql)
        .bind(json_param(&rows)?)
        .execute(&mut **tx)
        .await?;

    if !continuing.is_empty() {
        let sql = format!(
            "UPDATE conversations SET last_inbound_at = b.at, updated_at = b.at
             FROM {} AS b WHERE conversations.id = b.conversation_id",
            json_rows(
                dialect,
                &[("conversation_id", Column::Int), ("at", Column::Int)]
            )
        );
        let rows: Vec<(i64, i64)> = continuing
            .iter()
            .map(|t| (t.to.conversation_id, t.msg.received_at))
            .collect();
        sqlx::query(&sql)
            .bind(json_param(&rows)?)
            .execute(&mut **tx)
            .await?;
    }

    for text in queued {
        received[text.slot] = Some(Received::Queued {
            message_id: text.message_id,
            conversation_id: text.to.conversation_id,
            ready_at: text.ready_at,
        });
    }
    collect(received)
}

fn collect(received: Vec<Option<Received>>) -> Result<Vec<Received>> {
    received
        .into_iter()
        .map(|r| r.ok_or_else(|| StoreError::Corrupt("a text of a round was not stored".into())))
        .collect()
}

/// Creates the round's contacts that are new and touches the others; their ids by phone.
async fn upsert_contacts(
    tx: &mut Tx,
    dialect: Dialect,
    round: &[&NewInbound],
) -> Result<HashMap<String, i64>> {
    // `WHERE true`: SQLite reads `ON CONFLICT` after a bare `SELECT … FROM` as a join.
    let sql = format!(
        "INSERT INTO contacts (phone, consent, created_at, updated_at)
         SELECT b.phone, 'implied', b.at, b.at FROM {} AS b WHERE true
         ON CONFLICT (phone) DO UPDATE SET updated_at = excluded.updated_at
         RETURNING id, phone",
        json_rows(dialect, &[("phone", Column::Text), ("at", Column::Int)])
    );
    let rows: Vec<(&str, i64)> = round
        .iter()
        .map(|m| (m.from.as_str(), m.received_at))
        .collect();
    let found = sqlx::query(&sql)
        .bind(json_param(&rows)?)
        .fetch_all(&mut **tx)
        .await?;
    Ok(ids_by_key(&found, 1, 0))
}

/// The ids of messages already stored under these provider ids.
async fn stored_messages(
    tx: &mut Tx,
    dialect: Dialect,
    provider_ids: &[&str],
) -> Result<HashMap<String, i64>> {
    let sql = format!(
        "SELECT provider_message_id, id FROM messages
         WHERE provider_message_id IN (SELECT b.sid FROM {} AS b)",
        json_rows(dialect, &[("sid", Column::Text)])
    );
    let rows: Vec<(&str,)> = provider_ids.iter().map(|&id| (id,)).collect();
    let found = sqlx::query(&sql)
        .bind(json_param(&rows)?)
        .fetch_all(&mut **tx)
        .await?;
    Ok(ids_by_key(&found, 0, 1))
}

/// The newest unresolved conversation of each of these contacts that has one.
async fn open_conversations(
    tx: &mut Tx,
    dialect: Dialect,
    contact_ids: &[i64],
) -> Result<HashMap<i64, Destination>> {
    let sql = format!(
        "SELECT contact_id, id, status FROM conversations
         WHERE contact_id IN (SELECT b.contact_id FROM {} AS b) AND status <> 'resolved'
         ORDER BY id",
        json_rows(dialect, &[("contact_id", Column::Int)])
    );
    let rows: Vec<(i64,)> = contact_ids.iter().map(|&id| (id,)).collect();
    let found = sqlx::query(&sql)
        .bind(json_param(&rows)?)
        .fetch_all(&mut **tx)
        .await?;
    let mut open = HashMap::new();
    // Ordered by id, so the newest of a contact's conversations is the one kept.
    for row in found {
        open.insert(
            row.get::<i64, _>(0),
            Destination {
                conversation_id: row.get(1),
                with_people: ConversationStatus::parse(&row.get::<String, _>(2))
                    .is_some_and(|s| s.is_with_people()),
                opened_now: false,
            },
        );
    }
    Ok(open)
}

/// Opens a conversation with the bot for each of these texts' contacts.
async fn open_conversations_for(
    tx: &mut Tx,
    dialect: Dialect,
    texts: &[&NewInbound],
    contact_of: &impl Fn(&NewInbound) -> i64,
) -> Result<HashMap<i64, Destination>> {
    let sql = format!(
        "INSERT INTO conversations (contact_id, status, created_at, updated_at, last_inbound_at)
         SELECT b.contact_id, 'bot', b.at, b.at, b.at FROM {} AS b
         RETURNING contact_id, id",
        json_rows(dialect, &[("contact_id", Column::Int), ("at", Column::Int)])
    );
    let rows: Vec<(i64, i64)> = texts
        .iter()
        .map(|&msg| (contact_of(msg), msg.received_at))
        .collect();
    let opened = sqlx::query(&sql)
        .bind(json_param(&rows)?)
        .fetch_all(&mut **tx)
        .await?;
    Ok(opened
        .iter()
        .map(|row| {
            let destination = Destination {
                conversation_id: row.get(1),
                with_people: false,
                opened_now: true,
            };
            (row.get::<i64, _>(0), destination)
        })
        .collect())
}

/// Inserts the texts' messages; the ids of those inserted, by provider id (a provider
/// id already taken inserts nothing).
async fn insert_messages(
    tx: &mut Tx,
    dialect: Dialect,
    texts: &[(&NewInbound, i64, Destination)],
) -> Result<HashMap<String, i64>> {
    let sql = format!(
        "INSERT INTO messages (conversation_id, contact_id, direction, author, body,
             provider_message_id, encoding, segments, units, media_urls, delivery_status,
             created_at, updated_at)
         SELECT b.conversation_id, b.contact_id, 'inbound', 'customer', b.body, b.sid,
             b.encoding, b.segments, b.units, b.media_urls, 'received', b.at, b.at
         FROM {} AS b WHERE true
         ON CONFLICT (provider_message_id) DO NOTHING
         RETURNING provider_message_id, id",
        json_rows(
            dialect,
            &[
                ("conversation_id", Column::Int),
                ("contact_id", Column::Int),
                ("body", Column::Text),
                ("sid", Column::Text),
                ("encoding", Column::Text),
                ("segments", Column::Int),
                ("units", Column::Int),
                ("media_urls", Column::Text),
                ("at", Column::Int),
            ]
        )
    );
    let mut rows = Vec::with_capacity(texts.len());
    for &(msg, contact_id, to) in texts {
        // The media URLs as a JSON text inside the JSON row, as the column keeps them.
        let media = if msg.media_urls.is_empty() {
            None
        } else {
            Some(json_param(&msg.media_urls)?)
        };
        rows.push((
            to.conversation_id,
            contact_id,
            msg.body.as_str(),
            msg.provider_message_id.as_str(),
            msg.encoding,
            i64::from(msg.segments),
            i64::from(msg.units),
            media,
            msg.received_at,
        ));
    }
    let inserted = sqlx::query(&sql)
        .bind(json_param(&rows)?)
        .fetch_all(&mut **tx)
        .await?;
    Ok(ids_by_key(&inserted, 0, 1))
}

/// Rows of a text key (a phone, a provider message id) and an id, as a map.
fn ids_by_key(rows: &[sqlx::any::AnyRow], key: usize, id: usize) -> HashMap<String, i64> {
    rows.iter()
        .map(|row| (row.get::<String, _>(key), row.get::<i64, _>(id)))
        .collect()
}
