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

#[test]
fn hybrid_retrieval_finds_the_right_file_in_the_top_three_for_nine_texts_in_ten() {
    let report = textdesk(
        &["knowledge", "eval", "tests/fixtures/retrieval_eval.jsonl"],
        "quality-retrieval",
    );
    println!("{report}");
    let hybrid = report
        .lines()
        .find(|l| l.starts_with("hybrid"))
        .expect("hybrid line");
    let columns: Vec<f64> = hybrid
        .split_whitespace()
        .skip(1)
        .map(|c| c.parse().unwrap())
        .collect();
    let (recall_at_3, mrr) = (columns[1], columns[2]);
    assert!(recall_at_3 >= 0.90, "hybrid recall@3 {recall_at_3}");
    assert!(mrr >= 0.75, "hybrid MRR {mrr}");
}
