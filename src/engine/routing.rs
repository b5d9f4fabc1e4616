//! Automatic assignment of waiting handoffs (`[routing]` in `prompts/policy.toml`):
//! each waiting handoff, most urgent first, goes to an online agent with room, by
//! round robin or to the least busy; when everyone is full it waits, and is assigned
//! as soon as someone has room. A rule or an intent may route to a team. Agents can
//! still claim from the queue by hand.
//!
//! Online means seen within `online_minutes`: any API call, the inbox, or an open live
//! event stream (which keeps the agent seen while it is open). The router runs every
//! few hundred milliseconds on each instance; the store's conditional update makes a
//! handoff go to one agent only, and never past the agent's capacity, even when two
//! instances decide at once.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::Engine;
use crate::brain::escalation::Rule;
use crate::store::{AgentLoad, StoreError, WaitingHandoff};

/// Waiting handoffs looked at per pass.
const PASS: i64 = 200;

/// How new handoffs find their agent.
#[derive(Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RoutingMode {
    /// Agents claim from the queue themselves.
    #[default]
    Off,
    /// Each in turn: the online agent with room who was given one longest ago.
    RoundRobin,
    /// The online agent with room holding the fewest open handoffs.
    LeastBusy,
}

/// `[routing]`: the operator's assignment rules.
#[derive(Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RoutingSettings {
    pub mode: RoutingMode,
    /// Open handoffs an agent holds at most; more wait for room.
    pub capacity: u32,
    /// An agent counts as online when seen within this many minutes.
    pub online_minutes: u32,
    /// Capacities by agent name, over `capacity`.
    pub capacities: BTreeMap<String, u32>,
    /// Teams by name: the agents in each.
    pub teams: BTreeMap<String, Vec<String>>,
    /// The team for an escalation rule (`threat = "leads"`); checked first.
    pub rules: BTreeMap<String, String>,
    /// The team for an intent (`billing_dispute = "billing"`).
    pub intents: BTreeMap<String, String>,
}

impl Default for RoutingSettings {
    fn default() -> Self {
        Self {
            mode: RoutingMode::Off,
            capacity: 3,
            online_minutes: 5,
            capacities: BTreeMap::new(),
            teams: BTreeMap::new(),
            rules: BTreeMap::new(),
            intents: BTreeMap::new(),
        }
    }
}

impl RoutingSettings {
    /// Every team named by a rule or an intent exists, and every rule is one.
    pub fn validate(&self) -> Result<(), String> {
        for (rule, team) in &self.rules {
            if Rule::parse(rule).is_none() {
                let known: Vec<&str> = Rule::ALL.iter().map(|r| r.as_str()).collect();
                return Err(format!(
                    "`routing.rules.{rule}`: no such rule; use one of {}",
                    known.join(", ")
                ));
            }
            self.check_team(&format!("routing.rules.{rule}"), team)?;
        }
        for (intent, team) in &self.intents {
            self.check_team(&format!("routing.intents.{intent}"), team)?;
        }
        if self.online_minutes == 0 {
            return Err("`routing.online_minutes` must be at least 1".into());
        }
        Ok(())
    }

    fn check_team(&self, key: &str, team: &str) -> Result<(), String> {
        if self.teams.contains_key(team) {
            Ok(())
        } else {
            Err(format!(
                "`{key}` names the team {team:?}, which `[routing.teams]` does not define"
            ))
        }
    }

    fn capacity_of(&self, agent: &str) -> i64 {
        i64::from(*self.capacities.get(agent).unwrap_or(&self.capacity))
    }

    /// The team a handoff goes to, if its rule or intent names one.
    fn team_for(&self, handoff: &WaitingHandoff) -> Option<&Vec<String>> {
        let team = self.rules.get(&handoff.rule).or_else(|| {
            handoff
                .intent
                .as_ref()
                .and_then(|intent| self.intents.get(intent))
        })?;
        self.teams.get(team)
    }
}

