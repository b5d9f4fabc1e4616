//! The conversation test files: what the customer texts, when, and what must be
//! true after each text.
//!
//! ```toml
//! description = "Order status: asks for the number, looks it up"
//! start = "2027-01-08T11:00:00-07:00"   # the pinned clock (default: a weekday, 11:00 Denver)
//!
//! [[api]]                                # the fake of the business's system
//! path = "/orders/12345"
//! json = { status = "shipped", shipped_on = "2027-01-07" }
//!
//! [[turns]]
//! customer = "I haven't received my order yet"
//! intent = "order_status"
//! contains = ["order number"]
//!
//! [[turns]]
//! customer = "#12345"
//! after = "40s"                          # the clock moves on before the text (default 30s)
//! contains = ["shipped on Jan 7"]
//! lookup_called = "/orders/12345"
//! max_segments = 2
//! ```
//!
//! A turn may send pictures (`media = ["https://…"]`) with its text. It may expect: `intent`, `contains` / `not_contains` (case-insensitive, over
//! the bot's texts to this turn), `reply` (false: the bot stays silent), `replies`
//! (how many texts), `handoff` (a person owns the conversation after it),
//! `max_segments`, `slots` (remembered values), `lookup_called` (a path the fake
//! system got during the turn; "" for none). Mistakes in a file name its line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::fake_api::FakeRoute;

/// Wednesday 2 Dec 2026, 11:00 in Denver: the demo team is in.
pub const DEFAULT_START: &str = "2026-12-02T11:00:00-07:00";
/// Reading a reply and typing the next text.
const DEFAULT_GAP_MS: i64 = 30_000;

#[derive(Debug, Clone)]
pub struct ConversationFile {
    pub path: PathBuf,
    pub description: String,
    pub start_ms: i64,
    pub phone: String,
    pub api: Vec<FakeRoute>,
    pub turns: Vec<TurnScript>,
}

#[derive(Debug, Clone, Default)]
pub struct TurnScript {
    pub line: usize,
    pub customer: String,
    /// Picture URLs sent with the text (MMS).
    pub media: Vec<String>,
    /// Clock step before the text, in ms.
    pub after_ms: i64,
    pub expect: Expectations,
}

#[derive(Debug, Clone, Default)]
pub struct Expectations {
    pub intent: Option<String>,
    pub contains: Vec<String>,
    pub not_contains: Vec<String>,
    pub reply: Option<bool>,
    pub replies: Option<usize>,
    pub handoff: Option<bool>,
    pub max_segments: Option<i64>,
    pub slots: BTreeMap<String, String>,
    pub lookup_called: Option<String>,
}

