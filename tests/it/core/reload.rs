//! Operators edit prompts/ while the server runs: good edits take effect, broken
//! ones are refused and the last good version keeps serving.

use std::time::Duration;

use crate::support::{TestApp, copy_prompts, sid};

async fn reply_to(app: &TestApp, phone: &str, text: &str) -> String {
    app.text(phone, text, &sid()).await;
    app.settle().await;
    app.outbound(phone)
        .await
        .last()
        .map(|e| e.body.clone())
        .unwrap_or_default()
}

/// Polls until `check` holds for a fresh phone's reply to `text`.
async fn eventually_replies(app: &TestApp, text: &str, check: impl Fn(&str) -> bool) -> String {
    let mut last = String::new();
    for attempt in 0..40 {
        let phone = format!("+1555555{:04}", 7000 + attempt);
        last = reply_to(app, &phone, text).await;
        if check(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("the edit never took effect; last reply: {last}");
}

#[tokio::test]
async fn an_edited_intent_and_policy_take_effect_and_a_broken_edit_is_ignored() {
    let prompts = copy_prompts();
    let dir = prompts.path().to_path_buf();
    let app = TestApp::spawn_with(move |c| c.prompts_dir = dir).await;

    // A new intent with a fixed reply.
    let intents = prompts.path().join("intents.toml");
    let mut text = std::fs::read_to_string(&intents).unwrap();
    text.push_str(
        "\n[intents.dogs]\ndescription = \"Whether dogs and pets may come into the store.\"\naction = \"reply\"\n\
         reply = \"Well-behaved dogs on a leash are welcome in all our stores.\"\n\
         examples = [\"can i bring my dog\", \"are dogs allowed\", \"is my puppy welcome in the shop\", \"pets allowed inside?\"]\n",
    );
    std::fs::write(&intents, &text).unwrap();
    eventually_replies(&app, "can i bring my dog in", |r| {
        r.contains("dogs on a leash")
    })
    .await;

    // A broken edit (a syntax error) changes nothing.
    std::fs::write(&intents, format!("{text}\n[intents.broken\n")).unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(
        reply_to(&app, "+15555557999", "are dogs allowed")
            .await
            .contains("dogs on a leash")
    );

    // The policy too: a new HELP text, then a broken file that keeps it.
    let policy = prompts.path().join("policy.toml");
    let original = std::fs::read_to_string(&policy).unwrap();
    let edited = original.replace("Trailhead Outfitters support:", "Trailhead HELP desk:");
    std::fs::write(&policy, &edited).unwrap();
    eventually_replies(&app, "HELP", |r| r.starts_with("Trailhead HELP desk:")).await;
    std::fs::write(&policy, edited.replace("[limits]", "[limits")).unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(
        reply_to(&app, "+15555557998", "help")
            .await
            .starts_with("Trailhead HELP desk:")
    );
}
