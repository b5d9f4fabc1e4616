//! Intent examples learned from agents: a customer's text that the bot took for one
//! intent and an agent re-labelled (`"intent"` in an agent's feedback) is proposed,
//! redacted, as an example of the right intent. Accepting one adds it to that intent's
//! `examples` in `intents.toml` (the file operators edit; comments and layout are
//! kept), and the prompt watcher retrains the classifier, as after any edit.
//!
//! Nothing is added without an operator's accept; a text that is an example already,
//! or was proposed before, is not proposed again.

use std::path::Path;

use super::suggest::write_new;
use super::{GapsError, SuggestionKind, SuggestionStatus};
use crate::brain::intents::IntentSet;
use crate::store::{Store, SuggestionRow};

/// The file accepted examples go into, in the prompts folder.
pub const INTENTS_FILE: &str = "intents.toml";

/// Proposes each re-labelled text that is not proposed yet; returns the new ones.
pub async fn suggest(
    store: &Store,
    intents: &IntentSet,
    now: i64,
) -> Result<Vec<SuggestionRow>, GapsError> {
    let agents = store.agent_names().await?;
    let mut created = Vec::new();
    for text in store.relabelled_texts().await? {
        // Re-labelled as what the bot said: nothing to learn.
        if text.classified.as_deref() == Some(text.intent.as_str()) {
            continue;
        }
        // An intent removed from the file since.
        let Some(intent) = intents.get(&text.intent) else {
            continue;
        };
        let mut names = text.names.clone();
        names.extend(agents.iter().cloned());
        let example = crate::redact::redact_person(&text.body, &names)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if example.is_empty()
            || intent
                .examples
                .iter()
                .any(|e| e.eq_ignore_ascii_case(&example))
        {
            continue;
        }
        // A "." never occurs in a knowledge draft's name: the two kinds cannot collide.
        let slug = format!("intent-example.{}", text.message_id);
        if let Some(row) = store
            .add_intent_example(&slug, &text.intent, &example, text.conversation_id, now)
            .await?
        {
            created.push(row);
        }
    }
    Ok(created)
}

/// Adds a pending example to its intent in `prompts_dir/intents.toml`, checks that
/// the file still loads, and records the decision. The file is restored when the
/// decision cannot be recorded (another admin decided first).
pub async fn accept(
    store: &Store,
    prompts_dir: &Path,
    row: &SuggestionRow,
    by: (i64, &str),
    now: i64,
) -> Result<SuggestionRow, GapsError> {
    pending_example(row)?;
    let (Some(intent), Some(example)) = (&row.intent, &row.example) else {
        return Err(GapsError::Invalid(format!(
            "suggestion {} has no intent or example",
            row.id
        )));
    };
    let path = prompts_dir.join(INTENTS_FILE);
    let before = std::fs::read_to_string(&path).map_err(|source| GapsError::Write {
        path: path.display().to_string(),
        source,
    })?;
    let after = add_example(&before, intent, example).map_err(GapsError::Intents)?;
    if let Err(problems) = IntentSet::parse(&after) {
        let problems: Vec<String> = problems
            .into_iter()
            .map(|(line, problem)| format!("line {line}: {problem}"))
            .collect();
        return Err(GapsError::Intents(format!(
            "{INTENTS_FILE} would not load with this example ({}); fix the file, then accept again",
            problems.join("; ")
        )));
    }
    write_new(&path, &after)?;
    match store
        .decide_suggestion(
            row.id,
            SuggestionStatus::Accepted,
            Some(INTENTS_FILE),
            by,
            now,
        )
        .await
    {
        Ok(decided) => Ok(decided),
        Err(e) => {
            let _ = write_new(&path, &before);
            Err(e.into())
        }
    }
}

