//! The plain types the store hands to the rest of textdesk.

use crate::sms::PhoneNumber;

/// Whether textdesk may text a contact.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Consent {
    /// The contact texted us first: consent for that conversation only. Replies may
    /// go; texts the business starts (flows) may not.
    Implied,
    /// Express consent: the contact opted in (START, UNSTOP, YES while opted out), or
    /// an agent, a system (API) or an import recorded the consent they gave. Texts the
    /// business starts may go.
    OptedIn,
    /// The contact opted out (STOP family or carrier); only compliance texts may go.
    OptedOut,
}

impl Consent {
    pub fn as_str(&self) -> &'static str {
        match self {
            Consent::Implied => "implied",
            Consent::OptedIn => "opted_in",
            Consent::OptedOut => "opted_out",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "implied" => Some(Consent::Implied),
            "opted_in" => Some(Consent::OptedIn),
            "opted_out" => Some(Consent::OptedOut),
            _ => None,
        }
    }
    pub fn is_opted_out(&self) -> bool {
        matches!(self, Consent::OptedOut)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Inbound,
    Outbound,
}

impl Direction {
    pub fn as_str(&self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }

    /// The stored column value; anything but "inbound" was written as outbound.
    pub fn from_stored(s: &str) -> Self {
        if s == "inbound" {
            Direction::Inbound
        } else {
            Direction::Outbound
        }
    }
}

/// Serializes a phone number as its E.164 text (its `Display` masks it, for logs).
pub(super) fn serialize_e164<S: serde::Serializer>(
    phone: &PhoneNumber,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.serialize_str(phone.as_str())
}

/// Who wrote a message (Chatwoot's vocabulary: incoming from the customer, outgoing
/// from the bot or an agent, activity from the system).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Author {
    Customer,
    Bot,
    Agent,
    System,
}

impl Author {
    pub fn as_str(&self) -> &'static str {
        match self {
            Author::Customer => "customer",
            Author::Bot => "bot",
            Author::Agent => "agent",
            Author::System => "system",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "customer" => Some(Author::Customer),
            "bot" => Some(Author::Bot),
            "agent" => Some(Author::Agent),
            "system" => Some(Author::System),
            _ => None,
        }
    }
}

/// Whether an outbound text may reach a contact who has opted out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboundKind {
    /// An ordinary reply: never sent to an opted-out contact.
    Reply,
    /// The opt-out confirmation, a HELP answer or a START confirmation.
    Compliance,
}

impl OutboundKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            OutboundKind::Reply => "reply",
            OutboundKind::Compliance => "compliance",
        }
    }
}

/// An inbound text as the webhook hands it over, before it has an id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInbound {
    pub provider_message_id: String,
    pub from: PhoneNumber,
    pub body: String,
    pub media_urls: Vec<String>,
    pub encoding: &'static str,
    pub segments: u32,
    pub units: u32,
    pub received_at: i64,
    /// How long to wait for more texts of the same burst before the engine reads it
    /// (and the burst's earlier texts, which it pushes back). 0 reads it, and every
    /// text of its conversation still waiting, at once: compliance keywords.
    pub burst_wait_ms: i64,
}

/// What storing an inbound text did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// Stored and queued for the engine.
    Queued {
        message_id: i64,
        conversation_id: i64,
        /// When the engine may read it (after the burst window).
        ready_at: i64,
    },
    /// This provider message id was stored before; nothing was done.
    Duplicate { message_id: i64 },
}

/// An inbound message a worker holds the lease on.
#[derive(Debug, Clone)]
pub struct ClaimedInbound {
    pub queue_id: i64,
    pub message_id: i64,
    pub conversation_id: i64,
    pub attempts: i64,
    pub lease_owner: String,
    /// Later texts of its conversation were pending when it was claimed: the rest of
    /// a burst, read with it. When none were, the turn does not look for them.
    pub later_texts_pending: bool,
}

