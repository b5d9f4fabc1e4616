//! The local composer: turns the best knowledge passage into an SMS reply without a
//! language model.
//!
//! An operator-written `sms` answer always wins — it was written for texting and
//! approved. Otherwise the sentences of the passage that share the most words with the
//! question are kept, in their original order, as many as fit the segment budget. The
//! passage's link is added only when it still fits. The result is smart-encoded and
//! fitted by whole sentences, never cut mid-word.

use std::collections::HashSet;

use unicode_segmentation::UnicodeSegmentation;

use crate::brain::classify::features::tokens;
use crate::sms::segments;

/// A knowledge passage as the composer needs it.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    pub text: &'a str,
    pub sms: Option<&'a str>,
    pub url: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Composed {
    pub text: String,
    /// The operator's `sms` answer was used verbatim (before fitting).
    pub used_sms_answer: bool,
    /// Fitting had to drop sentences.
    pub shortened: bool,
}

/// Words that say nothing about the topic; ignored when matching sentences.
const STOP_WORDS: &[&str] = &[
    "a", "an", "the", "is", "are", "am", "i", "im", "you", "u", "your", "my", "me", "we", "our",
    "it", "its", "to", "of", "in", "on", "for", "and", "or", "do", "does", "can", "could", "how",
    "what", "when", "where", "why", "with", "at", "be", "this", "that", "there", "have", "has",
    "if", "so", "get", "just", "any", "pls", "please",
];

pub fn compose(question: &str, source: Source<'_>, max_segments: u32) -> Composed {
    if let Some(sms) = source.sms.map(str::trim).filter(|s| !s.is_empty()) {
        let fitted = fit(sms, max_segments);
        return Composed {
            shortened: fitted.shortened,
            text: fitted.text,
            used_sms_answer: true,
        };
    }
    let sentences = sentences(&plain_text(source.text));
    let mut chosen = most_relevant(question, &sentences, |t| fits(t, max_segments));
    if chosen.is_empty() {
        // Even the best sentence alone is too long: fit it by words.
        chosen = ranked(question, &sentences).into_iter().take(1).collect();
    }
    let body = join(&sentences, &chosen);
    let with_link = match source.url {
        Some(url) => format!("{body} More: {url}"),
        None => body.clone(),
    };
    let text = if source.url.is_some() && fits(&with_link, max_segments) {
        with_link
    } else {
        body
    };
    let fitted = fit(&text, max_segments);
    Composed {
        text: fitted.text,
        used_sms_answer: false,
        shortened: fitted.shortened || chosen.len() < sentences.len(),
    }
}

/// One answer of several in a text (see [`super::questions`]): the sentences of the
/// file's `sms` answer (the operator's wording, so it still leads), or else of the
/// passage, that share the most words with this `question`, as many as `fits` allows,
/// without the link. `None` when not even one sentence fits: the caller then answers
/// fewer questions rather than cutting one short.
pub fn compose_part(
    question: &str,
    source: Source<'_>,
    fits: impl Fn(&str) -> bool,
) -> Option<String> {
    let text = match source.sms.map(str::trim).filter(|s| !s.is_empty()) {
        Some(sms) => sms.to_string(),
        None => plain_text(source.text),
    };
    let sentences = sentences(&text);
    let chosen = most_relevant(question, &sentences, |t| fits(&segments::smart_encode(t)));
    (!chosen.is_empty()).then(|| segments::smart_encode(&join(&sentences, &chosen)).into_owned())
}

/// The indices, in passage order, of the sentences that share the most content
/// words with `question`, added best first while the joined text still `fits`;
/// none when the best alone does not fit (a lesser sentence is no answer to it).
fn most_relevant(question: &str, sentences: &[String], fits: impl Fn(&str) -> bool) -> Vec<usize> {
    let mut chosen: Vec<usize> = Vec::new();
    for index in ranked(question, sentences) {
        if chosen.is_empty() && !fits(&sentences[index]) {
            return chosen;
        }
        let mut candidate = chosen.clone();
        candidate.push(index);
        candidate.sort_unstable();
        if fits(&join(sentences, &candidate)) {
            chosen = candidate;
        }
    }
    chosen
}

