//! `textdesk classify`: the server's intent classifier on the command line.
//!
//! - `--intents FILE [--threshold X]`: JSON lines `{"text"}` on stdin → `{"text",
//!   "intent", "confidence"}` on stdout, in order.
//! - `--eval FILE.jsonl`: lines `{"text", "intent"}`; prints accuracy, out-of-scope
//!   precision/recall and the top confusions, next to the TF-IDF 1-NN baseline — the
//!   operator's regression test after editing intents.

use std::io::{BufRead, Write};
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;

use crate::brain::classify::Classifier;
use crate::brain::classify::baseline::NearestNeighbour;
use crate::brain::classify::eval::{read_labelled, score};
use crate::brain::intents::IntentSet;
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
    threshold: f32,
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

/// Scores the classifier and the baseline on a labelled file and writes a report.
pub async fn eval(
    set: &IntentSet,
    brain: &Brain,
    file: &Path,
    mut out: impl Write,
) -> anyhow::Result<EvalReport> {
    let labelled = read_labelled(file)?;
    let mut predicted = Vec::with_capacity(labelled.len());
    for item in &labelled {
        predicted.push(brain.understand_text(&item.text).await.intent.to_string());
    }
    let ours = score(
        labelled
            .iter()
            .zip(&predicted)
            .map(|(l, p)| (l.intent.as_str(), p.as_str())),
    );

    // The baseline gets every advantage: its threshold is the best one for this file.
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
        let s = score(
            labelled
                .iter()
                .zip(&preds)
                .map(|(l, p)| (l.intent.as_str(), p.as_str())),
        );
        if s.accuracy > best.1.accuracy {
            best = (threshold, s);
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
            brain.model().classifier.threshold()
        ),
        None => format!(
            "textdesk classifier (threshold {:.2})",
            brain.model().classifier.threshold()
        ),
    };
    write!(out, "{}", ours.render(&name, 10))?;
    write!(
        out,
        "{}",
        best.1.render(
            &format!("baseline TF-IDF 1-NN (best threshold {:.2})", best.0),
            5
        )
    )?;
    Ok(EvalReport {
        ours,
        baseline: best.1,
        baseline_threshold: best.0,
    })
}

pub struct EvalReport {
    pub ours: crate::brain::classify::eval::Score,
    pub baseline: crate::brain::classify::eval::Score,
    pub baseline_threshold: f32,
}

fn round3(x: f32) -> f32 {
    (x * 1000.0).round() / 1000.0
}
