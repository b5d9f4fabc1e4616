//! Time, injected. Behaviour that depends on the time (flood windows, leases, retries,
//! later business hours) asks a [`Clock`], so tests can pin it.
//!
//! Times are Unix epoch milliseconds (`i64`) everywhere inside textdesk; they are
//! turned into calendar times only for display.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

pub trait Clock: Send + Sync {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
}

/// The real wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        jiff::Timestamp::now().as_millisecond()
    }
}

/// A clock that only moves when told to; for tests.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn at(ms: i64) -> Arc<Self> {
        Arc::new(Self(AtomicI64::new(ms)))
    }
    pub fn set(&self, ms: i64) {
        self.0.store(ms, Ordering::SeqCst);
    }
    pub fn advance(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Formats epoch milliseconds as an RFC 3339 UTC time for people and JSON.
pub fn format_ms(ms: i64) -> String {
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(ts) => ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        Err(_) => ms.to_string(),
    }
}

/// Why a time zone name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an IANA time zone name such as \"America/Denver\" or \"UTC\"")]
pub struct UnknownZone(pub String);

/// The IANA time zone called `name` ("America/Denver", "UTC"), from the system's tz
/// database or the copy compiled in. Names that are files of the database without
/// being places ("localtime", "posixrules", "Factory") are refused: they mean
/// whatever the machine is set to, not where the team or the customer is.
pub fn time_zone(name: &str) -> Result<jiff::tz::TimeZone, UnknownZone> {
    let unknown = || UnknownZone(name.to_string());
    let place = name == "UTC"
        || (name.contains('/') && !name.starts_with("posix/") && !name.starts_with("right/"));
    if !place {
        return Err(unknown());
    }
    jiff::tz::TimeZone::get(name).map_err(|_| unknown())
}

/// Epoch ms of a wall-clock time (`"2026-12-08T10:00"`) in the zone `tz`: for tests
/// that pin a clock at a local time.
#[cfg(test)]
pub(crate) fn local_ms(wall: &str, tz: &str) -> i64 {
    let dt: jiff::civil::DateTime = wall.parse().unwrap();
    dt.to_zoned(jiff::tz::TimeZone::get(tz).unwrap())
        .unwrap()
        .timestamp()
        .as_millisecond()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_named_places_are_time_zones() {
        for good in ["America/Denver", "Europe/Berlin", "UTC", "Etc/GMT+5"] {
            assert!(time_zone(good).is_ok(), "{good}");
        }
        for bad in [
            "localtime",
            "posixrules",
            "Factory",
            "EST5EDT",
            "Mars/Olympus",
            "",
        ] {
            assert_eq!(
                time_zone(bad).err(),
                Some(UnknownZone(bad.to_string())),
                "{bad}"
            );
        }
    }
}
