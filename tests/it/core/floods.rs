//! Floods and loops: everything is stored, but the bot never floods or ping-pongs.

use crate::support::{TestApp, sid};

#[tokio::test]
async fn a_flood_is_stored_whole_but_answered_at_most_the_cap() {
    let app = TestApp::spawn().await;
    let phone = "+15555550177";
    app.wait_for_knowledge().await;
    // Twelve different questions the bot can answer (nonsense would go to a person
    // after two misses, which is a different story).
    let questions = [
        "what time do you open on sunday",
        "how do I return a jacket",
        "do you ship to canada",
        "can I use a gift card online",
        "do you rent kayaks",
        "do you price match",
        "how do rewards points work",
        "where is the boulder store",
        "can I book a ski fitting",
        "is my tent under warranty",
        "do you take apple pay",
        "any sales this weekend",
    ];
    for question in questions {
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
