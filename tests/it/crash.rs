//! Crash safety with the real binary: an acknowledged text survives SIGKILL and gets
//! exactly one reply after a restart.

use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

use crate::support::process::{
    free_port, open_store, post_text, post_webhook, start_textdesk, wait_healthy, wait_until,
};
use crate::support::{sid, test_database_url};
use textdesk::store::{Direction, Store};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Starts textdesk again on the same data, lets it work through everything left
/// queued, stops it, and returns the store to count what happened.
async fn restart_and_drain(dir: &Path, db: Option<&str>) -> Store {
    let port = free_port();
    let mut textdesk = start_textdesk(dir, db, port, None);
    wait_healthy(port).await;
    let store = open_store(dir, db).await;
    wait_until("every text was processed and sent", || async {
        store.inbound_backlog(0).await.unwrap().0 == 0 && store.outbox_backlog().await.unwrap() == 0
    })
    .await;
    // Give a duplicate every chance to appear before counting.
    tokio::time::sleep(Duration::from_millis(500)).await;
    textdesk.kill().unwrap();
    textdesk.wait().unwrap();
    store
}

/// The contact's text is stored once and answered by exactly one sent reply.
async fn assert_one_text_one_sent_reply(store: &Store, phone: &str) {
    let transcript = store.transcript(phone, None).await.unwrap();
    let count = |direction| transcript.iter().filter(move |e| e.direction == direction);
    let inbound = count(Direction::Inbound).count();
    let sent = count(Direction::Outbound)
        .filter(|e| e.delivery_status == "sent")
        .count();
    assert_eq!((inbound, sent), (1, 1), "{phone}: {transcript:#?}");
}

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

    let sends = twilio
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.method.as_str() == "POST")
        .count();
    assert_eq!(sends, 1, "exactly one accepted send after restart");
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

    let store = restart_and_drain(dir.path(), db.as_deref()).await;
    for phone in &phones {
        assert_one_text_one_sent_reply(&store, phone).await;
    }
}

/// Sends SIGTERM, as a container runtime or systemd does to stop the service.
fn sigterm(child: &Child) {
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .expect("kill runs");
    assert!(status.success());
}

#[tokio::test]
async fn sigterm_during_a_burst_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let db = test_database_url().await;
    let port = free_port();
    let mut textdesk = start_textdesk(dir.path(), db.as_deref(), port, None);
    wait_healthy(port).await;

    // Sixty customers text at once; SIGTERM lands in the middle of the burst, as soon
    // as the first text is acknowledged (a fixed delay would, on a loaded machine,
    // arrive before any acknowledgement and prove nothing).
    let phones: Vec<String> = (0..60)
        .map(|i| format!("+1555556{:04}", 3000 + i))
        .collect();
    let first_ack = std::sync::Arc::new(tokio::sync::Notify::new());
    let mut burst = tokio::task::JoinSet::new();
    for (i, phone) in phones.iter().enumerate() {
        let phone = phone.clone();
        let first_ack = first_ack.clone();
        burst.spawn(async move {
            tokio::time::sleep(Duration::from_millis(5 * i as u64)).await;
            let acknowledged = post_webhook(port, &phone, "hello, is anyone there?", &sid())
                .await
                .is_ok_and(|status| status == 200);
            if acknowledged {
                first_ack.notify_one();
            }
            (phone, acknowledged)
        });
    }
    tokio::time::timeout(Duration::from_secs(30), first_ack.notified())
        .await
        .expect("a text of the burst is acknowledged");
    sigterm(&textdesk);
    let mut acknowledged = Vec::new();
    while let Some(result) = burst.join_next().await {
        let (phone, ok) = result.unwrap();
        if ok {
            acknowledged.push(phone);
        }
    }
    // It stops by itself, promptly and cleanly, after finishing what it had in hand.
    let mut exited = None;
    for _ in 0..300 {
        if let Some(status) = textdesk.try_wait().unwrap() {
            exited = Some(status);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let Some(status) = exited else {
        textdesk.kill().ok();
        panic!("textdesk did not exit within 15 s of SIGTERM");
    };
    assert!(status.success(), "exit status after SIGTERM: {status}");
    assert!(
        !acknowledged.is_empty(),
        "some texts were acknowledged before SIGTERM"
    );

    let store = restart_and_drain(dir.path(), db.as_deref()).await;
    for phone in &acknowledged {
        assert_one_text_one_sent_reply(&store, phone).await;
    }
}
