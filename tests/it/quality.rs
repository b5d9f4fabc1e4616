//! Quality gates measured with the real local model (all-MiniLM-L6-v2, fetched by
//! scripts/fetch-model.sh): intent classification on tests/fixtures/intents_eval.jsonl
//! through `textdesk classify --eval`, and retrieval on
//! tests/fixtures/retrieval_eval.jsonl through `textdesk knowledge eval`.

use std::path::PathBuf;
use std::process::Command;

fn repo(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// Runs the real binary on a data directory kept between runs (embedding cache).
fn textdesk(args: &[&str], data: &str) -> String {
    assert!(
        repo("models/all-MiniLM-L6-v2/model.safetensors").exists(),
        "the local embedding model is missing: run scripts/fetch-model.sh"
    );
    let data_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(data);
    let output = Command::new(env!("CARGO_BIN_EXE_textdesk"))
        .args(args)
        .current_dir(repo(""))
        .env("TEXTDESK_DATA_DIR", &data_dir)
        .env("TEXTDESK_MODEL_DIR", repo("models/all-MiniLM-L6-v2"))
        .env("RUST_LOG", "error")
        .output()
        .expect("textdesk runs");
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        output.status.success(),
        "textdesk {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The number after `label` in `line`, e.g. `number_after("accuracy 0.920 (…", "accuracy ")`.
fn number_after(line: &str, label: &str) -> f64 {
    let rest = &line[line
        .find(label)
        .unwrap_or_else(|| panic!("{label:?} not in {line:?}"))
        + label.len()..];
    rest.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn the_local_classifier_beats_tfidf_nearest_neighbour_and_catches_out_of_scope() {
    let report = textdesk(
        &["classify", "--eval", "tests/fixtures/intents_eval.jsonl"],
        "quality-classify",
    );
    println!("{report}");
    let ours = report
        .lines()
        .find(|l| l.starts_with("textdesk classifier"))
        .expect("our line");
    let baseline = report
        .lines()
        .find(|l| l.starts_with("baseline"))
        .expect("baseline line");
    let (accuracy, oos_recall) = (
        number_after(ours, "accuracy "),
        number_after(ours, "recall "),
    );
    let baseline_accuracy = number_after(baseline, "accuracy ");
    assert!(report.starts_with("212 labelled texts") || report.contains("labelled texts"));
    assert!(accuracy >= 0.88, "accuracy {accuracy}");
    assert!(oos_recall >= 0.85, "out-of-scope recall {oos_recall}");
    assert!(
        accuracy >= baseline_accuracy + 0.15,
        "ours {accuracy} vs baseline {baseline_accuracy}"
    );
}

/// tests/fixtures/retrieval_eval.jsonl: 147 texts, among them general questions
/// whose topic also has a specific file ("how much is shipping": domestic, not
/// international) and texts that ask two things (both files must lead). `answered`
/// is what a turn retrieves: before the file ranking, the `sms` passages and the
/// split questions it was 0.796 recall@1, 0.966 recall@3.
#[test]
fn turns_find_the_file_the_customer_means_and_one_per_question() {
    let page = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("retrieval-report.html");
    let report = textdesk(
        &[
            "knowledge",
            "eval",
            "tests/fixtures/retrieval_eval.jsonl",
            "--report",
            page.to_str().unwrap(),
        ],
        "quality-retrieval",
    );
    println!("{report}");
    let figures = |mode: &str| -> Vec<f64> {
        line_starting(&report, &format!("{mode} "))
            .split_whitespace()
            .skip(1)
            .map(|c| c.parse().unwrap())
            .collect()
    };
    let hybrid = figures("hybrid");
    assert!(hybrid[1] >= 0.90, "hybrid recall@3 {}", hybrid[1]);
    assert!(hybrid[2] >= 0.75, "hybrid MRR {}", hybrid[2]);
    let answered = figures("answered");
    let (recall_at_1, recall_at_3) = (answered[0], answered[1]);
    assert!(recall_at_1 >= 0.85, "answered recall@1 {recall_at_1}");
    assert!(recall_at_3 >= 0.966, "answered recall@3 {recall_at_3}");
    let html = std::fs::read_to_string(&page).expect("the report page is written");
    assert!(html.contains("<h2>Misses"), "the page lists the misses");
    assert!(html.contains("<polyline"), "the page draws recall at k");
}

/// `(in-scope accuracy, off-topic recall)` of a `classify --eval` line.
fn in_scope_and_off_topic_recall(line: &str) -> (f64, f64) {
    (
        number_after(line, "in-scope accuracy "),
        number_after(line, "recall "),
    )
}

fn line_starting<'a>(report: &'a str, prefix: &str) -> &'a str {
    report
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting {prefix:?} in:\n{report}"))
}

/// tests/fixtures/fewshot/support: 20 intents with 10 examples each and no
/// `[out_of_scope]` examples; 200 in-scope texts and 300 off-topic ones. The
/// built-in background set is all the classifier knows about off-topic texts.
#[test]
fn off_topic_texts_are_refused_without_a_single_off_topic_example() {
    let page = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("support-report.html");
    let _ = std::fs::remove_file(&page);
    let report = textdesk(
        &[
            "classify",
            "--intents",
            "tests/fixtures/fewshot/support/intents.toml",
            "--eval",
            "tests/fixtures/fewshot/support/test.jsonl",
            "--report",
            page.to_str().unwrap(),
        ],
        "quality-fewshot",
    );
    println!("{report}");
    assert!(report.starts_with("500 labelled texts"), "{report}");
    let (in_scope, off_topic) =
        in_scope_and_off_topic_recall(line_starting(&report, "textdesk classifier"));
    // Measured 0.950 and 0.947 (the floor: 0.92 and 0.90).
    assert!(in_scope >= 0.93, "in-scope accuracy {in_scope}");
    assert!(off_topic >= 0.92, "off-topic recall {off_topic}");
    // The calibration table marks the default threshold.
    assert!(
        report.contains("  0.40  ") && report.contains("<- default"),
        "{report}"
    );
    let html = std::fs::read_to_string(&page).expect("the report page is written");
    for part in [
        "Confusion matrix",
        "Worst confusions",
        "<polyline",
        "off-topic recall",
    ] {
        assert!(html.contains(part), "{part:?} missing from the page");
    }
}

/// tests/fixtures/fewshot/retail58: 58 fine-grained intents, 10 examples each, 580
/// held-out texts. The plain baseline (the same MiniLM embeddings, logistic
/// regression, p >= 0.4) keeps its best C for the file.
#[test]
fn fifty_eight_intents_from_ten_examples_each_beat_embeddings_and_logistic_regression() {
    let report = textdesk(
        &[
            "classify",
            "--intents",
            "tests/fixtures/fewshot/retail58/intents.toml",
            "--eval",
            "tests/fixtures/fewshot/retail58/test.jsonl",
        ],
        "quality-fewshot",
    );
    println!("{report}");
    let ours = number_after(line_starting(&report, "textdesk classifier"), "accuracy ");
    let baseline = number_after(
        line_starting(&report, "baseline MiniLM + logistic regression"),
        "accuracy ",
    );
    // Measured 0.924 against 0.893 (best C 100) at the set's default threshold,
    // 12/58 = 0.21 (0.895 at a fixed 0.40). The bar: 3 points above.
    assert!(ours >= 0.91, "accuracy {ours}");
    assert!(
        ours >= baseline + 0.03,
        "ours {ours} vs baseline {baseline}: less than 3 points above"
    );
    assert!(report.contains("(threshold 0.21)"), "{report}");
}

/// Gaps: the grouping of customer texts by meaning against a labelled set (226 texts,
/// 21 topics, tests/gaps/labelled.jsonl), and whether the texts the bot marks as gaps
/// are ones the shipped knowledge does not cover.
#[test]
fn gaps_group_by_topic_and_what_the_bot_marks_as_a_gap_is_one() {
    let report = textdesk(
        &["gaps", "eval", "tests/gaps/labelled.jsonl", "--json"],
        "quality-gaps",
    );
    let scores: serde_json::Value = serde_json::from_str(&report).unwrap();
    println!("{scores:#}");
    assert!(scores["texts"].as_u64().unwrap() >= 200);
    assert!(scores["topics"].as_u64().unwrap() >= 15);
    let default = |by: &str| {
        scores["grouping"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["by"] == by && g["default"] == true)
            .unwrap_or_else(|| panic!("no default {by} grouping in {scores:#}"))
            .clone()
    };
    let dense = default("dense");
    // Measured 2026-12-07: adjusted Rand 0.506, purity 0.867 (71 groups for 21 topics).
    assert!(
        dense["adjusted_rand_index"].as_f64().unwrap() >= 0.45,
        "{dense}"
    );
    assert!(dense["purity"].as_f64().unwrap() >= 0.8, "{dense}");
    // Without the model (TEXTDESK_EMBEDDINGS=none): measured 0.197 and 0.708.
    let lexical = default("lexical");
    assert!(
        lexical["adjusted_rand_index"].as_f64().unwrap() >= 0.15,
        "{lexical}"
    );
    assert!(lexical["purity"].as_f64().unwrap() >= 0.65, "{lexical}");
    // Measured: precision 1.000 (107 marked), recall 0.608: the rest of the uncovered
    // questions got an answer from a neighbouring topic (what agents' feedback catches).
    assert!(
        scores["gap_precision"].as_f64().unwrap() >= 0.95,
        "{scores:#}"
    );
    assert!(scores["gap_recall"].as_f64().unwrap() >= 0.5, "{scores:#}");
}
