//! `textdesk test conversations`: the runner passes what holds and fails, with the
//! file and line, what does not — through the real binary.

use std::process::Command;

use crate::support::repo_path;

fn run(file_text: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("story.toml");
    std::fs::write(&file, file_text).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_textdesk"))
        .args(["test", "conversations"])
        .arg(&file)
        .current_dir(repo_path(""))
        .env("TEXTDESK_EMBEDDINGS", "none")
        .env("TEXTDESK_DATA_DIR", dir.path().join("data"))
        .output()
        .expect("the textdesk binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    (output.status.success(), format!("{stdout}\n{stderr}"))
}

const STORY: &str = r#"
description = "store hours, then a lookup"
start = "2027-01-08T11:00:00-07:00"

[[api]]
path = "/orders/12345"
json = { status = "shipped", shipped_on = "2027-01-07" }

[[turns]]
customer = "what are your hours on saturday"
intent = "store_hours"

[[turns]]
customer = "where is my order #12345"
contains = ["shipped on Jan 7"]
lookup_called = "/orders/12345"
slots = { order_number = "12345" }
"#;

#[test]
fn a_conversation_that_holds_passes_and_prints_the_replies() {
    let (ok, out) = run(STORY);
    assert!(ok, "{out}");
    assert!(
        out.contains("✓ 2 customer: where is my order #12345"),
        "{out}"
    );
    assert!(
        out.contains("bot: Thanks! Your order shipped on Jan 7."),
        "{out}"
    );
    assert!(out.contains("1 conversations: 1 passed, 0 failed"), "{out}");
}

#[test]
fn a_wrong_expectation_fails_with_its_file_and_line() {
    let (ok, out) = run(&STORY.replace("shipped on Jan 7", "shipped on Jan 8"));
    assert!(!ok, "{out}");
    assert!(
        out.contains("story.toml:13): expected the reply to contain \"shipped on Jan 8\""),
        "{out}"
    );
    assert!(out.contains("1 of 1 conversations failed"), "{out}");
}

#[test]
fn a_broken_file_is_named_with_its_line() {
    let (ok, out) = run(&STORY.replace("intent = \"store_hours\"", "intnet = \"store_hours\""));
    assert!(!ok, "{out}");
    assert!(
        out.contains("story.toml:11: unknown field `intnet`"),
        "{out}"
    );
}
