//! A support team's opening hours, in the team's own time zone: whether a human is
//! at work now, when the next shift starts, and how to say that to a customer
//! ("tomorrow at 9:00 AM").
//!
//! Pure calculation on epoch milliseconds handed in by the caller (from a
//! [`crate::clock::Clock`]), so tests pin the instant. Reads no clock and no database.
//!
//! Configuration (`[hours]` in textdesk.toml):
//!
//! ```toml
//! [hours]
//! timezone = "America/Denver"          # IANA zone of the support team
//! holidays = ["2026-12-25", "2027-01-01"]
//!
//! [hours.weekly]                       # a day left out is closed
//! mon = "09:00-18:00"
//! tue = "09:00-18:00"
//! wed = "09:00-18:00"
//! thu = "09:00-18:00"
//! fri = "09:00-12:00, 13:00-17:00"     # several ranges, comma-separated
//! sat = "10:00-16:00"
//! ```

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{Timestamp, ToSpan, Zoned};
use serde::Deserialize;

/// How many days ahead [`BusinessHours::next_open`] looks before giving up (a long
/// holiday season still fits; a schedule with no open day at all yields `None`).
const SEARCH_DAYS: i64 = 14;

/// Opening hours as configured. Call [`BusinessHours::validate`] at start; the
/// queries treat a schedule that does not parse as always closed.
#[derive(Deserialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct BusinessHours {
    /// IANA time zone name, e.g. `America/Denver`.
    pub timezone: String,
    /// Open ranges per weekday; a missing day is closed.
    #[serde(default)]
    pub weekly: Weekly,
    /// Closed dates (`YYYY-MM-DD`, in the business zone).
    #[serde(default)]
    pub holidays: Vec<String>,
}

/// Per weekday, `"HH:MM-HH:MM"` ranges separated by commas; `None` is closed.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct Weekly {
    pub mon: Option<String>,
    pub tue: Option<String>,
    pub wed: Option<String>,
    pub thu: Option<String>,
    pub fri: Option<String>,
    pub sat: Option<String>,
    pub sun: Option<String>,
}

impl Weekly {
    fn day(&self, day: Weekday) -> (&'static str, Option<&str>) {
        let (key, value) = match day {
            Weekday::Monday => ("mon", &self.mon),
            Weekday::Tuesday => ("tue", &self.tue),
            Weekday::Wednesday => ("wed", &self.wed),
            Weekday::Thursday => ("thu", &self.thu),
            Weekday::Friday => ("fri", &self.fri),
            Weekday::Saturday => ("sat", &self.sat),
            Weekday::Sunday => ("sun", &self.sun),
        };
        (key, value.as_deref())
    }
}

const WEEK: [Weekday; 7] = [
    Weekday::Monday,
    Weekday::Tuesday,
    Weekday::Wednesday,
    Weekday::Thursday,
    Weekday::Friday,
    Weekday::Saturday,
    Weekday::Sunday,
];

/// One open range of a day, `open <= t < close`, in local wall-clock time.
#[derive(Debug, Clone, Copy)]
struct Range {
    open: Time,
    close: Time,
}

/// The configuration parsed: what the queries work on.
struct Schedule {
    tz: TimeZone,
    /// Indexed by `Weekday::to_monday_zero_offset`, each sorted by opening time.
    days: [Vec<Range>; 7],
    holidays: Vec<Date>,
}

impl BusinessHours {
    /// Checks the zone, every range and every holiday; the message names the key.
    pub fn validate(&self) -> Result<(), String> {
        self.schedule().map(|_| ())
    }

    /// Whether the team is at work at this instant.
    pub fn is_open(&self, now_ms: i64) -> bool {
        let Ok(schedule) = self.schedule() else {
            return false;
        };
        let Some(now) = schedule.local(now_ms) else {
            return false;
        };
        let date = now.date();
        !schedule.holidays.contains(&date)
            && schedule
                .ranges(date.weekday())
                .iter()
                .any(|r| r.open <= now.time() && now.time() < r.close)
    }

