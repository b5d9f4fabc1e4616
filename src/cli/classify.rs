//! `textdesk classify`: the server's intent classifier on the command line.
//!
//! - `--intents FILE [--threshold X]`: JSON lines `{"text"}` on stdin → `{"text",
//!   "intent", "confidence"}` on stdout, in order.
//! - `--eval FILE.jsonl [--report page.html]`: lines `{"text", "intent"}`; prints
//!   accuracy, off-topic precision/recall and the top confusions next to two
//!   baselines (TF-IDF 1-NN, MiniLM + logistic regression), and a calibration table
//!   (what each threshold would give) — the operator's regression test after editing
//!   intents. The page adds the confusion matrix, the worst confusions with their
//!   texts and the threshold curve.

use std::io::{BufRead, Write};
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;

use crate::brain::classify::Classifier;
use crate::brain::classify::baseline::{
    EMBEDDING_LOGREG_THRESHOLD, EmbeddingLogReg, NearestNeighbour,
};
use crate::brain::classify::eval::{Labelled, Score, read_labelled, score};
use crate::brain::intents::{IntentSet, OUT_OF_SCOPE};
use crate::brain::think::{Brain, BrainSettings, IntentModel};
use crate::knowledge::embed::Embedder;
use crate::llm::LlmClient;

#[derive(Deserialize)]
struct Input {
    text: String,
}

#[derive(serde::Serialize)]
struct Output<'a> {
    text: &'a str,
    intent: &'a str,
    confidence: f32,
}

/// The server's understanding step on its own: the intents of `intents`, the local
/// classifier, and the LLM when one is configured (with the same local fallback).
pub async fn train(
    intents: &Path,
    embedder: Option<Arc<dyn Embedder>>,
    llm: Option<Arc<LlmClient>>,
    threshold: Option<f32>,
) -> anyhow::Result<(IntentSet, Brain)> {
    let set = IntentSet::load_file(intents)?;
    let classifier = Classifier::train(&set, embedder, threshold).await?;
    let brain = Brain::new(
        IntentModel {
            set: set.clone(),
            classifier,
        },
        None,
        llm,
        BrainSettings::default(),
    );
    Ok((set, brain))
}

/// Classifies JSON lines from `input`.
pub async fn run(brain: &Brain, input: impl BufRead, mut output: impl Write) -> anyhow::Result<()> {
    for (index, line) in input.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let parsed: Input = serde_json::from_str(&line).map_err(|e| {
            anyhow::anyhow!(
                "stdin line {}: expected {{\"text\": \"…\"}}: {e}",
                index + 1
            )
        })?;
        let result = brain.understand_text(&parsed.text).await;
        let out = Output {
            text: &parsed.text,
            intent: result.intent.as_str(),
            confidence: round3(result.confidence),
        };
        serde_json::to_writer(&mut output, &out)?;
        output.write_all(b"\n")?;
    }
    output.flush()?;
    Ok(())
}

/// Thresholds of the calibration table and the report's curve.
const CALIBRATION_THRESHOLDS: [f32; 9] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

/// Inverse regularisation strengths tried for the embedding baseline; it keeps the
/// best, as the TF-IDF baseline keeps its best threshold.
const BASELINE_C: [f32; 3] = [1.0, 10.0, 100.0];

