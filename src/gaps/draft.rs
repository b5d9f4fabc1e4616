//! An extractive knowledge draft from agents' answers to one group of gaps: the answer
//! most agents agree with becomes the `sms` (fitted to the segment budget) and the
//! body; the customers' own questions go in a section of their own, so the next
//! customer who asks in other words finds the file. Nothing is invented: every
//! sentence is an agent's or a customer's, redacted before it gets here.
//!
//! With a language model configured, [`written`] has it write the answer from the
//! agents' (redacted) answers alone; the extractive draft stays whenever the model
//! fails, finds no answer in them, or writes more than the segment budget.

use std::collections::BTreeMap;

use super::text::{lexical_vectors, plain_words, stem_of, words};
use crate::knowledge::document;
use crate::llm::{LlmClient, Passage};
use crate::sms::segments;

/// Agents' sentences kept in the body besides the chosen answer.
const MORE_SENTENCES: usize = 5;
/// Tags put on a draft.
const TAGS: usize = 4;
/// Words in a draft's file name.
const SLUG_WORDS: usize = 5;
/// Two sentences this similar (word vectors) say the same thing.
const SAME_SENTENCE: f32 = 0.45;

/// A knowledge file, drafted.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    /// The file name without `.md`: lower-case words and `-`.
    pub slug: String,
    pub title: String,
    pub tags: Vec<String>,
    /// The short answer texted to customers, within the segment budget.
    pub sms: String,
    /// The Markdown after the front matter.
    pub body: String,
    /// The answer the body opens with (under the title).
    pub answer: String,
    /// Who wrote the answer.
    pub writer: Writer,
}

/// Who wrote a draft's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writer {
    /// Chosen from the agents' own sentences.
    Extractive,
    /// Written by the language model from the agents' answers.
    Llm,
}

impl Draft {
    /// The file as an operator would write it (front matter, then Markdown).
    pub fn to_markdown(&self) -> String {
        // JSON strings and arrays are YAML flow scalars and sequences: quoting that
        // is always right, whatever the text holds.
        let quote = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into());
        let tags: Vec<String> = self.tags.iter().map(|t| quote(t)).collect();
        format!(
            "---\ntitle: {}\ntags: [{}]\nsms: {}\n---\n{}",
            quote(&self.title),
            tags.join(", "),
            quote(&self.sms),
            self.body
        )
    }

    /// Parses the drafted file as the knowledge base will: a draft that would not
    /// load is never written.
    pub fn check(&self) -> Result<(), String> {
        document::parse(&format!("{}.md", self.slug), &self.to_markdown())
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// Drafts a knowledge file from a group's customer texts (most representative
/// first) and the agents' answers to them; `None` when the agents said nothing
/// usable (only greetings).
pub fn draft(questions: &[String], answers: &[String], max_segments: u32) -> Option<Draft> {
    let cleaned: Vec<String> = answers
        .iter()
        .map(|a| substance(a))
        .filter(|a| !a.is_empty())
        .collect();
    if cleaned.is_empty() || questions.is_empty() {
        return None;
    }
    // The answer closest to all the others: what the team agrees on.
    let vectors = lexical_vectors(&cleaned);
    let agreement = |i: usize| -> f32 {
        vectors
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, v)| dot(&vectors[i], v))
            .sum()
    };
    let chosen = (0..cleaned.len())
        .max_by(|&a, &b| agreement(a).total_cmp(&agreement(b)).then(b.cmp(&a)))
        .unwrap_or(0);
    let answer = &cleaned[chosen];
    let sms = segments::fit(&segments::smart_encode(answer), max_segments).text;

    let title = title_of(&questions[0]);
    let mut body = format!("# {title}\n\n{answer}\n");
    let more = other_sentences(&cleaned, chosen);
    if !more.is_empty() {
        body.push_str("\n## What our team also tells customers\n\n");
        for sentence in more {
            body.push_str(&format!("- {sentence}\n"));
        }
    }
    body.push_str("\n## How customers ask\n\n");
    for question in questions {
        body.push_str(&format!("- {}\n", question.trim()));
    }
    Some(Draft {
        slug: slug_of(&title),
        tags: tags_of(questions),
        title,
        sms,
        body,
        answer: answer.clone(),
        writer: Writer::Extractive,
    })
}

