//! `textdesk contact forget PHONE`: a data-subject erasure request, carried out.

use std::io::Write;

use anyhow::bail;
use clap::Subcommand;

use crate::sms::PhoneNumber;
use crate::store::{AuditBy, Store};

#[derive(Debug, Subcommand)]
pub enum ContactCommand {
    /// Erase what a contact wrote and what was written about them (messages, notes,
    /// summaries, name, attributes, queued texts). Their number, consent and consent
    /// ledger stay: they prove an opt-out is honoured.
    Forget {
        /// The contact's number (E.164).
        phone: String,
        /// Who asked for it, kept in the event log.
        #[arg(long, default_value = "cli")]
        by: String,
    },
}

pub async fn run(
    store: &Store,
    command: ContactCommand,
    now: i64,
    mut out: impl Write,
) -> anyhow::Result<()> {
    match command {
        ContactCommand::Forget { phone, by } => {
            let phone = PhoneNumber::parse(&phone)
                .map_err(|e| anyhow::anyhow!("{phone:?} is not an E.164 number: {e}"))?;
            let Some(erased) =
                crate::engine::retention::forget(store, &phone, &by, AuditBy::CommandLine, now)
                    .await?
            else {
                bail!("no contact with the number {}", phone.masked());
            };
            writeln!(
                out,
                "erased {}: {} messages, {} notes, {} handoff summaries, {} events, {} queued texts canceled; consent and its ledger kept",
                phone.masked(),
                erased.messages,
                erased.notes,
                erased.handoffs,
                erased.events,
                erased.canceled_texts
            )?;
        }
    }
    Ok(())
}
