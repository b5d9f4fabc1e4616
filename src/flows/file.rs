//! Loading and validating `prompts/flows/*.toml`.
//!
//! ```toml
//! description = "Lead qualification for group orders"
//!
//! [[steps]]
//! id = "goal"
//! kind = "choice"
//! text = "What's your main goal? {{ options }}"
//! options = [
//!   { label = "Outfit a team" },
//!   { label = "Corporate gifts", next = "size" },
//! ]
//!
//! [[steps]]
//! id = "done"
//! kind = "end"
//! text = "Thanks! We'll be in touch."
//! ```
//!
//! Every mistake (an unknown key, a duplicate step id, a `next` that names no step, a
//! template that uses an unknown variable) is reported with the file and line; the
//! engine keeps the last good set when an edit breaks one.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::availability::Availability;
use super::quiet::QuietHours;

#[derive(Debug, thiserror::Error)]
pub enum FlowError {
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

/// Every flow, by name (the file stem), and the appointment times they can offer.
#[derive(Debug, Clone, Default)]
pub struct FlowSet {
    pub flows: BTreeMap<String, Flow>,
    pub availability: Availability,
}

#[derive(Debug, Clone)]
pub struct Flow {
    pub name: String,
    pub description: String,
    pub steps: Vec<Step>,
    /// When a flow the business starts may text the contact (their local time).
    pub quiet_hours: QuietHours,
    /// Sent when the customer leaves the flow ("menu", "exit", "never mind").
    pub left: String,
    index: HashMap<String, usize>,
}

#[derive(Debug, Clone)]
pub struct Step {
    pub id: String,
    pub kind: StepKind,
    /// Template: the slots answered so far, `contact`, `business` and `options`.
    pub text: String,
    /// The one re-ask after an answer that does not fit; default: "Sorry, I didn't
    /// catch that." and the step's text again.
    pub reask: Option<String>,
    /// The slot the answer is stored under (default: the step id).
    pub slot: String,
    /// The step after this one; default: the next step in the file.
    pub next: Option<String>,
    pub line: usize,
}

#[derive(Debug, Clone)]
pub enum StepKind {
    /// Numbered options: the digit, the option's words, or a close match.
    Choice(Vec<ChoiceOption>),
    /// YES/NO, each possibly leading somewhere else.
    YesNo {
        yes: Option<String>,
        no: Option<String>,
    },
    /// A day, maybe with a time ("Tue", "tomorrow 2pm", "next week").
    Date,
    /// A time of day ("2pm", "14:30").
    Time,
    /// A day of the week ("Tue", "thursday").
    Weekday,
    Number {
        min: Option<f64>,
        max: Option<f64>,
    },
    Email,
    /// Any non-empty text.
    Text,
    /// Free appointment times from `availability.toml`, numbered. `week_from` names a
    /// slot answered earlier whose value is `this_week` or `next_week`.
    Slot {
        week_from: Option<String>,
        max_offers: usize,
        /// Said when nothing is free, before going to `full_next`.
        full: String,
        full_next: String,
    },
    /// The flow's last text. `book` names a `slot` step whose time is booked.
    End {
        book: Option<String>,
    },
    /// Looks something up in the business's system (`prompts/lookups/<lookup>.toml`)
    /// with the flow's answers (and the conversation's slots) as the lookup's slots;
    /// its reply (found / not found / failed, worded by the lookup file; the step's
    /// `text`, when given, instead of the found reply) is said before the next step,
    /// which may depend on how it ended.
    Lookup {
        lookup: String,
        found: Option<String>,
        not_found: Option<String>,
        failed: Option<String>,
    },
}

#[derive(Debug, Clone)]
pub struct ChoiceOption {
    pub label: String,
    /// Stored in the slot; default: the label.
    pub value: String,
    /// Other ways to say it ("bike", "road bike").
    pub words: Vec<String>,
    pub next: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFlow {
    #[serde(default)]
    description: String,
    #[serde(default)]
    quiet_hours: Option<QuietHours>,
    #[serde(default)]
    left: Option<String>,
    steps: Vec<RawStep>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    id: Spanned<String>,
    kind: Spanned<String>,
    #[serde(default)]
    text: Option<Spanned<String>>,
    #[serde(default)]
    reask: Option<Spanned<String>>,
    #[serde(default)]
    slot: Option<String>,
    #[serde(default)]
    next: Option<Spanned<String>>,
    #[serde(default)]
    options: Vec<RawOption>,
    #[serde(default)]
    yes: Option<Spanned<String>>,
    #[serde(default)]
    no: Option<Spanned<String>>,
    #[serde(default)]
    min: Option<f64>,
    #[serde(default)]
    max: Option<f64>,
    #[serde(default)]
    week_from: Option<String>,
    #[serde(default)]
    max_offers: Option<usize>,
    #[serde(default)]
    full: Option<String>,
    #[serde(default)]
    full_next: Option<Spanned<String>>,
    #[serde(default)]
    book: Option<String>,
    #[serde(default)]
    lookup: Option<Spanned<String>>,
    #[serde(default)]
    found: Option<Spanned<String>>,
    #[serde(default)]
    not_found: Option<Spanned<String>>,
    #[serde(default)]
    failed: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOption {
    label: String,
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    words: Vec<String>,
    #[serde(default)]
    next: Option<Spanned<String>>,
}

const DEFAULT_LEFT: &str =
    "OK, I've stopped that. Text us any time if there's anything else we can help with.";
const DEFAULT_FULL: &str = "Sorry, nothing is open then.";

impl FlowSet {
    /// Loads every `prompts/flows/*.toml` and `prompts/availability.toml` (both
    /// optional: no folder means no flows).
    pub fn load(prompts_dir: &Path) -> Result<Self, FlowError> {
        let availability = Availability::load(prompts_dir)?;
        let dir = prompts_dir.join("flows");
        let mut flows = BTreeMap::new();
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Self {
                    flows,
                    availability,
                });
            }
            Err(source) => return Err(FlowError::Read { path: dir, source }),
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        paths.sort();
        for path in paths {
            let text = std::fs::read_to_string(&path).map_err(|source| FlowError::Read {
                path: path.clone(),
                source,
            })?;
            let name = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_string();
            let flow = Flow::parse(&name, &text).map_err(|(line, message)| FlowError::Invalid {
                path: path.clone(),
                line,
                message,
            })?;
            flows.insert(name, flow);
        }
        Ok(Self {
            flows,
            availability,
        })
    }

