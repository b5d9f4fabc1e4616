//! Crash safety with the real binary: an acknowledged text survives SIGKILL and gets
//! exactly one reply after a restart.

#[path = "support/mod.rs"]
mod support;

use std::time::Duration;

use support::process::{
    free_port, open_store, post_text, start_textdesk, wait_healthy, wait_until,
};
use support::test_database_url;
use textdesk::store::Direction;
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn sigkill_between_acknowledgement_and_send_still_yields_exactly_one_reply() {
    let dir = tempfile::tempdir().unwrap();
    let db = test_database_url().await;
    let twilio = MockServer::start().await;
    // Twilio is down: the reply cannot leave, it waits in the outbox.
    Mock::given(method("POST"))
        .and(path_regex(r"/Messages\.json$"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&twilio)
        .await;

    let port = free_port();
    let mut textdesk = start_textdesk(dir.path(), db.as_deref(), port, Some(&twilio.uri()));
    wait_healthy(port).await;
    let phone = "+15555550160";
    assert_eq!(
        post_text(port, phone, "my tent pole snapped, can you help?").await,
        200
    );

    // The reply was attempted (and refused), so it is past the engine and not sent.
    wait_until("a send was attempted", || async {
        !twilio
            .received_requests()
            .await
            .unwrap_or_default()
            .is_empty()
    })
    .await;
    textdesk.kill().expect("SIGKILL");
    textdesk.wait().unwrap();

    // Twilio recovers; textdesk restarts on the same data.
    twilio.reset().await;
    Mock::given(method("POST"))
        .and(path_regex(r"/Messages\.json$"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(serde_json::json!({"sid": "SMafterrestart01"})),
        )
        .mount(&twilio)
        .await;
    let port = free_port();
    let mut textdesk = start_textdesk(dir.path(), db.as_deref(), port, Some(&twilio.uri()));
    wait_healthy(port).await;

    let store = open_store(dir.path(), db.as_deref()).await;
    wait_until("the reply was sent", || async {
        store
            .transcript(phone, None)
            .await
            .unwrap()
            .iter()
            .any(|e| e.delivery_status == "sent")
    })
    .await;
    // Give a duplicate every chance to appear before counting.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    textdesk.kill().unwrap();
    textdesk.wait().unwrap();

    assert_eq!(
        twilio.received_requests().await.unwrap().len(),
        1,
        "exactly one accepted send after restart"
    );
    let outbound: Vec<_> = store
        .transcript(phone, None)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.direction == Direction::Outbound)
        .collect();
    assert_eq!(outbound.len(), 1, "{outbound:#?}");
    assert_eq!(outbound[0].delivery_status, "sent");
}

#[tokio::test]
async fn sigkill_right_after_a_burst_of_acknowledgements_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = test_database_url().await;
    let port = free_port();
    let mut textdesk = start_textdesk(dir.path(), db.as_deref(), port, None);
    wait_healthy(port).await;

    let phones: Vec<String> = (0..40)
        .map(|i| format!("+1555555{:04}", 2000 + i))
        .collect();
    for phone in &phones {
        assert_eq!(post_text(port, phone, "hello, is anyone there?").await, 200);
    }
    textdesk.kill().expect("SIGKILL");
    textdesk.wait().unwrap();

    let port = free_port();
    let mut textdesk = start_textdesk(dir.path(), db.as_deref(), port, None);
    wait_healthy(port).await;
    let store = open_store(dir.path(), db.as_deref()).await;
    wait_until("every text was processed and sent", || async {
        store.inbound_backlog(0).await.unwrap().0 == 0 && store.outbox_backlog().await.unwrap() == 0
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    textdesk.kill().unwrap();
    textdesk.wait().unwrap();

    for phone in &phones {
        let transcript = store.transcript(phone, None).await.unwrap();
        let inbound = transcript
            .iter()
            .filter(|e| e.direction == Direction::Inbound)
            .count();
        let outbound = transcript
            .iter()
            .filter(|e| e.direction == Direction::Outbound)
            .count();
        assert_eq!((inbound, outbound), (1, 1), "{phone}: {transcript:#?}");
    }
}
