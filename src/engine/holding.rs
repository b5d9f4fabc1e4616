//! The one holding text: when nobody has answered a handoff within the policy's
//! `holding_after_minutes`, the customer is told they have not been forgotten —
//! once per handoff, only while the team is in (outside hours they were already told
//! when the team is back).

use super::Engine;
use super::pipeline::reply;
use crate::store::OutboundKind;

/// Queues the holding text for every overdue handoff; returns how many.
pub async fn sweep(engine: &Engine) -> Result<usize, crate::store::StoreError> {
    let policy = engine.policy();
    let now = engine.now_ms();
    if !policy.team_is_in(now) {
        return Ok(0);
    }
    let text = reply(
        &policy.handoff.holding,
        OutboundKind::Reply,
        policy.replies.max_segments,
    );
    let cutoff = policy.handoff.holding_cutoff(now);
    let queued = engine
        .store
        .queue_holding_messages(cutoff, &text, now)
        .await?;
    if queued > 0 {
        tracing::info!(queued, "holding texts sent for unanswered handoffs");
        engine.outbound_ready.notify_waiters();
    }
    Ok(queued)
}
