//! Retrieval quality over a labelled set: JSON lines `{"text": …, "expected":
//! "knowledge/returns.md"}` (or a list, one file per question the text asks). For
//! each way of searching: recall@1, recall@3 (the expected file is among the first
//! 1 / 3 distinct files returned; see [`answered_at`] for several) and MRR over the
//! first 10.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{Hit, Knowledge, KnowledgeError, SearchMode};

/// Files considered for MRR.
const DEPTH: usize = 10;

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct EvalCase {
    pub text: String,
    pub expected: Expected,
}

/// The file that answers a case, or the files of a text that asks several things
/// ("do you ship to canada and can I return there?"), one per question.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Expected {
    One(String),
    Each(Vec<String>),
}

impl Expected {
    pub fn files(&self) -> &[String] {
        match self {
            Expected::One(file) => std::slice::from_ref(file),
            Expected::Each(files) => files,
        }
    }
}

/// One case under one way of searching: the distinct files found, best first, and
/// where the case was answered (see [`answered_at`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseResult {
    pub text: String,
    pub expected: Vec<String>,
    pub files: Vec<String>,
    pub rank: Option<usize>,
}

/// One way of searching and its scores.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalScore {
    /// `bm25`, `dense`, `hybrid`, or `answered` (what a turn retrieves: the text
    /// classified, then searched with its intent, one ranking per question asked).
    pub label: String,
    pub cases: usize,
    pub recall_at_1: f64,
    pub recall_at_3: f64,
    pub mrr: f64,
    pub results: Vec<CaseResult>,
}

impl EvalScore {
    /// Share of cases answered within the first `k` files.
    pub fn recall_at(&self, k: usize) -> f64 {
        let hit = self
            .results
            .iter()
            .filter(|r| r.rank.is_some_and(|rank| rank < k))
            .count();
        hit as f64 / self.results.len().max(1) as f64
    }
}

/// Reads the cases; a bad line is an error naming its number.
pub fn read_cases(path: &Path) -> Result<Vec<EvalCase>, KnowledgeError> {
    let text = std::fs::read_to_string(path).map_err(|source| KnowledgeError::Io {
        path: path.display().to_string(),
        source,
    })?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| {
            serde_json::from_str(line).map_err(|e| {
                KnowledgeError::Other(format!(
                    "{}:{}: expected {{\"text\", \"expected\"}}: {e}",
                    path.display(),
                    index + 1
                ))
            })
        })
        .collect()
}

/// Whether a hit's `file` (relative to the knowledge directory) is the `expected` one,
/// which may be written relative to the project (`knowledge/returns.md`).
pub fn same_file(file: &str, expected: &str) -> bool {
    let expected = expected.trim_start_matches("./");
    expected == file || expected.ends_with(&format!("/{file}"))
}

/// Scores `mode` over `cases`.
pub async fn evaluate(
    knowledge: &Knowledge,
    cases: &[EvalCase],
    mode: SearchMode,
) -> Result<EvalScore, KnowledgeError> {
    let mut rankings = Vec::with_capacity(cases.len());
    for case in cases {
        rankings.push(knowledge.search(&case.text, DEPTH * 3, mode, &[]).await?);
    }
    Ok(score(&mode.to_string(), cases, &rankings))
}

/// Scores the passages found for each case (`rankings[i]` for `cases[i]`).
pub fn score(label: &str, cases: &[EvalCase], rankings: &[Vec<Hit>]) -> EvalScore {
    let results: Vec<CaseResult> = cases
        .iter()
        .zip(rankings)
        .map(|(case, hits)| {
            let mut files: Vec<String> = Vec::new();
            for hit in hits {
                if !files.contains(&hit.chunk.file) && files.len() < DEPTH {
                    files.push(hit.chunk.file.clone());
                }
            }
            CaseResult {
                text: case.text.clone(),
                expected: case.expected.files().to_vec(),
                rank: answered_at(&files, case.expected.files()),
                files,
            }
        })
        .collect();
    let n = results.len().max(1) as f64;
    let reciprocal: f64 = results
        .iter()
        .filter_map(|r| r.rank)
        .map(|rank| 1.0 / (rank as f64 + 1.0))
        .sum();
    let mut scored = EvalScore {
        label: label.to_string(),
        cases: results.len(),
        recall_at_1: 0.0,
        recall_at_3: 0.0,
        mrr: reciprocal / n,
        results,
    };
    scored.recall_at_1 = scored.recall_at(1);
    scored.recall_at_3 = scored.recall_at(3);
    scored
}

/// Where a case is answered, 0-based: the position of its file among those found, or
/// for a text asking `n` things, the position of the last of its files less `n - 1`
/// (both questions answered by the first two files counts as rank 0, "at 1"). `None`
/// when a file is missing.
pub fn answered_at(found: &[String], expected: &[String]) -> Option<usize> {
    let last = expected
        .iter()
        .map(|e| found.iter().position(|f| same_file(f, e)))
        .collect::<Option<Vec<usize>>>()?
        .into_iter()
        .max()?;
    Some(last.saturating_sub(expected.len().saturating_sub(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_paths_may_include_the_knowledge_dir() {
        assert!(same_file("returns.md", "knowledge/returns.md"));
        assert!(same_file(
            "billing/refunds.md",
            "./knowledge/billing/refunds.md"
        ));
        assert!(same_file("returns.md", "returns.md"));
        assert!(!same_file("returns.md", "knowledge/other-returns.md"));
    }

    #[test]
    fn a_text_asking_two_things_is_answered_when_both_files_lead() {
        let found: Vec<String> = ["a.md", "b.md", "c.md"].map(String::from).to_vec();
        let one = |f: &str| vec![f.to_string()];
        assert_eq!(answered_at(&found, &one("a.md")), Some(0));
        assert_eq!(answered_at(&found, &one("c.md")), Some(2));
        assert_eq!(answered_at(&found, &one("d.md")), None);
        let both = |a: &str, b: &str| vec![a.to_string(), b.to_string()];
        assert_eq!(answered_at(&found, &both("b.md", "a.md")), Some(0));
        assert_eq!(answered_at(&found, &both("a.md", "c.md")), Some(1));
        assert_eq!(answered_at(&found, &both("a.md", "d.md")), None);
    }

    #[test]
    fn expected_is_one_file_or_one_per_question() {
        let one: EvalCase =
            serde_json::from_str(r#"{"text": "t", "expected": "knowledge/a.md"}"#).unwrap();
        assert_eq!(one.expected.files(), ["knowledge/a.md"]);
        let each: EvalCase =
            serde_json::from_str(r#"{"text": "t", "expected": ["a.md", "b.md"]}"#).unwrap();
        assert_eq!(each.expected.files(), ["a.md", "b.md"]);
    }
}
