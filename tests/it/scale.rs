//! Several textdesk processes on one PostgreSQL: work is shared, nothing is answered
//! twice or out of order, a killed instance's work is finished by the other, and an
//! agent connected to one instance sees what happened on the other.
//!
//! Needs PostgreSQL (`TEXTDESK_TEST_POSTGRES_URL`, set by scripts/test.sh); without it
//! each test says it was skipped and passes.

use std::process::Child;
use std::time::Duration;

use crate::support::process::{
    free_port, open_store, post_webhook, start_textdesk, wait_healthy, wait_until,
};
use crate::support::{sid, test_database_url};
use textdesk::api::auth::{generate_token, hash_token};
use textdesk::store::{Direction, Role};

/// The three texts of every conversation and the intents' fixed replies
/// (prompts/intents.toml), so the order of the answers can be checked exactly.
const TEXTS: [&str; 3] = ["hello there", "thanks a lot", "ok bye"];

struct Instance {
    port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

/// An instance never outlives its test (a leftover process would hold the test's
/// output open and keep CI waiting).
impl Drop for Instance {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

fn start(db: &str) -> Instance {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let child = start_textdesk(dir.path(), Some(db), port, None);
    Instance {
        port,
        child,
        _dir: dir,
    }
}

async fn database_or_skip(test: &str) -> Option<String> {
    let db = test_database_url().await;
    if db.is_none() {
        eprintln!(
            "SKIPPED {test}: set TEXTDESK_TEST_POSTGRES_URL (scripts/test.sh does) to run it"
        );
    }
    db
}

#[tokio::test]
async fn two_instances_answer_every_text_once_in_order_even_when_one_is_killed() {
    let Some(db) = database_or_skip("two_instances…").await else {
        return;
    };
    let mut a = start(&db);
    let b = start(&db);
    wait_healthy(a.port).await;
    wait_healthy(b.port).await;
    let store = open_store(std::path::Path::new("."), Some(&db)).await;

    // 40 conversations × 3 texts, sent concurrently across conversations and in order
    // within each; the texts alternate between the instances. A is SIGKILLed once
    // half of them are acknowledged; a text A could not acknowledge is retried on B
    // with the same message sid, as Twilio would.
    const CONVERSATIONS: usize = 40;
    let acknowledged = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let a_alive = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let mut senders = Vec::new();
    for c in 0..CONVERSATIONS {
        let (a_port, b_port) = (a.port, b.port);
        let acknowledged = acknowledged.clone();
        let a_alive = a_alive.clone();
        senders.push(tokio::spawn(async move {
            let phone = format!("+1303555{:04}", 2000 + c);
            for (i, text) in TEXTS.iter().enumerate() {
                let message_sid = sid();
                let first = if (c + i) % 2 == 0 { a_port } else { b_port };
                let mut port = first;
                loop {
                    if port == a_port && !a_alive.load(std::sync::atomic::Ordering::SeqCst) {
                        port = b_port;
                    }
                    match post_webhook(port, &phone, text, &message_sid).await {
                        Ok(status) if status.is_success() => break,
                        _ => {
                            port = b_port;
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                }
                acknowledged.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            phone
        }));
    }
    let total = CONVERSATIONS * TEXTS.len();
    wait_until("half the texts are acknowledged", || {
        let n = acknowledged.load(std::sync::atomic::Ordering::SeqCst);
        async move { n >= total / 2 }
    })
    .await;
    a.child.kill().unwrap();
    a.child.wait().unwrap();
    a_alive.store(false, std::sync::atomic::Ordering::SeqCst);
    let mut phones = Vec::new();
    for sender in senders {
        phones.push(sender.await.unwrap());
    }

    wait_until("every text is processed and every reply sent", || {
        let store = store.clone();
        async move {
            let (inbound, _) = store.inbound_backlog(0).await.unwrap();
            inbound == 0 && store.outbox_backlog().await.unwrap() == 0
        }
    })
    .await;

    let greeting = "Hi! This is Trailhead Outfitters. How can we help today?";
    for phone in &phones {
        let transcript = store.transcript(phone, None).await.unwrap();
        let inbound: Vec<&str> = transcript
            .iter()
            .filter(|e| e.direction == Direction::Inbound)
            .map(|e| e.body.as_str())
            .collect();
        assert_eq!(inbound, TEXTS, "{phone}: each text stored once, in order");
        let replies: Vec<&str> = transcript
            .iter()
            .filter(|e| e.direction == Direction::Outbound)
            .map(|e| e.body.as_str())
            .collect();
        assert_eq!(replies.len(), 3, "{phone}: one reply per text: {replies:?}");
        assert_eq!(
            replies[0], greeting,
            "{phone}: answers in order: {replies:?}"
        );
        assert_ne!(replies[1], replies[2], "{phone}: {replies:?}");
    }
}

#[tokio::test]
async fn an_agent_on_one_instance_sees_a_handoff_made_on_the_other() {
    let Some(db) = database_or_skip("an_agent_on_one_instance…").await else {
        return;
    };
    let a = start(&db);
    let b = start(&db);
    wait_healthy(a.port).await;
    wait_healthy(b.port).await;
    let store = open_store(std::path::Path::new("."), Some(&db)).await;
    let token = generate_token();
    store
        .create_agent("ana", Role::Agent, &hash_token(&token), 0)
        .await
        .unwrap();

    let mut stream = crate::support::http_client()
        .get(format!("http://127.0.0.1:{}/api/v1/events", a.port))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let status = post_webhook(b.port, "+13035553000", "can I talk to a human", &sid())
        .await
        .unwrap();
    assert_eq!(status, 200);

    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !seen.contains("event: handoff.created") {
        let chunk = tokio::time::timeout_at(deadline, stream.chunk())
            .await
            .expect("instance A streams the handoff created on B in time")
            .unwrap()
            .expect("stream open");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    drop((a, b));
}