/// One pass: gives each waiting handoff that has an agent with room to that agent.
/// Returns how many were assigned.
pub async fn assign_waiting(engine: &Engine) -> Result<usize, StoreError> {
    let policy = engine.policy();
    let settings = &policy.routing;
    if settings.mode == RoutingMode::Off {
        return Ok(0);
    }
    let waiting = engine.store.waiting_handoffs(PASS).await?;
    if waiting.is_empty() {
        return Ok(0);
    }
    let now = engine.now_ms();
    let online_since = now - i64::from(settings.online_minutes) * 60_000;
    let mut agents = engine.store.agent_loads(online_since).await?;
    let mut assigned = 0;
    for handoff in &waiting {
        let Some(pick) = choose(settings, handoff, &agents) else {
            continue;
        };
        let agent = &mut agents[pick];
        let capacity = settings.capacity_of(&agent.name);
        match engine
            .store
            .assign_handoff(handoff.id, agent.id, capacity, now)
            .await
        {
            Ok(_) => {
                agent.open += 1;
                agent.last_assigned_at = Some(now);
                assigned += 1;
                tracing::info!(
                    handoff_id = handoff.id,
                    agent = %agent.name,
                    "handoff assigned"
                );
            }
            // Claimed by hand, or the agent filled up (a claim, another instance's
            // router) meanwhile: count again before the next one.
            Err(StoreError::Conflict(_)) => {
                agents = engine.store.agent_loads(online_since).await?;
            }
            Err(e) => return Err(e),
        }
    }
    if assigned > 0 {
        engine.events_ready.notify_one();
    }
    Ok(assigned)
}

/// The index in `agents` of who gets `handoff`, if anyone has room.
fn choose(
    settings: &RoutingSettings,
    handoff: &WaitingHandoff,
    agents: &[AgentLoad],
) -> Option<usize> {
    let team = settings.team_for(handoff);
    let eligible = agents.iter().enumerate().filter(|(_, a)| {
        a.open < settings.capacity_of(&a.name) && team.is_none_or(|t| t.contains(&a.name))
    });
    // Never given one comes first (None < Some), then the longest ago, then by id.
    let turn = |a: &AgentLoad| (a.last_assigned_at, a.id);
    match settings.mode {
        RoutingMode::Off => None,
        RoutingMode::RoundRobin => eligible.min_by_key(|&(_, a)| turn(a)).map(|(i, _)| i),
        RoutingMode::LeastBusy => eligible
            .min_by_key(|&(_, a)| (a.open, turn(a)))
            .map(|(i, _)| i),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(id: i64, name: &str, open: i64, last: Option<i64>) -> AgentLoad {
        AgentLoad {
            id,
            name: name.into(),
            open,
            last_assigned_at: last,
        }
    }

    fn waiting(rule: &str, intent: Option<&str>) -> WaitingHandoff {
        WaitingHandoff {
            id: 1,
            rule: rule.into(),
            intent: intent.map(str::to_string),
        }
    }

    #[test]
    fn least_busy_picks_the_emptiest_and_round_robin_the_longest_waiting() {
        let agents = [
            agent(1, "ana", 2, Some(10)),
            agent(2, "bo", 1, Some(20)),
            agent(3, "cy", 1, Some(5)),
        ];
        let handoff = waiting("asked_for_human", None);
        let mut settings = RoutingSettings {
            mode: RoutingMode::LeastBusy,
            ..Default::default()
        };
        assert_eq!(
            choose(&settings, &handoff, &agents),
            Some(2),
            "cy: 1 open, longest ago"
        );
        settings.mode = RoutingMode::RoundRobin;
        assert_eq!(
            choose(&settings, &handoff, &agents),
            Some(2),
            "cy was given one longest ago"
        );
    }

    #[test]
    fn full_agents_and_other_teams_are_skipped() {
        let agents = [agent(1, "ana", 1, None), agent(2, "bo", 0, None)];
        let mut settings = RoutingSettings {
            mode: RoutingMode::LeastBusy,
            capacities: [("bo".to_string(), 0)].into(),
            capacity: 1,
            ..Default::default()
        };
        assert_eq!(choose(&settings, &waiting("threat", None), &agents), None);
        settings.capacities.clear();
        settings.teams = [("billing".to_string(), vec!["ana".to_string()])].into();
        settings.intents = [("billing_dispute".to_string(), "billing".to_string())].into();
        assert_eq!(
            choose(
                &settings,
                &waiting("sensitive_intent", Some("billing_dispute")),
                &agents
            ),
            None,
            "ana is the billing team and is full: it waits for her"
        );
        assert_eq!(
            choose(&settings, &waiting("asked_for_human", None), &agents),
            Some(1)
        );
        assert!(settings.validate().is_ok());
        settings.rules = [("threat".to_string(), "leads".to_string())].into();
        assert!(settings.validate().unwrap_err().contains("leads"));
    }
}