    pub fn get(&self, name: &str) -> Option<&Flow> {
        self.flows.get(name)
    }
}

/// The 1-based line of a byte offset.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The line and the message of a TOML syntax error in `text`, for an operator's file.
/// The parser leaves some messages empty (`a=`: a key without a value); the operator
/// still gets a sentence that says what to check.
pub(crate) fn toml_error_at(text: &str, error: &toml::de::Error) -> (usize, String) {
    let line = error.span().map(|s| line_of(text, s.start)).unwrap_or(1);
    let message = error.message().trim();
    let message = if message.is_empty() {
        "not valid TOML here: check that each `key = value` has a value, text is in quotes and brackets are closed".to_string()
    } else {
        message.to_string()
    };
    (line, message)
}

impl Flow {
    /// Parses and validates one file; the error carries its line.
    pub fn parse(name: &str, text: &str) -> Result<Self, (usize, String)> {
        let raw: RawFlow = toml::from_str(text).map_err(|e| toml_error_at(text, &e))?;
        let at = |span: std::ops::Range<usize>| line_of(text, span.start);
        if raw.steps.is_empty() {
            return Err((1, "a flow needs at least one `[[steps]]`".into()));
        }
        let mut index = HashMap::new();
        for (i, step) in raw.steps.iter().enumerate() {
            let id = step.id.get_ref().trim();
            if id.is_empty() || id.contains(char::is_whitespace) {
                return Err((at(step.id.span()), "step `id` must be one word".into()));
            }
            if index.insert(id.to_string(), i).is_some() {
                return Err((at(step.id.span()), format!("duplicate step id `{id}`")));
            }
        }
        let target = |next: &Option<Spanned<String>>| -> Result<Option<String>, (usize, String)> {
            match next {
                None => Ok(None),
                Some(n) if index.contains_key(n.get_ref().trim()) => {
                    Ok(Some(n.get_ref().trim().to_string()))
                }
                Some(n) => Err((
                    at(n.span()),
                    format!("`{}` is not a step of this flow", n.get_ref()),
                )),
            }
        };
        let mut steps = Vec::with_capacity(raw.steps.len());
        for step in &raw.steps {
            let line = at(step.id.span());
            let kind_line = at(step.kind.span());
            let kind = match step.kind.get_ref().as_str() {
                "choice" => {
                    if step.options.len() < 2 {
                        return Err((kind_line, "a choice needs at least two `options`".into()));
                    }
                    let mut options = Vec::new();
                    for o in &step.options {
                        options.push(ChoiceOption {
                            label: o.label.clone(),
                            value: o.value.clone().unwrap_or_else(|| o.label.clone()),
                            words: o.words.clone(),
                            next: target(&o.next)?,
                        });
                    }
                    StepKind::Choice(options)
                }
                "yes_no" => StepKind::YesNo {
                    yes: target(&step.yes)?,
                    no: target(&step.no)?,
                },
                "date" => StepKind::Date,
                "time" => StepKind::Time,
                "weekday" => StepKind::Weekday,
                "number" => StepKind::Number {
                    min: step.min,
                    max: step.max,
                },
                "email" => StepKind::Email,
                "text" => StepKind::Text,
                "slot" => {
                    let full_next = target(&step.full_next)?
                        .unwrap_or_else(|| raw.steps[0].id.get_ref().trim().to_string());
                    if full_next == step.id.get_ref().trim() {
                        return Err((line, "`full_next` must name another step".into()));
                    }
                    StepKind::Slot {
                        week_from: step.week_from.clone(),
                        max_offers: step.max_offers.unwrap_or(3).clamp(1, 9),
                        full: step.full.clone().unwrap_or_else(|| DEFAULT_FULL.into()),
                        full_next,
                    }
                }
                "end" => StepKind::End {
                    book: step.book.clone(),
                },
                "lookup" => {
                    let lookup = step
                        .lookup
                        .as_ref()
                        .map(|l| l.get_ref().trim().to_string())
                        .filter(|l| !l.is_empty())
                        .ok_or((
                            kind_line,
                            "a lookup step needs `lookup` (a file in prompts/lookups/)".to_string(),
                        ))?;
                    if std::ptr::eq(step, &raw.steps[0]) {
                        return Err((
                            kind_line,
                            "a flow cannot start with a lookup step: ask for what it needs first"
                                .into(),
                        ));
                    }
                    StepKind::Lookup {
                        lookup,
                        found: target(&step.found)?,
                        not_found: target(&step.not_found)?,
                        failed: target(&step.failed)?,
                    }
                }
                other => {
                    return Err((
                        kind_line,
                        format!(
                            "unknown step kind {other:?} (use choice, yes_no, date, time, weekday, number, email, text, slot, lookup or end)"
                        ),
                    ));
                }
            };
            let text = match (&step.text, &kind) {
                (Some(text), _) => text.get_ref().clone(),
                (None, StepKind::Lookup { .. }) => String::new(),
                (None, _) => {
                    return Err((
                        line,
                        format!("step `{}` needs a `text`", step.id.get_ref().trim()),
                    ));
                }
            };
            steps.push(Step {
                id: step.id.get_ref().trim().to_string(),
                kind,
                text,
                reask: step.reask.as_ref().map(|r| r.get_ref().clone()),
                slot: step
                    .slot
                    .clone()
                    .unwrap_or_else(|| step.id.get_ref().trim().to_string()),
                next: target(&step.next)?,
                line,
            });
        }
        match steps.last().map(|s| &s.kind) {
            Some(StepKind::End { .. }) => {}
            _ => {
                let line = steps.last().map(|s| s.line).unwrap_or(1);
                return Err((line, "the last step must be `kind = \"end\"`".into()));
            }
        }
        let flow = Flow {
            name: name.to_string(),
            description: raw.description.clone(),
            steps,
            quiet_hours: raw.quiet_hours.clone().unwrap_or_default(),
            left: raw.left.clone().unwrap_or_else(|| DEFAULT_LEFT.into()),
            index,
        };
        flow.validate_references()?;
        flow.quiet_hours
            .validate()
            .map_err(|e| (1, format!("`quiet_hours`: {e}")))?;
        flow.validate_templates(&raw)?;
        Ok(flow)
    }

