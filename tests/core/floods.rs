//! Floods and loops: everything is stored, but the bot never floods or ping-pongs.

use crate::support::{TestApp, sid};

#[tokio::test]
async fn a_flood_is_stored_whole_but_answered_at_most_the_cap() {
    let app = TestApp::spawn().await;
    let phone = "+15555550177";
    for i in 0..12 {
        assert_eq!(
            app.text(phone, &format!("message number {i}"), &sid())
                .await
                .status(),
            200
        );
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