/// Sentence indices, most content words shared with `question` first (prefix-matched
/// so "returning" meets "return"); ties keep the earlier sentence ahead: passages
/// usually lead with the answer.
fn ranked(question: &str, sentences: &[String]) -> Vec<usize> {
    let question_words = content_words(question);
    let mut ranked: Vec<(usize, usize)> = sentences
        .iter()
        .enumerate()
        .map(|(i, s)| (i, overlap(&question_words, &content_words(s))))
        .collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked.into_iter().map(|(i, _)| i).collect()
}

fn fit(text: &str, max_segments: u32) -> segments::Fitted {
    segments::fit(&segments::smart_encode(text), max_segments)
}

fn fits(text: &str, max_segments: u32) -> bool {
    segments::count(&segments::smart_encode(text)).segments <= max_segments
}

fn join(sentences: &[String], indices: &[usize]) -> String {
    indices
        .iter()
        .map(|&i| sentences[i].as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

fn content_words(text: &str) -> HashSet<String> {
    tokens(text)
        .into_iter()
        .filter(|t| !STOP_WORDS.contains(&t.as_str()))
        .map(|t| t.chars().take(5).collect())
        .collect()
}

fn overlap(a: &HashSet<String>, b: &HashSet<String>) -> usize {
    a.intersection(b).count()
}

/// Markdown → plain sentences' worth of text: headings, list markers, emphasis and
/// link syntax removed (link text kept).
pub fn plain_text(markdown: &str) -> String {
    let mut lines = Vec::new();
    for line in markdown.lines() {
        let line = line.trim();
        if line.is_empty()
            || line.starts_with('#')
            || line.starts_with('|')
            || line.starts_with("---")
        {
            continue;
        }
        let line = line.trim_start_matches(['-', '*', '+', '>']).trim_start();
        let line = strip_numbering(line);
        let mut out = String::with_capacity(line.len());
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '*' | '_' | '`' => {}
                '[' => {
                    // [text](url) → text
                    let mut text = String::new();
                    for c in chars.by_ref() {
                        if c == ']' {
                            break;
                        }
                        text.push(c);
                    }
                    if chars.peek() == Some(&'(') {
                        for c in chars.by_ref() {
                            if c == ')' {
                                break;
                            }
                        }
                    }
                    out.push_str(&text);
                }
                _ => out.push(c),
            }
        }
        let out = out.trim().to_string();
        if !out.is_empty() {
            // A list item without a full stop is still a sentence of its own.
            if out.ends_with(['.', '!', '?', ':']) {
                lines.push(out)
            } else {
                lines.push(format!("{out}."))
            }
        }
    }
    lines.join(" ")
}

fn strip_numbering(line: &str) -> &str {
    let digits = line.chars().take_while(char::is_ascii_digit).count();
    if digits > 0 && line[digits..].starts_with(". ") {
        &line[digits + 2..]
    } else {
        line
    }
}

fn sentences(text: &str) -> Vec<String> {
    text.unicode_sentences()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const RETURNS: &str = "## How to return\n\nYou can return unused items within 60 days for a full refund. \
        Summit Club members get 90 days. Start a return at [our returns page](https://x.example/returns) \
        and print the label.\n\n- Items must be unused\n- Keep the tags on\n";

    #[test]
    fn the_operator_sms_answer_wins() {
        let out = compose(
            "can i send shoes back",
            Source {
                text: RETURNS,
                sms: Some("Returns: 60 days, unused, tags on."),
                url: None,
            },
            2,
        );
        assert_eq!(out.text, "Returns: 60 days, unused, tags on.");
        assert!(out.used_sms_answer);
    }

    #[test]
    fn otherwise_the_most_relevant_sentences_are_kept_in_order() {
        let out = compose(
            "how many days do i have to return",
            Source {
                text: RETURNS,
                sms: None,
                url: Some("https://x.example/returns"),
            },
            1,
        );
        assert!(
            out.text
                .starts_with("You can return unused items within 60 days"),
            "{}",
            out.text
        );
        assert!(segments::count(&out.text).segments <= 1);
        assert!(!out.text.contains("##") && !out.text.contains("]("));
    }

    #[test]
    fn the_link_is_added_when_it_fits() {
        let out = compose(
            "return",
            Source {
                text: "Returns are free.",
                sms: None,
                url: Some("https://x.example/r"),
            },
            1,
        );
        assert_eq!(out.text, "Returns are free. More: https://x.example/r");
    }

    #[test]
    fn markdown_becomes_plain_sentences() {
        assert_eq!(
            plain_text("# T\n- **Bold** item\n1. Step one\nSee [here](http://a)."),
            "Bold item. Step one. See here."
        );
    }
}
