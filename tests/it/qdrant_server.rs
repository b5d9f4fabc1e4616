//! The knowledge-index stories of `tests/it/knowledge_index.rs`, on a Qdrant server:
//! `QDRANT_URL=http://localhost:6334 [QDRANT_API_KEY=…] cargo test --test it qdrant_server::`.
//! Each story uses its own collection, deleted afterwards. Without `QDRANT_URL` every
//! test prints that it was skipped and passes (these machines cannot run a server).

use crate::knowledge_cases;
use crate::knowledge_cases::Backend;

fn server() -> Option<Backend> {
    match std::env::var("QDRANT_URL") {
        Ok(url) if !url.trim().is_empty() => Some(Backend::Server {
            url,
            api_key: std::env::var("QDRANT_API_KEY")
                .ok()
                .filter(|k| !k.is_empty()),
        }),
        _ => {
            println!("SKIPPED: set QDRANT_URL to a Qdrant server to run these");
            None
        }
    }
}

#[tokio::test]
async fn search_finds_the_file_that_answers() {
    if let Some(backend) = server() {
        knowledge_cases::search_finds_the_file_that_answers(&backend).await;
    }
}

#[tokio::test]
async fn dense_and_hybrid_search_use_the_embedder() {
    if let Some(backend) = server() {
        knowledge_cases::dense_and_hybrid_search_use_the_embedder(&backend).await;
    }
}

#[tokio::test]
async fn a_tag_filter_keeps_only_tagged_documents() {
    if let Some(backend) = server() {
        knowledge_cases::a_tag_filter_keeps_only_tagged_documents(&backend).await;
    }
}

#[tokio::test]
async fn editing_a_file_reindexes_only_its_changed_chunks() {
    if let Some(backend) = server() {
        knowledge_cases::editing_a_file_reindexes_only_its_changed_chunks(&backend).await;
    }
}

#[tokio::test]
async fn a_broken_file_is_reported_with_its_line_and_keeps_serving() {
    if let Some(backend) = server() {
        knowledge_cases::a_broken_file_is_reported_with_its_line_and_keeps_serving(&backend).await;
    }
}

#[tokio::test]
async fn deleting_a_file_removes_its_chunks() {
    if let Some(backend) = server() {
        knowledge_cases::deleting_a_file_removes_its_chunks(&backend).await;
    }
}

#[tokio::test]
async fn a_restart_with_unchanged_files_embeds_and_writes_nothing() {
    if let Some(backend) = server() {
        knowledge_cases::a_restart_with_unchanged_files_embeds_and_writes_nothing(&backend).await;
    }
}

#[tokio::test]
async fn the_watcher_reindexes_after_an_edit() {
    if let Some(backend) = server() {
        knowledge_cases::the_watcher_reindexes_after_an_edit(&backend).await;
    }
}

/// Runs always: no server is needed to see that a missing one fails at open, naming
/// where textdesk looked (start-up then leaves the knowledge base out and says so).
#[tokio::test]
async fn an_unreachable_server_fails_open_and_names_it() {
    use textdesk::knowledge::Knowledge;
    // Port 1 on loopback: refused at once, nothing listens there.
    let f = knowledge_cases::Fixture::new(&Backend::Server {
        url: "http://127.0.0.1:1".into(),
        api_key: None,
    });
    let started = std::time::Instant::now();
    let err = Knowledge::open(&f.dirs(), None)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("http://127.0.0.1:1"), "{err}");
    assert!(err.contains("cannot be reached"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}
