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

use crate::brain::classify::baseline::NearestNeighbour;
use crate::brain::classify::eval::{read_labelled, score};
use crate::brain::classify::Classifier;
use crate::brain::intents::IntentSet;
use crate::knowledge::embed::Embedder;

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

pub async fn train(intents: &Path, embedder: Option<Arc<dyn Embedder>>, threshold: f32) -> anyhow::Result<(IntentSet, Classifier)> {
    let set = IntentSet::load_file(intents)?;
    let classifier = Classifier::train(&set, embedder, threshold).await?;
    Ok((set, classifier))
}

/// Classifies JSON lines from `input`.
pub async fn run(classifier: &Classifier, input: impl BufRead, mut output: impl Write) -> anyhow::Result<()> {
    for (index, line) in input.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let parsed: Input = serde_json::from_str(&line)
            .map_err(|e| anyhow::anyhow!("stdin line {}: expected {{\"text\": \"…\"}}: {e}", index + 1))?;
        let result = classifier.classify(&parsed.text).await;
        let out = Output { text: &parsed.text, intent: result.intent.as_str(), confidence: round3(result.confidence) };
        serde_json::to_writer(&mut output, &out)?;
        output.write_all(b"\n")?;
    }
    output.flush()?;
    Ok(())
}

/// Scores the classifier and the baseline on a labelled file and writes a report.
pub async fn eval(set: &IntentSet, classifier: &Classifier, file: &Path, mut out: impl Write) -> anyhow::Result<EvalReport> {
    let labelled = read_labelled(file)?;
    let mut predicted = Vec::with_capacity(labelled.len());
    for item in &labelled {
        predicted.push(classifier.classify(&item.text).await.intent.to_string());
    }
    let ours = score(labelled.iter().zip(&predicted).map(|(l, p)| (l.intent.as_str(), p.as_str())));

    // The baseline gets every advantage: its threshold is the best one for this file.
    let baseline = NearestNeighbour::train(set);
    let nearest: Vec<_> = labelled.iter().map(|l| baseline.nearest(&l.text)).collect();
    let mut best = (0.0f32, score(std::iter::empty()));
    for step in 0..=20 {
        let threshold = step as f32 * 0.05;
        let preds: Vec<String> = nearest
            .iter()
            .map(|(name, sim)| if *sim < threshold { "out_of_scope".to_string() } else { name.to_string() })
            .collect();
        let s = score(labelled.iter().zip(&preds).map(|(l, p)| (l.intent.as_str(), p.as_str())));
        if s.accuracy > best.1.accuracy {
            best = (threshold, s);
        }
    }
    writeln!(out, "{} labelled texts from {}", labelled.len(), file.display())?;
    write!(out, "{}", ours.render(&format!("textdesk classifier (threshold {:.2})", classifier.threshold()), 10))?;
    write!(out, "{}", best.1.render(&format!("baseline TF-IDF 1-NN (best threshold {:.2})", best.0), 5))?;
    Ok(EvalReport { ours, baseline: best.1, baseline_threshold: best.0 })
}

pub struct EvalReport {
    pub ours: crate::brain::classify::eval::Score,
    pub baseline: crate::brain::classify::eval::Score,
    pub baseline_threshold: f32,
}

fn round3(x: f32) -> f32 {
    (x * 1000.0).round() / 1000.0
}
