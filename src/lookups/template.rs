//! The lookup files' templates (minijinja): the request's URL, headers and body, and
//! the replies. Besides minijinja's own filters (`urlencode`, `upper`, `default`, …)
//! they have two for dates an order system returns ("2027-01-10" or an RFC 3339
//! time): `day` ("Jan 10") and `when` ("today", "tomorrow", "on Friday", "on Jan 21"),
//! relative to the business's today.

use minijinja::{Environment, UndefinedBehavior, Value};

/// What a render needs besides the variables: today in the business's zone.
#[derive(Debug, Clone)]
pub struct Today {
    pub date: jiff::civil::Date,
    pub zone: jiff::tz::TimeZone,
}

impl Today {
    pub fn at(now_ms: i64, zone: jiff::tz::TimeZone) -> Self {
        let date = jiff::Timestamp::from_millisecond(now_ms)
            .map(|t| t.to_zoned(zone.clone()).date())
            .unwrap_or_default();
        Self { date, zone }
    }
}

fn environment(today: Today) -> Environment<'static> {
    let mut env = Environment::new();
    // Semi-strict: printing an unknown name is an error (caught at load), while
    // `{% if contact.name %}` may test an attribute a contact does not have.
    env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
    let zone = today.zone.clone();
    env.add_filter("day", move |value: Value| -> String {
        match civil_date(&value, &zone) {
            Some(date) => date.strftime("%b %-d").to_string(),
            None => value.to_string(),
        }
    });
    env.add_filter("when", move |value: Value| -> String {
        let Some(date) = civil_date(&value, &today.zone) else {
            return value.to_string();
        };
        let days = (date - today.date).get_days();
        match days {
            0 => "today".into(),
            1 => "tomorrow".into(),
            -1 => "yesterday".into(),
            2..=6 => date.strftime("on %A").to_string(),
            _ => date.strftime("on %b %-d").to_string(),
        }
    });
    env
}

/// A date from "2027-01-10", "2027-01-10T15:04:05Z" or "2027-01-10T08:00:00-07:00".
fn civil_date(value: &Value, zone: &jiff::tz::TimeZone) -> Option<jiff::civil::Date> {
    let text = value.as_str()?.trim();
    if let Ok(ts) = text.parse::<jiff::Timestamp>() {
        return Some(ts.to_zoned(zone.clone()).date());
    }
    text.get(..10)?.parse::<jiff::civil::Date>().ok()
}

/// Renders `template` over `vars`; unknown variables are errors.
pub fn render(
    template: &str,
    vars: &serde_json::Map<String, serde_json::Value>,
    today: &Today,
) -> Result<String, String> {
    environment(today.clone())
        .render_str(template, serde_json::Value::Object(vars.clone()))
        .map_err(describe)
}

fn describe(e: minijinja::Error) -> String {
    match e.detail() {
        Some(detail) => format!("{e} ({detail})"),
        None => e.to_string(),
    }
}

/// Renders `template` once with sample values for exactly the names it may use, so a
/// misspelt name or a syntax error is found when the file loads.
pub fn check(
    template: &str,
    slots: &[&str],
    reads: &[&str],
    env_vars: &[String],
    answer: bool,
) -> Result<(), String> {
    let mut vars = serde_json::Map::new();
    for name in slots {
        vars.insert((*name).into(), "12345".into());
    }
    for name in reads {
        vars.insert((*name).into(), "2027-01-10".into());
    }
    if !env_vars.is_empty() {
        let env: serde_json::Map<String, serde_json::Value> = env_vars
            .iter()
            .map(|v| (v.clone(), serde_json::Value::from("http://127.0.0.1:9")))
            .collect();
        vars.insert("env".into(), env.into());
    }
    if answer {
        vars.insert("answer".into(), "".into());
    }
    vars.insert("contact".into(), sample_contact());
    vars.insert("business".into(), "Business".into());
    let today = Today::at(0, jiff::tz::TimeZone::UTC);
    let env = environment(today.clone());
    let compiled = env.template_from_str(template).map_err(describe)?;
    let mut unknown: Vec<String> = compiled
        .undeclared_variables(false)
        .into_iter()
        .filter(|name| !vars.contains_key(name) && !GLOBALS.contains(&name.as_str()))
        .collect();
    if !unknown.is_empty() {
        unknown.sort();
        let mut known: Vec<&str> = vars.keys().map(String::as_str).collect();
        known.sort();
        return Err(format!(
            "unknown variable `{}` (this template may use: {})",
            unknown.join("`, `"),
            known.join(", ")
        ));
    }
    render(template, &vars, &today).map(|_| ())
}

/// minijinja's own global functions, which templates may call.
const GLOBALS: &[&str] = &["range", "dict", "namespace", "debug"];

/// The `contact` variable every template may use: the phone and the contact's
/// attributes (`contact.name`, …), any of which may be missing.
fn sample_contact() -> serde_json::Value {
    serde_json::json!({ "phone": "+15555550123" })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> Today {
        // Tuesday 2027-01-12, noon in Denver.
        Today {
            date: jiff::civil::date(2027, 1, 12),
            zone: jiff::tz::TimeZone::get("America/Denver").unwrap(),
        }
    }

    fn vars(pairs: &[(&str, &str)]) -> serde_json::Map<String, serde_json::Value> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    #[test]
    fn dates_read_as_people_say_them() {
        let t = today();
        let v = vars(&[
            ("a", "2027-01-10"),
            ("b", "2027-01-13"),
            ("c", "2027-01-15T20:00:00Z"),
            ("d", "2027-02-01"),
        ]);
        let out = render(
            "{{ a | day }}|{{ b | when }}|{{ c | when }}|{{ d | when }}|{{ a | when }}",
            &v,
            &t,
        )
        .unwrap();
        assert_eq!(out, "Jan 10|tomorrow|on Friday|on Feb 1|on Jan 10");
    }

    #[test]
    fn not_a_date_passes_through() {
        let out = render("{{ a | day }}", &vars(&[("a", "soon")]), &today()).unwrap();
        assert_eq!(out, "soon");
    }

    #[test]
    fn check_names_the_unknown_variable() {
        let err = check("{{ order_numbr }}", &["order_number"], &[], &[], false).unwrap_err();
        assert!(err.contains("`order_numbr`"), "{err}");
        check(
            "{{ order_number | urlencode }} {{ contact.phone }}",
            &["order_number"],
            &[],
            &[],
            false,
        )
        .unwrap();
    }
}
