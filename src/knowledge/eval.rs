//! Retrieval quality over a labelled set: JSON lines `{"text": …, "expected":
//! "knowledge/returns.md"}`. For each search mode: recall@1, recall@3 (the expected
//! file is among the first 1 / 3 distinct files returned) and MRR over the first 10.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{Knowledge, KnowledgeError, SearchMode};

/// Files considered for MRR.
const DEPTH: usize = 10;

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct EvalCase {
    pub text: String,
    pub expected: String,
}

/// One mode's scores.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalScore {
    pub mode: SearchMode,
    pub cases: usize,
    pub recall_at_1: f64,
    pub recall_at_3: f64,
    pub mrr: f64,
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
    let (mut at_1, mut at_3, mut reciprocal) = (0usize, 0usize, 0f64);
    for case in cases {
        let hits = knowledge.search(&case.text, DEPTH * 3, mode, &[]).await?;
        let mut files: Vec<&str> = Vec::new();
        for hit in &hits {
            if !files.contains(&hit.chunk.file.as_str()) {
                files.push(&hit.chunk.file);
            }
        }
        if let Some(rank) = files
            .iter()
            .take(DEPTH)
            .position(|f| same_file(f, &case.expected))
        {
            at_1 += usize::from(rank == 0);
            at_3 += usize::from(rank < 3);
            reciprocal += 1.0 / (rank as f64 + 1.0);
        }
    }
    let n = cases.len().max(1) as f64;
    Ok(EvalScore {
        mode,
        cases: cases.len(),
        recall_at_1: at_1 as f64 / n,
        recall_at_3: at_3 as f64 / n,
        mrr: reciprocal / n,
    })
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
}