/// A claimed text with what the engine decided about it, ready to be committed
/// ([`super::Store::complete_inbound_all`]).
#[derive(Debug)]
pub struct Completion {
    pub claim: ClaimedInbound,
    pub ctx: InboundContext,
    pub outcome: InboundOutcome,
    pub now: i64,
}

/// Everything the engine reads to decide about one inbound message.
#[derive(Debug, Clone)]
pub struct InboundContext {
    pub message_id: i64,
    pub conversation_id: i64,
    pub contact_id: i64,
    pub phone: PhoneNumber,
    /// What the team and the bot know about the contact (`name`, …).
    pub attributes: std::collections::BTreeMap<String, String>,
    pub consent: Consent,
    pub body: String,
    pub media_urls: Vec<String>,
    pub received_at: i64,
    /// The conversation's engine state (JSON), if any was saved.
    pub state_json: Option<String>,
    /// The conversation's open handoff: while there is one, people answer, not the bot.
    pub handoff: Option<super::OpenHandoff>,
    /// The recent median time from handoff to first agent reply, when known.
    pub usual_wait_ms: Option<i64>,
    /// The contact's other messages, in id order (bounded to the most recent). Replies
    /// to earlier texts may have larger ids than this text when texts arrived in a
    /// burst, so this is "everything else we know", not "everything before".
    pub history: Vec<HistoryEntry>,
    /// The contact's unanswered satisfaction survey, if one is still open: a lone
    /// 1–5 answers it. Looked up by contact, since a resolved conversation's answer
    /// arrives on a new one.
    pub pending_survey: Option<super::PendingSurvey>,
    /// Texts of the same conversation queued after this one and not yet read (at most
    /// a burst's worth), for the engine to read with it as one turn.
    pub following: Vec<FollowingText>,
    /// The texts of `following` the engine folded into this turn: committed together
    /// with it, and left out of `history`.
    pub folded: Vec<FollowingText>,
}

/// A queued customer text that arrived after the one being read.
#[derive(Debug, Clone)]
pub struct FollowingText {
    pub queue_id: i64,
    pub message_id: i64,
    pub body: String,
    pub media_urls: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct HistoryEntry {
    pub message_id: i64,
    pub direction: Direction,
    pub author: Author,
    pub body: String,
    /// What the brain understood of it (customer texts).
    pub intent: Option<String>,
    pub created_at: i64,
}

/// A consent change: decided by the engine, reported by the carrier, or recorded by
/// a person or a system.
#[derive(Debug, Clone)]
pub struct ConsentChange {
    pub to: Consent,
    pub source: ConsentSource,
    /// Who recorded it: the agent's or admin's name; `None` for the customer's own
    /// texts and the carrier.
    pub actor: Option<String>,
    /// The exact words: the customer's text, the carrier's error, the evidence an
    /// agent or an import gives ("signed the in-store form, 2026-11-30").
    pub detail: String,
}

/// Where a consent change came from, as the ledger records it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ConsentSource {
    /// A compliance keyword (STOP, START, YES while opted out, ALTO…).
    Keyword,
    /// An opt-out in plain words ("please stop texting me").
    PlainLanguage,
    /// The carrier reported the number unsubscribed (Twilio error 21610).
    Carrier,
    /// An agent recorded it (the customer asked on the phone, by e-mail).
    Agent,
    /// A system through the admin API (a sign-up form, a CRM).
    Api,
    /// An import of consent gathered elsewhere (`textdesk consent import`).
    Import,
}

impl ConsentSource {
    pub fn as_str(&self) -> &'static str {
        match self {
            ConsentSource::Keyword => "keyword",
            ConsentSource::PlainLanguage => "plain_language",
            ConsentSource::Carrier => "carrier",
            ConsentSource::Agent => "agent",
            ConsentSource::Api => "api",
            ConsentSource::Import => "import",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [
            ConsentSource::Keyword,
            ConsentSource::PlainLanguage,
            ConsentSource::Carrier,
            ConsentSource::Agent,
            ConsentSource::Api,
            ConsentSource::Import,
        ]
        .into_iter()
        .find(|source| source.as_str() == s)
    }
}