/// Turns a pending example down: the row stays, so the text is not proposed again.
pub async fn reject(
    store: &Store,
    row: &SuggestionRow,
    by: (i64, &str),
    now: i64,
) -> Result<SuggestionRow, GapsError> {
    pending_example(row)?;
    Ok(store
        .decide_suggestion(row.id, SuggestionStatus::Rejected, None, by, now)
        .await?)
}

fn pending_example(row: &SuggestionRow) -> Result<(), GapsError> {
    if row.kind != SuggestionKind::IntentExample {
        return Err(GapsError::Invalid(format!(
            "suggestion {} is not an intent example",
            row.id
        )));
    }
    match row.status {
        SuggestionStatus::Pending => Ok(()),
        status => Err(GapsError::Store(crate::store::StoreError::Conflict(
            format!("suggestion {} was {} already", row.id, status.as_str()),
        ))),
    }
}

/// `intents.toml`'s text with `example` appended to `[intents.<intent>] examples`,
/// laid out like the examples before it; everything else (comments, order, spacing)
/// is left as the operator wrote it. Unchanged when it is an example already.
pub fn add_example(text: &str, intent: &str, example: &str) -> Result<String, String> {
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .map_err(|e| format!("{INTENTS_FILE} does not parse: {e}"))?;
    let examples = doc
        .get_mut("intents")
        .and_then(|t| t.get_mut(intent))
        .and_then(|i| i.get_mut("examples"))
        .and_then(|e| e.as_array_mut())
        .ok_or_else(|| {
            format!("{INTENTS_FILE} has no examples = [...] for intent {intent}; add the list, then accept again")
        })?;
    if examples
        .iter()
        .filter_map(|v| v.as_str())
        .any(|e| e.eq_ignore_ascii_case(example))
    {
        return Ok(text.to_string());
    }
    // On the line of its own the others have, indented as the last one is (only its
    // last line: a comment above it stays where it is).
    let prefix = examples
        .iter()
        .last()
        .and_then(|last| last.decor().prefix())
        .and_then(|p| p.as_str())
        .map(|p| match p.rfind('\n') {
            Some(at) => p[at..].to_string(),
            None => p.to_string(),
        })
        .unwrap_or_else(|| " ".to_string());
    examples.push_formatted(toml_edit::Value::from(example).decorated(prefix, ""));
    Ok(doc.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"# Operators own this file.

[intents.rewards]
description = "Points and membership."
examples = [
  "how many points do i have",
  # members ask about discounts too
  "is there a member discount",
]
action = "answer"

[intents.promotions]
description = "Sales." # the current ones
examples = ["any sales", "coupon codes"]
"#;

    #[test]
    fn an_example_is_added_under_the_others_and_the_rest_stays_as_written() {
        let after = add_example(FILE, "rewards", "can my daughter use my member discount").unwrap();
        let expected = FILE.replace(
            "  \"is there a member discount\",\n",
            "  \"is there a member discount\",\n  \"can my daughter use my member discount\",\n",
        );
        assert_eq!(after, expected);
        // Quotes in a customer's text stay a valid string.
        let quoted = add_example(FILE, "rewards", "my \"member\" price?").unwrap();
        let parsed: toml::Value = toml::from_str(&quoted).unwrap();
        assert_eq!(
            parsed["intents"]["rewards"]["examples"][2].as_str(),
            Some("my \"member\" price?")
        );
        let inline = add_example(FILE, "promotions", "sale on tents?").unwrap();
        assert!(
            inline.contains(r#"examples = ["any sales", "coupon codes", "sale on tents?"]"#),
            "{inline}"
        );
        assert!(inline.contains("description = \"Sales.\" # the current ones"));
    }

    #[test]
    fn an_example_already_there_changes_nothing_and_an_unknown_intent_is_named() {
        assert_eq!(
            add_example(FILE, "rewards", "HOW many points do i have").unwrap(),
            FILE
        );
        let missing = add_example(FILE, "returns", "x").unwrap_err();
        assert!(missing.contains("returns"), "{missing}");
    }
}
