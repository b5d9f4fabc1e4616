//! Contacts as agents see and edit them: time zone and attributes. (Their consent
//! and its history are in `consent`.)

use serde_json::json;
use sqlx::Row;

use super::audit::NewAudit;
use super::{AuditAction, AuditBy, Consent, Result, Store, StoreError};
use crate::sms::PhoneNumber;

/// A contact as agents see and edit it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Contact {
    pub id: i64,
    #[serde(serialize_with = "super::model::serialize_e164")]
    #[schema(value_type = String)]
    pub phone: PhoneNumber,
    /// The number as agents' screens show it, e.g. +1303***0199.
    pub phone_masked: String,
    pub consent: Consent,
    /// The IANA zone the team set for this contact; absent when not set.
    pub timezone: Option<String>,
    /// What the team and the bot know about them (`name`, `preferred_store`, …);
    /// templates read them as `contact.<key>`.
    pub attributes: std::collections::BTreeMap<String, String>,
    pub created_at: i64,
}

const CONTACT: &str = "SELECT id, phone, consent, timezone, created_at, attributes FROM contacts";

/// Reads the stored attributes; a value that is not a JSON object of strings is
/// corrupt.
pub(super) fn attributes_from(
    json: Option<&str>,
) -> Result<std::collections::BTreeMap<String, String>> {
    match json {
        None => Ok(Default::default()),
        Some(j) => serde_json::from_str(j)
            .map_err(|e| StoreError::Corrupt(format!("contact attributes: {e}"))),
    }
}

fn contact_from_row(r: &sqlx::any::AnyRow) -> Result<Contact> {
    let phone: String = r.get(1);
    let phone = PhoneNumber::parse(&phone)
        .map_err(|e| StoreError::Corrupt(format!("contact phone: {e}")))?;
    let consent: String = r.get(2);
    Ok(Contact {
        id: r.get(0),
        phone_masked: phone.masked(),
        phone,
        consent: Consent::parse(&consent)
            .ok_or_else(|| StoreError::Corrupt(format!("consent {consent:?}")))?,
        timezone: r.get(3),
        created_at: r.get(4),
        attributes: attributes_from(r.get::<Option<String>, _>(5).as_deref())?,
    })
}

impl Store {
    /// The contact with this number, if they ever texted or were texted.
    pub async fn contact(&self, phone: &PhoneNumber) -> Result<Option<Contact>> {
        sqlx::query(&format!("{CONTACT} WHERE phone = $1"))
            .bind(phone.as_str())
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(contact_from_row)
            .transpose()
    }

    /// Sets (or with `None` clears) the contact's time zone, which decides when
    /// business-started flows may text them, for the agent `by`. The caller checks
    /// the name. `None` when there is no such contact.
    pub async fn set_contact_timezone(
        &self,
        phone: &PhoneNumber,
        timezone: Option<&str>,
        by: AuditBy,
        now: i64,
    ) -> Result<Option<Contact>> {
        let (_writing, mut tx) = self.begin_write().await?;
        let updated: Option<i64> = sqlx::query_scalar(
            "UPDATE contacts SET timezone = $2, updated_at = $3 WHERE phone = $1 RETURNING id",
        )
        .bind(phone.as_str())
        .bind(timezone)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(contact_id) = updated {
            Self::audit_contact_edit(
                &mut tx,
                contact_id,
                by,
                json!({ "fields": ["timezone"] }),
                now,
            )
            .await?;
        }
        tx.commit().await?;
        self.contact(phone).await
    }

    /// Records who edited which of a contact's fields (never the values: they may be
    /// personal data, and the log outlives erasure).
    async fn audit_contact_edit(
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        contact_id: i64,
        by: AuditBy,
        detail: serde_json::Value,
        now: i64,
    ) -> Result<()> {
        Self::append_audit(
            tx,
            NewAudit {
                by,
                action: AuditAction::ContactUpdated,
                target: format!("contact {contact_id}"),
                conversation_id: None,
                detail,
            },
            now,
        )
        .await
    }

    /// Sets (`Some`) or removes (`None`) the given attributes of a contact, keeping the
    /// others; the caller checks names and sizes. `None` when there is no such contact.
    pub async fn update_contact_attributes(
        &self,
        phone: &PhoneNumber,
        changes: &std::collections::BTreeMap<String, Option<String>>,
        by: AuditBy,
        now: i64,
    ) -> Result<Option<Contact>> {
        let (_writing, mut tx) = self.begin_write().await?;
        let row = sqlx::query("SELECT attributes, id FROM contacts WHERE phone = $1")
            .bind(phone.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let mut attributes = attributes_from(row.get::<Option<String>, _>(0).as_deref())?;
        let contact_id: i64 = row.get(1);
        for (key, value) in changes {
            match value {
                Some(v) => attributes.insert(key.clone(), v.clone()),
                None => attributes.remove(key),
            };
        }
        let json = (!attributes.is_empty())
            .then(|| serde_json::to_string(&attributes))
            .transpose()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        sqlx::query("UPDATE contacts SET attributes = $2, updated_at = $3 WHERE phone = $1")
            .bind(phone.as_str())
            .bind(json)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let names: Vec<&String> = changes.keys().collect();
        Self::audit_contact_edit(&mut tx, contact_id, by, json!({ "attributes": names }), now)
            .await?;
        tx.commit().await?;
        self.contact(phone).await
    }
}
