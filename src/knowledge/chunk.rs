//! Splitting a [`Document`] into retrievable chunks: one per heading section, long
//! sections split at block (paragraph, list, table) boundaries so that each chunk stays
//! under a token budget (o200k_base). A chunk remembers its heading trail and the
//! lines it came from, so an answer can cite "returns.md:12-18, Returns > How to return".
//!
//! The document's `sms` answer is attached to every chunk of the file: whichever
//! chunk retrieval ranks first, the approved answer travels with it.

use std::ops::Range;

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::document::Document;

/// Default token budget of one chunk.
pub const DEFAULT_TOKEN_BUDGET: usize = 350;

/// One retrievable piece of a knowledge file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chunk {
    /// Path relative to the knowledge directory.
    pub file: String,
    /// Position of the chunk in its file, from 0.
    pub ordinal: usize,
    /// Enclosing headings, outermost first.
    pub headings: Vec<String>,
    /// First and last line of the chunk in the file, 1-based and inclusive.
    pub line_start: usize,
    pub line_end: usize,
    /// The Markdown of the chunk, as written.
    pub text: String,
    /// SHA-256 (hex) of [`Chunk::index_text`]: what is embedded. Equal hashes never need
    /// re-embedding.
    pub hash: String,
    pub title: Option<String>,
    pub url: Option<String>,
    pub sms: Option<String>,
    pub tags: Vec<String>,
}

impl Chunk {
    /// "Returns > How to return".
    pub fn heading_trail(&self) -> String {
        self.headings.join(" > ")
    }

    /// The text that is embedded (BM25 and dense): title and heading trail give a short
    /// section its context.
    pub fn index_text(&self) -> String {
        index_text(self.title.as_deref(), &self.headings, &self.text)
    }
}

fn index_text(title: Option<&str>, headings: &[String], text: &str) -> String {
    let mut context: Vec<&str> = Vec::new();
    if let Some(title) = title {
        context.push(title);
    }
    context.extend(
        headings
            .iter()
            .map(String::as_str)
            .filter(|h| Some(*h) != title),
    );
    if context.is_empty() {
        text.to_string()
    } else {
        format!("{}\n\n{}", context.join(" > "), text)
    }
}

/// Counts o200k_base tokens.
pub fn count_tokens(text: &str) -> usize {
    tiktoken_rs::o200k_base_singleton()
        .encode_ordinary(text)
        .len()
}

/// Splits `doc` into chunks of at most `budget` tokens (a single word longer than the
/// budget is the only exception).
pub fn chunk_document(doc: &Document, budget: usize) -> Vec<Chunk> {
    let budget = budget.max(16);
    let mut pieces: Vec<(Vec<String>, Range<usize>)> = Vec::new();
    for section in sections(&doc.body) {
        for range in split_section(&doc.body, &section.blocks, budget) {
            pieces.push((section.headings.clone(), range));
        }
    }
    let lines = LineIndex::new(&doc.body, doc.body_line_offset);
    let mut chunks: Vec<Chunk> = pieces
        .into_iter()
        .enumerate()
        .map(|(ordinal, (headings, range))| {
            let text = doc.body[range.clone()].to_string();
            let hash = hex(&Sha256::digest(
                index_text(doc.meta.title.as_deref(), &headings, &text).as_bytes(),
            ));
            Chunk {
                file: doc.file.clone(),
                ordinal,
                headings,
                line_start: lines.line_of(range.start),
                line_end: lines.line_of(range.end.saturating_sub(1).max(range.start)),
                text,
                hash,
                title: doc.meta.title.clone(),
                url: doc.meta.url.clone(),
                sms: doc.meta.sms.clone(),
                tags: doc.meta.tags.clone(),
            }
        })
        .collect();
    chunks.extend(summary_chunk(doc, chunks.len()));
    chunks
}

/// The file's `sms` answer as a passage of its own, after the sections. The operator
/// wrote it to answer the file's commonest question in a text, in the words customers
/// use ("Standard shipping is free over $75…"), so it is often the best match for
/// that question while the sections' tables and lists are not: without it, "how much
/// is shipping" found the international file's "Cost and delivery time" section
/// before the domestic table. Its lines are the front matter's.
fn summary_chunk(doc: &Document, ordinal: usize) -> Option<Chunk> {
    let sms = doc
        .meta
        .sms
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())?;
    let hash = hex(&Sha256::digest(
        index_text(doc.meta.title.as_deref(), &[], sms).as_bytes(),
    ));
    Some(Chunk {
        file: doc.file.clone(),
        ordinal,
        headings: Vec::new(),
        line_start: 1,
        line_end: doc.body_line_offset.max(1),
        text: sms.to_string(),
        hash,
        title: doc.meta.title.clone(),
        url: doc.meta.url.clone(),
        sms: doc.meta.sms.clone(),
        tags: doc.meta.tags.clone(),
    })
}

