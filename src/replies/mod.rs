//! Saved replies: the team's ready-made texts, one Markdown file each in
//! `prompts/replies/` (front matter `shortcut`, `title`, `tags`; the body is the text,
//! a minijinja template). An agent types `/` and the shortcut in the inbox to insert
//! one, filled in for the conversation open in front of them.
//!
//! A template may use `contact` (`contact.name`, `contact.phone`, and the contact's
//! attributes by name, each possibly missing), `agent.name`, `slots` (what the customer
//! told the bot this conversation: `slots.order_number`), `hours.open` (whether the
//! team is in now) and `hours.next_open` ("now", "tomorrow at 9:00 AM"). The folder is
//! re-read on every edit; a file that does not load is reported with its file and
//! line, and the last good set keeps serving.

use std::collections::BTreeMap;
use std::path::Path;

use minijinja::{Environment, UndefinedBehavior};
use serde::{Deserialize, Serialize};

use crate::knowledge::document::{FileError, read_text, split_front_matter};

/// The folder under `prompts/`.
pub const FOLDER: &str = "replies";

/// The names a template may use at its top level.
const VARIABLES: &[&str] = &["contact", "agent", "slots", "hours"];

/// One saved reply as the operator wrote it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SavedReply {
    /// What the agent types after `/` (`ship`), unique in the folder.
    pub shortcut: String,
    pub title: String,
    pub tags: Vec<String>,
    /// The text as written, before filling in.
    pub template: String,
    /// The file it comes from, relative to `prompts/replies/`.
    pub file: String,
    #[serde(skip)]
    body_line_offset: usize,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FrontMatter {
    shortcut: Option<String>,
    title: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
}

/// Every saved reply, by shortcut.
#[derive(Debug, Clone, Default)]
pub struct ReplySet {
    pub replies: Vec<SavedReply>,
}

/// What a reply is filled in with.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReplyVars {
    /// `name`, `phone` and the contact's attributes.
    pub contact: BTreeMap<String, String>,
    pub agent: BTreeMap<String, String>,
    pub slots: BTreeMap<String, String>,
    pub hours: Hours,
}

#[derive(Debug, Clone, Serialize)]
pub struct Hours {
    pub open: bool,
    pub next_open: String,
}

impl Default for Hours {
    fn default() -> Self {
        Self {
            open: true,
            next_open: "now".into(),
        }
    }
}

impl ReplySet {
    /// Reads `prompts_dir/replies/*.md`. No folder is no saved replies; one file that
    /// does not load fails the whole set, naming the file and line.
    pub fn load(prompts_dir: &Path) -> Result<Self, FileError> {
        let dir = prompts_dir.join(FOLDER);
        let mut files: Vec<String> = match std::fs::read_dir(&dir) {
            Ok(entries) => entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|name| is_reply_file(name))
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => {
                return Err(FileError {
                    file: FOLDER.into(),
                    line: None,
                    message: format!("cannot read the folder: {e}"),
                });
            }
        };
        files.sort();
        let mut replies: Vec<SavedReply> = Vec::with_capacity(files.len());
        for file in files {
            let reply = parse(&file, &read_text(&dir, &file)?)?;
            if let Some(other) = replies.iter().find(|r| r.shortcut == reply.shortcut) {
                return Err(FileError {
                    file,
                    line: Some(2),
                    message: format!(
                        "shortcut /{} is taken by {}; give one of them another",
                        reply.shortcut, other.file
                    ),
                });
            }
            replies.push(reply);
        }
        replies.sort_by(|a, b| a.shortcut.cmp(&b.shortcut));
        Ok(Self { replies })
    }

    pub fn get(&self, shortcut: &str) -> Option<&SavedReply> {
        let shortcut = shortcut.trim_start_matches('/');
        self.replies.iter().find(|r| r.shortcut == shortcut)
    }
}

/// Whether `name` is a saved-reply file: `*.md` except `README.md` and hidden files.
pub fn is_reply_file(name: &str) -> bool {
    name.ends_with(".md") && !name.eq_ignore_ascii_case("README.md") && !name.starts_with('.')
}

/// Parses one file (`file` is its name, for errors).
pub fn parse(file: &str, text: &str) -> Result<SavedReply, FileError> {
    let (meta, body, offset) = split_front_matter::<FrontMatter>(file, text)?;
    let error = |line: usize, message: String| FileError {
        file: file.to_string(),
        line: Some(line),
        message,
    };
    let stem = file.trim_end_matches(".md");
    let shortcut = meta.shortcut.unwrap_or_else(|| stem.to_string());
    if shortcut.is_empty()
        || !shortcut
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(error(
            2,
            format!(
                "shortcut {shortcut:?}: use letters, digits, '-' and '_' (what an agent types after /)"
            ),
        ));
    }
    let template = body.trim().to_string();
    if template.is_empty() {
        return Err(error(
            offset + 1,
            "the reply has no text after its front matter".into(),
        ));
    }
    // Lines the trim dropped before the text, so template lines map to file lines.
    let blank_lines = body[..body.len() - body.trim_start().len()]
        .matches('\n')
        .count();
    let reply = SavedReply {
        shortcut: shortcut.to_lowercase(),
        title: meta.title.unwrap_or_else(|| stem.replace(['-', '_'], " ")),
        tags: meta.tags,
        template,
        file: file.to_string(),
        body_line_offset: offset + blank_lines,
    };
    check(&reply)?;
    Ok(reply)
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    // Semi-strict: printing an unknown name is an error, while
    // `{% if contact.name %}` may test what a contact does not have.
    env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
    env
}

