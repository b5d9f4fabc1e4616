//! A fresh data directory with the local model: the demo's knowledge and intent
//! vectors and its trained intent model come from `seed/` (written by
//! `scripts/seed-vectors.sh`) instead of a minute of embedding and training, and the
//! bot answers with them.

use std::path::Path;

use crate::support::process::{free_port, open_store, post_text, textdesk_command, wait_until};
use crate::support::repo_path;
use textdesk::store::Direction;

const STALE: &str = "the shipped seed does not match prompts/ and knowledge/: run scripts/seed-vectors.sh and commit seed/";

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .len()
}

#[tokio::test]
async fn a_fresh_data_directory_starts_from_the_shipped_seed_and_answers() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut textdesk = textdesk_command(dir.path(), None, port, None)
        .env("TEXTDESK_EMBEDDINGS", "local")
        .env("TEXTDESK_MODEL_DIR", repo_path("models/all-MiniLM-L6-v2"))
        .env("TEXTDESK_SEED_DIR", repo_path("seed"))
        .spawn()
        .expect("textdesk starts");
    let client = crate::support::http_client();
    let ready = format!("http://127.0.0.1:{port}/readyz");
    wait_until(
        "textdesk is ready (if it is embedding and training, the seed is stale)",
        || async {
            client
                .get(&ready)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        },
    )
    .await;

    // Nothing had to be embedded or trained: the cache is the seed's vectors, and no
    // model was trained into the data directory.
    let slug = "local_all-MiniLM-L6-v2/vectors.bin";
    assert_eq!(
        file_len(&dir.path().join("embeddings").join(slug)),
        file_len(&repo_path("seed/embeddings").join(slug)),
        "{STALE}"
    );
    let trained: Vec<_> = std::fs::read_dir(dir.path().join("classifier"))
        .map(|entries| entries.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(trained.is_empty(), "trained {trained:?}: {STALE}");

    let phone = "+15550107001";
    assert!(
        post_text(port, phone, "what time do you open on sunday?")
            .await
            .is_success()
    );
    let store = open_store(dir.path(), None).await;
    wait_until("the question is answered", || async {
        store
            .transcript(phone, None)
            .await
            .unwrap()
            .iter()
            .any(|e| e.direction == Direction::Outbound)
    })
    .await;
    let transcript = store.transcript(phone, None).await.unwrap();
    let answer = &transcript
        .iter()
        .find(|e| e.direction == Direction::Outbound)
        .unwrap()
        .body;
    assert!(
        answer.contains("Sun"),
        "an answer about opening hours: {answer}"
    );
    textdesk.kill().unwrap();
    textdesk.wait().unwrap();
}
