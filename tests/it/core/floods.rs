//! Floods and loops: everything is stored, the bot never floods or ping-pongs with a
//! machine, and never goes quiet on a person.

use std::sync::Arc;

use textdesk::clock::ManualClock;
use textdesk::store::{Role, TranscriptEntry};

use crate::support::agents::TestAgent;
use crate::support::{TestApp, copy_prompts, sid};

/// Wednesday 2 Dec 2026, 11:00 in Denver: the demo team (prompts/policy.toml) is in.
const WEDNESDAY_11AM: i64 = 1_796_234_400_000;
/// Thirty seconds between texts: reading a reply and typing the next question.
const HUMAN_PACE_MS: i64 = 30_000;

/// Twelve different questions the bot can answer (nonsense would go to a person after
/// two misses, and a booking question starts a flow: different stories).
const QUESTIONS: [&str; 12] = [
    "what time do you open on sunday",
    "how do I return a jacket",
    "do you ship to canada",
    "can I use a gift card online",
    "do you rent kayaks",
    "do you price match",
    "how do rewards points work",
    "where is the boulder store",
    "can I pick up my order in store",
    "is my tent under warranty",
    "do you take apple pay",
    "any sales this weekend",
];

/// textdesk on a clock pinned inside business hours, with an admin to see handoffs.
async fn pinned_app(
    adjust: impl FnOnce(&mut textdesk::config::Config),
) -> (TestApp, TestAgent, Arc<ManualClock>) {
    let clock = ManualClock::at(WEDNESDAY_11AM);
    let app = TestApp::spawn_with_clock(clock.clone(), adjust).await;
    let admin = app.add_agent("ana", Role::Admin).await;
    app.wait_for_knowledge().await;
    (app, admin, clock)
}

/// Texts from `phone`, each `gap_ms` after the one before, each processed in turn.
async fn text_at_pace(
    app: &TestApp,
    clock: &ManualClock,
    phone: &str,
    texts: &[&str],
    gap_ms: i64,
) {
    for text in texts {
        clock.advance(gap_ms);
        assert_eq!(app.text(phone, text, &sid()).await.status(), 200);
        app.settle().await;
    }
}

fn assert_no_text_twice_in_a_row(outbound: &[TranscriptEntry]) {
    for pair in outbound.windows(2) {
        assert_ne!(
            pair[0].body, pair[1].body,
            "the same bot text twice in a row"
        );
    }
}

#[tokio::test]
async fn a_flood_is_stored_whole_but_answered_at_most_the_cap() {
    let app = TestApp::spawn().await;
    let admin = app.add_agent("ana", Role::Admin).await;
    let phone = "+15555550177";
    app.wait_for_knowledge().await;
    // All twelve at once: no person types that fast.
    for question in QUESTIONS {
        assert_eq!(app.text(phone, question, &sid()).await.status(), 200);
    }
    app.settle().await;
    let transcript = app.transcript(phone).await;
    let inbound = transcript
        .iter()
        .filter(|e| e.direction == textdesk::store::Direction::Inbound)
        .count();
    assert_eq!(inbound, 12);
    let cap = app.running.engine.policy().limits.max_bot_replies as usize;
    assert_eq!(app.outbound(phone).await.len(), cap);
    // A person is asked to look, silently: another bot text would feed a loop.
    let waiting = app.handoffs(&admin.token, "waiting").await;
    assert_eq!(waiting.len(), 1, "{waiting:#?}");
    assert_eq!(waiting[0]["rule"], "bot_loop");
}

#[tokio::test]
async fn a_person_asking_a_dozen_questions_at_human_pace_gets_a_dozen_answers() {
    let (app, admin, clock) = pinned_app(|_| {}).await;
    let phone = "+15555550180";
    text_at_pace(&app, &clock, phone, &QUESTIONS, HUMAN_PACE_MS).await;
    let outbound = app.outbound(phone).await;
    assert_eq!(
        outbound.len(),
        QUESTIONS.len(),
        "{:#?}",
        app.transcript(phone).await
    );
    assert!(app.handoffs(&admin.token, "waiting").await.is_empty());
    assert_no_text_twice_in_a_row(&outbound);
}

