//! Loading and validating `prompts/lookups/*.toml`: one file per question the bot can
//! answer from the business's own system ("where is order #12345?").
//!
//! ```toml
//! description = "An order's status, from the store's order system"
//! env = ["TEXTDESK_ORDER_API_URL"]     # read at load; unset = lookup off
//!
//! [[slots]]
//! name = "order_number"
//! kind = "order_number"                # order_number, email, phone, zip, date, text
//! ask = "Can you share your order number?"
//!
//! [request]
//! url = "{{ env.TEXTDESK_ORDER_API_URL }}/orders/{{ order_number | urlencode }}"
//!
//! [read]                               # name = JSON pointer into the answer
//! shipped_on = "/shipped_on"
//!
//! [reply]
//! found = "Your order shipped on {{ shipped_on | day }}. Anything else?"
//! not_found = "I couldn't find order {{ order_number }}. Could you check the number?"
//! ```
//!
//! Every template is rendered once at load with sample values, so a misspelt variable
//! is an error naming the file and line, not a broken text to a customer. A lookup
//! whose environment variables are unset is loaded but off: its intent answers from
//! the knowledge base, as it would without the file.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::slots::SlotKind;
use super::template;

#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// `file:line: message`.
    #[error("{path}:{line}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

/// Every lookup, by name (the file stem).
#[derive(Debug, Clone, Default)]
pub struct LookupSet {
    pub lookups: BTreeMap<String, Lookup>,
}

#[derive(Debug, Clone)]
pub struct Lookup {
    pub name: String,
    pub description: String,
    /// What the request needs from the customer, asked for in this order.
    pub slots: Vec<SlotSpec>,
    pub request: Request,
    /// Values read from the JSON answer: template name → JSON pointer.
    pub read: BTreeMap<String, String>,
    pub replies: Replies,
    /// The declared environment variables and their values; `Err` names the ones
    /// that are unset (the lookup is off until they are set).
    pub env: Result<BTreeMap<String, String>, Vec<String>>,
}

#[derive(Debug, Clone)]
pub struct SlotSpec {
    pub name: String,
    pub kind: SlotKind,
    /// The question that asks for it.
    pub ask: String,
    /// The second ask, after a text that did not contain it.
    pub reask: String,
}

#[derive(Debug, Clone)]
pub struct Request {
    pub method: reqwest::Method,
    /// Templates over the slots, `env` and `contact`.
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    pub timeout: Duration,
    /// Answer statuses that mean "no such thing" rather than a failure.
    pub not_found_status: Vec<u16>,
}

#[derive(Debug, Clone)]
pub struct Replies {
    /// Over the slots, the `read` values, `contact` and `business`.
    pub found: String,
    /// Over the slots, `contact` and `business`.
    pub not_found: String,
    /// When the system cannot be reached or answers nonsense; `{{ answer }}` is the
    /// knowledge base's answer to the question (may be empty).
    pub failed: String,
}

impl Lookup {
    /// Whether every environment variable it needs is set.
    pub fn is_on(&self) -> bool {
        self.env.is_ok()
    }

    pub fn slot(&self, name: &str) -> Option<&SlotSpec> {
        self.slots.iter().find(|s| s.name == name)
    }
}

/// The failed text when a file names none: the customer is offered a person first
/// (fitting a long answer to the budget cuts from the end, never this offer).
pub const DEFAULT_FAILED: &str = "I can't check that right now. Reply AGENT and a person will look into it for you. {{ answer }}";