    /// Epoch ms of the next opening: `now_ms` itself while open, otherwise the start of
    /// the next open range, skipping closed days and holidays. `None` if nothing opens
    /// within two weeks (or the schedule does not parse).
    pub fn next_open(&self, now_ms: i64) -> Option<i64> {
        if self.is_open(now_ms) {
            return Some(now_ms);
        }
        let schedule = &self.schedule().ok()?;
        let today = schedule.local(now_ms)?.date();
        (0..=SEARCH_DAYS)
            .filter_map(|d| today.checked_add(d.days()).ok())
            .filter(|date| !schedule.holidays.contains(date))
            .flat_map(|date| {
                schedule
                    .ranges(date.weekday())
                    .iter()
                    .filter_map(move |r| schedule.instant(date, r.open))
            })
            .find(|&at| at > now_ms)
    }

    /// The next opening as a customer reads it, in the business zone: "now" while
    /// open, "today at 9:00 AM", "tomorrow at 9:00 AM", "Monday at 10:00 AM" within a
    /// week, "Dec 28 at 9:00 AM" beyond; "as soon as we can" when nothing is scheduled.
    pub fn describe_next_open(&self, now_ms: i64) -> String {
        let fallback = || "as soon as we can".to_string();
        let Some(at) = self.next_open(now_ms) else {
            return fallback();
        };
        if at == now_ms {
            return "now".to_string();
        }
        let Ok(schedule) = self.schedule() else {
            return fallback();
        };
        let (Some(now), Some(then)) = (schedule.local(now_ms), schedule.local(at)) else {
            return fallback();
        };
        let Ok(days) = now.date().until(then.date()) else {
            return fallback();
        };
        let day = match days.get_days() {
            0 => "today".to_string(),
            1 => "tomorrow".to_string(),
            2..=6 => then.strftime("%A").to_string(),
            _ => then.strftime("%b %-d").to_string(),
        };
        format!("{day} at {}", then.strftime("%-I:%M %p"))
    }

    /// The instant at which `business_ms` of open time has passed since `start_ms`:
    /// the due time of a target counted in business hours (a text at Saturday 20:00
    /// with a one-hour target is due Monday 10:00 when Monday opens at 9:00). `None`
    /// when the schedule does not parse or opens too little within a year.
    pub fn deadline(&self, start_ms: i64, business_ms: i64) -> Option<i64> {
        let schedule = self.schedule().ok()?;
        let start = schedule.local(start_ms)?.date();
        let mut remaining = business_ms.max(0);
        for day in 0..=366 {
            let date = start.checked_add(day.days()).ok()?;
            if schedule.holidays.contains(&date) {
                continue;
            }
            for range in schedule.ranges(date.weekday()) {
                let (Some(open), Some(close)) = (
                    schedule.instant(date, range.open),
                    schedule.instant(date, range.close),
                ) else {
                    continue;
                };
                let from = open.max(start_ms);
                if close <= from {
                    continue;
                }
                if remaining <= close - from {
                    return Some(from + remaining);
                }
                remaining -= close - from;
            }
        }
        None
    }

