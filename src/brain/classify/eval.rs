//! Scoring a classifier on labelled texts (`{"text", "intent"}` JSON lines): accuracy,
//! out-of-scope precision and recall, and the most frequent confusions. Used by
//! `textdesk classify --eval` and by the test that guards classification quality.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::brain::intents::OUT_OF_SCOPE;

#[derive(Debug, Clone, Deserialize)]
pub struct Labelled {
    pub text: String,
    pub intent: String,
}

/// Reads a JSON-lines file; errors name the line.
pub fn read_labelled(path: &Path) -> anyhow::Result<Vec<Labelled>> {
    let text =
        std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| {
                anyhow::anyhow!(
                    "{}:{}: expected {{\"text\", \"intent\"}}: {e}",
                    path.display(),
                    i + 1
                )
            })
        })
        .collect()
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Score {
    pub total: usize,
    pub correct: usize,
    pub accuracy: f64,
    /// Of the texts predicted out of scope, how many were.
    pub oos_precision: f64,
    /// Of the texts that were out of scope, how many were predicted so.
    pub oos_recall: f64,
    /// In-scope texts only: how many got their right intent.
    pub in_scope_accuracy: f64,
    /// `(expected, predicted) → count`, mistakes only.
    pub confusions: BTreeMap<(String, String), usize>,
}

/// Scores `(expected, predicted)` pairs.
pub fn score<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Score {
    let mut s = Score::default();
    let (mut oos_pred, mut oos_true, mut oos_hit, mut in_total, mut in_hit) = (0, 0, 0, 0, 0);
    for (expected, predicted) in pairs {
        s.total += 1;
        if expected == predicted {
            s.correct += 1;
        } else {
            *s.confusions
                .entry((expected.to_string(), predicted.to_string()))
                .or_default() += 1;
        }
        if predicted == OUT_OF_SCOPE {
            oos_pred += 1;
        }
        if expected == OUT_OF_SCOPE {
            oos_true += 1;
            if predicted == OUT_OF_SCOPE {
                oos_hit += 1;
            }
        } else {
            in_total += 1;
            if expected == predicted {
                in_hit += 1;
            }
        }
    }
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    s.accuracy = ratio(s.correct, s.total);
    s.oos_precision = ratio(oos_hit, oos_pred);
    s.oos_recall = ratio(oos_hit, oos_true);
    s.in_scope_accuracy = ratio(in_hit, in_total);
    s
}

impl Score {
    /// A readable report: headline numbers, then the top confusions.
    pub fn render(&self, name: &str, top: usize) -> String {
        let mut out = format!(
            "{name}: accuracy {:.3} ({}/{}), in-scope accuracy {:.3}, out-of-scope precision {:.3} recall {:.3}\n",
            self.accuracy,
            self.correct,
            self.total,
            self.in_scope_accuracy,
            self.oos_precision,
            self.oos_recall
        );
        let mut confusions: Vec<_> = self.confusions.iter().collect();
        confusions.sort_by(|a, b| b.1.cmp(a.1));
        for ((expected, predicted), count) in confusions.into_iter().take(top) {
            out.push_str(&format!("  {count:>3} × {expected} → {predicted}\n"));
        }
        out
    }
}
