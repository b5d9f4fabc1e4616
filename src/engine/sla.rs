//! Service-level targets for handoffs (`[sla]` in `prompts/policy.toml`): how soon a
//! person first answers, answers each later customer text, and resolves, per
//! priority, counted in business hours (`[hours]`; calendar time without them). A
//! sweep records each missed target once with an `sla.breached` event (the live
//! stream, webhooks, analytics), and so does a check just before an agent texts or
//! resolves (a late answer between two sweeps is still late); the queue shows what
//! is due and what was missed.

use serde::{Deserialize, Serialize};

use super::Engine;
use super::policy::Policy;
use crate::brain::escalation::Priority;
use crate::store::{Handoff, SlaScope, SlaTimes, StoreError};

/// The three targets an SLA sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SlaMetric {
    /// Handoff opened → an agent's first text.
    FirstResponse,
    /// A customer's text after that → an agent's next text.
    NextResponse,
    /// Handoff opened → resolved.
    Resolution,
}

impl SlaMetric {
    pub fn as_str(self) -> &'static str {
        match self {
            SlaMetric::FirstResponse => "first_response",
            SlaMetric::NextResponse => "next_response",
            SlaMetric::Resolution => "resolution",
        }
    }
}

/// One priority's targets, in business minutes; a target left out is not tracked.
#[derive(Deserialize, Clone, Copy, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SlaTargets {
    pub first_response: Option<u32>,
    pub next_response: Option<u32>,
    pub resolution: Option<u32>,
}

impl SlaTargets {
    fn minutes(&self, metric: SlaMetric) -> Option<u32> {
        match metric {
            SlaMetric::FirstResponse => self.first_response,
            SlaMetric::NextResponse => self.next_response,
            SlaMetric::Resolution => self.resolution,
        }
    }
}

/// `[sla]`: targets per priority (`[sla.urgent]`, `[sla.high]`, …); none by default.
#[derive(Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SlaSettings {
    pub urgent: SlaTargets,
    pub high: SlaTargets,
    pub normal: SlaTargets,
    pub low: SlaTargets,
}

impl SlaSettings {
    fn targets(&self, priority: i64) -> &SlaTargets {
        match Priority::from_i64(priority) {
            Some(Priority::Urgent) => &self.urgent,
            Some(Priority::High) => &self.high,
            Some(Priority::Low) => &self.low,
            Some(Priority::Normal) | None => &self.normal,
        }
    }
}

/// When `metric` is due for a handoff of `priority` counted from `start`, if it has a
/// target: `minutes` of business time later (calendar time without `[hours]`).
pub fn due_at(policy: &Policy, priority: i64, metric: SlaMetric, start: i64) -> Option<i64> {
    let minutes = policy.sla.targets(priority).minutes(metric)?;
    let span = i64::from(minutes) * 60_000;
    match &policy.hours {
        Some(hours) => hours.deadline(start, span),
        None => Some(start + span),
    }
}

/// What the queue shows of a handoff's SLA.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct SlaView {
    /// When the first answer is due, until it is given.
    pub first_response_due_at: Option<i64>,
    /// When resolving is due, until it is resolved.
    pub resolution_due_at: Option<i64>,
    /// The targets missed so far: first_response, next_response, resolution.
    pub breached: Vec<String>,
}

impl SlaView {
    pub fn of(policy: &Policy, handoff: &Handoff, breached: Vec<String>) -> Self {
        let open = handoff.resolved_at.is_none();
        let due = |metric| due_at(policy, handoff.priority, metric, handoff.created_at);
        Self {
            first_response_due_at: (open && handoff.first_response_at.is_none())
                .then(|| due(SlaMetric::FirstResponse))
                .flatten(),
            resolution_due_at: open.then(|| due(SlaMetric::Resolution)).flatten(),
            breached,
        }
    }
}

/// The targets `handoff` has missed at `now`, with their due times.
pub fn missed(policy: &Policy, handoff: &SlaTimes, now: i64) -> Vec<(SlaMetric, i64)> {
    let mut out = Vec::new();
    let due = |metric, start| due_at(policy, handoff.priority, metric, start);
    if let Some(at) = due(SlaMetric::FirstResponse, handoff.created_at) {
        // Missed while waiting, or answered late (the sweep may run after the answer).
        if handoff.first_response_at.unwrap_or(now) >= at && now >= at {
            out.push((SlaMetric::FirstResponse, at));
        }
    }
    if let Some(since) = handoff.unanswered_since
        && let Some(at) = due(SlaMetric::NextResponse, since)
        && now >= at
    {
        out.push((SlaMetric::NextResponse, at));
    }
    if let Some(at) = due(SlaMetric::Resolution, handoff.created_at)
        && now >= at
    {
        out.push((SlaMetric::Resolution, at));
    }
    out
}

/// Records every target missed by an open handoff (once each); returns how many new.
pub async fn sweep(engine: &Engine) -> Result<usize, StoreError> {
    record_missed(engine, SlaScope::All).await
}

/// Records what the handoffs in `scope` have missed by now, just before an agent's
/// text or resolution changes what is due: an answer or a resolution that comes late
/// between two sweeps is still a miss. A failure is logged; the agent's action goes on.
pub async fn check_before_action(engine: &Engine, scope: SlaScope) {
    if let Err(e) = record_missed(engine, scope).await {
        tracing::warn!(error = %e, ?scope, "checking SLA targets before an agent's action failed");
    }
}

async fn record_missed(engine: &Engine, scope: SlaScope) -> Result<usize, StoreError> {
    let policy = engine.policy();
    if policy.sla == SlaSettings::default() {
        return Ok(0);
    }
    let now = engine.now_ms();
    let mut recorded = 0;
    for handoff in engine.store.sla_open_handoffs(scope).await? {
        for (metric, due) in missed(&policy, &handoff, now) {
            if engine
                .store
                .record_sla_breach(&handoff, metric.as_str(), due, now)
                .await?
            {
                recorded += 1;
                tracing::warn!(
                    handoff_id = handoff.handoff_id,
                    metric = metric.as_str(),
                    "SLA target missed"
                );
            }
        }
    }
    if recorded > 0 {
        engine.events_ready.notify_one();
    }
    Ok(recorded)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(sla: &str) -> Policy {
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts/policy.toml"),
        )
        .unwrap();
        let mut policy = Policy::parse(&text).unwrap();
        policy.sla = toml::from_str(sla).unwrap();
        policy
    }

    #[test]
    fn a_target_is_missed_at_exactly_its_due_time_and_counts_business_hours() {
        let policy = policy("[normal]\nfirst_response = 60\n");
        // Wednesday 2 Dec 2026, 11:00 in Denver (open 9–18).
        let eleven = 1_796_234_400_000;
        let times = SlaTimes {
            handoff_id: 1,
            conversation_id: 1,
            priority: 3,
            created_at: eleven,
            first_response_at: None,
            unanswered_since: None,
        };
        let noon = eleven + 3_600_000;
        assert!(missed(&policy, &times, noon - 1).is_empty());
        assert_eq!(
            missed(&policy, &times, noon),
            [(SlaMetric::FirstResponse, noon)]
        );
        // Answered in time: never missed.
        let answered = SlaTimes {
            first_response_at: Some(noon - 1),
            ..times.clone()
        };
        assert!(missed(&policy, &answered, noon + 3_600_000).is_empty());
        // Urgent has no target here: nothing is tracked.
        let urgent = SlaTimes {
            priority: 1,
            ..times
        };
        assert!(missed(&policy, &urgent, noon * 2).is_empty());
    }
}