    fn validate_references(&self) -> Result<(), (usize, String)> {
        let slots: HashSet<&str> = self.steps.iter().map(|s| s.slot.as_str()).collect();
        for step in &self.steps {
            let named = match &step.kind {
                StepKind::Slot {
                    week_from: Some(w), ..
                } => Some(w),
                StepKind::End { book: Some(b) } => Some(b),
                _ => None,
            };
            if let Some(name) = named
                && !slots.contains(name.as_str())
            {
                return Err((step.line, format!("`{name}` is not a slot of this flow")));
            }
            if let StepKind::End { book: Some(b) } = &step.kind
                && !self
                    .steps
                    .iter()
                    .any(|s| &s.slot == b && matches!(s.kind, StepKind::Slot { .. }))
            {
                return Err((
                    step.line,
                    format!("`book = \"{b}\"` must name a `slot` step"),
                ));
            }
        }
        Ok(())
    }

    /// Every text must render with strict undefined, given every slot of the flow.
    fn validate_templates(&self, raw: &RawFlow) -> Result<(), (usize, String)> {
        let mut context = serde_json::Map::new();
        for step in &self.steps {
            context.insert(step.slot.clone(), "x".into());
        }
        let context = serde_json::Value::Object(context);
        for (step, raw) in self.steps.iter().zip(&raw.steps) {
            let texts = [raw.text.as_ref(), raw.reask.as_ref()];
            for text in texts.into_iter().flatten() {
                render(
                    text.get_ref(),
                    &context,
                    "+15555550123",
                    "Business",
                    "1) x 2) y",
                )
                .map_err(|e| (step.line.max(1), format!("step `{}`: {e}", step.id)))?;
            }
        }
        Ok(())
    }