/// The language model's answer to `question` from the agents' `answers` (redacted
/// before they get here; the question is redacted again by the client), written into
/// `draft`; `draft` unchanged when the model fails, says the answers do not answer
/// it, or writes more than `max_segments` segments. The prompt is the operator's
/// `answer.md`: answer only from the passages given.
pub async fn written(
    llm: &LlmClient,
    draft: Draft,
    question: &str,
    answers: &[String],
    max_segments: u32,
    business: &str,
) -> Draft {
    let passages: Vec<Passage> = answers
        .iter()
        .map(|a| substance(a))
        .filter(|a| !a.is_empty())
        .map(|text| Passage {
            title: "What an agent told a customer who asked this".to_string(),
            text,
            url: None,
        })
        .collect();
    let max_chars = (max_segments as usize) * 153;
    let text = match llm
        .answer(question, &passages, &[], max_chars, business)
        .await
    {
        Ok(Some(text)) => segments::smart_encode(text.trim()).into_owned(),
        Ok(None) => {
            tracing::info!(
                "the language model found no answer in the agents' answers; the draft stays extractive"
            );
            return draft;
        }
        Err(e) => {
            tracing::warn!(error = %e, "the language model could not write a draft; it stays extractive");
            return draft;
        }
    };
    let fits = segments::count(&text).segments <= max_segments;
    if text.is_empty() || !fits {
        tracing::warn!(
            chars = text.chars().count(),
            max_segments,
            "the language model's draft is over the segment budget; it stays extractive"
        );
        return draft;
    }
    let lead = format!("# {}\n\n{}\n", draft.title, draft.answer);
    let body = draft
        .body
        .replacen(&lead, &format!("# {}\n\n{text}\n", draft.title), 1);
    Draft {
        sms: text.clone(),
        body,
        answer: text,
        writer: Writer::Llm,
        ..draft
    }
}

/// An agent's text without what is not the answer: greetings, thanks, sign-offs,
/// offers of more help.
fn substance(answer: &str) -> String {
    let kept: Vec<String> = sentences(answer)
        .into_iter()
        .filter_map(|s| {
            let s = strip_salutation(&s);
            let lower = s.to_lowercase();
            let filler = FILLER.iter().any(|f| lower.starts_with(f))
                || words(&s).is_empty()
                || s.starts_with("- [name]");
            (!filler).then_some(s)
        })
        .collect();
    kept.join(" ")
}

/// "Hi [name], yes we do" → "Yes we do".
fn strip_salutation(sentence: &str) -> String {
    let lower = sentence.to_lowercase();
    for greeting in [
        "hi [name],",
        "hello [name],",
        "hey [name],",
        "hi there,",
        "hi,",
        "hello,",
        "hey,",
        "hi [name]",
        "hi there",
    ] {
        if lower.starts_with(greeting) {
            let rest = sentence[greeting.len()..].trim_start();
            let mut chars = rest.chars();
            return match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect(),
                None => String::new(),
            };
        }
    }
    sentence.trim().to_string()
}

const FILLER: &[&str] = &[
    "hi",
    "hello",
    "hey",
    "thanks",
    "thank you",
    "great question",
    "good question",
    "happy to help",
    "glad to help",
    "no problem",
    "you're welcome",
    "youre welcome",
    "let me know",
    "anything else",
    "have a great",
    "have a good",
    "have a nice",
    "hope that helps",
    "hope this helps",
    "sorry for the wait",
    "sorry about the wait",
    "one moment",
    "let me check",
    "checking",
    "- [name]",
    "[name]",
];

fn sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        current.push(c);
        let end = matches!(c, '.' | '!' | '?' | '\n')
            && chars.get(i + 1).is_none_or(|n| n.is_whitespace());
        if end {
            if !current.trim().is_empty() {
                out.push(current.trim().to_string());
            }
            current.clear();
        }
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_string());
    }
    out
}

