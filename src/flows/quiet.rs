//! Quiet hours for texts the business starts (a reminder, a follow-up): never at
//! night in the contact's own time zone. The zone is the one stored on the contact,
//! else the one of a North American area code, else the business's.

use jiff::Timestamp;
use jiff::civil::Time;
use jiff::tz::TimeZone;
use serde::Deserialize;

/// `start`–`end` in the contact's local time, e.g. 21:00–08:00 (may wrap midnight).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    pub start: String,
    pub end: String,
}

impl Default for QuietHours {
    fn default() -> Self {
        Self {
            start: "21:00".into(),
            end: "08:00".into(),
        }
    }
}

fn parse_hhmm(s: &str) -> Option<Time> {
    let (h, m) = s.trim().split_once(':')?;
    Time::new(h.parse().ok()?, m.parse().ok()?, 0, 0).ok()
}

impl QuietHours {
    pub fn validate(&self) -> Result<(), String> {
        for (key, value) in [("start", &self.start), ("end", &self.end)] {
            parse_hhmm(value).ok_or_else(|| format!("`{key}` must be HH:MM, got {value:?}"))?;
        }
        Ok(())
    }

    /// The first instant at or after `now_ms` when texting is allowed in `tz`.
    pub fn next_allowed(&self, now_ms: i64, tz: &TimeZone) -> i64 {
        let (Some(start), Some(end), Ok(now)) = (
            parse_hhmm(&self.start),
            parse_hhmm(&self.end),
            Timestamp::from_millisecond(now_ms),
        ) else {
            return now_ms;
        };
        let local = now.to_zoned(tz.clone());
        let t = local.time();
        let quiet = if start <= end {
            t >= start && t < end
        } else {
            t >= start || t < end
        };
        if !quiet {
            return now_ms;
        }
        // The end of this quiet period: today if it is still ahead, else tomorrow.
        let date = if t < end {
            local.date()
        } else {
            local.date().tomorrow().unwrap_or(local.date())
        };
        date.to_datetime(end)
            .to_zoned(tz.clone())
            .map(|z| z.timestamp().as_millisecond())
            .unwrap_or(now_ms)
    }
}

/// Where a contact's time zone comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZoneSource {
    /// Set on the contact by the team.
    Contact,
    /// Guessed from a +1 number's area code.
    AreaCode,
    /// Nothing better known: the business's own.
    Business,
}

impl ZoneSource {
    pub fn as_str(self) -> &'static str {
        match self {
            ZoneSource::Contact => "contact",
            ZoneSource::AreaCode => "area_code",
            ZoneSource::Business => "business",
        }
    }
}

/// The contact's zone: stored, else from the area code, else the business's.
pub fn contact_zone(stored: Option<&str>, phone: &str, business: &TimeZone) -> TimeZone {
    contact_zone_and_source(stored, phone, business).0
}

/// [`contact_zone`], and which of the three it came from.
pub fn contact_zone_and_source(
    stored: Option<&str>,
    phone: &str,
    business: &TimeZone,
) -> (TimeZone, ZoneSource) {
    if let Some(tz) = stored.and_then(|name| crate::clock::time_zone(name).ok()) {
        return (tz, ZoneSource::Contact);
    }
    match area_code_zone(phone).and_then(|name| TimeZone::get(name).ok()) {
        Some(tz) => (tz, ZoneSource::AreaCode),
        None => (business.clone(), ZoneSource::Business),
    }
}

/// The IANA zone of a +1 number's area code, for the common ones.
pub fn area_code_zone(phone: &str) -> Option<&'static str> {
    let digits = phone.strip_prefix("+1")?;
    let code = digits.get(..3)?;
    AREA_CODES
        .iter()
        .find(|(zone_codes, _)| zone_codes.contains(&code))
        .map(|(_, zone)| *zone)
}

/// Area codes by zone. Not exhaustive: an unknown code falls back to the business zone.
const AREA_CODES: &[(&[&str], &str)] = &[
    (
        &[
            "201", "202", "203", "207", "212", "215", "216", "240", "267", "301", "302", "305",
            "313", "315", "404", "407", "410", "412", "413", "434", "443", "470", "508", "516",
            "518", "561", "585", "603", "607", "610", "617", "631", "646", "678", "704", "716",
            "718", "727", "732", "754", "757", "770", "772", "774", "781", "786", "802", "803",
            "804", "813", "845", "857", "860", "862", "908", "914", "917", "919", "929", "954",
            "973", "980",
        ],
        "America/New_York",
    ),
    (
        &[
            "205", "210", "214", "217", "219", "224", "225", "251", "262", "281", "309", "312",
            "314", "316", "318", "319", "320", "331", "346", "361", "402", "405", "409", "414",
            "417", "430", "432", "469", "479", "501", "504", "507", "512", "515", "563", "573",
            "601", "608", "612", "615", "618", "630", "636", "651", "682", "708", "713", "715",
            "731", "737", "763", "773", "779", "815", "816", "830", "832", "847", "901", "903",
            "913", "918", "920", "936", "940", "952", "956", "972", "979",
        ],
        "America/Chicago",
    ),
    (
        &[
            "303", "307", "385", "406", "435", "505", "575", "719", "720", "801", "915", "970",
            "983",
        ],
        "America/Denver",
    ),
    (&["480", "520", "602", "623", "928"], "America/Phoenix"),
    (
        &[
            "206", "209", "213", "253", "310", "323", "360", "408", "415", "425", "503", "509",
            "510", "530", "541", "559", "562", "619", "626", "650", "661", "702", "707", "714",
            "725", "760", "775", "805", "818", "831", "858", "909", "916", "925", "949", "971",
        ],
        "America/Los_Angeles",
    ),
    (&["907"], "America/Anchorage"),
    (&["808"], "Pacific/Honolulu"),
];

#[cfg(test)]
mod tests {
    use super::*;

    use crate::clock::local_ms as at;

    #[test]
    fn area_codes_name_the_contacts_zone() {
        assert_eq!(area_code_zone("+13035550100"), Some("America/Denver"));
        assert_eq!(area_code_zone("+15035550100"), Some("America/Los_Angeles"));
        assert_eq!(area_code_zone("+12125550100"), Some("America/New_York"));
        assert_eq!(area_code_zone("+15555550100"), None);
        assert_eq!(area_code_zone("+447700900000"), None);
    }

    #[test]
    fn a_night_text_waits_for_the_morning_in_the_contacts_zone() {
        let quiet = QuietHours::default();
        let ny = TimeZone::get("America/New_York").unwrap();
        let late = at("2026-12-01T22:30", "America/New_York");
        assert_eq!(
            quiet.next_allowed(late, &ny),
            at("2026-12-02T08:00", "America/New_York")
        );
        let early = at("2026-12-02T06:00", "America/New_York");
        assert_eq!(
            quiet.next_allowed(early, &ny),
            at("2026-12-02T08:00", "America/New_York")
        );
        let day = at("2026-12-02T12:00", "America/New_York");
        assert_eq!(quiet.next_allowed(day, &ny), day);
    }
}
