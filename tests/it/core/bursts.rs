//! Bursts: several quick texts from one customer are read as one turn, on a pinned
//! clock; keywords act at once.

use std::time::Duration;

use textdesk::clock::ManualClock;

use crate::support::{TestApp, sid};

/// Wednesday 2 Dec 2026, 11:00 in Denver.
const WEDNESDAY_11AM: i64 = 1_796_234_400_000;

async fn bursty_app(clock: std::sync::Arc<ManualClock>) -> TestApp {
    let app = TestApp::spawn_with_clock(clock, |c| c.worker.burst_ms = 2000).await;
    app.wait_for_knowledge().await;
    app
}

#[tokio::test]
async fn three_quick_texts_get_one_answer_once_the_customer_pauses() {
    let clock = ManualClock::at(WEDNESDAY_11AM);
    let app = bursty_app(clock.clone()).await;
    let phone = "+13035550181";

    for (step, body) in [
        (0, "hi"),
        (900, "quick question"),
        (900, "do you sell gift cards?"),
    ] {
        clock.advance(step);
        assert_eq!(app.text(phone, body, &sid()).await.status(), 200);
    }
    // Real time passes, the pinned clock does not: the burst is still open.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        app.outbound(phone).await.is_empty(),
        "nothing is answered while the customer is still typing"
    );
    assert_eq!(app.store().inbound_backlog(0).await.unwrap().0, 3);

    clock.advance(2000);
    app.settle().await;
    let replies = app.outbound(phone).await;
    assert_eq!(replies.len(), 1, "one answer for the burst: {replies:?}");
    assert!(
        replies[0].body.to_lowercase().contains("gift card"),
        "the answer is to the question, not to the greeting: {:?}",
        replies[0].body
    );
}

#[tokio::test]
async fn stop_in_a_burst_acts_at_once_and_the_text_before_it_is_still_answered() {
    let clock = ManualClock::at(WEDNESDAY_11AM);
    let app = bursty_app(clock.clone()).await;
    let phone = "+13035550182";

    app.text(phone, "do you sell gift cards?", &sid()).await;
    clock.advance(500);
    app.text(phone, "STOP", &sid()).await;
    // No clock step: the keyword (and the burst before it) is read now.
    app.settle().await;
    let replies: Vec<String> = app
        .outbound(phone)
        .await
        .into_iter()
        .map(|e| e.body)
        .collect();
    assert_eq!(replies.len(), 2, "{replies:?}");
    assert!(
        replies[0].to_lowercase().contains("gift card"),
        "{replies:?}"
    );
    assert!(replies[1].contains("unsubscribed"), "{replies:?}");
}

#[tokio::test]
async fn a_text_to_a_conversation_a_person_has_is_passed_on_at_once() {
    let clock = ManualClock::at(WEDNESDAY_11AM);
    let app = bursty_app(clock.clone()).await;
    let phone = "+13035550183";

    app.text(phone, "I want to talk to a person", &sid()).await;
    clock.advance(2000);
    app.settle().await;
    assert!(
        app.store()
            .open_handoff_of(app.transcript(phone).await[0].conversation_id)
            .await
            .unwrap()
            .is_some()
    );
    app.text(phone, "it's about my order", &sid()).await;
    // Without a clock step: agents see each text as it arrives.
    app.settle().await;
}
