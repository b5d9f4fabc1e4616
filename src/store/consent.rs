//! The consent ledger: every change of a contact's consent, with where it came from
//! (keyword, plain words, carrier, agent, API, import), the exact words and when. It
//! is the record a business shows when asked why it texted someone, so rows are only
//! ever appended.

use serde_json::json;
use sqlx::{Any, Row, Transaction};

use super::events::NewEvent;
use super::{Consent, ConsentChange, ConsentSource, Result, Store, StoreError};
use crate::sms::PhoneNumber;

/// A contact's consent as it stands.
#[derive(Debug, Clone)]
pub struct ContactConsent {
    pub contact_id: i64,
    pub consent: Consent,
}

/// One line of the ledger.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct ConsentRecord {
    pub id: i64,
    #[serde(serialize_with = "super::model::serialize_e164")]
    #[schema(value_type = String)]
    pub phone: PhoneNumber,
    /// The consent it changed to: `opted_in` or `opted_out`.
    pub consent: Consent,
    pub source: ConsentSource,
    /// The exact words: the customer's text, the carrier's error, the evidence given.
    pub detail: Option<String>,
    /// Who recorded it (agent or admin name); absent for the customer and the carrier.
    pub actor: Option<String>,
    /// The customer's text that made the change, when one did.
    pub message_id: Option<i64>,
    /// When it was recorded (epoch ms).
    pub at: i64,
}

/// What recording a change from outside a conversation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Recorded; the contact is new when `created`.
    Changed { created: bool },
    /// Not recorded: an import never undoes an opt-out; only the customer (START) or
    /// a person who spoke with them may.
    KeptOptOut,
}

const LEDGER: &str =
    "SELECT e.id, c.phone, e.kind, e.source, e.detail, e.actor, e.message_id, e.created_at
     FROM consent_events e JOIN contacts c ON c.id = e.contact_id";

fn record_from_row(r: &sqlx::any::AnyRow) -> Result<ConsentRecord> {
    let phone: String = r.get(1);
    let kind: String = r.get(2);
    let source: String = r.get(3);
    Ok(ConsentRecord {
        id: r.get(0),
        phone: PhoneNumber::parse(&phone)
            .map_err(|e| StoreError::Corrupt(format!("consent ledger phone: {e}")))?,
        consent: if kind == "opt_out" {
            Consent::OptedOut
        } else {
            Consent::OptedIn
        },
        source: ConsentSource::parse(&source)
            .ok_or_else(|| StoreError::Corrupt(format!("consent source {source:?}")))?,
        detail: r.get(4),
        actor: r.get(5),
        message_id: r.get(6),
        at: r.get(7),
    })
}

