//! `textdesk transcript PHONE [--json]`: a contact's messages, oldest first.

use std::io::Write;

use anyhow::Context;

use crate::sms::PhoneNumber;
use crate::store::{Direction, Store};

pub async fn run(
    store: &Store,
    phone: &str,
    json: bool,
    mut out: impl Write,
) -> anyhow::Result<()> {
    let phone = PhoneNumber::parse(phone)
        .with_context(|| format!("{phone:?} is not an E.164 phone number"))?;
    let entries = store.transcript(phone.as_str(), None).await?;
    if json {
        for entry in &entries {
            serde_json::to_writer(&mut out, entry)?;
            out.write_all(b"\n")?;
        }
        return Ok(());
    }
    if entries.is_empty() {
        writeln!(out, "no messages for {}", phone.masked())?;
        return Ok(());
    }
    for e in &entries {
        let arrow = match e.direction {
            Direction::Inbound => "<-",
            Direction::Outbound => "->",
        };
        writeln!(
            out,
            "{}  {arrow} {:<8}  {}  [{}, {} seg, {}]",
            e.time,
            e.author.as_str(),
            e.body
                .replace('\n', "\n                                     "),
            e.encoding,
            e.segments,
            e.delivery_status
        )?;
    }
    Ok(())
}