const DEFAULT_TIMEOUT_SECS: f64 = 5.0;
/// A customer is waiting for the reply; a system slower than this is treated as down.
const MAX_TIMEOUT_SECS: f64 = 15.0;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLookup {
    #[serde(default)]
    description: String,
    #[serde(default)]
    env: Vec<Spanned<String>>,
    #[serde(default)]
    slots: Vec<RawSlot>,
    request: RawRequest,
    #[serde(default)]
    read: BTreeMap<String, Spanned<String>>,
    reply: RawReplies,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSlot {
    name: Spanned<String>,
    kind: Spanned<String>,
    ask: Spanned<String>,
    #[serde(default)]
    reask: Option<Spanned<String>>,
    /// A regular expression for the value, instead of the kind's own reader.
    #[serde(default)]
    pattern: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequest {
    #[serde(default)]
    method: Option<Spanned<String>>,
    url: Spanned<String>,
    #[serde(default)]
    headers: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    body: Option<Spanned<String>>,
    #[serde(default)]
    timeout_secs: Option<Spanned<f64>>,
    #[serde(default)]
    not_found_status: Option<Vec<u16>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReplies {
    found: Spanned<String>,
    not_found: Spanned<String>,
    #[serde(default)]
    failed: Option<Spanned<String>>,
}

impl LookupSet {
    /// Loads every `prompts/lookups/*.toml` (no folder means no lookups), reading the
    /// declared environment variables from the process environment.
    pub fn load(prompts_dir: &Path) -> Result<Self, LookupError> {
        Self::load_with_env(prompts_dir, &|name| std::env::var(name).ok())
    }

    /// As [`LookupSet::load`], with the environment given (`textdesk test
    /// conversations` points lookups at its own fake server this way).
    pub fn load_with_env(
        prompts_dir: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, LookupError> {
        let dir = prompts_dir.join("lookups");
        let mut lookups = BTreeMap::new();
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self { lookups }),
            Err(source) => return Err(LookupError::Read { path: dir, source }),
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        paths.sort();
        for path in paths {
            let text = std::fs::read_to_string(&path).map_err(|source| LookupError::Read {
                path: path.clone(),
                source,
            })?;
            let name = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_string();
            let lookup = Lookup::parse(&name, &text, env).map_err(|(line, message)| {
                LookupError::Invalid {
                    path: path.clone(),
                    line,
                    message,
                }
            })?;
            lookups.insert(name, lookup);
        }
        Ok(Self { lookups })
    }

    pub fn get(&self, name: &str) -> Option<&Lookup> {
        self.lookups.get(name)
    }
}

// One reader of byte offsets as lines for every operator file: the flows' own.
use crate::flows::file::{line_of, toml_error_at};

impl Lookup {
    /// Parses and validates one file; the error carries its line.
    pub fn parse(
        name: &str,
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, (usize, String)> {
        let raw: RawLookup = toml::from_str(text).map_err(|e| toml_error_at(text, &e))?;
        let at = |span: std::ops::Range<usize>| line_of(text, span.start);

        let mut slots = Vec::new();
        let mut names = HashSet::new();
        for slot in &raw.slots {
            let slot_name = slot.name.get_ref().trim();
            if !is_identifier(slot_name) {
                return Err((
                    at(slot.name.span()),
                    format!(
                        "slot name {slot_name:?} must be letters, digits and _ (a template variable)"
                    ),
                ));
            }
            if !names.insert(slot_name.to_string()) {
                return Err((
                    at(slot.name.span()),
                    format!("duplicate slot `{slot_name}`"),
                ));
            }
            let pattern = match &slot.pattern {
                Some(p) => Some(regex::Regex::new(p.get_ref()).map_err(|e| {
                    (
                        at(p.span()),
                        format!("`pattern` is not a valid regular expression: {e}"),
                    )
                })?),
                None => None,
            };
            let kind = SlotKind::parse(slot.kind.get_ref(), pattern)
                .map_err(|message| (at(slot.kind.span()), message))?;
            let ask = slot.ask.get_ref().trim().to_string();
            if ask.is_empty() {
                return Err((at(slot.ask.span()), "`ask` must not be empty".into()));
            }
            let reask = slot
                .reask
                .as_ref()
                .map(|r| r.get_ref().trim().to_string())
                .filter(|r| !r.is_empty())
                .unwrap_or_else(|| format!("Sorry, I need {} to look that up. {ask}", kind.noun()));
            slots.push(SlotSpec {
                name: slot_name.to_string(),
                kind,
                ask,
                reask,
            });
        }

        let mut declared = Vec::new();
        for var in &raw.env {
            let var_name = var.get_ref().trim();
            if var_name.is_empty()
                || !var_name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                return Err((
                    at(var.span()),
                    format!("{var_name:?} is not an environment variable name"),
                ));
            }
            declared.push(var_name.to_string());
        }
        let values: BTreeMap<String, Option<String>> = declared
            .iter()
            .map(|v| (v.clone(), env(v).filter(|value| !value.trim().is_empty())))
            .collect();
        let missing: Vec<String> = values
            .iter()
            .filter(|(_, v)| v.is_none())
            .map(|(k, _)| k.clone())
            .collect();
        let env_values = if missing.is_empty() {
            Ok(values
                .into_iter()
                .map(|(k, v)| (k, v.unwrap_or_default()))
                .collect())
        } else {
            Err(missing)
        };

        let mut read = BTreeMap::new();
        for (var, pointer) in &raw.read {
            if !is_identifier(var) {
                return Err((
                    at(pointer.span()),
                    format!("`read` name {var:?} must be letters, digits and _"),
                ));
            }
            let p = pointer.get_ref().trim();
            if !(p.is_empty() || p.starts_with('/')) {
                return Err((
                    at(pointer.span()),
                    format!(
                        "{p:?} is not a JSON pointer: it starts with / (\"/order/status\"), or is \"\" for the whole answer"
                    ),
                ));
            }
            read.insert(var.clone(), p.to_string());
        }

        let method = match &raw.request.method {
            Some(m) => match m.get_ref().trim().to_ascii_uppercase().as_str() {
                "GET" => reqwest::Method::GET,
                "POST" => reqwest::Method::POST,
                "PUT" => reqwest::Method::PUT,
                other => {
                    return Err((
                        at(m.span()),
                        format!("method {other:?}: use GET, POST or PUT"),
                    ));
                }
            },
            None => reqwest::Method::GET,
        };
        let timeout = match &raw.request.timeout_secs {
            Some(t)
                if !(t.get_ref().is_finite()
                    && *t.get_ref() > 0.0
                    && *t.get_ref() <= MAX_TIMEOUT_SECS) =>
            {
                return Err((
                    at(t.span()),
                    format!(
                        "timeout_secs must be above 0 and at most {MAX_TIMEOUT_SECS} (a customer is waiting)"
                    ),
                ));
            }
            Some(t) => Duration::from_secs_f64(*t.get_ref()),
            None => Duration::from_secs_f64(DEFAULT_TIMEOUT_SECS),
        };

        // Templates are checked against exactly the names they may use.
        let slot_names: Vec<&str> = slots.iter().map(|s| s.name.as_str()).collect();
        let read_names: Vec<&str> = read.keys().map(String::as_str).collect();
        let request_check = |t: &Spanned<String>| -> Result<String, (usize, String)> {
            template::check(t.get_ref(), &slot_names, &[], &declared, false)
                .map_err(|e| (at(t.span()), e))?;
            Ok(t.get_ref().clone())
        };
        let url = request_check(&raw.request.url)?;
        let mut headers = Vec::new();
        for (header, value) in &raw.request.headers {
            if reqwest::header::HeaderName::from_bytes(header.as_bytes()).is_err() {
                return Err((at(value.span()), format!("{header:?} is not a header name")));
            }
            headers.push((header.clone(), request_check(value)?));
        }
        let body = raw.request.body.as_ref().map(request_check).transpose()?;

        let reply_check = |t: &Spanned<String>,
                           reads: &[&str],
                           answer: bool|
         -> Result<String, (usize, String)> {
            let trimmed = t.get_ref().trim();
            if trimmed.is_empty() {
                return Err((at(t.span()), "a reply must not be empty".into()));
            }
            template::check(trimmed, &slot_names, reads, &[], answer)
                .map_err(|e| (at(t.span()), e))?;
            Ok(trimmed.to_string())
        };
        let replies = Replies {
            found: reply_check(&raw.reply.found, &read_names, false)?,
            not_found: reply_check(&raw.reply.not_found, &[], false)?,
            failed: match &raw.reply.failed {
                Some(t) => reply_check(t, &[], true)?,
                None => DEFAULT_FAILED.to_string(),
            },
        };

        Ok(Self {
            name: name.to_string(),
            description: raw.description,
            slots,
            request: Request {
                method,
                url,
                headers,
                body,
                timeout,
                not_found_status: raw.request.not_found_status.unwrap_or_else(|| vec![404]),
            },
            read,
            replies,
            env: env_values,
        })
    }
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORDER: &str = r#"
description = "order status"
env = ["ORDER_URL"]

[[slots]]
name = "order_number"
kind = "order_number"
ask = "Can you share your order number?"

[request]
url = "{{ env.ORDER_URL }}/orders/{{ order_number | urlencode }}"

[read]
shipped_on = "/shipped_on"

[reply]
found = "Shipped on {{ shipped_on | day }}."
not_found = "No order {{ order_number }}."
"#;

    fn env_with_url(name: &str) -> Option<String> {
        (name == "ORDER_URL").then(|| "http://127.0.0.1:9".to_string())
    }

    #[test]
    fn a_valid_lookup_loads_and_is_on_when_its_environment_is_set() {
        let lookup = Lookup::parse("order_status", ORDER, &env_with_url).unwrap();
        assert!(lookup.is_on());
        assert_eq!(lookup.slots[0].kind, SlotKind::OrderNumber);
        assert_eq!(lookup.request.not_found_status, vec![404]);
        let off = Lookup::parse("order_status", ORDER, &|_| None).unwrap();
        assert_eq!(off.env, Err(vec!["ORDER_URL".to_string()]));
    }

    #[test]
    fn a_misspelt_variable_is_reported_with_its_line() {
        let text = ORDER.replace("{{ shipped_on | day }}", "{{ shiped_on }}");
        let (line, message) = Lookup::parse("o", &text, &env_with_url).unwrap_err();
        assert_eq!(line, 17, "{message}");
        assert!(message.contains("shiped_on"), "{message}");
    }

    #[test]
    fn an_undeclared_environment_variable_is_an_error() {
        let text = ORDER.replace("env.ORDER_URL", "env.SECRET");
        let (line, message) = Lookup::parse("o", &text, &env_with_url).unwrap_err();
        assert_eq!(line, 11, "{message}");
    }

    #[test]
    fn an_unknown_slot_kind_and_a_bad_pointer_are_errors() {
        let text = ORDER.replace("kind = \"order_number\"", "kind = \"shoe_size\"");
        let (line, message) = Lookup::parse("o", &text, &env_with_url).unwrap_err();
        assert_eq!(line, 7, "{message}");
        assert!(message.contains("order_number"), "{message}");
        let text = ORDER.replace("\"/shipped_on\"", "\"shipped_on\"");
        let (line, _) = Lookup::parse("o", &text, &env_with_url).unwrap_err();
        assert_eq!(line, 14);
    }

    #[test]
    fn the_shipped_lookups_are_valid() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts");
        let set = LookupSet::load_with_env(&dir, &|_| Some("http://127.0.0.1:9".into())).unwrap();
        let order = set.get("order_status").expect("order_status is shipped");
        assert!(order.is_on());
    }
}
