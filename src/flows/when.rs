//! Reading a day and time the way people text them: "Tue", "tomorrow 2pm",
//! "next friday at 10:30", "next week", "12/5", "Dec 5 noon" — in the business
//! time zone, relative to now.

use jiff::ToSpan;
use jiff::civil::{Date, Time, Weekday};

/// A day (and maybe a time of day) read from a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct When {
    pub date: Option<Date>,
    pub time: Option<Time>,
}

impl When {
    /// `2026-12-08` or `2026-12-08 14:00`, as stored in a slot.
    pub fn value(&self) -> String {
        match (self.date, self.time) {
            (Some(d), Some(t)) => format!("{d} {}", t.strftime("%H:%M")),
            (Some(d), None) => d.to_string(),
            (None, Some(t)) => t.strftime("%H:%M").to_string(),
            (None, None) => String::new(),
        }
    }
}

fn weekday_word(w: &str) -> Option<Weekday> {
    Some(match w {
        "mon" | "monday" => Weekday::Monday,
        "tue" | "tues" | "tuesday" => Weekday::Tuesday,
        "wed" | "weds" | "wednesday" => Weekday::Wednesday,
        "thu" | "thur" | "thurs" | "thursday" => Weekday::Thursday,
        "fri" | "friday" => Weekday::Friday,
        "sat" | "saturday" => Weekday::Saturday,
        "sun" | "sunday" => Weekday::Sunday,
        _ => return None,
    })
}

fn month_word(w: &str) -> Option<i8> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let w = w.get(..3)?;
    MONTHS.iter().position(|m| *m == w).map(|i| i as i8 + 1)
}

/// The weekday named in `text`, if any (for `weekday` steps).
pub fn weekday(text: &str) -> Option<Weekday> {
    words(text).iter().find_map(|w| weekday_word(w))
}

fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| c.is_whitespace() || c == ',' || c == '.' || c == '!' || c == '?')
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// A time of day: "2pm", "2 pm", "2:30pm", "14:00", "noon".
pub fn time(text: &str) -> Option<Time> {
    let ws = words(text);
    for (i, w) in ws.iter().enumerate() {
        if w == "noon" || w == "midday" {
            return Time::new(12, 0, 0, 0).ok();
        }
        let (core, suffix) = match w.strip_suffix("am").or_else(|| w.strip_suffix("a.m")) {
            Some(c) => (c, Some(false)),
            None => match w.strip_suffix("pm").or_else(|| w.strip_suffix("p.m")) {
                Some(c) => (c, Some(true)),
                None => (w.as_str(), None),
            },
        };
        let suffix = suffix.or_else(|| match ws.get(i + 1).map(String::as_str) {
            Some("am" | "a.m") => Some(false),
            Some("pm" | "p.m") => Some(true),
            _ => None,
        });
        let (h, m) = match core.split_once(':') {
            Some((h, m)) => (h.parse::<i8>().ok(), m.parse::<i8>().ok()),
            None if suffix.is_some() => (core.parse::<i8>().ok(), Some(0)),
            None => (None, None),
        };
        let (Some(mut h), Some(m)) = (h, m) else {
            continue;
        };
        match suffix {
            Some(pm) if (1..=12).contains(&h) => {
                h %= 12;
                if pm {
                    h += 12;
                }
            }
            Some(_) => continue,
            None => {}
        }
        if let Ok(t) = Time::new(h, m, 0, 0) {
            return Some(t);
        }
    }
    None
}

/// A day relative to `today`: today, tomorrow, a weekday (the next one, today
/// included), "next <weekday>", "next week" (its Monday), "12/5", "Dec 5".
pub fn date(text: &str, today: Date) -> Option<Date> {
    let ws = words(text);
    for (i, w) in ws.iter().enumerate() {
        let after_next = i > 0 && ws[i - 1] == "next";
        match w.as_str() {
            "today" | "tonight" => return Some(today),
            "tomorrow" | "tmrw" | "tmr" | "tomorow" => return today.tomorrow().ok(),
            "week" if after_next => {
                let monday = today - (today.weekday().to_monday_zero_offset() as i64).days();
                return monday.checked_add(7.days()).ok();
            }
            _ => {}
        }
        if let Some(wd) = weekday_word(w) {
            let ahead = (wd.to_monday_zero_offset() - today.weekday().to_monday_zero_offset())
                .rem_euclid(7) as i64;
            let ahead = if after_next && ahead == 0 { 7 } else { ahead };
            return today.checked_add(ahead.days()).ok();
        }
        if let Some((m, d)) = w.split_once('/') {
            let d = d.split('/').next().unwrap_or(d);
            if let (Ok(m), Ok(d)) = (m.parse::<i8>(), d.parse::<i8>()) {
                return upcoming(today, m, d);
            }
        }
        if let Some(m) = month_word(w)
            && let Some(d) = ws.get(i + 1).and_then(|d| {
                d.trim_end_matches(|c: char| c.is_alphabetic())
                    .parse::<i8>()
                    .ok()
            })
        {
            return upcoming(today, m, d);
        }
    }
    None
}

/// Month/day this year, or next year when that date has passed.
fn upcoming(today: Date, month: i8, day: i8) -> Option<Date> {
    let this = Date::new(today.year(), month, day).ok()?;
    if this >= today {
        Some(this)
    } else {
        Date::new(today.year() + 1, month, day).ok()
    }
}

/// A day and maybe a time; `None` when no day is named.
pub fn read(text: &str, today: Date) -> Option<When> {
    let date = date(text, today)?;
    Some(When {
        date: Some(date),
        time: time(text),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Tuesday.
    const TODAY: Date = jiff::civil::date(2026, 12, 1);

    #[test]
    fn days_people_text() {
        let d = |t: &str| date(t, TODAY).map(|d| d.to_string());
        assert_eq!(d("tomorrow").as_deref(), Some("2026-12-02"));
        assert_eq!(d("Tue").as_deref(), Some("2026-12-01"));
        assert_eq!(d("next tue").as_deref(), Some("2026-12-08"));
        assert_eq!(d("friday works").as_deref(), Some("2026-12-04"));
        assert_eq!(d("next week").as_deref(), Some("2026-12-07"));
        assert_eq!(d("12/5").as_deref(), Some("2026-12-05"));
        assert_eq!(d("Jan 3rd").as_deref(), Some("2027-01-03"));
        assert_eq!(d("whenever"), None);
    }

    #[test]
    fn times_people_text() {
        let t = |s: &str| time(s).map(|t| t.strftime("%H:%M").to_string());
        assert_eq!(t("tomorrow 2pm").as_deref(), Some("14:00"));
        assert_eq!(t("at 2:30 pm").as_deref(), Some("14:30"));
        assert_eq!(t("14:00").as_deref(), Some("14:00"));
        assert_eq!(t("noon").as_deref(), Some("12:00"));
        assert_eq!(t("12am").as_deref(), Some("00:00"));
        assert_eq!(t("sometime"), None);
        let when = read("tomorrow 2pm", TODAY).unwrap();
        assert_eq!(when.value(), "2026-12-02 14:00");
    }
}