/// Scores the classifier and the baselines on a labelled file and writes a report:
/// the headline figures, the calibration table (what each threshold would give),
/// and, with `html`, a page for operators.
pub async fn eval(
    set: &IntentSet,
    brain: &Brain,
    embedder: Option<Arc<dyn Embedder>>,
    file: &Path,
    html: Option<&Path>,
    mut out: impl Write,
) -> anyhow::Result<EvalReport> {
    let labelled = read_labelled(file)?;
    let classifier = &brain.model().classifier;
    let mut predicted = Vec::with_capacity(labelled.len());
    let mut local = Vec::with_capacity(labelled.len());
    let mut embedded = Vec::with_capacity(labelled.len());
    for item in &labelled {
        predicted.push(brain.understand_text(&item.text).await.intent.to_string());
        // Labelled files may be real transcripts: embedded as queries, never cached.
        let dense = match &embedder {
            Some(e) => e.embed_query(&item.text).await.unwrap_or_default(),
            None => Vec::new(),
        };
        local.push(classifier.classify_embedded(&item.text, dense.clone()));
        embedded.push(dense);
    }
    let ours = score(
        labelled
            .iter()
            .zip(&predicted)
            .map(|(l, p)| (l.intent.as_str(), p.as_str())),
    );
    // The table's steps, and the classifier's own threshold where it falls between them.
    let mut thresholds = CALIBRATION_THRESHOLDS.to_vec();
    if !thresholds
        .iter()
        .any(|t| (t - classifier.threshold()).abs() < 1e-6)
    {
        thresholds.push(classifier.threshold());
        thresholds.sort_by(f32::total_cmp);
    }
    let calibration: Vec<(f32, Score)> = thresholds
        .iter()
        .map(|&t| {
            let preds: Vec<String> = local
                .iter()
                .map(|c| c.at_threshold(t).to_string())
                .collect();
            (t, score_pairs(&labelled, &preds))
        })
        .collect();

    // The baselines get every advantage: each keeps its best setting for this file.
    let baseline = NearestNeighbour::train(set);
    let nearest: Vec<_> = labelled.iter().map(|l| baseline.nearest(&l.text)).collect();
    let mut best = (0.0f32, score(std::iter::empty()));
    for step in 0..=20 {
        let threshold = step as f32 * 0.05;
        let preds: Vec<String> = nearest
            .iter()
            .map(|(name, sim)| {
                if *sim < threshold {
                    "out_of_scope".to_string()
                } else {
                    name.to_string()
                }
            })
            .collect();
        let s = score_pairs(&labelled, &preds);
        if s.accuracy > best.1.accuracy {
            best = (threshold, s);
        }
    }
    let mut embedding_baseline: Option<(f32, Score)> = None;
    if let Some(embedder) = &embedder {
        for c in BASELINE_C {
            let model = EmbeddingLogReg::train(set, embedder.as_ref(), c).await?;
            let preds: Vec<String> = embedded
                .iter()
                .map(|d| match model.best(d.clone()) {
                    (name, p) if p >= EMBEDDING_LOGREG_THRESHOLD => name.to_string(),
                    _ => OUT_OF_SCOPE.to_string(),
                })
                .collect();
            let s = score_pairs(&labelled, &preds);
            if embedding_baseline
                .as_ref()
                .is_none_or(|(_, b)| s.accuracy > b.accuracy)
            {
                embedding_baseline = Some((c, s));
            }
        }
    }

    writeln!(
        out,
        "{} labelled texts from {}",
        labelled.len(),
        file.display()
    )?;
    let name = match brain.llm() {
        Some(llm) => format!(
            "textdesk classifier (LLM {} with local fallback, threshold {:.2})",
            llm.model(),
            classifier.threshold()
        ),
        None => format!(
            "textdesk classifier (threshold {:.2})",
            classifier.threshold()
        ),
    };
    write!(out, "{}", ours.render(&name, 10))?;
    let tfidf_name = format!("baseline TF-IDF 1-NN (best threshold {:.2})", best.0);
    write!(out, "{}", best.1.render(&tfidf_name, 5))?;
    let embedding_name = embedding_baseline
        .as_ref()
        .map(|(c, _)| format!("baseline MiniLM + logistic regression (p >= 0.4, best C {c})"));
    if let (Some((_, s)), Some(n)) = (&embedding_baseline, &embedding_name) {
        write!(out, "{}", s.render(n, 5))?;
    }
    writeln!(
        out,
        "calibration (local classifier): threshold, in-scope accuracy, off-topic precision, off-topic recall, accuracy"
    )?;
    for (t, s) in &calibration {
        let mark = if (*t - classifier.threshold()).abs() < 1e-6 {
            "  <- default"
        } else {
            ""
        };
        writeln!(
            out,
            "  {t:.2}  {:.3}  {:.3}  {:.3}  {:.3}{mark}",
            s.in_scope_accuracy, s.oos_precision, s.oos_recall, s.accuracy
        )?;
    }
    if let Some(path) = html {
        let mut rows = vec![(name.clone(), &ours), (tfidf_name.clone(), &best.1)];
        if let (Some((_, s)), Some(n)) = (&embedding_baseline, &embedding_name) {
            rows.push((n.clone(), s));
        }
        let page =
            super::eval_report::classification_page(&super::eval_report::ClassificationReport {
                source: file.display().to_string(),
                rows,
                texts: labelled
                    .iter()
                    .zip(&predicted)
                    .map(|(l, p)| (l.text.as_str(), l.intent.as_str(), p.as_str()))
                    .collect(),
                calibration: &calibration,
                threshold: classifier.threshold(),
            });
        std::fs::write(path, page).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        writeln!(out, "report written to {}", path.display())?;
    }
    Ok(EvalReport {
        ours,
        baseline: best.1,
        baseline_threshold: best.0,
        embedding_baseline: embedding_baseline.map(|(_, s)| s),
        calibration,
    })
}

fn score_pairs(labelled: &[Labelled], predicted: &[String]) -> Score {
    score(
        labelled
            .iter()
            .zip(predicted)
            .map(|(l, p)| (l.intent.as_str(), p.as_str())),
    )
}

pub struct EvalReport {
    pub ours: Score,
    pub baseline: Score,
    pub baseline_threshold: f32,
    /// MiniLM + logistic regression, when an embedder is configured.
    pub embedding_baseline: Option<Score>,
    /// `(threshold, score)` of the local classifier.
    pub calibration: Vec<(f32, Score)>,
}

fn round3(x: f32) -> f32 {
    (x * 1000.0).round() / 1000.0
}
