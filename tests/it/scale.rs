//! Several textdesk processes on one PostgreSQL: work is shared, nothing is answered
//! twice or out of order, a killed instance's work is finished by the other, and an
//! agent connected to one instance sees what happened on the other.
//!
//! Needs PostgreSQL (`TEXTDESK_TEST_POSTGRES_URL`, set by scripts/test.sh); without it
//! each test says it was skipped and passes. The three-instance story also needs a
//! Qdrant server (`QDRANT_URL`, `QDRANT_API_KEY`) and nginx; scripts/test.sh has both.

use std::process::Child;
use std::time::Duration;

use crate::support::process::{
    free_port, open_store, post_webhook, start_textdesk, textdesk_command, wait_healthy, wait_until,
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

/// A figure for the CI log: written to the process's stderr directly, past the test
/// harness's capture, so it shows in a passing run too.
fn say(line: &str) {
    use std::io::Write;
    writeln!(std::io::stderr(), "== scale: {line}").ok();
}

/// One `textdesk serve` of the three behind nginx: Qdrant for knowledge, the load
/// balancer's URL as the public URL (Twilio signs the URL it calls), a shared copy of
/// the knowledge files.
struct Behind {
    db: String,
    qdrant: (String, Option<String>),
    collection: String,
    knowledge: std::path::PathBuf,
    public_url: String,
}

impl Behind {
    fn start(&self, port: u16) -> Instance {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = textdesk_command(dir.path(), Some(&self.db), port, None);
        cmd.env("TEXTDESK_KNOWLEDGE_DIR", &self.knowledge)
            .env("TEXTDESK_PUBLIC_URL", &self.public_url)
            .env("QDRANT_URL", &self.qdrant.0)
            .env("TEXTDESK_QDRANT_COLLECTION", &self.collection);
        if let Some(key) = &self.qdrant.1 {
            cmd.env("QDRANT_API_KEY", key);
        }
        Instance {
            port,
            child: cmd.spawn().expect("textdesk binary starts"),
            _dir: dir,
        }
    }
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Sends `texts` for each of `phones` through port `lb`, `workers` conversations at a
/// time, each conversation's texts in order; a text nginx could not place (all
/// instances busy restarting) is retried with its message sid, as Twilio does.
async fn send_all(
    lb: u16,
    conversations: Vec<(String, Vec<&'static str>)>,
    workers: usize,
    acknowledged: std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    let queue = std::sync::Arc::new(std::sync::Mutex::new(conversations));
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let (queue, acknowledged) = (queue.clone(), acknowledged.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let next = queue.lock().unwrap().pop();
                let Some((phone, texts)) = next else { break };
                for text in texts {
                    let message_sid = sid();
                    let mut tries = 0;
                    loop {
                        match post_webhook(lb, &phone, text, &message_sid).await {
                            Ok(status) if status.is_success() => break,
                            other => {
                                tries += 1;
                                assert!(tries < 100, "{phone}: {text:?} not accepted: {other:?}");
                                tokio::time::sleep(Duration::from_millis(50)).await;
                            }
                        }
                    }
                    acknowledged.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
}

/// Waits (up to `limit`) until every text is processed and every reply sent.
async fn drained(store: &textdesk::store::Store, limit: Duration) {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let (inbound, _) = store.inbound_backlog(0).await.unwrap();
        let outbound = store.outbox_backlog().await.unwrap();
        if inbound == 0 && outbound == 0 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not drained in {limit:?}: {inbound} inbound, {outbound} outbound pending"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Three instances behind nginx on one PostgreSQL and one Qdrant server (scripts/test.sh
/// starts both). First the throughput with 1, 2 and 3 instances (printed); then 2,000
/// signed texts through nginx while one instance is SIGKILLed and restarted and a
/// knowledge file is edited: every text is answered exactly once and in order, every
/// instance answers with the edited fact within 5 s, and one agent's event stream sees
/// every handoff, whichever instance made it.
#[tokio::test]
async fn three_instances_behind_nginx_share_the_work_the_knowledge_and_the_handoffs() {
    use crate::support::nginx::Nginx;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let Some(db) = database_or_skip("three_instances_behind_nginx…").await else {
        return;
    };
    let Some(qdrant_url) = std::env::var("QDRANT_URL").ok().filter(|u| !u.is_empty()) else {
        eprintln!("SKIPPED three_instances_behind_nginx…: set QDRANT_URL (scripts/test.sh does)");
        return;
    };
    if !Nginx::installed() {
        eprintln!(
            "SKIPPED three_instances_behind_nginx…: install nginx (scripts/test.sh does, as root)"
        );
        return;
    }
    let kb = tempfile::tempdir().unwrap();
    copy_dir(&crate::support::repo_path("knowledge"), kb.path());
    let lb = free_port();
    let behind = Behind {
        db: db.clone(),
        qdrant: (
            qdrant_url,
            std::env::var("QDRANT_API_KEY")
                .ok()
                .filter(|k| !k.is_empty()),
        ),
        collection: format!(
            "textdesk_scale_{}_{:08x}",
            std::process::id(),
            rand::random::<u32>()
        ),
        knowledge: kb.path().to_path_buf(),
        public_url: format!("http://127.0.0.1:{lb}"),
    };
    let store = open_store(std::path::Path::new("."), Some(&db)).await;
    let token = generate_token();
    store
        .create_agent("ana", Role::Admin, &hash_token(&token), 0)
        .await
        .unwrap();

    // Throughput: 300 texts (100 conversations × 3) through nginx with 1, 2, 3 instances.
    let mut instances: Vec<Instance> = Vec::new();
    let mut figures = Vec::new();
    for n in 1..=3 {
        instances.push(behind.start(free_port()));
        for instance in &instances {
            wait_healthy(instance.port).await;
        }
        let ports: Vec<u16> = instances.iter().map(|i| i.port).collect();
        let nginx = Nginx::start(lb, &ports).await;
        let conversations = (0..100)
            .map(|c| (format!("+1303556{n}{c:03}"), TEXTS.to_vec()))
            .collect();
        let started = std::time::Instant::now();
        send_all(lb, conversations, 50, Arc::new(AtomicUsize::new(0))).await;
        drained(&store, Duration::from_secs(120)).await;
        let per_second = 300.0 / started.elapsed().as_secs_f64();
        figures.push(format!("{n} instance(s): {per_second:.0} texts/s"));
        drop(nginx);
    }
    say(&format!(
        "throughput through nginx, 300 texts each: {}",
        figures.join(", ")
    ));

    // The agent watches instance 0 (never killed) directly.
    let mut stream = crate::support::http_client()
        .get(format!(
            "http://127.0.0.1:{}/api/v1/events",
            instances[0].port
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let seen = Arc::new(std::sync::Mutex::new(String::new()));
    let reader = {
        let seen = seen.clone();
        tokio::spawn(async move {
            while let Ok(Some(chunk)) = stream.chunk().await {
                seen.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&chunk));
            }
        })
    };

    // 2,000 texts: 470 conversations of four, 60 that ask for a person in their second.
    const ASKS_FOR_A_PERSON: usize = 60;
    let ports: Vec<u16> = instances.iter().map(|i| i.port).collect();
    let nginx = Nginx::start(lb, &ports).await;
    let mut conversations: Vec<(String, Vec<&'static str>)> = (0..470)
        .map(|c| {
            (
                format!("+1303557{c:04}"),
                vec!["hello there", "thanks a lot", "ok bye", "thank you"],
            )
        })
        .collect();
    conversations.extend((0..ASKS_FOR_A_PERSON).map(|c| {
        (
            format!("+1303558{c:04}"),
            vec!["hello there", "can I talk to a human"],
        )
    }));
    let total: usize = conversations.iter().map(|(_, t)| t.len()).sum();
    assert_eq!(total, 2000);
    let expected = conversations.clone();
    let acknowledged = Arc::new(AtomicUsize::new(0));
    let started = std::time::Instant::now();
    let sending = tokio::spawn(send_all(lb, conversations, 60, acknowledged.clone()));

    // A quarter in, instance 2 is SIGKILLed, and started again on its port.
    let progress = |n: usize| {
        let acknowledged = acknowledged.clone();
        async move {
            while acknowledged.load(Ordering::SeqCst) < n {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    progress(total / 4).await;
    let port = instances[2].port;
    instances[2].child.kill().unwrap();
    instances[2].child.wait().unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    instances[2] = behind.start(port);
    wait_healthy(port).await;

    // Half way, an operator edits a fact; every instance answers with it within 5 s.
    progress(total / 2).await;
    let file = kb.path().join("payments/gift-cards.md");
    let text = std::fs::read_to_string(&file).unwrap();
    let edited = text.replace(
        "never expire and have no fees.",
        "never expire, have no fees and carry the bonus code ZEBRA42.",
    );
    assert_ne!(text, edited, "the fact to edit is in the shipped file");
    std::fs::write(&file, edited).unwrap();
    let edited_at = std::time::Instant::now();
    let answers_the_edit = instances.iter().map(|instance| {
        let (port, token) = (instance.port, token.clone());
        async move {
            let http = crate::support::http_client();
            loop {
                let preview: serde_json::Value = http
                    .post(format!("http://127.0.0.1:{port}/api/v1/admin/preview"))
                    .bearer_auth(&token)
                    .json(&serde_json::json!({"text": "do gift cards expire"}))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                if preview.to_string().contains("ZEBRA42") {
                    return edited_at.elapsed();
                }
                assert!(
                    edited_at.elapsed() < Duration::from_secs(5),
                    "instance on {port} still answers the old fact 5 s after the edit: {preview}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    });
    let lags = futures_util::future::join_all(answers_the_edit).await;
    let knowledge_lag = lags.iter().max().copied().unwrap_or_default();

    sending.await.unwrap();
    drained(&store, Duration::from_secs(180)).await;
    let elapsed = started.elapsed();
    drop(nginx);

    let greeting = "Hi! This is Trailhead Outfitters. How can we help today?";
    for (phone, texts) in &expected {
        let transcript = store.transcript(phone, None).await.unwrap();
        let inbound: Vec<&str> = transcript
            .iter()
            .filter(|e| e.direction == Direction::Inbound)
            .map(|e| e.body.as_str())
            .collect();
        assert_eq!(&inbound, texts, "{phone}: each text stored once, in order");
        let replies: Vec<&str> = transcript
            .iter()
            .filter(|e| e.direction == Direction::Outbound)
            .map(|e| e.body.as_str())
            .collect();
        assert_eq!(
            replies.len(),
            texts.len(),
            "{phone}: one reply per text: {replies:?}"
        );
        assert_eq!(
            replies[0], greeting,
            "{phone}: answered in order: {replies:?}"
        );
    }

    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let handoffs = seen
            .lock()
            .unwrap()
            .matches("event: handoff.created")
            .count();
        if handoffs >= ASKS_FOR_A_PERSON {
            assert_eq!(handoffs, ASKS_FOR_A_PERSON, "one handoff per conversation");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the agent's stream saw {handoffs} of {ASKS_FOR_A_PERSON} handoffs"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    reader.abort();
    say(&format!(
        "2,000 texts through nginx over 3 instances (one SIGKILLed and restarted): {:.1} s, \
         {:.0} texts/s; the edited fact answered by each instance after {:?} (max {:.1} s)",
        elapsed.as_secs_f64(),
        2000.0 / elapsed.as_secs_f64(),
        lags.iter()
            .map(|l| format!("{:.1} s", l.as_secs_f64()))
            .collect::<Vec<_>>(),
        knowledge_lag.as_secs_f64()
    ));

    let client = qdrant_client::Qdrant::from_url(&behind.qdrant.0)
        .api_key(behind.qdrant.1.clone())
        .skip_compatibility_check()
        .build()
        .unwrap();
    client
        .delete_collection(behind.collection.as_str())
        .await
        .ok();
}
