//! `prompts/availability.toml`: when appointments can be booked, as weekly start
//! times in the business time zone. The booking flow offers the free ones; a booked
//! time (a row in the database) is never offered again.
//!
//! ```toml
//! timezone = "America/Denver"
//! lead_minutes = 120
//! [weekly]
//! tue = ["10:00", "14:00"]
//! sat = ["09:00", "11:00"]
//! ```

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use serde::Deserialize;

use super::file::{FlowError, line_of, toml_error_at};

#[derive(Debug, Clone, Default)]
pub struct Availability {
    pub timezone: String,
    /// Nothing sooner than this many minutes from now is offered.
    pub lead_minutes: i64,
    /// Start times by weekday (0 = Monday).
    pub weekly: BTreeMap<i8, Vec<Time>>,
}

/// A free time as offered: `key` is stored and booked, `label` is shown.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Offer {
    pub key: String,
    pub label: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAvailability {
    timezone: String,
    #[serde(default)]
    lead_minutes: Option<i64>,
    weekly: BTreeMap<String, Vec<String>>,
}

fn weekday(name: &str) -> Option<Weekday> {
    Some(match name {
        "mon" => Weekday::Monday,
        "tue" => Weekday::Tuesday,
        "wed" => Weekday::Wednesday,
        "thu" => Weekday::Thursday,
        "fri" => Weekday::Friday,
        "sat" => Weekday::Saturday,
        "sun" => Weekday::Sunday,
        _ => return None,
    })
}

/// Which week a customer picked, as stored by the booking flow's first choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Week {
    This,
    Next,
    /// No week asked: the next seven days.
    Any,
}

impl Week {
    pub fn from_slot(value: Option<&str>) -> Self {
        match value {
            Some("this_week") => Week::This,
            Some("next_week") => Week::Next,
            _ => Week::Any,
        }
    }
}

impl Availability {
    /// Reads the file; a missing file means nothing can be booked.
    pub fn load(prompts_dir: &Path) -> Result<Self, FlowError> {
        let path = prompts_dir.join("availability.toml");
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(source) => return Err(FlowError::Read { path, source }),
        };
        Self::parse(&text).map_err(|(line, message)| FlowError::Invalid {
            path,
            line,
            message,
        })
    }

    pub fn parse(text: &str) -> Result<Self, (usize, String)> {
        let raw: RawAvailability = toml::from_str(text).map_err(|e| toml_error_at(text, &e))?;
        let line_with = |needle: &str| {
            text.find(needle)
                .map(|offset| line_of(text, offset))
                .unwrap_or(1)
        };
        crate::clock::time_zone(&raw.timezone)
            .map_err(|e| (line_with("timezone"), format!("timezone: {e}")))?;
        let mut weekly = BTreeMap::new();
        for (day, times) in raw.weekly {
            let line = line_with(&format!("{day} ="));
            let wd = weekday(&day)
                .ok_or_else(|| (line, format!("unknown day `{day}` (use mon, tue, … sun)")))?;
            let mut parsed = Vec::new();
            for t in times {
                let time: Time = t
                    .parse()
                    .map_err(|_| (line, format!("`{day}`: {t:?} is not HH:MM")))?;
                parsed.push(time);
            }
            parsed.sort();
            weekly.insert(wd.to_monday_zero_offset(), parsed);
        }
        Ok(Self {
            timezone: raw.timezone,
            lead_minutes: raw.lead_minutes.unwrap_or(120),
            weekly,
        })
    }

    pub fn zone(&self) -> TimeZone {
        TimeZone::get(&self.timezone).unwrap_or(TimeZone::UTC)
    }

    /// Up to `max` free times in `week`, soonest first.
    pub fn offers(
        &self,
        now_ms: i64,
        week: Week,
        booked: &HashSet<String>,
        max: usize,
    ) -> Vec<Offer> {
        let tz = self.zone();
        let Ok(now) = Timestamp::from_millisecond(now_ms) else {
            return Vec::new();
        };
        let earliest = now.to_zoned(tz.clone()).datetime() + self.lead_minutes.minutes();
        let today = now.to_zoned(tz.clone()).date();
        let monday = |d: Date| d - (d.weekday().to_monday_zero_offset() as i64).days();
        let (from, to) = match week {
            Week::This => (today, monday(today) + 6.days()),
            Week::Next => {
                let start = monday(today) + 7.days();
                (start, start + 6.days())
            }
            Week::Any => (today, today + 6.days()),
        };
        let mut offers = Vec::new();
        let mut day = from;
        while day <= to && offers.len() < max {
            for time in self
                .weekly
                .get(&day.weekday().to_monday_zero_offset())
                .into_iter()
                .flatten()
            {
                let start = day.to_datetime(*time);
                if start < earliest {
                    continue;
                }
                let key = start.strftime("%Y-%m-%dT%H:%M").to_string();
                if booked.contains(&key) {
                    continue;
                }
                offers.push(Offer {
                    label: start.strftime("%a %b %-d, %-I:%M %p").to_string(),
                    key,
                });
                if offers.len() == max {
                    break;
                }
            }
            day = match day.tomorrow() {
                Ok(d) => d,
                Err(_) => break,
            };
        }
        offers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "timezone = \"America/Denver\"\nlead_minutes = 60\n[weekly]\ntue = [\"10:00\", \"14:00\"]\nsat = [\"09:00\"]\n";

    fn denver(s: &str) -> i64 {
        let dt: jiff::civil::DateTime = s.parse().unwrap();
        dt.to_zoned(TimeZone::get("America/Denver").unwrap())
            .unwrap()
            .timestamp()
            .as_millisecond()
    }

    #[test]
    fn offers_skip_the_past_and_booked_times() {
        let a = Availability::parse(FILE).unwrap();
        // Tuesday 2026-12-01 at 11:00: the 10:00 slot has passed.
        let now = denver("2026-12-01T11:00");
        let offers = a.offers(now, Week::This, &HashSet::new(), 3);
        let keys: Vec<&str> = offers.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(keys, ["2026-12-01T14:00", "2026-12-05T09:00"]);
        assert_eq!(offers[0].label, "Tue Dec 1, 2:00 PM");
        let booked: HashSet<String> = ["2026-12-08T10:00".to_string()].into();
        let next = a.offers(now, Week::Next, &booked, 3);
        let keys: Vec<&str> = next.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(keys, ["2026-12-08T14:00", "2026-12-12T09:00"]);
    }

    #[test]
    fn a_bad_day_is_reported_with_its_line() {
        let (line, message) = Availability::parse(&FILE.replace("sat =", "sab =")).unwrap_err();
        assert_eq!(line, 5, "{message}");
    }
}