/// A heading section: its trail and the byte ranges of its top-level blocks (the
/// heading itself included).
struct Section {
    headings: Vec<String>,
    blocks: Vec<Range<usize>>,
    /// Whether any block besides the heading holds content.
    has_content: bool,
}

fn sections(body: &str) -> Vec<Section> {
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let mut trail: Vec<(u8, String)> = Vec::new();
    let mut sections = vec![Section {
        headings: Vec::new(),
        blocks: Vec::new(),
        has_content: false,
    }];
    let mut depth = 0usize;
    let mut heading: Option<(u8, String)> = None;
    for (event, range) in Parser::new_ext(body, options).into_offset_iter() {
        match event {
            Event::Start(tag) => {
                if depth == 0 {
                    if let Tag::Heading { level, .. } = &tag {
                        heading = Some((*level as u8, String::new()));
                    }
                    push_block(&mut sections, range.clone(), heading.is_none());
                }
                depth += 1;
            }
            Event::End(end) => {
                depth = depth.saturating_sub(1);
                if depth == 0
                    && matches!(end, TagEnd::Heading(_))
                    && let Some((level, text)) = heading.take()
                {
                    trail.retain(|(l, _)| *l < level);
                    trail.push((level, text.trim().to_string()));
                    let block = sections.last_mut().and_then(|s| s.blocks.pop());
                    sections.push(Section {
                        headings: trail.iter().map(|(_, t)| t.clone()).collect(),
                        blocks: block.into_iter().collect(),
                        has_content: false,
                    });
                }
            }
            Event::Text(text) | Event::Code(text) if heading.is_some() => {
                if let Some((_, h)) = heading.as_mut() {
                    h.push_str(&text);
                }
            }
            // Top-level leaves: a rule, raw HTML, a lone footnote reference.
            _ if depth == 0 => push_block(&mut sections, range, true),
            _ => {}
        }
    }
    sections.retain(|s| s.has_content);
    sections
}

fn push_block(sections: &mut [Section], range: Range<usize>, is_content: bool) {
    if let Some(section) = sections.last_mut() {
        section.blocks.push(range);
        section.has_content |= is_content;
    }
}

/// Groups consecutive blocks into ranges under `budget` tokens; a block over budget is
/// split by lines, and a line over budget by words.
fn split_section(body: &str, blocks: &[Range<usize>], budget: usize) -> Vec<Range<usize>> {
    let mut units: Vec<Range<usize>> = Vec::new();
    for block in blocks {
        let block = trim_range(body, block.clone());
        if block.is_empty() {
            continue;
        }
        if count_tokens(&body[block.clone()]) <= budget {
            units.push(block);
        } else {
            units.extend(split_oversized(body, block, budget));
        }
    }
    let mut out: Vec<Range<usize>> = Vec::new();
    let mut current: Option<Range<usize>> = None;
    for unit in units {
        current = match current {
            Some(open) if count_tokens(&body[open.start..unit.end]) <= budget => {
                Some(open.start..unit.end)
            }
            Some(open) => {
                out.push(open);
                Some(unit)
            }
            None => Some(unit),
        };
    }
    out.extend(current);
    out
}

fn split_oversized(body: &str, block: Range<usize>, budget: usize) -> Vec<Range<usize>> {
    let mut units = Vec::new();
    let mut offset = block.start;
    for line in body[block.clone()].split_inclusive('\n') {
        let range = trim_range(body, offset..offset + line.len());
        offset += line.len();
        if range.is_empty() {
            continue;
        }
        if count_tokens(&body[range.clone()]) <= budget {
            units.push(range);
        } else {
            units.extend(split_words(body, range, budget));
        }
    }
    // Regroup the lines so a long paragraph becomes few chunks, not one per line.
    let mut out: Vec<Range<usize>> = Vec::new();
    for unit in units {
        match out.last_mut() {
            Some(last) if count_tokens(&body[last.start..unit.end]) <= budget => {
                last.end = unit.end
            }
            _ => out.push(unit),
        }
    }
    out
}

fn split_words(body: &str, line: Range<usize>, budget: usize) -> Vec<Range<usize>> {
    let mut out: Vec<Range<usize>> = Vec::new();
    let text = &body[line.clone()];
    let mut start = None::<usize>;
    let mut end = 0usize;
    for (index, word) in text
        .split_inclusive(char::is_whitespace)
        .scan(0usize, |pos, w| {
            let at = *pos;
            *pos += w.len();
            Some((at, w))
        })
    {
        let word_end = index + word.len();
        match start {
            Some(s) if count_tokens(&text[s..word_end]) > budget => {
                out.push(line.start + s..line.start + end);
                start = Some(index);
            }
            None => start = Some(index),
            _ => {}
        }
        end = word_end;
    }
    if let Some(s) = start {
        out.push(line.start + s..line.start + end);
    }
    out.into_iter()
        .map(|r| trim_range(body, r))
        .filter(|r| !r.is_empty())
        .collect()
}

