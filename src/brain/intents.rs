//! `prompts/intents.toml`: what customers want, as operators describe it.
//!
//! One table per intent, `[intents.<name>]`, with a `description`, the `examples`
//! customers might text, and what to do about it (`action`): `answer` from the
//! knowledge base (the default), send a fixed `reply`, `escalate` to a human, start
//! a `flow`, or `lookup` the answer in the business's system. `sensitive = true` marks topics (complaints, billing disputes) that always
//! go to a human. The file is validated as a whole; every mistake is reported with the
//! file and line, and a broken edit never replaces the last good set.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

/// The label given to texts that match no intent well enough.
pub const OUT_OF_SCOPE: &str = "out_of_scope";

/// A validated intent name: lower-case letters, digits and underscores.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct IntentName(String);

impl IntentName {
    pub fn parse(name: &str) -> Result<Self, String> {
        let valid = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid {
            return Err(format!(
                "intent name {name:?} must be lower-case letters, digits and '_' (e.g. order_status)"
            ));
        }
        Ok(Self(name.to_string()))
    }
    pub fn out_of_scope() -> Self {
        Self(OUT_OF_SCOPE.to_string())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn is_out_of_scope(&self) -> bool {
        self.0 == OUT_OF_SCOPE
    }
}

impl fmt::Display for IntentName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the bot does once it knows the intent.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum Action {
    /// Retrieve from the knowledge base and compose an answer.
    Answer,
    /// Send this fixed text.
    Reply(String),
    /// Hand the conversation to a human.
    Escalate,
    /// Start the named flow.
    Flow(String),
    /// Look the answer up in the business's system (`prompts/lookups/<name>.toml`),
    /// asking for what it needs first; the knowledge base answers when the lookup is
    /// off or fails.
    Lookup(String),
    /// "That didn't help": try the next best answer to the customer's last question,
    /// once; then hand over.
    Retry,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Intent {
    pub name: IntentName,
    pub description: String,
    pub examples: Vec<String>,
    pub action: Action,
    /// For a fixed `reply`: the text to send instead once the conversation is under
    /// way (the bot or a person already texted in it). A greeting is for the start of
    /// a conversation; "hello??" after an answer wants to know someone is there.
    pub reply_mid_conversation: Option<String>,
    /// For a fixed `reply`: the text for a contact who texted us before, at the start
    /// of a new exchange ("Hi again, Sarah!"), instead of the stranger's greeting.
    pub reply_returning: Option<String>,
    /// Always handled by a human (complaints, billing disputes, legal).
    pub sensitive: bool,
}

/// All intents of one `intents.toml`, in file order.
#[derive(Debug, Clone, Default)]
pub struct IntentSet {
    pub intents: Vec<Intent>,
    /// Texts the bot must not treat as any intent (`[out_of_scope] examples`): the
    /// classifier learns them as a background class, the way Rasa's `out_of_scope`
    /// intent works, so off-topic texts are not forced onto the nearest intent.
    pub out_of_scope_examples: Vec<String>,
    /// Whether the classifier also learns textdesk's built-in off-topic texts
    /// (`[out_of_scope] builtin_background`, default true), so a file with few or
    /// no off-topic examples still refuses the weather and the football scores.
    pub builtin_background: bool,
}

impl Action {
    /// Whether the bot answers it itself from what it knows or looks up (the
    /// intents a clarifying menu may offer).
    pub fn answers(&self) -> bool {
        matches!(self, Action::Answer | Action::Lookup(_))
    }
}

impl IntentSet {
    pub fn get(&self, name: &str) -> Option<&Intent> {
        self.intents.iter().find(|i| i.name.as_str() == name)
    }
    pub fn names(&self) -> impl Iterator<Item = &IntentName> {
        self.intents.iter().map(|i| &i.name)
    }
}

/// Every problem found in the file, each with its line.
#[derive(Debug, thiserror::Error)]
#[error("{}", self.render())]
pub struct IntentsError {
    pub path: PathBuf,
    pub problems: Vec<(usize, String)>,
}

impl IntentsError {
    fn render(&self) -> String {
        self.problems
            .iter()
            .map(|(line, msg)| format!("{}:{line}: {msg}", self.path.display()))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    intents: BTreeMap<String, Spanned<RawIntent>>,
    out_of_scope: Option<RawOutOfScope>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutOfScope {
    #[serde(default)]
    examples: Vec<String>,
    builtin_background: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIntent {
    description: Option<String>,
    examples: Option<Vec<Spanned<String>>>,
    action: Option<Spanned<String>>,
    reply: Option<String>,
    reply_mid_conversation: Option<String>,
    reply_returning: Option<String>,
    flow: Option<String>,
    lookup: Option<String>,
    #[serde(default)]
    sensitive: bool,
}

/// Fewer examples than this cannot teach the classifier anything.
const MIN_EXAMPLES: usize = 2;

impl IntentSet {
    /// Loads `intents.toml` from the prompts directory.
    pub fn load(prompts_dir: &Path) -> Result<Self, IntentsError> {
        let path = prompts_dir.join("intents.toml");
        Self::load_file(&path)
    }

    pub fn load_file(path: &Path) -> Result<Self, IntentsError> {
        let text = std::fs::read_to_string(path).map_err(|e| IntentsError {
            path: path.to_path_buf(),
            problems: vec![(0, format!("cannot read: {e}"))],
        })?;
        Self::parse(&text).map_err(|problems| IntentsError {
            path: path.to_path_buf(),
            problems,
        })
    }

    /// Parses and validates; `Err` lists `(line, problem)` pairs.
    pub fn parse(text: &str) -> Result<Self, Vec<(usize, String)>> {
        // One reader of byte offsets as lines for every operator file: the flows' own.
        let line_of = |offset: usize| crate::flows::file::line_of(text, offset);
        let mut raw: RawFile =
            toml::from_str(text).map_err(|e| vec![crate::flows::file::toml_error_at(text, &e)])?;

        // Keep file order: BTreeMap sorts by name, spans remember where each table was.
        let mut entries: Vec<(String, Spanned<RawIntent>)> =
            std::mem::take(&mut raw.intents).into_iter().collect();
        entries.sort_by_key(|(_, raw)| raw.span().start);

        let mut problems = Vec::new();
        let mut intents = Vec::new();
        let mut seen_examples: HashMap<String, (String, usize)> = HashMap::new();
        for (name, spanned) in entries {
            let line = line_of(spanned.span().start);
            let raw = spanned.into_inner();
            let name = match IntentName::parse(&name) {
                Ok(n) if n.is_out_of_scope() => {
                    problems.push((
                        line,
                        format!("`{OUT_OF_SCOPE}` is reserved for texts that match no intent"),
                    ));
                    continue;
                }
                Ok(n) => n,
                Err(e) => {
                    problems.push((line, e));
                    continue;
                }
            };
            let description = raw.description.unwrap_or_default();
            if description.trim().is_empty() {
                problems.push((line, format!("intent `{name}` needs a `description`")));
            }
            let examples = raw.examples.unwrap_or_default();
            if examples.len() < MIN_EXAMPLES {
                problems.push((
                    line,
                    format!("intent `{name}` needs at least {MIN_EXAMPLES} `examples`"),
                ));
            }
            let mut clean = Vec::with_capacity(examples.len());
            for example in examples {
                let ex_line = line_of(example.span().start);
                let text = example.into_inner().trim().to_string();
                if text.is_empty() {
                    problems.push((ex_line, format!("intent `{name}` has an empty example")));
                    continue;
                }
                let key = text.to_lowercase();
                if let Some((other, other_line)) = seen_examples.get(&key) {
                    problems.push((
                        ex_line,
                        format!("example {text:?} of `{name}` is also an example of `{other}` (line {other_line}); keep it in one intent"),
                    ));
                } else {
                    seen_examples.insert(key, (name.to_string(), ex_line));
                }
                clean.push(text);
            }
            let (action_name, action_line) = match &raw.action {
                Some(a) => (a.get_ref().as_str(), line_of(a.span().start)),
                None => ("answer", line),
            };
            let action = match action_name {
                "answer" => Some(Action::Answer),
                "escalate" => Some(Action::Escalate),
                "retry" => Some(Action::Retry),
                "reply" => match raw.reply.as_deref().map(str::trim) {
                    Some(reply) if !reply.is_empty() => Some(Action::Reply(reply.to_string())),
                    _ => {
                        problems.push((
                            action_line,
                            format!("intent `{name}` has action \"reply\" but no `reply` text"),
                        ));
                        None
                    }
                },
                "flow" => match raw.flow.as_deref().map(str::trim) {
                    Some(flow) if !flow.is_empty() => Some(Action::Flow(flow.to_string())),
                    _ => {
                        problems.push((
                            action_line,
                            format!("intent `{name}` has action \"flow\" but no `flow` name"),
                        ));
                        None
                    }
                },
                "lookup" => match raw.lookup.as_deref().map(str::trim) {
                    Some(lookup) if !lookup.is_empty() => Some(Action::Lookup(lookup.to_string())),
                    _ => {
                        problems.push((
                            action_line,
                            format!("intent `{name}` has action \"lookup\" but no `lookup` name (a file in prompts/lookups/)"),
                        ));
                        None
                    }
                },
                other => {
                    problems.push((
                        action_line,
                        format!("intent `{name}`: unknown action {other:?} (use answer, reply, escalate, flow, lookup or retry)"),
                    ));
                    None
                }
            };
            let variant = |text: &Option<String>| {
                text.as_deref()
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_string)
            };
            let reply_mid_conversation = variant(&raw.reply_mid_conversation);
            let reply_returning = variant(&raw.reply_returning);
            for (key, text) in [
                ("reply_mid_conversation", &reply_mid_conversation),
                ("reply_returning", &reply_returning),
            ] {
                if text.is_some() && !matches!(action, Some(Action::Reply(_))) {
                    problems.push((
                        action_line,
                        format!("intent `{name}` has `{key}` but its action is not \"reply\""),
                    ));
                }
            }
            // Fixed replies are templates over `contact` (phone and attributes) and
            // `business`: checked here, so a misspelt name is this file's error.
            let texts = [
                match &action {
                    Some(Action::Reply(text)) => Some(text),
                    _ => None,
                },
                reply_mid_conversation.as_ref(),
                reply_returning.as_ref(),
            ];
            for text in texts.into_iter().flatten() {
                if let Err(e) = crate::lookups::template::check(text, &[], &[], &[], false) {
                    problems.push((action_line, format!("intent `{name}`: reply {text:?}: {e}")));
                }
            }
            if let Some(action) = action {
                intents.push(Intent {
                    name,
                    description,
                    examples: clean,
                    action,
                    reply_mid_conversation,
                    reply_returning,
                    sensitive: raw.sensitive,
                });
            }
        }
        if intents.is_empty() && problems.is_empty() {
            problems.push((
                1,
                "no intents defined; add at least one [intents.<name>] table".into(),
            ));
        }
        let builtin_background = raw
            .out_of_scope
            .as_ref()
            .and_then(|o| o.builtin_background)
            .unwrap_or(true);
        let out_of_scope_examples = raw
            .out_of_scope
            .map(|o| {
                o.examples
                    .into_iter()
                    .map(|e| e.trim().to_string())
                    .filter(|e| !e.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        if problems.is_empty() {
            Ok(IntentSet {
                intents,
                out_of_scope_examples,
                builtin_background,
            })
        } else {
            Err(problems)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[intents.order_status]
description = "Where is my order"
examples = ["where is my order", "tracking number?"]

[intents.greeting]
description = "Hello"
action = "reply"
reply = "Hi! How can we help?"
examples = ["hi", "hello there"]

[intents.complaint]
description = "Unhappy customer"
action = "escalate"
sensitive = true
examples = ["this is terrible", "worst service ever"]
"#;

    #[test]
    fn the_built_in_background_is_on_unless_turned_off() {
        assert!(IntentSet::parse(GOOD).unwrap().builtin_background);
        let off = format!("{GOOD}\n[out_of_scope]\nbuiltin_background = false\n");
        let set = IntentSet::parse(&off).unwrap();
        assert!(!set.builtin_background);
        assert!(set.out_of_scope_examples.is_empty());
    }

    #[test]
    fn parses_actions_in_file_order() {
        let set = IntentSet::parse(GOOD).unwrap();
        let names: Vec<&str> = set.names().map(|n| n.as_str()).collect();
        assert_eq!(names, ["order_status", "greeting", "complaint"]);
        assert_eq!(
            set.get("greeting").unwrap().action,
            Action::Reply("Hi! How can we help?".into())
        );
        assert!(set.get("complaint").unwrap().sensitive);
        assert_eq!(set.get("order_status").unwrap().action, Action::Answer);
    }

    #[test]
    fn every_problem_is_reported_with_its_line() {
        let text = "[intents.greeting]\ndescription = \"Hello\"\naction = \"reply\"\nexamples = [\"hi\", \"hey\"]\n\n[intents.Bad-Name]\ndescription = \"x\"\nexamples = [\"a\", \"b\"]\n\n[intents.other]\ndescription = \"y\"\nexamples = [\"hi\", \"yo\"]\n";
        let problems = IntentSet::parse(text).unwrap_err();
        assert!(
            problems.contains(&(
                3,
                "intent `greeting` has action \"reply\" but no `reply` text".into()
            )),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|(line, msg)| *line == 6 && msg.contains("Bad-Name")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|(line, msg)| *line == 12 && msg.contains("also an example of `greeting`")),
            "{problems:?}"
        );
    }

    #[test]
    fn a_syntax_error_names_its_line() {
        let problems = IntentSet::parse("[intents.a]\ndescription = \"x\"\nexamples = [\"a\", \n")
            .unwrap_err();
        assert!(problems[0].0 >= 3, "{problems:?}");
    }

    #[test]
    fn out_of_scope_is_reserved() {
        let problems = IntentSet::parse(
            "[intents.out_of_scope]\ndescription = \"x\"\nexamples = [\"a\", \"b\"]\n",
        )
        .unwrap_err();
        assert!(problems[0].1.contains("reserved"));
    }
}