/// Compiles the template and renders it once with sample values, so a misspelt name
/// or a syntax error is found when the file loads, with its line.
fn check(reply: &SavedReply) -> Result<(), FileError> {
    let env = environment();
    let at = |e: &minijinja::Error| FileError {
        file: reply.file.clone(),
        line: Some(reply.body_line_offset + e.line().unwrap_or(1)),
        message: describe(e),
    };
    let compiled = env.template_from_str(&reply.template).map_err(|e| at(&e))?;
    let mut unknown: Vec<String> = compiled
        .undeclared_variables(false)
        .into_iter()
        .filter(|name| !VARIABLES.contains(&name.as_str()))
        .collect();
    if !unknown.is_empty() {
        unknown.sort();
        // minijinja does not say where a name is used: the first line that has it.
        let line = reply
            .template
            .lines()
            .position(|l| l.contains(unknown[0].as_str()))
            .map_or(1, |i| i + 1);
        return Err(FileError {
            file: reply.file.clone(),
            line: Some(reply.body_line_offset + line),
            message: format!(
                "unknown variable `{}` (a saved reply may use: {})",
                unknown.join("`, `"),
                VARIABLES.join(", ")
            ),
        });
    }
    let sample = ReplyVars {
        contact: BTreeMap::from([("phone".to_string(), "+15555550123".to_string())]),
        agent: BTreeMap::from([("name".to_string(), "Ana".to_string())]),
        ..Default::default()
    };
    compiled.render(&sample).map(|_| ()).map_err(|e| at(&e))
}

/// The reply filled in for one conversation; an error says what is missing.
pub fn render(reply: &SavedReply, vars: &ReplyVars) -> Result<String, String> {
    environment()
        .render_str(&reply.template, vars)
        .map(|text| text.trim().to_string())
        .map_err(|e| describe(&e))
}

fn describe(e: &minijinja::Error) -> String {
    match e.detail() {
        Some(detail) => format!("{} ({detail})", e.kind()),
        None => e.kind().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHIP: &str = "---\nshortcut: ship\ntitle: Shipping times\ntags: [orders]\n---\n\
        Hi {{ contact.name | default(\"there\") }}, {{ agent.name }} here. Orders ship in 1-2 days\
        {% if slots.order_number %}; yours is {{ slots.order_number }}{% endif %}.\n";

    #[test]
    fn a_reply_is_filled_in_for_the_conversation() {
        let reply = parse("ship.md", SHIP).unwrap();
        assert_eq!(reply.shortcut, "ship");
        assert_eq!(reply.title, "Shipping times");
        assert_eq!(reply.tags, ["orders"]);
        let vars = ReplyVars {
            contact: BTreeMap::from([("name".into(), "Dana".into())]),
            agent: BTreeMap::from([("name".into(), "Ana".into())]),
            slots: BTreeMap::from([("order_number".into(), "48213".into())]),
            hours: Hours::default(),
        };
        assert_eq!(
            render(&reply, &vars).unwrap(),
            "Hi Dana, Ana here. Orders ship in 1-2 days; yours is 48213."
        );
        let stranger = ReplyVars {
            agent: vars.agent.clone(),
            ..Default::default()
        };
        assert_eq!(
            render(&reply, &stranger).unwrap(),
            "Hi there, Ana here. Orders ship in 1-2 days."
        );
    }

    #[test]
    fn a_misspelt_variable_names_the_file_and_line() {
        let text = "---\nshortcut: oops\n---\nHello\n{{ agnet.name }}\n";
        let e = parse("oops.md", text).unwrap_err();
        assert_eq!(e.file, "oops.md");
        assert_eq!(e.line, Some(5), "{e}");
        assert!(e.message.contains("agnet"), "{e}");
        let broken = "---\nshortcut: broken\n---\nHello\n{% if x %}\n";
        let e = parse("broken.md", broken).unwrap_err();
        assert_eq!(e.line, Some(5), "{e}");
        let bad = parse("bad.md", "---\nshortcut: a b\n---\nx\n").unwrap_err();
        assert!(bad.message.contains("letters, digits"), "{bad}");
    }

    #[test]
    fn the_shortcut_defaults_to_the_file_name() {
        let reply = parse("hours-today.md", "We are open 9 to 5.").unwrap();
        assert_eq!(reply.shortcut, "hours-today");
        assert_eq!(reply.title, "hours today");
    }
}
