//! When the business may start a text (a flow, a survey, an agent writing to a
//! customer who has not written for a day), in the contact's own local time: the
//! federal TCPA default (8:00 to 21:00) and stricter state rules, read from
//! `prompts/sending_hours.toml`. Replies to a customer's own text are not limited.
//!
//! A contact's state is their `state` attribute (two letters, set by the team or an
//! import) when there is one, else the state of their area code as the file lists it.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::civil::{Time, Weekday};
use jiff::tz::TimeZone;
use serde::Deserialize;

/// `sending_hours.toml`.
#[derive(Debug, Clone, PartialEq)]
pub struct SendingHours {
    default: Window,
    states: BTreeMap<String, StateRule>,
}

/// One state's stricter hours.
#[derive(Debug, Clone, PartialEq)]
struct StateRule {
    allowed: Window,
    sunday: Option<Window>,
    area_codes: Vec<String>,
}

/// `start`–`end` local time, start included, end excluded; never across midnight.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Window {
    start: Time,
    end: Time,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHours {
    allowed: String,
    #[serde(default)]
    states: BTreeMap<String, RawState>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawState {
    allowed: String,
    #[serde(default)]
    sunday: Option<String>,
    /// The statute, for the people who keep the file up to date.
    #[allow(dead_code)]
    law: String,
    #[serde(default)]
    area_codes: Vec<String>,
}

impl Default for SendingHours {
    /// The TCPA's 8:00 to 21:00, with no state rules.
    fn default() -> Self {
        Self {
            default: Window {
                start: Time::constant(8, 0, 0, 0),
                end: Time::constant(21, 0, 0, 0),
            },
            states: BTreeMap::new(),
        }
    }
}

impl Window {
    fn parse(key: &str, value: &str) -> Result<Self, String> {
        let bad = || format!("`{key}` must be \"HH:MM-HH:MM\" within one day, got {value:?}");
        let (start, end) = value.split_once('-').ok_or_else(bad)?;
        let time = |s: &str| {
            let (h, m) = s.trim().split_once(':')?;
            Time::new(h.parse().ok()?, m.parse().ok()?, 0, 0).ok()
        };
        let (start, end) = (time(start).ok_or_else(bad)?, time(end).ok_or_else(bad)?);
        if start >= end {
            return Err(bad());
        }
        Ok(Self { start, end })
    }
}

impl SendingHours {
    /// Parses the file's text; errors carry the line or the key.
    pub fn parse(text: &str) -> Result<Self, String> {
        let raw: RawHours =
            toml::from_str(text).map_err(|e| e.to_string().trim_end().to_string())?;
        let mut states = BTreeMap::new();
        let mut owner = BTreeMap::new();
        for (code, state) in raw.states {
            if code.len() != 2 || !code.chars().all(|c| c.is_ascii_uppercase()) {
                return Err(format!(
                    "`states.{code}`: use the state's two capital letters (FL, TX)"
                ));
            }
            for area in &state.area_codes {
                if area.len() != 3 || !area.chars().all(|c| c.is_ascii_digit()) {
                    return Err(format!(
                        "`states.{code}.area_codes`: {area:?} is not a three-digit area code"
                    ));
                }
                if let Some(other) = owner.insert(area.clone(), code.clone()) {
                    return Err(format!(
                        "`states.{code}.area_codes`: {area} is already listed for {other}"
                    ));
                }
            }
            let rule = StateRule {
                allowed: Window::parse(&format!("states.{code}.allowed"), &state.allowed)?,
                sunday: state
                    .sunday
                    .as_deref()
                    .map(|s| Window::parse(&format!("states.{code}.sunday"), s))
                    .transpose()?,
                area_codes: state.area_codes,
            };
            states.insert(code, rule);
        }
        Ok(Self {
            default: Window::parse("allowed", &raw.allowed)?,
            states,
        })
    }

    /// The state whose rules apply: the contact's `state` attribute when set (and
    /// listed here), else their area code's.
    pub fn state_of<'a>(&'a self, phone: &str, attribute: Option<&str>) -> Option<&'a str> {
        if let Some(code) = attribute.map(|s| s.trim().to_ascii_uppercase())
            && let Some((code, _)) = self.states.get_key_value(&code)
        {
            return Some(code);
        }
        let area = phone.strip_prefix("+1")?.get(..3)?;
        self.states
            .iter()
            .find(|(_, rule)| rule.area_codes.iter().any(|a| a == area))
            .map(|(code, _)| code.as_str())
    }

    fn window(&self, state: Option<&str>, day: Weekday) -> Window {
        match state.and_then(|code| self.states.get(code)) {
            Some(rule) => match (day, rule.sunday) {
                (Weekday::Sunday, Some(sunday)) => sunday,
                _ => rule.allowed,
            },
            None => self.default,
        }
    }

    /// The first instant at or after `now_ms` when the business may text a contact
    /// in `tz` under `state`'s rules (the federal default for `None`).
    pub fn next_allowed(&self, now_ms: i64, tz: &TimeZone, state: Option<&str>) -> i64 {
        let Ok(now) = Timestamp::from_millisecond(now_ms) else {
            return now_ms;
        };
        let local = now.to_zoned(tz.clone());
        let today = self.window(state, local.date().weekday());
        let t = local.time();
        if t >= today.start && t < today.end {
            return now_ms;
        }
        // Before today's window: its start; after it: tomorrow's.
        let (date, start) = if t < today.start {
            (local.date(), today.start)
        } else {
            let tomorrow = local.date().tomorrow().unwrap_or(local.date());
            (tomorrow, self.window(state, tomorrow.weekday()).start)
        };
        date.to_datetime(start)
            .to_zoned(tz.clone())
            .map(|z| z.timestamp().as_millisecond())
            .unwrap_or(now_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::clock::local_ms as at;

    fn shipped() -> SendingHours {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts/sending_hours.toml");
        SendingHours::parse(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn the_federal_default_is_eight_to_nine_in_the_contacts_zone() {
        let hours = shipped();
        let ny = TimeZone::get("America/New_York").unwrap();
        let late = at("2026-12-01T21:30", "America/New_York");
        assert_eq!(
            hours.next_allowed(late, &ny, None),
            at("2026-12-02T08:00", "America/New_York")
        );
        let early = at("2026-12-02T07:59", "America/New_York");
        assert_eq!(
            hours.next_allowed(early, &ny, None),
            at("2026-12-02T08:00", "America/New_York")
        );
        let noon = at("2026-12-02T12:00", "America/New_York");
        assert_eq!(hours.next_allowed(noon, &ny, None), noon);
    }

    #[test]
    fn state_rules_come_from_the_area_code_or_the_contact() {
        let hours = shipped();
        assert_eq!(hours.state_of("+13055550100", None), Some("FL"));
        assert_eq!(hours.state_of("+12125550100", None), None);
        assert_eq!(hours.state_of("+12125550100", Some("fl")), Some("FL"));
        assert_eq!(hours.state_of("+447700900000", None), None);

        let ny = TimeZone::get("America/New_York").unwrap();
        // 20:30 is fine in New York, not in Florida (8:00 to 20:00).
        let evening = at("2026-12-01T20:30", "America/New_York");
        assert_eq!(hours.next_allowed(evening, &ny, None), evening);
        assert_eq!(
            hours.next_allowed(evening, &ny, Some("FL")),
            at("2026-12-02T08:00", "America/New_York")
        );
    }

    #[test]
    fn a_sunday_rule_applies_on_sundays_only() {
        let hours = shipped();
        let chicago = TimeZone::get("America/Chicago").unwrap();
        // Saturday 2026-12-05 at 22:00 → Sunday opens at noon in Texas.
        let saturday_night = at("2026-12-05T22:00", "America/Chicago");
        assert_eq!(
            hours.next_allowed(saturday_night, &chicago, Some("TX")),
            at("2026-12-06T12:00", "America/Chicago")
        );
        let monday_early = at("2026-12-07T08:30", "America/Chicago");
        assert_eq!(
            hours.next_allowed(monday_early, &chicago, Some("TX")),
            at("2026-12-07T09:00", "America/Chicago")
        );
    }

    #[test]
    fn mistakes_name_the_key() {
        let err = SendingHours::parse("allowed = \"21:00-08:00\"").unwrap_err();
        assert!(err.contains("`allowed`"), "{err}");
        let err = SendingHours::parse(
            "allowed = \"08:00-21:00\"\n[states.FL]\nallowed = \"08:00-20:00\"\nlaw = \"x\"\narea_codes = [\"30\"]\n",
        )
        .unwrap_err();
        assert!(err.contains("states.FL.area_codes"), "{err}");
        let err = SendingHours::parse("allowed = 8").unwrap_err();
        assert!(err.contains("line 1"), "{err}");
    }
}