/// An outbound text decided by the engine.
#[derive(Debug, Clone)]
pub struct NewOutbound {
    pub author: Author,
    pub kind: OutboundKind,
    pub body: String,
    pub encoding: &'static str,
    pub segments: u32,
    pub units: u32,
}

/// The engine's result for one inbound message, committed atomically.
#[derive(Debug, Clone, Default)]
pub struct InboundOutcome {
    pub consent_change: Option<ConsentChange>,
    pub replies: Vec<NewOutbound>,
    /// What the brain made of the inbound text, recorded on the message.
    pub understanding: Option<Understood>,
    /// The conversation's new engine state (JSON); `None` leaves it unchanged.
    pub state_json: Option<String>,
    /// A handoff to open, or the open one's refreshed summary.
    pub handoff: Option<super::HandoffChange>,
    /// A satisfaction score answering the pending survey.
    pub csat: Option<super::CsatAnswer>,
    /// Who understood the text (`llm`, `local`, `rule`), for analytics.
    pub understood_by: Option<&'static str>,
    /// The LLM was configured but failed and the local brain answered.
    pub llm_fallback: bool,
    /// A flow that ended with this text: its answers are announced (`flow.completed`)
    /// and its appointment, if any, booked, in the same transaction.
    pub flow_completed: Option<FlowCompletion>,
    /// The bot could not handle this text (see [`crate::gaps`]): recorded on it, so
    /// the gaps report can find what the knowledge base is missing.
    pub gap: Option<crate::gaps::GapMark>,
}

/// A finished flow, as the store records it.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowCompletion {
    pub flow: String,
    pub slots: std::collections::BTreeMap<String, String>,
    /// The appointment time to book: its key (`2026-12-08T10:00`) and label.
    pub booking: Option<(String, String)>,
}

/// The brain's reading of one inbound text.
#[derive(Debug, Clone, PartialEq)]
pub struct Understood {
    /// `None` when only the mood was read (a text to a person, not the bot).
    pub intent: Option<String>,
    pub confidence: Option<f64>,
    pub sentiment: Option<f64>,
}

/// An outbox row a dispatcher holds the lease on, with what it needs to send.
#[derive(Debug, Clone)]
pub struct ClaimedOutbound {
    pub outbox_id: i64,
    pub message_id: i64,
    pub contact_id: i64,
    pub to: PhoneNumber,
    pub consent: Consent,
    pub kind: OutboundKind,
    pub body: String,
    pub attempts: i64,
    pub lease_owner: String,
    /// When an earlier attempt began whose outcome is unknown (the provider did not
    /// answer in time, or the process stopped mid-send): the text may already have
    /// gone, so the provider is asked before it is sent again.
    pub unsettled_since: Option<i64>,
}

/// One line of a contact's transcript.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TranscriptEntry {
    pub id: i64,
    pub conversation_id: i64,
    pub time: String,
    pub direction: Direction,
    pub author: Author,
    pub body: String,
    pub encoding: String,
    pub segments: i64,
    pub delivery_status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<i64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub media_urls: Vec<String>,
}

/// Who has a conversation: the bot, a person (a handoff waiting for an agent, or
/// assigned to one), or nobody any more. Stored as `conversations.status`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ConversationStatus {
    /// The bot answers.
    Bot,
    /// Handed over; the handoff waits for an agent to claim it.
    Waiting,
    /// An agent has it.
    Assigned,
    /// Closed: the customer's next text starts a new conversation.
    Resolved,
}

impl ConversationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConversationStatus::Bot => "bot",
            ConversationStatus::Waiting => "waiting",
            ConversationStatus::Assigned => "assigned",
            ConversationStatus::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Bot, Self::Waiting, Self::Assigned, Self::Resolved]
            .into_iter()
            .find(|status| status.as_str() == s)
    }

    /// People own the conversation: the bot stays out of it.
    pub fn is_with_people(self) -> bool {
        matches!(
            self,
            ConversationStatus::Waiting | ConversationStatus::Assigned
        )
    }
}
