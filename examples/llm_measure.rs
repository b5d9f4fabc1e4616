//! What a language model is worth to textdesk, measured against any OpenAI-compatible
//! server: tokens/s, p50/p95 per call, the schema-valid rate and accuracy of
//! classifications over the shipped demo's labelled texts, and for FAQ questions how
//! often an answer comes back, passes the output guards and fits the SMS budget.
//!
//!   export OPENAI_BASE_URL=$(scripts/llm-server.sh start)
//!   cargo run --release --example llm-measure -- [--calls 200] [--answers 40] [--model gemma-3-270m]
//!
//! The local brain's figures on the same files: `textdesk classify --eval
//! tests/fixtures/intents_eval.jsonl` (without OPENAI_BASE_URL) and `textdesk knowledge
//! eval tests/fixtures/retrieval_eval.jsonl`. Not part of the test suite: 200 calls to
//! a small model on 2 cores take minutes.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use textdesk::brain::intents::IntentSet;
use textdesk::clock::SystemClock;
use textdesk::llm::{LlmClient, LlmError, LlmSettings, Passage, PromptTemplates, guard};
use textdesk::sms::segments;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn percentile(sorted_ms: &[u64], p: f64) -> u64 {
    if sorted_ms.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted_ms.len() as f64).ceil() as usize;
    sorted_ms[rank.clamp(1, sorted_ms.len()) - 1]
}

fn read_jsonl(path: &Path) -> anyhow::Result<Vec<serde_json::Value>> {
    Ok(std::fs::read_to_string(path)?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?)
}

