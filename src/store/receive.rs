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

use super::sql::{placeholders, value_rows};
use super::{ConversationStatus, NewInbound, Received, Result, Store, StoreError};

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
        let mut received = vec![None; msgs.len()];
        for round in rounds(msgs) {
            let texts: Vec<&NewInbound> = round.iter().map(|&i| &msgs[i]).collect();
            let stored = receive_round(&mut tx, &texts).await?;
            for (i, one) in round.into_iter().zip(stored) {
                received[i] = Some(one);
            }
        }
        tx.commit().await?;
        received
            .into_iter()
            .map(|r| r.ok_or_else(|| StoreError::Corrupt("a text was not stored".into())))
            .collect()
    }
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
async fn receive_round(tx: &mut Tx, round: &[&NewInbound]) -> Result<Vec<Received>> {
    // Touching the contact rows takes their locks on PostgreSQL, so two texts from one
    // new contact cannot open two conversations at once.
    let contacts = upsert_contacts(tx, round).await?;
    let contact_of = |msg: &NewInbound| contacts[msg.from.as_str()];

    let mut received: Vec<Option<Received>> = vec![None; round.len()];
    let known = stored_messages(tx, round.iter().map(|m| m.provider_message_id.as_str())).await?;
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
    let mut destinations = open_conversations(tx, &contact_ids).await?;
    let unopened: Vec<&NewInbound> = fresh
        .iter()
        .map(|&s| round[s])
        .filter(|m| !destinations.contains_key(&contact_of(m)))
        .collect();
    if !unopened.is_empty() {
        let opened = open_conversations_for(tx, &unopened, &contact_of).await?;
        destinations.extend(opened);
    }

    let texts: Vec<(&NewInbound, i64, Destination)> = fresh
        .iter()
        .map(|&s| {
            let contact_id = contact_of(round[s]);
            (round[s], contact_id, destinations[&contact_id])
        })
        .collect();
    let inserted = insert_messages(tx, &texts).await?;

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
                 CASE WHEN inbound_queue.created_at + b.column3 < b.column2
                      THEN inbound_queue.created_at + b.column3 ELSE b.column2 END
             FROM (VALUES {}) AS b
             WHERE inbound_queue.conversation_id = b.column1
               AND inbound_queue.status = 'pending' AND inbound_queue.ready_at <> b.column2",
            value_rows(continuing.len(), "?, ?, ?")
        );
        let mut update = sqlx::query(&sql);
        for text in &continuing {
            update = update
                .bind(text.to.conversation_id)
                .bind(text.ready_at)
                .bind(text.wait_ms * LONGEST_BURST_WINDOWS);
        }
        update.execute(&mut **tx).await?;
    }

    let sql = format!(
        "INSERT INTO inbound_queue (message_id, conversation_id, status, created_at, ready_at)
         VALUES {}",
        value_rows(queued.len(), "?, ?, 'pending', ?, ?")
    );
    let mut insert = sqlx::query(&sql);
    for text in &queued {
        insert = insert
            .bind(text.message_id)
            .bind(text.to.conversation_id)
            .bind(text.msg.received_at)
            .bind(text.ready_at);
    }
    insert.execute(&mut **tx).await?;

    if !continuing.is_empty() {
        let sql = format!(
            "UPDATE conversations SET last_inbound_at = b.column2, updated_at = b.column2
             FROM (VALUES {}) AS b WHERE conversations.id = b.column1",
            value_rows(continuing.len(), "?, ?")
        );
        let mut update = sqlx::query(&sql);
        for text in &continuing {
            update = update
                .bind(text.to.conversation_id)
                .bind(text.msg.received_at);
        }
        update.execute(&mut **tx).await?;
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
async fn upsert_contacts(tx: &mut Tx, round: &[&NewInbound]) -> Result<HashMap<String, i64>> {
    let sql = format!(
        "INSERT INTO contacts (phone, consent, created_at, updated_at) VALUES {}
         ON CONFLICT (phone) DO UPDATE SET updated_at = excluded.updated_at
         RETURNING id, phone",
        value_rows(round.len(), "?, 'implied', ?, ?")
    );
    let mut upsert = sqlx::query(&sql);
    for msg in round {
        upsert = upsert
            .bind(msg.from.as_str())
            .bind(msg.received_at)
            .bind(msg.received_at);
    }
    Ok(ids_by_key(&upsert.fetch_all(&mut **tx).await?, 1, 0))
}

/// The ids of messages already stored under these provider ids.
async fn stored_messages<'a>(
    tx: &mut Tx,
    provider_ids: impl ExactSizeIterator<Item = &'a str>,
) -> Result<HashMap<String, i64>> {
    let sql = format!(
        "SELECT provider_message_id, id FROM messages WHERE provider_message_id IN ({})",
        placeholders(provider_ids.len())
    );
    let mut select = sqlx::query(&sql);
    for id in provider_ids {
        select = select.bind(id);
    }
    Ok(ids_by_key(&select.fetch_all(&mut **tx).await?, 0, 1))
}

