//! The knowledge-index stories of `tests/it/knowledge_index.rs`, on a Qdrant server:
//! `QDRANT_URL=http://localhost:6334 [QDRANT_API_KEY=…] cargo test --test it qdrant_server::`.
//! Each story uses its own collection, deleted afterwards. Without `QDRANT_URL` every
//! test prints that it was skipped and passes; scripts/test.sh starts the shared
//! Qdrant v1.18.3 (`../shared/qdrant/`) with an API key and sets it, so CI runs them.
//! The stories that stop and restart a server start their own from `QDRANT_BIN`.

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

fn skipped_without_bin() {
    println!("SKIPPED: set QDRANT_BIN to a Qdrant server binary to run this");
}

/// Hits as comparable rows: which chunk, and its score rounded past float noise.
fn rows(hits: &[textdesk::knowledge::Hit]) -> Vec<(String, usize, f32)> {
    hits.iter()
        .map(|h| {
            (
                h.chunk.file.clone(),
                h.chunk.line_start,
                (h.score * 1e4).round() / 1e4,
            )
        })
        .collect()
}

/// Same scores position by position, and the same chunks except among equal scores
/// (RRF ties come in either order, and a tie at the cut may keep either chunk).
fn same_ranking(want: &[(String, usize, f32)], got: &[(String, usize, f32)], what: &str) {
    let differ = || format!("{what}: rankings differ\n want {want:?}\n got  {got:?}");
    assert_eq!(want.len(), got.len(), "{}", differ());
    let last = want.last().map(|w| w.2);
    for (w, g) in want.iter().zip(got) {
        assert!((w.2 - g.2).abs() < 1e-3, "{}", differ());
        let tied = want.iter().filter(|x| (x.2 - w.2).abs() < 1e-3).count() > 1
            || last.is_some_and(|l| (l - w.2).abs() < 1e-3);
        assert!((w.0 == g.0 && w.1 == g.1) || tied, "{}", differ());
    }
}

/// The server ranks as the embedded index does, in every mode, on the shipped
/// knowledge base: same chunks, same scores (so the RRF `k` reached the server: its
/// default k would give other fused scores), ties aside.
#[tokio::test]
async fn the_server_ranks_as_the_embedded_index_does() {
    use textdesk::knowledge::{Knowledge, SearchMode};
    let Some(backend) = server() else { return };
    let open = |f: &knowledge_cases::Fixture, embedder| {
        let mut dirs = f.dirs();
        dirs.knowledge_dir = crate::support::repo_path("knowledge");
        async move { Knowledge::open(&dirs, Some(embedder)).await.unwrap() }
    };
    let (edge_f, server_f) = (
        knowledge_cases::Fixture::new(&Backend::Edge),
        knowledge_cases::Fixture::new(&backend),
    );
    let embedder: std::sync::Arc<dyn textdesk::knowledge::embed::Embedder> =
        knowledge_cases::counting();
    let edge = open(&edge_f, embedder.clone()).await;
    let on_server = open(&server_f, embedder).await;
    let (a, b) = (
        edge.reindex().await.unwrap(),
        on_server.reindex().await.unwrap(),
    );
    assert_eq!(a.chunks, b.chunks);
    assert!(a.chunks > 10, "the shipped knowledge base: {a:?}");

    let questions = [
        "how do I return my boots",
        "when will my refund arrive",
        "do you ship to canada",
        "where is my order",
        "what are your store hours",
        "can I change my delivery address",
        "is there a warranty on tents",
        "do you price match",
        "gift card balance",
        "how much is express shipping",
    ];
    for mode in [SearchMode::Bm25, SearchMode::Dense, SearchMode::Hybrid] {
        for question in questions {
            let want = rows(&edge.search(question, 8, mode, &[]).await.unwrap());
            let got = rows(&on_server.search(question, 8, mode, &[]).await.unwrap());
            same_ranking(&want, &got, &format!("{mode} {question:?}"));
        }
    }
}

/// The API key is sent on every call; a wrong one fails at open, saying it is the key.
#[tokio::test]
async fn a_wrong_api_key_fails_open_and_says_so() {
    use textdesk::knowledge::Knowledge;
    let Some(Backend::Server { url, api_key }) = server() else {
        return;
    };
    if api_key.is_none() {
        println!("SKIPPED: the server has no API key (set QDRANT_API_KEY)");
        return;
    }
    for wrong in [Some("not-the-key".to_string()), None] {
        let f = knowledge_cases::Fixture::new(&Backend::Server {
            url: url.clone(),
            api_key: wrong.clone(),
        });
        let err = Knowledge::open(&f.dirs(), None)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains(&url), "{err}");
        assert!(err.contains("API key"), "{wrong:?}: {err}");
        assert!(err.contains("QDRANT_API_KEY"), "{wrong:?}: {err}");
    }
}