/// Shrinks `range` to exclude leading and trailing whitespace.
fn trim_range(body: &str, range: Range<usize>) -> Range<usize> {
    let text = &body[range.clone()];
    let start = range.start + (text.len() - text.trim_start().len());
    let end = range.end - (text.len() - text.trim_end().len());
    if start >= end {
        start..start
    } else {
        start..end
    }
}

/// Byte offset → 1-based line in the file.
struct LineIndex {
    starts: Vec<usize>,
    offset: usize,
}

impl LineIndex {
    fn new(body: &str, offset: usize) -> Self {
        let starts = std::iter::once(0)
            .chain(body.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self { starts, offset }
    }

    fn line_of(&self, byte: usize) -> usize {
        self.starts.partition_point(|start| *start <= byte) + self.offset
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::document::parse;

    fn chunks(text: &str, budget: usize) -> Vec<Chunk> {
        chunk_document(&parse("returns.md", text).unwrap(), budget)
    }

    #[test]
    fn sections_carry_their_heading_trail_and_file_lines() {
        let text = "---\ntitle: Returns\nsms: Reply RETURN.\n---\n# Returns\n\nWe take returns.\n\n## How to return\n\nPack it.\nShip it.\n\n### Labels\n\nPrint the label.\n\n## Refunds\n\nFive days.\n";
        let c = chunks(text, 350);
        let summary: Vec<(String, usize, usize)> = c
            .iter()
            .map(|c| (c.heading_trail(), c.line_start, c.line_end))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("Returns".to_string(), 5, 7),
                ("Returns > How to return".to_string(), 9, 12),
                ("Returns > How to return > Labels".to_string(), 14, 16),
                ("Returns > Refunds".to_string(), 18, 20),
                // The `sms` answer, a passage of its own, on the front matter's lines.
                (String::new(), 1, 4),
            ]
        );
        assert_eq!(c[4].text, "Reply RETURN.");
        assert_eq!(c[4].ordinal, 4);
        assert!(c[1].text.starts_with("## How to return"));
        assert!(
            c.iter().all(|c| c.sms.as_deref() == Some("Reply RETURN.")),
            "sms travels with every chunk"
        );
        assert_eq!(
            c.iter().map(|c| c.ordinal).collect::<Vec<_>>(),
            vec![0, 1, 2, 3, 4]
        );
    }

    #[test]
    fn text_before_the_first_heading_is_a_chunk_without_trail() {
        let c = chunks("Intro line.\n\n# A\n\nBody.\n", 350);
        assert_eq!(c[0].headings, Vec::<String>::new());
        assert_eq!((c[0].line_start, c[0].line_end), (1, 1));
        assert_eq!(c[1].headings, vec!["A"]);
    }

    #[test]
    fn an_empty_parent_heading_is_kept_in_the_trail_only() {
        let c = chunks("# Billing\n\n## Invoices\n\nSent monthly.\n", 350);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].heading_trail(), "Billing > Invoices");
    }

    #[test]
    fn a_long_section_is_split_on_paragraphs_under_the_budget() {
        let paragraph =
            "Refunds are issued to the original payment method within five business days. "
                .repeat(6);
        let text = format!("# Refunds\n\n{paragraph}\n\n{paragraph}\n\n{paragraph}\n");
        let c = chunks(&text, 120);
        assert!(c.len() >= 3, "{} chunks", c.len());
        for chunk in &c {
            assert!(
                count_tokens(&chunk.text) <= 120,
                "{} tokens",
                count_tokens(&chunk.text)
            );
            assert_eq!(chunk.heading_trail(), "Refunds");
        }
        // Paragraph boundaries: each later chunk starts on its own paragraph line.
        assert_eq!(c[1].line_start, 5);
        assert_eq!(c[2].line_start, 7);
    }

    #[test]
    fn one_huge_paragraph_is_split_by_words() {
        let text = format!("# Terms\n\n{}\n", "word ".repeat(2_000));
        let c = chunks(&text, 100);
        assert!(c.len() > 10);
        assert!(c.iter().all(|c| count_tokens(&c.text) <= 100));
        assert_eq!(c[0].line_start, 1, "the heading leads the first piece");
        assert!(c[1..].iter().all(|c| c.line_start == 3 && c.line_end == 3));
    }

    #[test]
    fn the_hash_changes_with_content_and_context_only() {
        let a = chunks("# A\n\nBody.\n", 350);
        let b = chunks("\n\n# A\n\nBody.\n", 350);
        let c = chunks("# A\n\nBody!\n", 350);
        assert_eq!(
            a[0].hash, b[0].hash,
            "moving a chunk does not change its hash"
        );
        assert_ne!(a[0].line_start, b[0].line_start);
        assert_ne!(a[0].hash, c[0].hash);
    }
}