impl Store {
    /// Changes a contact's consent and appends the event that explains it, inside the
    /// caller's transaction: a row in `consent_events` (the compliance record) and a
    /// `contact.opted_out` / `contact.opted_in` entry in the event log (what outbound
    /// webhooks and live streams follow).
    pub(super) async fn record_consent(
        tx: &mut Transaction<'static, Any>,
        contact_id: i64,
        change: &ConsentChange,
        message_id: Option<i64>,
        now: i64,
    ) -> Result<()> {
        let phone: String = sqlx::query_scalar(
            "UPDATE contacts SET consent = $2, updated_at = $3 WHERE id = $1 RETURNING phone",
        )
        .bind(contact_id)
        .bind(change.to.as_str())
        .bind(now)
        .fetch_one(&mut **tx)
        .await?;
        let kind = if change.to.is_opted_out() {
            "opt_out"
        } else {
            "opt_in"
        };
        sqlx::query(
            "INSERT INTO consent_events (contact_id, kind, source, detail, actor, message_id, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(contact_id)
        .bind(kind)
        .bind(change.source.as_str())
        .bind(&change.detail)
        .bind(change.actor.as_deref())
        .bind(message_id)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        Self::append_event(
            tx,
            NewEvent {
                kind: if change.to.is_opted_out() {
                    "contact.opted_out"
                } else {
                    "contact.opted_in"
                },
                handoff_id: None,
                conversation_id: None,
                payload: json!({
                    "contact_id": contact_id,
                    "phone": phone,
                    "source": change.source.as_str(),
                    "detail": change.detail,
                    "actor": change.actor,
                    "message_id": message_id,
                }),
            },
            now,
        )
        .await
    }

    /// Changes a known contact's consent outside message processing (the carrier
    /// reported an opt-out).
    pub async fn set_consent(
        &self,
        contact_id: i64,
        change: &ConsentChange,
        now: i64,
    ) -> Result<()> {
        let (_writing, mut tx) = self.begin_write().await?;
        Self::record_consent(&mut tx, contact_id, change, None, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records consent given or withdrawn outside a conversation (an agent, the API,
    /// an import), creating the contact when the number is new.
    pub async fn record_consent_for(
        &self,
        phone: &PhoneNumber,
        change: &ConsentChange,
        now: i64,
    ) -> Result<Recorded> {
        let (_writing, mut tx) = self.begin_write().await?;
        let created = sqlx::query(
            "INSERT INTO contacts (phone, consent, created_at, updated_at) VALUES ($1, 'implied', $2, $2)
             ON CONFLICT (phone) DO NOTHING",
        )
        .bind(phone.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        // Takes the contact's row lock, the order every consent change follows.
        let row = sqlx::query(
            "UPDATE contacts SET updated_at = $2 WHERE phone = $1 RETURNING id, consent",
        )
        .bind(phone.as_str())
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let contact_id: i64 = row.get(0);
        let consent: String = row.get(1);
        if change.source == ConsentSource::Import
            && change.to == Consent::OptedIn
            && consent == Consent::OptedOut.as_str()
        {
            tx.rollback().await?;
            return Ok(Recorded::KeptOptOut);
        }
        Self::record_consent(&mut tx, contact_id, change, None, now).await?;
        tx.commit().await?;
        Ok(Recorded::Changed { created })
    }

    /// The consent of the contact with this phone number, if we know them.
    pub async fn consent_by_phone(&self, phone: &str) -> Result<Option<ContactConsent>> {
        let row = sqlx::query("SELECT id, consent FROM contacts WHERE phone = $1")
            .bind(phone)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.and_then(|r| {
            let consent: String = r.get(1);
            Consent::parse(&consent).map(|consent| ContactConsent {
                contact_id: r.get(0),
                consent,
            })
        }))
    }

    /// Consent events of a contact, oldest first, as `(kind, source, detail)`.
    pub async fn consent_events(
        &self,
        contact_id: i64,
    ) -> Result<Vec<(String, String, Option<String>)>> {
        let rows = sqlx::query(
            "SELECT kind, source, detail FROM consent_events WHERE contact_id = $1 ORDER BY id",
        )
        .bind(contact_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect())
    }

    /// A contact's ledger, oldest first.
    pub async fn consent_ledger(&self, phone: &PhoneNumber) -> Result<Vec<ConsentRecord>> {
        sqlx::query(&format!("{LEDGER} WHERE c.phone = $1 ORDER BY e.id"))
            .bind(phone.as_str())
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(record_from_row)
            .collect()
    }

    /// Up to `limit` ledger rows recorded in `[since, until)` after row `after_id`,
    /// oldest first: an export reads the ledger page by page, never all of it at once.
    pub async fn consent_ledger_page(
        &self,
        since: i64,
        until: i64,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<ConsentRecord>> {
        sqlx::query(&format!(
            "{LEDGER} WHERE e.created_at >= $1 AND e.created_at < $2 AND e.id > $3
             ORDER BY e.id LIMIT $4"
        ))
        .bind(since)
        .bind(until)
        .bind(after_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(record_from_row)
        .collect()
    }
}