/// The dense model is recorded in the collection's metadata at creation, and read
/// back: opening it with another model of the same size is refused, naming both.
#[tokio::test]
async fn a_collection_of_another_model_is_refused() {
    use textdesk::knowledge::Knowledge;
    use textdesk::knowledge::embed::{EmbedError, Embedder};
    let Some(backend) = server() else { return };
    let f = knowledge_cases::Fixture::new(&backend);
    let embedder = knowledge_cases::counting();
    f.open_dense(&embedder).await.reindex().await.unwrap();

    struct Other(std::sync::Arc<knowledge_cases::CountingEmbedder>);
    #[async_trait::async_trait]
    impl Embedder for Other {
        fn model_id(&self) -> &str {
            "test:another-model"
        }
        fn dimensions(&self) -> usize {
            self.0.dimensions()
        }
        async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
            self.0.embed(texts).await
        }
    }
    let other: std::sync::Arc<dyn Embedder> = std::sync::Arc::new(Other(embedder));
    let err = Knowledge::open(&f.dirs(), Some(other))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("test:hashed-bag-of-words"), "{err}");
    assert!(err.contains("test:another-model"), "{err}");
    assert!(err.contains("delete the collection"), "{err}");
}

/// Tag filters run on a keyword payload index, created with the collection.
#[tokio::test]
async fn tag_filters_have_a_keyword_payload_index() {
    let Some(Backend::Server { url, api_key }) = server() else {
        return;
    };
    let backend = Backend::Server {
        url: url.clone(),
        api_key: api_key.clone(),
    };
    let f = knowledge_cases::Fixture::new(&backend);
    let knowledge = f.open_bm25().await;
    knowledge.reindex().await.unwrap();
    let collection = f.dirs().qdrant.unwrap().collection;
    let client = qdrant_client::Qdrant::from_url(&url)
        .api_key(api_key)
        .skip_compatibility_check()
        .build()
        .unwrap();
    let info = client.collection_info(collection.as_str()).await.unwrap();
    let schema = info.result.unwrap().payload_schema;
    let tags = schema.get("tags").expect("a payload index on `tags`");
    assert_eq!(
        tags.data_type,
        qdrant_client::qdrant::PayloadSchemaType::Keyword as i32
    );
}

/// Several instances starting at once on a new collection: one creates it, none fails.
#[tokio::test]
async fn instances_opening_at_once_share_one_new_collection() {
    let Some(backend) = server() else { return };
    let f = knowledge_cases::Fixture::new(&backend);
    let opened = futures_util::future::join_all((0..4).map(|_| f.open_bm25())).await;
    for knowledge in &opened {
        knowledge.reindex().await.unwrap();
    }
    assert_eq!(
        knowledge_cases::top_file(
            &opened[3],
            "where is my tracking number",
            textdesk::knowledge::SearchMode::Bm25
        )
        .await,
        "help/shipping.md"
    );
}

/// The server is killed mid-run: searches fail at once with an error (the bot logs it
/// and answers without the knowledge base), nothing panics or hangs; once the server
/// is back on the same address, search and re-indexing work again without a restart.
#[tokio::test]
async fn a_server_restart_mid_run_degrades_then_recovers() {
    use std::time::{Duration, Instant};
    use textdesk::knowledge::SearchMode;
    let Some(mut qdrant) = crate::support::qdrant::QdrantProcess::start(Some("restart-key")).await
    else {
        return skipped_without_bin();
    };
    let f = knowledge_cases::Fixture::new(&Backend::Server {
        url: qdrant.url(),
        api_key: Some("restart-key".into()),
    });
    let knowledge = f.open_bm25().await;
    knowledge.reindex().await.unwrap();
    let question = "where is my tracking number";
    assert_eq!(
        knowledge_cases::top_file(&knowledge, question, SearchMode::Bm25).await,
        "help/shipping.md"
    );

    qdrant.kill();
    let started = Instant::now();
    let err = knowledge
        .search(question, 3, SearchMode::Bm25, &[])
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains(&qdrant.url()), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    f.write(
        "gift-cards.md",
        "# Gift cards\n\nGift cards never expire.\n",
    );
    assert!(knowledge.reindex().await.is_err(), "nothing to write to");

    qdrant.restart().await;
    let back = knowledge_cases::wait_for(Duration::from_secs(15), || async {
        knowledge
            .search(question, 3, SearchMode::Bm25, &[])
            .await
            .is_ok_and(|hits| {
                hits.first()
                    .is_some_and(|h| h.chunk.file == "help/shipping.md")
            })
    })
    .await;
    assert!(
        back,
        "search works again within 15 s of the server's return"
    );
    let report = knowledge.reindex().await.unwrap();
    assert_eq!(
        report.written, 1,
        "the edit made while it was down: {report:?}"
    );
    assert_eq!(
        knowledge_cases::top_file(&knowledge, "do gift cards expire", SearchMode::Bm25).await,
        "gift-cards.md"
    );
}