    fn schedule(&self) -> Result<Schedule, String> {
        let tz =
            crate::clock::time_zone(&self.timezone).map_err(|e| format!("hours.timezone: {e}"))?;
        let mut days: [Vec<Range>; 7] = Default::default();
        for day in WEEK {
            let (key, value) = self.weekly.day(day);
            if let Some(text) = value {
                let mut ranges = parse_ranges(text)
                    .map_err(|e| format!("hours.weekly.{key}: {e} in {text:?}"))?;
                ranges.sort_by_key(|r| r.open);
                days[day.to_monday_zero_offset() as usize] = ranges;
            }
        }
        let holidays = self
            .holidays
            .iter()
            .map(|h| {
                Date::strptime("%Y-%m-%d", h)
                    .map_err(|_| format!("hours.holidays: {h:?} is not a YYYY-MM-DD date"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Schedule { tz, days, holidays })
    }
}

impl Schedule {
    fn ranges(&self, day: Weekday) -> &[Range] {
        &self.days[day.to_monday_zero_offset() as usize]
    }

    fn local(&self, ms: i64) -> Option<Zoned> {
        Timestamp::from_millisecond(ms)
            .ok()
            .map(|t| t.to_zoned(self.tz.clone()))
    }

    /// The instant of a local wall-clock time. In the autumn overlap the first
    /// occurrence counts; a time skipped by the spring gap opens when the clocks
    /// resume (02:30 on the change night opens at 03:00).
    ///
    /// Not jiff's "compatible" rule, which would shift a skipped time forward by the
    /// length of the gap (02:30 → 03:30): the opening is the transition itself.
    fn instant(&self, date: Date, time: Time) -> Option<i64> {
        let local = self.tz.to_ambiguous_timestamp(date.to_datetime(time));
        let at = match local.offset() {
            AmbiguousOffset::Unambiguous { .. } | AmbiguousOffset::Fold { .. } => {
                local.earlier().ok()?
            }
            // `earlier` reads the skipped wall time with the offset in force after
            // the gap, an instant just before the change; the change follows it.
            AmbiguousOffset::Gap { .. } => {
                let before = local.earlier().ok()?;
                self.tz.following(before).next()?.timestamp()
            }
        };
        Some(at.as_millisecond())
    }
}

/// `"09:00-12:00, 13:00-18:00"` → ranges; closing must come after opening.
fn parse_ranges(text: &str) -> Result<Vec<Range>, String> {
    text.split(',')
        .map(|part| {
            let part = part.trim();
            let (open, close) = part
                .split_once('-')
                .ok_or_else(|| format!("expected \"HH:MM-HH:MM\", got {part:?}"))?;
            let time = |s: &str| {
                Time::strptime("%H:%M", s.trim())
                    .map_err(|_| format!("{:?} is not a HH:MM time", s.trim()))
            };
            let range = Range {
                open: time(open)?,
                close: time(close)?,
            };
            if range.close <= range.open {
                return Err(format!("{part:?} closes before it opens"));
            }
            Ok(range)
        })
        .collect()
}

/// How long a customer usually waits for a human, in words: "about a minute",
/// "about 5 minutes", "about 20 minutes", "about an hour", "a few hours", "about a day".
pub fn usual_wait_text(minutes: i64) -> String {
    match minutes {
        i64::MIN..=1 => "about a minute".to_string(),
        2..=44 => {
            // Nearest five minutes; never "about 0 minutes".
            let rounded = ((minutes + 2) / 5 * 5).max(5);
            format!("about {rounded} minutes")
        }
        45..=89 => "about an hour".to_string(),
        90..=359 => "a few hours".to_string(),
        360..=2159 => "about a day".to_string(),
        _ => "a few days".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    /// Weekdays 9–18, Saturday 10–16, Sunday closed, Christmas off.
    fn denver() -> BusinessHours {
        toml::from_str(
            r#"
            timezone = "America/Denver"
            holidays = ["2026-12-25"]
            [weekly]
            mon = "09:00-18:00"
            tue = "09:00-18:00"
            wed = "09:00-18:00"
            thu = "09:00-18:00"
            fri = "09:00-18:00"
            sat = "10:00-16:00"
            "#,
        )
        .expect("hours parse")
    }

    #[test]
    fn a_deadline_counts_only_open_time() {
        let hours = denver();
        let hour = 3_600_000;
        // Wednesday 2 Dec 2026, 11:00: an hour later is noon.
        assert_eq!(
            hours.deadline(at(2026, 12, 2, 11, 0), hour),
            Some(at(2026, 12, 2, 12, 0))
        );
        // Wednesday 17:30: half an hour today, half an hour on Thursday morning.
        assert_eq!(
            hours.deadline(at(2026, 12, 2, 17, 30), hour),
            Some(at(2026, 12, 3, 9, 30))
        );
        // Saturday 20:00: Sunday is closed; Monday opens at 9:00.
        assert_eq!(
            hours.deadline(at(2026, 12, 5, 20, 0), hour),
            Some(at(2026, 12, 7, 10, 0))
        );
        // Christmas Eve (Thursday) 17:00 + 2 h: one hour, Christmas off, then Saturday 10–11.
        assert_eq!(
            hours.deadline(at(2026, 12, 24, 17, 0), 2 * hour),
            Some(at(2026, 12, 26, 11, 0))
        );
    }

    /// Epoch ms of a wall-clock time in Denver.
    fn at(y: i16, mo: i8, d: i8, h: i8, mi: i8) -> i64 {
        let denver = TimeZone::get("America/Denver").expect("Denver zone");
        denver
            .to_ambiguous_timestamp(date(y, mo, d).at(h, mi, 0, 0))
            .unambiguous()
            .expect("unambiguous local time")
            .as_millisecond()
    }

    fn utc(y: i16, mo: i8, d: i8, h: i8, mi: i8) -> i64 {
        date(y, mo, d)
            .at(h, mi, 0, 0)
            .to_zoned(TimeZone::UTC)
            .expect("valid UTC time")
            .timestamp()
            .as_millisecond()
    }

    #[test]
    fn a_weekday_inside_hours_is_open_and_outside_is_closed() {
        let hours = denver();
        hours.validate().unwrap();
        // Wednesday 2026-11-18.
        assert!(hours.is_open(at(2026, 11, 18, 9, 0)));
        assert!(hours.is_open(at(2026, 11, 18, 17, 59)));
        assert!(!hours.is_open(at(2026, 11, 18, 8, 59)));
        assert!(!hours.is_open(at(2026, 11, 18, 18, 0)));
        assert_eq!(hours.describe_next_open(at(2026, 11, 18, 12, 0)), "now");
        assert_eq!(
            hours.describe_next_open(at(2026, 11, 18, 7, 30)),
            "today at 9:00 AM"
        );
        assert_eq!(
            hours.describe_next_open(at(2026, 11, 18, 19, 0)),
            "tomorrow at 9:00 AM"
        );
    }

    #[test]
    fn friday_evening_opens_saturday_at_the_weekend_hours() {
        let hours = denver();
        let friday_evening = at(2026, 11, 20, 19, 0);
        assert!(!hours.is_open(friday_evening));
        assert_eq!(
            hours.next_open(friday_evening),
            Some(at(2026, 11, 21, 10, 0))
        );
        assert_eq!(
            hours.describe_next_open(friday_evening),
            "tomorrow at 10:00 AM"
        );
    }

    #[test]
    fn saturday_after_close_skips_the_closed_sunday_to_monday() {
        let hours = denver();
        let saturday_evening = at(2026, 11, 21, 16, 0);
        assert!(!hours.is_open(saturday_evening));
        assert!(!hours.is_open(at(2026, 11, 22, 12, 0)), "Sunday is closed");
        assert_eq!(
            hours.next_open(saturday_evening),
            Some(at(2026, 11, 23, 9, 0))
        );
        assert_eq!(
            hours.describe_next_open(saturday_evening),
            "Monday at 9:00 AM"
        );
    }

    #[test]
    fn a_holiday_is_skipped() {
        let hours = denver();
        // Christmas 2026 is a Friday.
        assert!(!hours.is_open(at(2026, 12, 25, 12, 0)));
        let christmas_eve_evening = at(2026, 12, 24, 19, 0);
        assert_eq!(
            hours.next_open(christmas_eve_evening),
            Some(at(2026, 12, 26, 10, 0))
        );
        assert_eq!(
            hours.describe_next_open(christmas_eve_evening),
            "Saturday at 10:00 AM"
        );
    }

    #[test]
    fn an_opening_more_than_six_days_away_is_named_by_date() {
        let mut hours = denver();
        hours.holidays = (21..=27).map(|d| format!("2026-12-{d}")).collect();
        assert_eq!(
            hours.describe_next_open(at(2026, 12, 20, 12, 0)),
            "Dec 28 at 9:00 AM"
        );
    }

    #[test]
    fn the_spring_dst_change_moves_the_utc_opening_by_an_hour() {
        // Denver springs forward on Sunday 2026-03-08: MST (UTC-7) → MDT (UTC-6).
        let hours = denver();
        let friday_evening = utc(2026, 3, 7, 2, 0); // Fri 19:00 MST
        assert_eq!(
            hours.next_open(friday_evening),
            Some(utc(2026, 3, 7, 17, 0))
        );
        let saturday_evening = utc(2026, 3, 7, 23, 30); // Sat 16:30 MST
        assert_eq!(
            hours.next_open(saturday_evening),
            Some(utc(2026, 3, 9, 15, 0)), // Mon 09:00 MDT
        );
        assert_eq!(
            hours.describe_next_open(saturday_evening),
            "Monday at 9:00 AM"
        );
        assert!(!hours.is_open(utc(2026, 3, 9, 14, 30)), "08:30 MDT");
        assert!(hours.is_open(utc(2026, 3, 9, 15, 30)), "09:30 MDT");
    }

    #[test]
    fn an_opening_inside_the_spring_gap_starts_when_clocks_resume() {
        let mut hours = denver();
        hours.weekly.sun = Some("02:30-05:00".into());
        // Saturday night → Sunday 2026-03-08, where 02:30 does not exist.
        assert_eq!(
            hours.next_open(utc(2026, 3, 8, 0, 0)),
            Some(utc(2026, 3, 8, 9, 0)) // 03:00 MDT
        );
    }

    #[test]
    fn several_ranges_a_day_leave_the_lunch_break_closed() {
        let mut hours = denver();
        hours.weekly.wed = Some("09:00-12:00, 13:00-18:00".into());
        hours.validate().unwrap();
        assert!(!hours.is_open(at(2026, 11, 18, 12, 30)));
        assert_eq!(
            hours.describe_next_open(at(2026, 11, 18, 12, 30)),
            "today at 1:00 PM"
        );
    }

    #[test]
    fn validation_names_the_bad_key() {
        let mut hours = denver();
        hours.timezone = "Mars/Olympus".into();
        assert!(hours.validate().unwrap_err().contains("hours.timezone"));
        assert!(!hours.is_open(at(2026, 11, 18, 12, 0)));

        let mut hours = denver();
        hours.weekly.mon = Some("9am-5pm".into());
        assert!(hours.validate().unwrap_err().contains("hours.weekly.mon"));

        let mut hours = denver();
        hours.weekly.tue = Some("18:00-09:00".into());
        let err = hours.validate().unwrap_err();
        assert!(err.contains("closes before it opens"), "{err}");

        let mut hours = denver();
        hours.holidays.push("12/25/2026".into());
        assert!(hours.validate().unwrap_err().contains("hours.holidays"));

        let unknown = toml::from_str::<BusinessHours>("timezone = \"UTC\"\nopen = true\n");
        assert!(unknown.is_err(), "unknown keys are refused");
    }

    #[test]
    fn a_schedule_with_no_open_day_has_no_next_opening() {
        let hours: BusinessHours = toml::from_str("timezone = \"UTC\"").unwrap();
        assert_eq!(hours.next_open(utc(2026, 11, 18, 12, 0)), None);
        assert_eq!(
            hours.describe_next_open(utc(2026, 11, 18, 12, 0)),
            "as soon as we can"
        );
    }

    #[test]
    fn usual_waits_read_as_rough_words() {
        assert_eq!(usual_wait_text(0), "about a minute");
        assert_eq!(usual_wait_text(3), "about 5 minutes");
        assert_eq!(usual_wait_text(5), "about 5 minutes");
        assert_eq!(usual_wait_text(22), "about 20 minutes");
        assert_eq!(usual_wait_text(50), "about an hour");
        assert_eq!(usual_wait_text(150), "a few hours");
        assert_eq!(usual_wait_text(600), "about a day");
        assert_eq!(usual_wait_text(5000), "a few days");
    }
}
