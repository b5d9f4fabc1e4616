//! What the customer hears when their conversation goes to a person: when to expect
//! an answer (the usual wait inside business hours, when the team is back outside
//! them), and one holding text if nobody has answered in time.

use minijinja::{Environment, UndefinedBehavior, context};
use serde::Deserialize;

/// `[handoff]` in `prompts/policy.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandoffTexts {
    /// Inside business hours; `{{ wait }}` is the usual wait.
    pub during_hours: String,
    /// Outside business hours; `{{ back }}` is when the team is next in.
    pub after_hours: String,
    /// The one text sent when nobody has answered within `holding_after_minutes`.
    pub holding: String,
    /// The reply to the customer's first text while they wait for a person ("hello??"),
    /// once per handoff: what they wrote is not lost, and someone is coming.
    #[serde(default = "default_noted")]
    pub noted: String,
    /// The wait quoted before there are enough answered handoffs to measure it.
    pub default_wait_minutes: u32,
    pub holding_after_minutes: u32,
}

fn default_noted() -> String {
    "Got it, I've added that to your conversation. Someone from our team will text you here as soon as they can.".into()
}

impl HandoffTexts {
    pub fn validate(&self) -> Result<(), String> {
        for (key, text) in [
            ("handoff.during_hours", &self.during_hours),
            ("handoff.after_hours", &self.after_hours),
            ("handoff.holding", &self.holding),
            ("handoff.noted", &self.noted),
        ] {
            if text.trim().is_empty() {
                return Err(format!("`{key}` must not be empty"));
            }
            render(text, "about 10 minutes", "tomorrow at 9:00 AM")
                .map_err(|e| format!("`{key}`: {e}"))?;
        }
        if self.holding_after_minutes == 0 {
            return Err("`handoff.holding_after_minutes` must be at least 1".into());
        }
        Ok(())
    }

    /// The text that tells the customer what happens next. `back` is when the team
    /// is next in, when it is out now (`None`: the team is in).
    pub fn expectation(&self, back: Option<String>, usual_wait_ms: Option<i64>) -> String {
        let (template, wait, back) = match back {
            None => {
                let minutes = usual_wait_ms
                    .map(|ms| (ms + 59_999) / 60_000)
                    .unwrap_or(i64::from(self.default_wait_minutes));
                (
                    &self.during_hours,
                    super::hours::usual_wait_text(minutes),
                    String::new(),
                )
            }
            Some(back) => (&self.after_hours, String::new(), back),
        };
        // Templates were checked when the policy loaded; a failure here is a bug, and
        // the customer still gets the template's words rather than nothing.
        render(template, &wait, &back).unwrap_or_else(|e| {
            tracing::error!(error = %e, "handoff text failed to render");
            template.clone()
        })
    }

    /// Handoffs created before this instant and still unanswered get the holding text.
    pub fn holding_cutoff(&self, now: i64) -> i64 {
        now - i64::from(self.holding_after_minutes) * 60_000
    }
}

fn render(template: &str, wait: &str, back: &str) -> Result<String, minijinja::Error> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.render_str(template, context! { wait, back })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts() -> HandoffTexts {
        HandoffTexts {
            during_hours: "Someone will text you in {{ wait }}.".into(),
            after_hours: "We're back {{ back }}.".into(),
            holding: "Still on it.".into(),
            noted: default_noted(),
            default_wait_minutes: 10,
            holding_after_minutes: 15,
        }
    }

    #[test]
    fn quotes_the_measured_wait_or_the_default() {
        let t = texts();
        assert_eq!(
            t.expectation(None, None),
            "Someone will text you in about 10 minutes."
        );
        assert_eq!(
            t.expectation(None, Some(4 * 60_000 + 1)),
            "Someone will text you in about 5 minutes."
        );
        assert_eq!(
            t.expectation(Some("tomorrow at 9:00 AM".into()), None),
            "We're back tomorrow at 9:00 AM."
        );
    }

    #[test]
    fn an_unknown_variable_is_a_load_error() {
        let mut t = texts();
        t.during_hours = "in {{ wiat }}".into();
        let err = t.validate().unwrap_err();
        assert!(err.contains("handoff.during_hours"), "{err}");
    }
}