impl Expectations {
    /// Whether nothing is expected to have happened (no reply, no intent, no lookup):
    /// all a text that is read later, with the rest of its burst, can promise.
    pub fn is_silent(&self) -> bool {
        self.intent.is_none()
            && self.contains.is_empty()
            && self.reply != Some(true)
            && self.replies.unwrap_or(0) == 0
            && self.handoff.is_none()
            && self.slots.is_empty()
            && self.lookup_called.as_deref().is_none_or(str::is_empty)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    description: String,
    start: Option<Spanned<String>>,
    phone: Option<Spanned<String>>,
    #[serde(default)]
    api: Vec<FakeRoute>,
    turns: Vec<Spanned<RawTurn>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTurn {
    customer: String,
    #[serde(default)]
    media: Vec<String>,
    after: Option<String>,
    intent: Option<String>,
    #[serde(default)]
    contains: Vec<String>,
    #[serde(default)]
    not_contains: Vec<String>,
    reply: Option<bool>,
    replies: Option<usize>,
    handoff: Option<bool>,
    max_segments: Option<i64>,
    #[serde(default)]
    slots: BTreeMap<String, String>,
    lookup_called: Option<String>,
}

// One reader of byte offsets as lines for every operator file: the flows' own.
use crate::flows::file::{line_of, toml_error_at};

/// The `.toml` files at `path` (a file, or a folder read in name order).
pub fn discover(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    Ok(files)
}

impl ConversationFile {
    /// Reads one file; the error is `file:line: message`.
    pub fn load(path: &Path, index: usize) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::parse(path, &text, index)
            .map_err(|(line, msg)| format!("{}:{line}: {msg}", path.display()))
    }

    /// `index` makes the default phone number unique within a run.
    pub fn parse(path: &Path, text: &str, index: usize) -> Result<Self, (usize, String)> {
        let raw: RawFile = toml::from_str(text).map_err(|e| toml_error_at(text, &e))?;
        let at = |span: std::ops::Range<usize>| line_of(text, span.start);
        let start = raw
            .start
            .as_ref()
            .map(|s| (s.get_ref().as_str(), at(s.span())));
        let start_ms = match start {
            Some((s, line)) => parse_start(s).map_err(|e| (line, e))?,
            None => parse_start(DEFAULT_START).map_err(|e| (1, e))?,
        };
        let phone = match &raw.phone {
            Some(p) => crate::sms::phone::PhoneNumber::parse(p.get_ref())
                .map_err(|e| (at(p.span()), format!("phone: {e}")))?
                .as_str()
                .to_string(),
            None => format!("+1555555{:04}", 1000 + index % 9000),
        };
        if raw.turns.is_empty() {
            return Err((1, "a conversation needs at least one [[turns]]".into()));
        }
        let mut turns = Vec::new();
        for turn in raw.turns {
            let line = at(turn.span());
            let turn = turn.into_inner();
            let after_ms = match &turn.after {
                Some(after) => parse_after(after).map_err(|e| (line, e))?,
                None => DEFAULT_GAP_MS,
            };
            turns.push(TurnScript {
                line,
                customer: turn.customer,
                media: turn.media,
                after_ms,
                expect: Expectations {
                    intent: turn.intent,
                    contains: turn.contains,
                    not_contains: turn.not_contains,
                    reply: turn.reply,
                    replies: turn.replies,
                    handoff: turn.handoff,
                    max_segments: turn.max_segments,
                    slots: turn.slots,
                    lookup_called: turn.lookup_called,
                },
            });
        }
        Ok(Self {
            path: path.to_path_buf(),
            description: raw.description,
            start_ms,
            phone,
            api: raw.api,
            turns,
        })
    }
}

fn parse_start(s: &str) -> Result<i64, String> {
    s.parse::<jiff::Timestamp>()
        .map(|t| t.as_millisecond())
        .map_err(|e| format!("start {s:?} is not an RFC 3339 time like \"{DEFAULT_START}\": {e}"))
}

/// "30s", "5m", "2h", "1h 30m" (no days: write "24h").
fn parse_after(s: &str) -> Result<i64, String> {
    let d: jiff::SignedDuration = s.parse().map_err(|e| {
        format!("after {s:?} is not a duration like \"30s\", \"5m\" or \"2h\": {e}")
    })?;
    if d.is_negative() {
        return Err(format!("after {s:?}: the clock only moves forward"));
    }
    Ok(d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: &str = r#"
description = "hours"

[[turns]]
customer = "when do you open"
contains = ["9"]

[[turns]]
customer = "thanks"
after = "2m"
reply = false
"#;

    #[test]
    fn a_file_reads_with_defaults_and_lines() {
        let file = ConversationFile::parse(Path::new("a.toml"), ONE, 3).unwrap();
        assert_eq!(file.turns.len(), 2);
        assert_eq!(file.turns[0].after_ms, 30_000);
        assert_eq!(file.turns[1].after_ms, 120_000);
        assert_eq!(file.turns[1].line, 8);
        assert_eq!(file.turns[1].expect.reply, Some(false));
        assert_eq!(file.phone, "+15555551003");
    }

    #[test]
    fn mistakes_name_their_line() {
        let text = ONE.replace("reply = false", "replly = false");
        let (line, message) = ConversationFile::parse(Path::new("a.toml"), &text, 0).unwrap_err();
        assert!(line >= 8, "{line}: {message}");
        assert!(message.contains("replly"), "{message}");
        let text = ONE.replace("\"2m\"", "\"soon\"");
        let (line, _) = ConversationFile::parse(Path::new("a.toml"), &text, 0).unwrap_err();
        assert_eq!(line, 8);
    }
}
