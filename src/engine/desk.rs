//! The agent desk's commands: what people on the team do to a conversation (claim,
//! release, transfer, resolve with the satisfaction survey, reply, note, label). Each command
//! owns its transaction (one store call, whose conditional update decides conflicts
//! such as a handoff claimed meanwhile) and the wake-ups that follow: the event stream
//! for every change, the outbox for every text. API handlers parse and authorise, then
//! call one of these.

use crate::config::CsatSettings;
use crate::replies::{Hours, ReplyVars};
use crate::store::{
    Actor, Handoff, Label, NewOutbound, Note, OutboundKind, QueuedOutbound, SlaScope, StoreError,
    SurveyTrigger,
};

use super::Engine;

/// Why a desk command was refused.
#[derive(Debug, thiserror::Error)]
pub enum DeskError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A transfer named nobody who may take conversations.
    #[error("no active agent named {0:?}")]
    UnknownAgent(String),
}

/// How a resolved conversation ends.
#[derive(Debug, Clone, Copy)]
pub struct Resolution<'a> {
    /// The bot answers the customer's next text in the same conversation; otherwise
    /// the conversation closes and the next text starts a new one.
    pub hand_back: bool,
    /// Ask the customer how we did (once per conversation, never an opted-out
    /// contact); `None` sends no survey.
    pub survey: Option<&'a CsatSettings>,
}

impl Engine {
    /// The agent takes a waiting handoff.
    pub async fn claim_handoff(
        &self,
        handoff_id: i64,
        agent_id: i64,
    ) -> Result<Handoff, DeskError> {
        let handoff = self
            .store
            .claim_handoff(handoff_id, agent_id, self.now_ms())
            .await?;
        self.events_ready.notify_one();
        Ok(handoff)
    }

    /// Puts an assigned handoff back in the waiting queue.
    pub async fn release_handoff(
        &self,
        handoff_id: i64,
        actor: Actor,
    ) -> Result<Handoff, DeskError> {
        let handoff = self
            .store
            .release_handoff(handoff_id, actor, self.now_ms())
            .await?;
        self.events_ready.notify_one();
        Ok(handoff)
    }

    /// Assigns a handoff to the active agent named `to`.
    pub async fn transfer_handoff(
        &self,
        handoff_id: i64,
        actor: Actor,
        to: &str,
    ) -> Result<Handoff, DeskError> {
        let to = self
            .store
            .agent_by_name(to)
            .await?
            .filter(|a| a.revoked_at.is_none())
            .ok_or_else(|| DeskError::UnknownAgent(to.to_string()))?;
        let handoff = self
            .store
            .transfer_handoff(handoff_id, actor, to.id, self.now_ms())
            .await?;
        self.events_ready.notify_one();
        Ok(handoff)
    }

    /// Resolves a handoff, then asks the customer how we did when `survey` says so.
    /// A survey that cannot be queued is logged, never the agent's problem: the
    /// handoff is resolved either way.
    pub async fn resolve_handoff(
        &self,
        handoff_id: i64,
        actor: Actor,
        resolution: Resolution<'_>,
    ) -> Result<Handoff, DeskError> {
        super::sla::check_before_action(self, SlaScope::Handoff(handoff_id)).await;
        let now = self.now_ms();
        let handoff = self
            .store
            .resolve_handoff(handoff_id, actor, resolution.hand_back, now)
            .await?;
        self.events_ready.notify_one();
        if let Some(csat) = resolution.survey {
            self.ask_for_rating(&handoff, csat, now).await;
        }
        Ok(handoff)
    }

    /// Queues an agent's text to the customer (already checked for length). A
    /// customer who has not texted for a day gets it within their sending hours
    /// (`sending_hours.toml`): it is the business starting a conversation.
    pub async fn send_agent_text(
        &self,
        conversation_id: i64,
        agent_id: i64,
        text: &NewOutbound,
    ) -> Result<QueuedOutbound, DeskError> {
        super::sla::check_before_action(self, SlaScope::Conversation(conversation_id)).await;
        let now = self.now_ms();
        let send_at = match self.store.conversation_reach(conversation_id).await? {
            Some(reach) => super::sending::follow_up_at(self, &reach, now),
            None => now,
        };
        let queued = self
            .store
            .queue_agent_message(conversation_id, agent_id, text, now, send_at)
            .await?;
        self.outbound_ready.notify_waiters();
        self.events_ready.notify_one();
        Ok(queued)
    }

    /// Adds a private note to a conversation.
    pub async fn add_note(
        &self,
        conversation_id: i64,
        agent_id: i64,
        body: &str,
    ) -> Result<Note, DeskError> {
        let note = self
            .store
            .add_note(conversation_id, agent_id, body, self.now_ms())
            .await?;
        self.events_ready.notify_one();
        Ok(note)
    }

    /// Puts a label on a conversation; returns its labels.
    pub async fn add_label(
        &self,
        conversation_id: i64,
        agent_id: i64,
        label: &Label,
    ) -> Result<Vec<String>, DeskError> {
        let labels = self
            .store
            .add_label(conversation_id, label, agent_id, self.now_ms())
            .await?;
        self.events_ready.notify_one();
        Ok(labels)
    }

    /// Takes a label off a conversation; returns its labels.
    pub async fn remove_label(
        &self,
        conversation_id: i64,
        agent_id: i64,
        label: &Label,
    ) -> Result<Vec<String>, DeskError> {
        let labels = self
            .store
            .remove_label(conversation_id, label, agent_id, self.now_ms())
            .await?;
        self.events_ready.notify_one();
        Ok(labels)
    }

    /// What a saved reply is filled in with for `agent` writing in a conversation:
    /// the contact's name and attributes, the slots the customer gave the bot, and
    /// whether the team is in (`prompts/replies/`).
    pub async fn saved_reply_vars(
        &self,
        conversation_id: i64,
        agent_name: &str,
    ) -> Result<ReplyVars, DeskError> {
        let info =
            self.store
                .conversation_info(conversation_id)
                .await?
                .ok_or(StoreError::NotFound {
                    what: "conversation",
                    id: conversation_id.to_string(),
                })?;
        let mut contact = self
            .store
            .contact(&info.phone)
            .await?
            .map(|c| c.attributes)
            .unwrap_or_default();
        contact.insert("phone".into(), info.phone.as_str().to_string());
        let state = self.store.conversation_state(conversation_id).await?;
        let slots = crate::brain::state::ConversationState::from_json(state.as_deref()).slots;
        let now = self.now_ms();
        let policy = self.policy();
        Ok(ReplyVars {
            contact,
            agent: [("name".to_string(), agent_name.to_string())].into(),
            slots,
            hours: Hours {
                open: policy.team_is_in(now),
                next_open: policy
                    .hours
                    .as_ref()
                    .map_or_else(|| "now".to_string(), |h| h.describe_next_open(now)),
            },
        })
    }

    /// The satisfaction survey after a handoff (the store refuses a second one in
    /// the conversation and opted-out contacts).
    async fn ask_for_rating(&self, handoff: &Handoff, csat: &CsatSettings, now: i64) {
        let question = super::pipeline::reply(
            &csat.question,
            OutboundKind::Reply,
            self.policy().replies.max_segments,
        );
        match self
            .store
            .queue_csat_survey(
                handoff.conversation_id,
                Some(handoff.id),
                SurveyTrigger::Handoff,
                &question,
                &csat.thanks,
                now,
            )
            .await
        {
            Ok(Some(_)) => self.outbound_ready.notify_waiters(),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(handoff_id = handoff.id, error = %e, "could not send the satisfaction survey")
            }
        }
    }
}