/// A knowledge file as one passage: its `sms` answer, then its body.
fn passage_of(file: &Path) -> anyhow::Result<Passage> {
    let raw = std::fs::read_to_string(file)?;
    let (front, body) = raw
        .strip_prefix("---\n")
        .and_then(|r| r.split_once("\n---\n"))
        .unwrap_or(("", raw.as_str()));
    let field = |name: &str| {
        front
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .map(|v| v.trim().trim_matches('"').to_string())
    };
    let body: String = body.chars().take(2_500).collect();
    Ok(Passage {
        title: field("title").unwrap_or_default(),
        text: match field("sms") {
            Some(sms) => format!("{sms}\n\n{body}"),
            None => body,
        },
        url: field("url"),
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let calls: usize = arg(&args, "--calls").map_or(Ok(200), |v| v.parse())?;
    let answers: usize = arg(&args, "--answers").map_or(Ok(40), |v| v.parse())?;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let settings = LlmSettings {
        base_url: Some(std::env::var("OPENAI_BASE_URL").map_err(|_| {
            anyhow::anyhow!(
                "set OPENAI_BASE_URL, e.g. export OPENAI_BASE_URL=$(scripts/llm-server.sh start)"
            )
        })?),
        api_key: std::env::var("OPENAI_API_KEY").ok(),
        chat_model: arg(&args, "--model").unwrap_or_else(|| "gemma-3-270m".to_string()),
        timeout_ms: 120_000,
        failures_to_open: u32::MAX,
        ..LlmSettings::default()
    };
    let prompts = PromptTemplates::load(&root.join("prompts"))?;
    let llm = LlmClient::new(&settings, prompts, Arc::new(SystemClock))?;
    let set = IntentSet::load(&root.join("prompts"))?;
    let intents: Vec<(String, String)> = set
        .intents
        .iter()
        .map(|i| (i.name.to_string(), i.description.clone()))
        .collect();

    // Classification: schema-valid rate, accuracy, latency.
    let labelled = read_jsonl(&root.join("tests/fixtures/intents_eval.jsonl"))?;
    let (mut valid, mut correct, mut timeouts) = (0usize, 0usize, 0usize);
    let mut classify_ms: Vec<u64> = Vec::new();
    let before = llm.stats();
    let started = Instant::now();
    for item in labelled.iter().cycle().take(calls) {
        let text = item["text"].as_str().unwrap_or_default();
        let t = Instant::now();
        let result = llm.classify(text, &intents, &[]).await;
        classify_ms.push(t.elapsed().as_millis() as u64);
        match result {
            Ok(c) => {
                valid += 1;
                correct += usize::from(Some(c.intent.as_str()) == item["intent"].as_str());
            }
            Err(LlmError::Timeout) => timeouts += 1,
            Err(e) => eprintln!("invalid: {e}"),
        }
    }
    let after = llm.stats();
    classify_ms.sort_unstable();
    let tokens = after.completion_tokens - before.completion_tokens;
    let secs = (after.replied_ms - before.replied_ms) as f64 / 1_000.0;
    println!(
        "model: {} at {}",
        llm.model(),
        settings.base_url.as_deref().unwrap_or("")
    );
    println!("response_format used: {:?}", llm.structured_output());
    println!(
        "classification: {calls} calls in {:.0} s; schema-valid {valid}/{calls} ({:.1}%), timeouts {timeouts}; accuracy {correct}/{calls} ({:.1}%)",
        started.elapsed().as_secs_f64(),
        100.0 * valid as f64 / calls as f64,
        100.0 * correct as f64 / calls as f64,
    );
    println!(
        "classification latency: p50 {} ms, p95 {} ms; {:.1} generated tokens/s ({} tokens)",
        percentile(&classify_ms, 50.0),
        percentile(&classify_ms, 95.0),
        tokens as f64 / secs.max(0.001),
        tokens
    );

    // FAQ answers from the expected file's passage.
    let faq = read_jsonl(&root.join("tests/fixtures/retrieval_eval.jsonl"))?;
    let (mut answered, mut no_answer, mut guarded_ok, mut fits, mut failed) = (0, 0, 0, 0, 0);
    let mut answer_ms: Vec<u64> = Vec::new();
    let mut rejections: std::collections::BTreeMap<String, usize> = Default::default();
    let before = llm.stats();
    for item in faq.iter().take(answers) {
        let text = item["text"].as_str().unwrap_or_default();
        let Some(expected) = item["expected"].as_str() else {
            continue;
        };
        let passage = passage_of(&root.join(expected))?;
        let t = Instant::now();
        let result = llm
            .answer(
                text,
                std::slice::from_ref(&passage),
                &[],
                306,
                "Trailhead Outfitters",
            )
            .await;
        answer_ms.push(t.elapsed().as_millis() as u64);
        match result {
            Ok(Some(answer)) => {
                answered += 1;
                let mut allowed = vec![passage.title.as_str(), passage.text.as_str()];
                allowed.extend(passage.url.as_deref());
                match guard::check_answer(&answer, &allowed) {
                    Ok(plain) => {
                        guarded_ok += 1;
                        fits += usize::from(
                            segments::count(&segments::smart_encode(&plain)).segments <= 2,
                        );
                    }
                    Err(r) => {
                        let key = format!("{r}");
                        *rejections.entry(key).or_default() += 1;
                    }
                }
            }
            Ok(None) => no_answer += 1,
            Err(_) => failed += 1,
        }
    }
    let after = llm.stats();
    answer_ms.sort_unstable();
    let n = answer_ms.len();
    println!(
        "FAQ answers: {n} questions; answered {answered}, NO_ANSWER {no_answer}, failed {failed}; passed the guards {guarded_ok}, of which within 2 segments unfitted {fits}"
    );
    for (why, count) in &rejections {
        println!("  refused {count}x: {why}");
    }
    println!(
        "answer latency: p50 {} ms, p95 {} ms; {:.1} generated tokens/s",
        percentile(&answer_ms, 50.0),
        percentile(&answer_ms, 95.0),
        (after.completion_tokens - before.completion_tokens) as f64
            / ((after.replied_ms - before.replied_ms) as f64 / 1_000.0).max(0.001)
    );
    println!(
        "latency per turn (classify + answer, p50): {} ms",
        percentile(&classify_ms, 50.0) + percentile(&answer_ms, 50.0)
    );
    Ok(())
}