/// The newest unresolved conversation of each of these contacts that has one.
async fn open_conversations(tx: &mut Tx, contact_ids: &[i64]) -> Result<HashMap<i64, Destination>> {
    let sql = format!(
        "SELECT contact_id, id, status FROM conversations
         WHERE contact_id IN ({}) AND status <> 'resolved' ORDER BY id",
        placeholders(contact_ids.len())
    );
    let mut select = sqlx::query(&sql);
    for &id in contact_ids {
        select = select.bind(id);
    }
    let mut open = HashMap::new();
    // Ordered by id, so the newest of a contact's conversations is the one kept.
    for row in select.fetch_all(&mut **tx).await? {
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
    texts: &[&NewInbound],
    contact_of: &impl Fn(&NewInbound) -> i64,
) -> Result<HashMap<i64, Destination>> {
    let sql = format!(
        "INSERT INTO conversations (contact_id, status, created_at, updated_at, last_inbound_at)
         VALUES {} RETURNING contact_id, id",
        value_rows(texts.len(), "?, 'bot', ?, ?, ?")
    );
    let mut insert = sqlx::query(&sql);
    for &msg in texts {
        insert = insert
            .bind(contact_of(msg))
            .bind(msg.received_at)
            .bind(msg.received_at)
            .bind(msg.received_at);
    }
    let rows = insert.fetch_all(&mut **tx).await?;
    Ok(rows
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
    texts: &[(&NewInbound, i64, Destination)],
) -> Result<HashMap<String, i64>> {
    let sql = format!(
        "INSERT INTO messages (conversation_id, contact_id, direction, author, body,
             provider_message_id, encoding, segments, units, media_urls, delivery_status,
             created_at, updated_at)
         VALUES {}
         ON CONFLICT (provider_message_id) DO NOTHING
         RETURNING provider_message_id, id",
        value_rows(
            texts.len(),
            "?, ?, 'inbound', 'customer', ?, ?, ?, ?, ?, ?, 'received', ?, ?"
        )
    );
    let mut insert = sqlx::query(&sql);
    for &(msg, contact_id, to) in texts {
        let media = if msg.media_urls.is_empty() {
            None
        } else {
            Some(
                serde_json::to_string(&msg.media_urls)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            )
        };
        insert = insert
            .bind(to.conversation_id)
            .bind(contact_id)
            .bind(msg.body.as_str())
            .bind(msg.provider_message_id.as_str())
            .bind(msg.encoding)
            .bind(i64::from(msg.segments))
            .bind(i64::from(msg.units))
            .bind(media)
            .bind(msg.received_at)
            .bind(msg.received_at);
    }
    Ok(ids_by_key(&insert.fetch_all(&mut **tx).await?, 0, 1))
}

/// Rows of a text key (a phone, a provider message id) and an id, as a map.
fn ids_by_key(rows: &[sqlx::any::AnyRow], key: usize, id: usize) -> HashMap<String, i64> {
    rows.iter()
        .map(|row| (row.get::<String, _>(key), row.get::<i64, _>(id)))
        .collect()
}
