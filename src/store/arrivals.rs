//! The webhook's journal: texts kept the moment they arrive, stored as messages of
//! their conversations a moment later.
//!
//! A webhook is acknowledged once its text is durable. Storing it as a message means
//! finding or creating its contact and conversation, checking its provider id, inserting
//! the message (and its search index entry) and its queue row, and pushing back its
//! burst: about eight statements, each a hand-off to SQLite's one writer. Kept here
//! instead, a group commit is one insert, so the writer acknowledges three times as many
//! texts in a flood. The engine then stores them in order ([`Store::store_arrivals`],
//! driven by `engine/arrivals.rs`), deleting each from here in the transaction that
//! stores it: a text is in exactly one of the two places, whatever crashes when.

use sqlx::Row;

use super::receive::receive_in;
use super::sql::{Column, json_param, json_rows};
use super::{Dialect, NewInbound, Received, Result, Store, StoreError};
use crate::sms::PhoneNumber;
use crate::sms::segments::Encoding;

/// After this many failed attempts a kept text is set aside: still kept and counted
/// in the backlog ([`Store::inbound_backlog`]), no longer holding up the texts after it.
pub const MAX_ARRIVAL_ATTEMPTS: i64 = 5;

impl Store {
    /// Keeps texts that just arrived, in one short transaction ahead of the background
    /// writers: once this returns `Ok` they survive a crash and will be stored.
    pub async fn keep_arrivals(&self, msgs: &[NewInbound]) -> Result<()> {
        let sql = format!(
            "INSERT INTO arrivals (provider_message_id, phone, body, media_urls, encoding,
                 segments, units, received_at, burst_wait_ms)
             SELECT b.sid, b.phone, b.body, b.media_urls, b.encoding, b.segments, b.units,
                 b.at, b.wait
             FROM {} AS b",
            json_rows(
                self.dialect,
                &[
                    ("sid", Column::Text),
                    ("phone", Column::Text),
                    ("body", Column::Text),
                    ("media_urls", Column::Text),
                    ("encoding", Column::Text),
                    ("segments", Column::Int),
                    ("units", Column::Int),
                    ("at", Column::Int),
                    ("wait", Column::Int),
                ]
            )
        );
        let mut rows = Vec::with_capacity(msgs.len());
        for msg in msgs {
            let media = if msg.media_urls.is_empty() {
                None
            } else {
                Some(json_param(&msg.media_urls)?)
            };
            rows.push((
                msg.provider_message_id.as_str(),
                msg.from.as_str(),
                msg.body.as_str(),
                media,
                msg.encoding,
                i64::from(msg.segments),
                i64::from(msg.units),
                msg.received_at,
                msg.burst_wait_ms,
            ));
        }
        let (_writing, mut tx) = self.begin_write_first().await?;
        sqlx::query(&sql)
            .bind(json_param(&rows)?)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Whether any kept text waits to be stored (a read: no turn at the writer).
    pub async fn has_arrivals(&self) -> Result<bool> {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM (SELECT 1 FROM arrivals WHERE attempts < $1 LIMIT 1) AS a",
        )
        .bind(MAX_ARRIVAL_ATTEMPTS)
        .fetch_one(&self.pool)
        .await?;
        Ok(waiting > 0)
    }

    /// Stores up to `limit` of the oldest kept texts as [`Store::receive_inbound`]
    /// would, and forgets them, in one transaction. Returns each text with what storing
    /// it did, oldest first; empty when none is waiting.
    ///
    /// On PostgreSQL the oldest rows are locked, so a second instance doing the same
    /// waits and then takes the texts after them: texts are stored in arrival order.
    pub async fn store_arrivals(&self, limit: usize) -> Result<Vec<(NewInbound, Received)>> {
        let lock = match self.dialect {
            Dialect::Postgres => " FOR UPDATE",
            Dialect::Sqlite => "",
        };
        // Deleting first, as every transaction here starts with a write (see the
        // module's notes): SQLite takes its write lock up front.
        let sql = format!(
            "DELETE FROM arrivals WHERE id IN (
                 SELECT id FROM arrivals WHERE attempts < $1 ORDER BY id LIMIT $2{lock})
             RETURNING id, provider_message_id, phone, body, media_urls, encoding, segments,
                 units, received_at, burst_wait_ms"
        );
        let (_writing, mut tx) = self.begin_write().await?;
        let mut rows = sqlx::query(&sql)
            .bind(MAX_ARRIVAL_ATTEMPTS)
            .bind(limit as i64)
            .fetch_all(&mut *tx)
            .await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        // RETURNING promises no order.
        rows.sort_by_key(|row| row.get::<i64, _>(0));
        let msgs = rows
            .iter()
            .map(kept_text)
            .collect::<Result<Vec<NewInbound>>>()?;
        let received = receive_in(&mut tx, self.dialect, &msgs).await?;
        tx.commit().await?;
        Ok(msgs.into_iter().zip(received).collect())
    }

    /// Counts a failed attempt to store the oldest kept text; returns its provider id
    /// and attempts so far.
    pub async fn count_arrival_failure(&self) -> Result<Option<(String, i64)>> {
        let (_writing, mut tx) = self.begin_write().await?;
        let failed = sqlx::query(
            "UPDATE arrivals SET attempts = attempts + 1 WHERE id = (
                 SELECT id FROM arrivals WHERE attempts < $1 ORDER BY id LIMIT 1)
             RETURNING provider_message_id, attempts",
        )
        .bind(MAX_ARRIVAL_ATTEMPTS)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(failed.map(|row| (row.get(0), row.get(1))))
    }
}

/// A kept text as the webhook made it.
fn kept_text(row: &sqlx::any::AnyRow) -> Result<NewInbound> {
    let phone: String = row.get(2);
    let from = PhoneNumber::parse(&phone)
        .map_err(|e| StoreError::Corrupt(format!("kept text from {phone:?}: {e}")))?;
    let media: Option<String> = row.get(4);
    let media_urls = match media {
        Some(json) => {
            serde_json::from_str(&json).map_err(|e| StoreError::Corrupt(e.to_string()))?
        }
        None => Vec::new(),
    };
    let encoding: String = row.get(5);
    let encoding = [Encoding::Gsm7, Encoding::Ucs2]
        .into_iter()
        .map(|e| e.as_str())
        .find(|e| *e == encoding)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown text encoding {encoding:?}")))?;
    Ok(NewInbound {
        provider_message_id: row.get(1),
        from,
        body: row.get(3),
        media_urls,
        encoding,
        segments: u32::try_from(row.get::<i64, _>(6)).unwrap_or(u32::MAX),
        units: u32::try_from(row.get::<i64, _>(7)).unwrap_or(u32::MAX),
        received_at: row.get(8),
        burst_wait_ms: row.get(9),
    })
}