    pub fn step_index(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }

    /// The slot names of the flow, in step order.
    pub fn slot_names(&self) -> Vec<&str> {
        let mut seen = Vec::new();
        for step in &self.steps {
            if !seen.contains(&step.slot.as_str()) {
                seen.push(step.slot.as_str());
            }
        }
        seen
    }
}

/// Renders a step text: slots by name, `contact` (the phone), `business`, `options`.
/// Unknown variables are errors (strict undefined), caught when the file loads.
pub fn render(
    template: &str,
    slots: &serde_json::Value,
    contact: &str,
    business: &str,
    options: &str,
) -> Result<String, String> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    let mut context = match slots {
        serde_json::Value::Object(map) => map.clone(),
        _ => serde_json::Map::new(),
    };
    context.insert("contact".into(), contact.into());
    context.insert("business".into(), business.into());
    context.insert("options".into(), options.into());
    env.render_str(template, serde_json::Value::Object(context))
        .map_err(|e| {
            let mut message = e.to_string();
            if let Some(detail) = e.detail() {
                message = format!("{message} ({detail})");
            }
            message
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_STEPS: &str = r#"
[[steps]]
id = "pick"
kind = "choice"
text = "Pick one: {{ options }}"
options = [{ label = "Red" }, { label = "Blue", next = "done" }]

[[steps]]
id = "done"
kind = "end"
text = "You picked {{ pick }}."
"#;

    #[test]
    fn a_valid_flow_loads() {
        let flow = Flow::parse("colors", TWO_STEPS).unwrap();
        assert_eq!(flow.steps.len(), 2);
        assert_eq!(flow.step_index("done"), Some(1));
    }

    #[test]
    fn a_next_that_names_no_step_is_reported_with_its_line() {
        let text = TWO_STEPS.replace("next = \"done\"", "next = \"dne\"");
        let (line, message) = Flow::parse("colors", &text).unwrap_err();
        assert_eq!(line, 6, "{message}");
        assert!(message.contains("dne"), "{message}");
    }

    #[test]
    fn a_key_without_a_value_gets_a_message_not_an_empty_string() {
        // The TOML parser's own message for this is empty (found by the property test).
        let (line, message) = Flow::parse("broken", "[[steps]]\na=").unwrap_err();
        assert_eq!(line, 2);
        assert!(message.contains("value"), "{message}");
    }

    #[test]
    fn duplicate_step_ids_are_errors() {
        let text = TWO_STEPS.replace("id = \"done\"", "id = \"pick\"");
        let (line, message) = Flow::parse("colors", &text).unwrap_err();
        assert_eq!(line, 9);
        assert!(message.contains("duplicate"), "{message}");
    }

    #[test]
    fn a_template_with_an_unknown_variable_is_an_error() {
        let text = TWO_STEPS.replace("{{ pick }}", "{{ pikc }}");
        let (line, message) = Flow::parse("colors", &text).unwrap_err();
        assert_eq!(line, 9);
        assert!(message.contains("undefined"), "{message}");
    }

    #[test]
    fn unknown_keys_are_errors() {
        let text = TWO_STEPS.replace("kind = \"end\"", "kind = \"end\"\nkinds = 1");
        let (line, message) = Flow::parse("colors", &text).unwrap_err();
        assert_eq!(line, 11, "{message}");
    }

    const WITH_LOOKUP: &str = r#"
[[steps]]
id = "order_number"
kind = "text"
text = "What's your order number?"

[[steps]]
id = "check"
kind = "lookup"
lookup = "order_status"
not_found = "order_number"

[[steps]]
id = "done"
kind = "end"
text = "Anything else?"
"#;

    #[test]
    fn a_lookup_step_names_its_lookup_and_where_each_ending_goes() {
        let flow = Flow::parse("orders", WITH_LOOKUP).unwrap();
        match &flow.steps[1].kind {
            StepKind::Lookup {
                lookup,
                not_found,
                found,
                ..
            } => {
                assert_eq!(lookup, "order_status");
                assert_eq!(not_found.as_deref(), Some("order_number"));
                assert_eq!(found, &None);
            }
            other => panic!("{other:?}"),
        }
        let text = WITH_LOOKUP.replace("lookup = \"order_status\"\n", "");
        let (line, message) = Flow::parse("orders", &text).unwrap_err();
        assert_eq!(line, 9, "{message}");
        assert!(message.contains("needs `lookup`"), "{message}");
        let text = WITH_LOOKUP.replace(
            "lookup = \"order_status\"",
            "lookup = \"order_status\"\ntext = \"Found {{ order_nmber }}\"",
        );
        let (_, message) = Flow::parse("orders", &text).unwrap_err();
        assert!(
            message.contains("undefined"),
            "the found text is checked like any: {message}"
        );
    }

    #[test]
    fn the_shipped_flows_are_valid() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts");
        let set = FlowSet::load(&dir).unwrap();
        for name in ["booking", "damaged_claim", "lead", "order_confirmation"] {
            assert!(set.get(name).is_some(), "{name} is shipped");
        }
        assert!(!set.availability.weekly.is_empty());
    }
}