#[tokio::test]
async fn a_person_past_the_reply_ceiling_is_handed_over_and_told() {
    let prompts = copy_prompts();
    let policy = prompts.path().join("policy.toml");
    let text = std::fs::read_to_string(&policy).unwrap();
    std::fs::write(
        &policy,
        text.replace("max_replies_to_person = 30", "max_replies_to_person = 6"),
    )
    .unwrap();
    let dir = prompts.path().to_path_buf();
    let (app, admin, clock) = pinned_app(move |c| c.prompts_dir = dir).await;
    let phone = "+15555550181";
    text_at_pace(&app, &clock, phone, &QUESTIONS[..8], HUMAN_PACE_MS).await;
    let outbound = app.outbound(phone).await;
    // Six answers, then one text saying a person takes over; the eighth text is the
    // team's to answer.
    assert_eq!(outbound.len(), 7, "{:#?}", app.transcript(phone).await);
    assert!(
        outbound[6].body.contains("member of our team"),
        "{}",
        outbound[6].body
    );
    let waiting = app.handoffs(&admin.token, "waiting").await;
    assert_eq!(waiting.len(), 1, "{waiting:#?}");
    assert_eq!(waiting[0]["rule"], "bot_loop");
}

#[tokio::test]
async fn a_person_asking_the_same_question_again_is_not_left_in_silence() {
    let (app, admin, clock) = pinned_app(|_| {}).await;
    let phone = "+15555550182";
    let texts = [
        "do you price match",
        "do you price match",
        "DO YOU PRICE MATCH",
    ];
    text_at_pace(&app, &clock, phone, &texts, 60_000).await;
    let outbound = app.outbound(phone).await;
    // The answer, then (asked again: the answer did not help) a person takes over and
    // the customer is told; the third text is noted for them, once.
    assert_eq!(outbound.len(), 3, "{:#?}", app.transcript(phone).await);
    assert!(
        outbound[1].body.contains("member of our team"),
        "{}",
        outbound[1].body
    );
    assert!(
        outbound[2].body.contains("added that"),
        "{}",
        outbound[2].body
    );
    assert_eq!(app.handoffs(&admin.token, "waiting").await.len(), 1);
}

#[tokio::test]
async fn another_auto_responder_gets_one_answer_not_a_ping_pong() {
    let app = TestApp::spawn().await;
    let phone = "+15555550178";
    for _ in 0..4 {
        app.text(
            phone,
            "I'm driving right now, I'll get back to you.",
            &sid(),
        )
        .await;
        app.settle().await;
    }
    assert_eq!(
        app.outbound(phone).await.len(),
        1,
        "{:#?}",
        app.transcript(phone).await
    );

    // Our own reply quoted back at us is not answered either.
    let other = "+15555550179";
    app.text(other, "hi", &sid()).await;
    app.settle().await;
    let ours = app.outbound(other).await[0].body.clone();
    app.text(other, &ours, &sid()).await;
    app.settle().await;
    assert_eq!(app.outbound(other).await.len(), 1);

    // STOP is confirmed even in the middle of a flood.
    app.text(phone, "STOP", &sid()).await;
    app.settle().await;
    assert!(
        app.outbound(phone)
            .await
            .last()
            .unwrap()
            .body
            .contains("unsubscribed")
    );
}

#[tokio::test]
async fn a_close_is_not_sent_twice_in_one_exchange_but_is_again_the_next_day() {
    let (app, _admin, clock) = pinned_app(|_| {}).await;
    let phone = "+15555550183";
    text_at_pace(&app, &clock, phone, &["thanks", "thank you"], 60_000).await;
    assert_eq!(
        app.outbound(phone).await.len(),
        1,
        "a second close gets nothing"
    );
    text_at_pace(&app, &clock, phone, &["thanks"], 24 * 3_600_000).await;
    let outbound = app.outbound(phone).await;
    assert_eq!(outbound.len(), 2, "{:#?}", app.transcript(phone).await);
    assert!(
        outbound[1].body.starts_with("You're welcome"),
        "{}",
        outbound[1].body
    );
}