/// Sentences from the other answers that the chosen one does not already say.
fn other_sentences(answers: &[String], chosen: usize) -> Vec<String> {
    let mut kept: Vec<String> = sentences(&answers[chosen]);
    let base = kept.len();
    for (i, answer) in answers.iter().enumerate() {
        if i == chosen {
            continue;
        }
        for sentence in sentences(answer) {
            let mut all = kept.clone();
            all.push(sentence.clone());
            let vectors = lexical_vectors(&all);
            let last = &vectors[vectors.len() - 1];
            let said = vectors[..vectors.len() - 1]
                .iter()
                .any(|v| dot(v, last) >= SAME_SENTENCE);
            if !said && kept.len() - base < MORE_SENTENCES {
                kept.push(sentence);
            }
        }
    }
    kept.split_off(base)
}

/// The most representative question as a title: "can i bring my dog in??" → "Can I
/// bring my dog in?".
fn title_of(question: &str) -> String {
    let trimmed = question.trim().trim_end_matches(['?', '!', '.', ' ']);
    let words: Vec<String> = trimmed
        .split_whitespace()
        .map(|w| match w {
            "i" => "I".to_string(),
            "im" | "i'm" => "I'm".to_string(),
            _ => w.to_string(),
        })
        .collect();
    let text = words.join(" ");
    let mut chars = text.chars();
    let capitalised: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => "Customer question".to_string(),
    };
    format!("{capitalised}?")
}

fn slug_of(title: &str) -> String {
    let slug: Vec<String> = plain_words(title)
        .into_iter()
        .filter(|w| w.chars().all(|c| c.is_ascii_alphanumeric()))
        .take(SLUG_WORDS)
        .collect();
    if slug.is_empty() {
        "suggested".to_string()
    } else {
        slug.join("-")
    }
}

/// The words customers use most for the topic ("dogs" and "dog" count as one, shown
/// as first written).
fn tags_of(questions: &[String]) -> Vec<String> {
    let mut counts: BTreeMap<String, (usize, usize, String)> = BTreeMap::new();
    let mut order = 0;
    for question in questions {
        let mut seen = std::collections::BTreeSet::new();
        for word in plain_words(question) {
            let stem = stem_of(&word);
            if seen.insert(stem.clone()) {
                order += 1;
                counts.entry(stem).or_insert((0, order, word)).0 += 1;
            }
        }
    }
    let mut ranked: Vec<(usize, usize, String)> = counts.into_values().collect();
    ranked.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    ranked.into_iter().take(TAGS).map(|(_, _, w)| w).collect()
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_answer_agents_agree_on_becomes_the_sms_without_the_greetings() {
        let questions = strings(&[
            "can i bring my dog into the store?",
            "are dogs allowed inside",
        ]);
        let answers = strings(&[
            "Hi [name], yes! Leashed dogs are welcome in all our stores. Have a great day!",
            "Yes, leashed dogs are welcome in every store. Water bowls are by the door.",
            "Thanks for asking! Well-behaved dogs on a leash are welcome in our stores.",
        ]);
        let draft = draft(&questions, &answers, 2).expect("a draft");
        assert_eq!(draft.title, "Can I bring my dog into the store?");
        assert!(!draft.sms.to_lowercase().starts_with("hi"), "{}", draft.sms);
        assert!(draft.sms.contains("dogs are welcome"), "{}", draft.sms);
        assert!(segments::count(&draft.sms).segments <= 2);
        assert!(draft.body.contains("- are dogs allowed inside"));
        assert!(draft.tags.contains(&"dog".to_string()), "{:?}", draft.tags);
        assert_eq!(draft.slug, "bring-dog-into-store");
        draft.check().expect("the draft parses as a knowledge file");
    }

    #[test]
    fn answers_with_nothing_but_pleasantries_draft_nothing() {
        let answers = strings(&["Hi there!", "Thanks, have a great day!"]);
        assert_eq!(draft(&strings(&["dog?"]), &answers, 2), None);
    }

    #[test]
    fn quotes_and_colons_in_texts_keep_the_front_matter_valid() {
        let questions = strings(&["what's \"the\" deal: with --- dogs?"]);
        let answers = strings(&["Dogs: yes, \"leashed\" ones --- always."]);
        draft(&questions, &answers, 2)
            .expect("a draft")
            .check()
            .expect("parses");
    }
}
