//! The fault suite: 2,000 customers text the real binary while everything that can
//! go wrong does. Twilio fails 30 % of sends (503s, texts taken but answered after the
//! send timeout, slow answers in time); the database refuses writes for three seconds;
//! the process is SIGKILLed twice and SIGTERMed once while texts arrive. Texts a dead
//! process could not acknowledge are posted again with the same `MessageSid`, as
//! Twilio's fallback URL or retry overrides would. Every customer must get exactly one
//! reply: printed as acknowledged / answered / duplicated / lost / retried, asserted
//! 0 lost and 0 duplicated. Bounded: 2,000 texts, at most a few minutes.

use std::path::Path;
use std::process::{Child, Command};
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use wiremock::MockServer;

use crate::support::db_lock::WriteLock;
use crate::support::fake_twilio::{FakeTwilio, Fault};
use crate::support::process::{
    free_port, open_store, post_webhook, textdesk_command, wait_healthy,
};
use crate::support::{sid, test_database_url};

const TEXTS: usize = 2_000;
/// Webhooks in flight at once.
const CONCURRENCY: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProcessFault {
    Kill,
    Term,
    /// Another connection holds the write lock for three seconds.
    DatabaseRefuses,
}

/// After how many acknowledged texts each fault strikes.
const FAULTS: [(usize, ProcessFault); 4] = [
    (400, ProcessFault::Kill),
    (900, ProcessFault::DatabaseRefuses),
    (1_300, ProcessFault::Term),
    (1_700, ProcessFault::Kill),
];

/// A stable pseudo-random spread of faults over POST indexes (SplitMix64).
fn fault_for(index: usize) -> Fault {
    let mut z = (index as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    match (z ^ (z >> 31)) % 10 {
        0 => Fault::Unavailable,
        // Past the 400 ms send timeout: taken, but textdesk cannot know.
        1 => Fault::AcceptAfter(Duration::from_millis(700)),
        // Slow, but in time.
        2 => Fault::AcceptAfter(Duration::from_millis(150)),
        _ => Fault::Accept,
    }
}

fn start(dir: &Path, db: Option<&str>, twilio: &str, port: u16) -> Child {
    textdesk_command(dir, db, port, Some(twilio))
        .env("TEXTDESK_OUTBOX_SEND_TIMEOUT_MS", "400")
        .env("TEXTDESK_WEBHOOK_WRITE_TIMEOUT_MS", "500")
        .env("TEXTDESK_SHUTDOWN_GRACE_SECS", "5")
        .spawn()
        .expect("textdesk starts")
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status()
        .expect("kill runs");
    assert!(status.success());
}

/// Waits for the process to exit by itself (after SIGTERM), at most `within`.
async fn exits_within(child: &mut Child, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_texts_through_faults_lose_nothing_and_send_nothing_twice() {
    let began = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let db = test_database_url().await;
    let server = MockServer::start().await;
    let twilio = FakeTwilio::mount(&server, fault_for).await;
    let database_url = db.clone().unwrap_or_else(|| {
        format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("textdesk.db").display()
        )
    });

    let port = Arc::new(AtomicU16::new(free_port()));
    let mut textdesk = start(
        dir.path(),
        db.as_deref(),
        &server.uri(),
        port.load(Ordering::SeqCst),
    );
    wait_healthy(port.load(Ordering::SeqCst)).await;

    // Every customer texts once; a text is posted until acknowledged, with one sid.
    let phones: Vec<String> = (0..TEXTS).map(|i| format!("+1555557{i:04}")).collect();
    let acknowledged = Arc::new(AtomicUsize::new(0));
    let reposts = Arc::new(AtomicUsize::new(0));
    let slots = Arc::new(Semaphore::new(CONCURRENCY));
    let mut next_fault = 0;
    let mut senders = tokio::task::JoinSet::new();
    for phone in phones.clone() {
        let permit = slots.clone().acquire_owned().await.unwrap();
        let (at_port, acked, reposted) = (port.clone(), acknowledged.clone(), reposts.clone());
        senders.spawn(async move {
            let sid = sid();
            let deadline = Instant::now() + Duration::from_secs(120);
            loop {
                let now_port = at_port.load(Ordering::SeqCst);
                match post_webhook(now_port, &phone, "hello, is anyone there?", &sid).await {
                    Ok(status) if status.is_success() => break,
                    _ => {
                        assert!(Instant::now() < deadline, "{phone} never acknowledged");
                        reposted.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
            acked.fetch_add(1, Ordering::SeqCst);
            drop(permit);
        });

        // The faults, at points in the stream of texts.
        let Some(&(point, fault)) = FAULTS.get(next_fault) else {
            continue;
        };
        if acknowledged.load(Ordering::SeqCst) < point {
            continue;
        }
        next_fault += 1;
        match fault {
            ProcessFault::Kill | ProcessFault::Term => {
                if fault == ProcessFault::Kill {
                    signal(&textdesk, "KILL");
                    textdesk.wait().unwrap();
                } else {
                    signal(&textdesk, "TERM");
                    assert!(
                        exits_within(&mut textdesk, Duration::from_secs(12)).await,
                        "textdesk exits within its grace period after SIGTERM"
                    );
                }
                let next = free_port();
                textdesk = start(dir.path(), db.as_deref(), &server.uri(), next);
                wait_healthy(next).await;
                port.store(next, Ordering::SeqCst);
            }
            ProcessFault::DatabaseRefuses => {
                let lock = WriteLock::take(&database_url).await;
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_secs(3)).await;
                    lock.release().await;
                });
            }
        }
    }
    assert_eq!(next_fault, FAULTS.len(), "every fault happened");
    while let Some(sent) = senders.join_next().await {
        sent.unwrap();
    }
    let acknowledged = acknowledged.load(Ordering::SeqCst);
    assert_eq!(acknowledged, TEXTS);

    // Let it work through everything, then give a duplicate every chance to appear.
    let store = open_store(dir.path(), db.as_deref()).await;
    let spool = dir.path().join("spool").join("inbound.jsonl");
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let (inbound, _) = store.inbound_backlog(0).await.unwrap();
        let outbound = store.outbox_backlog().await.unwrap();
        if inbound == 0 && outbound == 0 && !spool.exists() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not drained: {inbound} inbound, {outbound} outbound"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    signal(&textdesk, "TERM");
    exits_within(&mut textdesk, Duration::from_secs(12)).await;
    textdesk.kill().ok();

    let mut answered = 0;
    let mut duplicated = 0;
    let mut lost = Vec::new();
    for phone in &phones {
        match twilio.taken_for(phone) {
            0 => lost.push(phone.clone()),
            1 => answered += 1,
            n => {
                answered += 1;
                duplicated += n - 1;
            }
        }
    }
    println!(
        "fault suite: {TEXTS} texts, {acknowledged} acknowledged, {answered} answered, \
         {duplicated} duplicated, {} lost; {} webhook re-posts, {} sends tried for {} taken; {:.1} s",
        lost.len(),
        reposts.load(Ordering::SeqCst),
        twilio.posts(),
        answered + duplicated,
        began.elapsed().as_secs_f64()
    );
    assert!(
        lost.is_empty(),
        "{} customers got no reply: {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );
    assert_eq!(duplicated, 0, "replies sent twice");
}