/// The server comes back empty (its storage was lost, or someone deleted the
/// collection): the failed search makes the watcher sync again, which recreates the
/// collection and refills it from the files, without a file change or a restart.
#[tokio::test]
async fn a_lost_collection_is_recreated_and_refilled() {
    use std::time::Duration;
    use textdesk::knowledge::SearchMode;
    let Some(backend) = server() else { return };
    let Backend::Server { url, api_key } = &backend else {
        unreachable!()
    };
    let f = knowledge_cases::Fixture::new(&backend);
    let knowledge = f.open_bm25().await;
    let first = knowledge.reindex().await.unwrap();
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let watcher = knowledge.watch(stop_rx).unwrap();
    let client = qdrant_client::Qdrant::from_url(url)
        .api_key(api_key.clone())
        .skip_compatibility_check()
        .build()
        .unwrap();
    let collection = f.dirs().qdrant.unwrap().collection;
    client.delete_collection(collection.as_str()).await.unwrap();

    let question = "where is my tracking number";
    assert!(
        knowledge
            .search(question, 3, SearchMode::Bm25, &[])
            .await
            .is_err()
    );
    let healed = knowledge_cases::wait_for(Duration::from_secs(15), || async {
        knowledge
            .search(question, 3, SearchMode::Bm25, &[])
            .await
            .is_ok_and(|hits| {
                hits.first()
                    .is_some_and(|h| h.chunk.file == "help/shipping.md")
            })
    })
    .await;
    assert!(healed, "refilled within 15 s");
    assert_eq!(knowledge.status().chunks, first.chunks);
    assert!(!knowledge.needs_resync());
    stop.send(true).unwrap();
    watcher.await.unwrap();
}

/// A server too old for parameterised RRF gets each vector searched on its own and the
/// rankings fused here: the same chunks and scores as the server's own fusion.
#[tokio::test]
async fn fusing_here_ranks_as_the_servers_rrf_does() {
    use std::sync::Arc;
    use textdesk::knowledge::embed::Embedder;
    use textdesk::knowledge::index::server::{DenseModel, ServerIndex};
    use textdesk::knowledge::{Knowledge, SearchMode};
    let Some(backend) = server() else { return };
    let f = knowledge_cases::Fixture::new(&backend);
    let mut dirs = f.dirs();
    dirs.knowledge_dir = crate::support::repo_path("knowledge");
    let embedder: Arc<dyn Embedder> = knowledge_cases::counting();
    let on_server = Knowledge::open(&dirs, Some(embedder.clone()))
        .await
        .unwrap();
    on_server.reindex().await.unwrap();
    let dense = DenseModel {
        model_id: embedder.model_id().into(),
        dimensions: embedder.dimensions(),
    };
    let index = ServerIndex::open(dirs.qdrant.as_ref().unwrap(), Some(dense))
        .await
        .unwrap()
        .fusing_here();
    let here = Knowledge::with_index(dirs.knowledge_dir.clone(), Arc::new(index), Some(embedder))
        .await
        .unwrap();
    for question in [
        "how do I return my boots",
        "when will my refund arrive",
        "do gift cards expire",
        "how much is express shipping",
        "can I pay with paypal",
    ] {
        for tags in [vec![], vec!["shipping".to_string()]] {
            let want = rows(
                &on_server
                    .search(question, 5, SearchMode::Hybrid, &tags)
                    .await
                    .unwrap(),
            );
            let got = rows(
                &here
                    .search(question, 5, SearchMode::Hybrid, &tags)
                    .await
                    .unwrap(),
            );
            same_ranking(&want, &got, &format!("{question:?} {tags:?}"));
        }
    }
}
