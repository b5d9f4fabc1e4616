//! The knowledge-index stories, written once and run against every backend:
//! `tests/it/knowledge_index.rs` on the embedded qdrant-edge index, `tests/it/qdrant_server.rs`
//! on a Qdrant server. An operator edits, breaks and deletes Markdown files; the index
//! follows with the least work, and search keeps answering.

// Each test crate that includes this module uses a different part of it.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use textdesk::knowledge::embed::{EmbedError, Embedder};
use textdesk::knowledge::index::server::ServerSettings;
use textdesk::knowledge::{Knowledge, KnowledgeDirs, SearchMode};

const RETURNS: &str = "---
title: Returns
tags: [orders, returns]
url: https://example.com/returns
sms: Reply RETURN and we text you a prepaid label.
---
# Returns

You can return any unworn item within 30 days of delivery.

## How to return

Print the prepaid label, pack the item and drop it at any post office.

## Refunds

Refunds reach your card within five business days after we receive the parcel.
";

const SHIPPING: &str = "---
title: Shipping
tags: [orders, shipping]
---
# Shipping

Standard shipping takes three to five days. Express arrives the next day.

## Tracking

The tracking number is in your confirmation email.
";

const BILLING: &str = "---
title: Billing
tags: [billing]
---
# Billing

Invoices are emailed monthly. We accept Visa, Mastercard and PayPal.
";

/// Test-only: a trivial deterministic embedder (hashed bag of words) wrapped to COUNT
/// embed calls. It is not a language model; it exists so the tests can prove which
/// chunks were (not) re-embedded.
pub struct CountingEmbedder {
    pub texts: AtomicUsize,
}

#[async_trait::async_trait]
impl Embedder for CountingEmbedder {
    fn model_id(&self) -> &str {
        "test:hashed-bag-of-words"
    }
    fn dimensions(&self) -> usize {
        64
    }
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.texts.fetch_add(texts.len(), Ordering::SeqCst);
        Ok(texts
            .iter()
            .map(|t| {
                let mut v = vec![0f32; 64];
                for word in t
                    .to_lowercase()
                    .split(|c: char| !c.is_alphanumeric())
                    .filter(|w| !w.is_empty())
                {
                    let h = word
                        .bytes()
                        .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64));
                    v[(h % 64) as usize] += 1.0;
                }
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
                v.iter().map(|x| x / norm).collect()
            })
            .collect())
    }
}

pub fn counting() -> Arc<CountingEmbedder> {
    Arc::new(CountingEmbedder {
        texts: AtomicUsize::new(0),
    })
}

/// Where the index lives: embedded under the fixture's temp dir, or a fresh collection
/// on a Qdrant server (deleted when the fixture is dropped).
#[derive(Debug, Clone)]
pub enum Backend {
    Edge,
    Server {
        url: String,
        api_key: Option<String>,
    },
}

pub struct Fixture {
    dir: tempfile::TempDir,
    server: Option<ServerSettings>,
}

impl Fixture {
    pub fn new(backend: &Backend) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("kb/help")).unwrap();
        let server = match backend {
            Backend::Edge => None,
            Backend::Server { url, api_key } => Some(ServerSettings {
                url: url.clone(),
                api_key: api_key.clone(),
                collection: unique_collection(),
            }),
        };
        let f = Fixture { dir, server };
        f.write("returns.md", RETURNS);
        f.write("help/shipping.md", SHIPPING);
        f.write("billing.md", BILLING);
        f.write(
            "README.md",
            "# How to write knowledge files\n\nNot indexed.\n",
        );
        f
    }
    pub fn kb(&self) -> std::path::PathBuf {
        self.dir.path().join("kb")
    }
    pub fn dirs(&self) -> KnowledgeDirs {
        KnowledgeDirs {
            knowledge_dir: self.kb(),
            data_dir: self.dir.path().join("data"),
            qdrant: self.server.clone(),
        }
    }
    pub fn write(&self, file: &str, text: &str) {
        std::fs::write(self.kb().join(file), text).unwrap();
    }
    pub async fn open_bm25(&self) -> Arc<Knowledge> {
        Knowledge::open(&self.dirs(), None).await.unwrap()
    }
    pub async fn open_dense(&self, embedder: &Arc<CountingEmbedder>) -> Arc<Knowledge> {
        let embedder: Arc<dyn Embedder> = embedder.clone();
        Knowledge::open(&self.dirs(), Some(embedder)).await.unwrap()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let Some(server) = self.server.take() else {
            return;
        };
        // Drop cannot await; a scoped thread with its own runtime removes the
        // collection, also after a failed assertion.
        std::thread::scope(|s| {
            s.spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async {
                    let client = qdrant_client::Qdrant::from_url(&server.url)
                        .api_key(server.api_key.clone())
                        .skip_compatibility_check()
                        .build();
                    if let Ok(client) = client {
                        let _ = client.delete_collection(server.collection.as_str()).await;
                    }
                });
            });
        });
    }
}

fn unique_collection() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "textdesk_test_{}_{}_{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}

pub async fn top_file(knowledge: &Knowledge, query: &str, mode: SearchMode) -> String {
    let hits = knowledge.search(query, 3, mode, &[]).await.unwrap();
    hits.first()
        .map(|h| h.chunk.file.clone())
        .unwrap_or_default()
}

pub async fn search_finds_the_file_that_answers(backend: &Backend) {
    let f = Fixture::new(backend);
    let knowledge = f.open_bm25().await;
    let report = knowledge.reindex().await.unwrap();
    assert_eq!(report.documents, 3, "README.md is not a knowledge file");
    assert_eq!(report.written, report.chunks);

    assert_eq!(
        top_file(
            &knowledge,
            "how long until my refund arrives",
            SearchMode::Bm25
        )
        .await,
        "returns.md"
    );
    assert_eq!(
        top_file(&knowledge, "where is my tracking number", SearchMode::Bm25).await,
        "help/shipping.md"
    );
    assert_eq!(
        top_file(&knowledge, "do you take paypal", SearchMode::Hybrid).await,
        "billing.md"
    );

    let hits = knowledge
        .search("prepaid label post office", 1, SearchMode::Bm25, &[])
        .await
        .unwrap();
    let hit = &hits[0].chunk;
    assert_eq!(hit.heading_trail(), "Returns > How to return");
    assert_eq!((hit.line_start, hit.line_end), (11, 13));
    assert_eq!(
        hit.sms.as_deref(),
        Some("Reply RETURN and we text you a prepaid label.")
    );
    assert_eq!(hit.url.as_deref(), Some("https://example.com/returns"));
}

pub async fn dense_and_hybrid_search_use_the_embedder(backend: &Backend) {
    let f = Fixture::new(backend);
    let embedder = counting();
    let knowledge = f.open_dense(&embedder).await;
    let report = knowledge.reindex().await.unwrap();
    assert_eq!(report.embedded, report.chunks);
    assert!(knowledge.has_dense());
    assert_eq!(
        top_file(
            &knowledge,
            "tracking number confirmation email",
            SearchMode::Dense
        )
        .await,
        "help/shipping.md"
    );
    assert_eq!(
        top_file(&knowledge, "refunds card business days", SearchMode::Hybrid).await,
        "returns.md"
    );
}

pub async fn a_tag_filter_keeps_only_tagged_documents(backend: &Backend) {
    let f = Fixture::new(backend);
    let knowledge = f.open_bm25().await;
    knowledge.reindex().await.unwrap();
    // "days" appears in returns.md and shipping.md; only shipping is tagged `shipping`.
    let hits = knowledge
        .search("days", 10, SearchMode::Bm25, &["shipping".into()])
        .await
        .unwrap();
    assert!(!hits.is_empty());
    assert!(
        hits.iter().all(|h| h.chunk.file == "help/shipping.md"),
        "{hits:?}"
    );
    // Several tags: any of them.
    let hits = knowledge
        .search(
            "days",
            10,
            SearchMode::Bm25,
            &["shipping".into(), "returns".into()],
        )
        .await
        .unwrap();
    assert!(hits.iter().any(|h| h.chunk.file == "returns.md"));
    assert!(hits.iter().all(|h| h.chunk.file != "billing.md"));
}

pub async fn editing_a_file_reindexes_only_its_changed_chunks(backend: &Backend) {
    let f = Fixture::new(backend);
    let embedder = counting();
    let knowledge = f.open_dense(&embedder).await;
    let first = knowledge.reindex().await.unwrap();
    let embedded_before = embedder.texts.load(Ordering::SeqCst);
    assert_eq!(embedded_before, first.chunks);
    // Searched once before the edit, so a backend that keeps the chunks it read must
    // let go of the old version.
    let refunds_before = knowledge
        .search("refunds five business days", 1, SearchMode::Bm25, &[])
        .await
        .unwrap();
    assert_eq!(refunds_before[0].chunk.line_start, 15);

    // One section of one file changes; the section after it moves down one line.
    f.write(
        "returns.md",
        &RETURNS.replace(
            "Print the prepaid label, pack the item and drop it at any post office.",
            "Print the prepaid label and pack the item.\nDrop it at any post office or UPS store.",
        ),
    );
    let report = knowledge.reindex().await.unwrap();
    assert_eq!(report.embedded, 1, "{report:?}");
    assert_eq!(embedder.texts.load(Ordering::SeqCst) - embedded_before, 1);
    assert_eq!(report.written, 1);
    assert_eq!(report.deleted, 1, "the old version of the section");
    assert_eq!(
        report.payload_updated, 1,
        "`Refunds` moved: new lines, same vectors"
    );
    assert_eq!(report.unchanged, first.chunks - 2);

    let hits = knowledge
        .search("UPS store", 1, SearchMode::Bm25, &[])
        .await
        .unwrap();
    assert_eq!(hits[0].chunk.file, "returns.md");
    let refunds = knowledge
        .search("refunds five business days", 1, SearchMode::Bm25, &[])
        .await
        .unwrap();
    assert_eq!(
        refunds[0].chunk.line_start, 16,
        "the moved chunk reports its new lines"
    );

    let again = knowledge.reindex().await.unwrap();
    assert_eq!(
        (
            again.embedded,
            again.written,
            again.deleted,
            again.payload_updated
        ),
        (0, 0, 0, 0)
    );
}

pub async fn a_broken_file_is_reported_with_its_line_and_keeps_serving(backend: &Backend) {
    let f = Fixture::new(backend);
    let knowledge = f.open_bm25().await;
    knowledge.reindex().await.unwrap();
    let chunks_before = knowledge.status().chunks;

    // Line 3 opens a flow sequence that never closes.
    f.write(
        "billing.md",
        "---\ntitle: Billing\ntags: [billing\n---\n# Billing\n\nWe now only take cash.\n",
    );
    let report = knowledge.reindex().await.unwrap();
    assert_eq!(report.errors.len(), 1);
    let error = &report.errors[0];
    assert_eq!(error.file, "billing.md");
    assert!(matches!(error.line, Some(3..=4)), "{error}");

    let status = knowledge.status();
    assert_eq!(status.errors, report.errors);
    assert_eq!(status.chunks, chunks_before);
    assert_eq!(status.documents, 3);
    assert_eq!(
        top_file(&knowledge, "do you take paypal", SearchMode::Bm25).await,
        "billing.md",
        "last good version"
    );
    assert!(
        knowledge
            .search("cash", 3, SearchMode::Bm25, &[])
            .await
            .unwrap()
            .is_empty()
    );

    // `knowledge check` sees the same error without opening the index.
    let check = textdesk::knowledge::check(&f.kb()).unwrap();
    assert_eq!(check.errors, report.errors);

    // Fixed: the error clears and the new text is searchable.
    f.write(
        "billing.md",
        "---\ntitle: Billing\ntags: [billing]\n---\n# Billing\n\nWe now only take cash.\n",
    );
    let report = knowledge.reindex().await.unwrap();
    assert!(report.errors.is_empty());
    assert!(knowledge.status().errors.is_empty());
    assert_eq!(
        top_file(&knowledge, "cash", SearchMode::Bm25).await,
        "billing.md"
    );
}

pub async fn deleting_a_file_removes_its_chunks(backend: &Backend) {
    let f = Fixture::new(backend);
    let knowledge = f.open_bm25().await;
    let first = knowledge.reindex().await.unwrap();
    std::fs::remove_file(f.kb().join("help/shipping.md")).unwrap();
    let report = knowledge.reindex().await.unwrap();
    assert_eq!(report.deleted, 2, "Shipping and Tracking");
    assert_eq!(knowledge.status().chunks, first.chunks - 2);
    assert_eq!(knowledge.status().documents, 2);
    let hits = knowledge
        .search("tracking number", 10, SearchMode::Bm25, &[])
        .await
        .unwrap();
    assert!(
        hits.iter().all(|h| h.chunk.file != "help/shipping.md"),
        "{hits:?}"
    );
}

pub async fn a_restart_with_unchanged_files_embeds_and_writes_nothing(backend: &Backend) {
    let f = Fixture::new(backend);
    let embedder = counting();
    {
        let knowledge = f.open_dense(&embedder).await;
        knowledge.reindex().await.unwrap();
    }
    let after_first_run = embedder.texts.load(Ordering::SeqCst);

    let knowledge = f.open_dense(&embedder).await;
    assert_eq!(
        knowledge.status().documents,
        3,
        "the index came back from disk"
    );
    let report = knowledge.reindex().await.unwrap();
    assert_eq!(
        (
            report.embedded,
            report.written,
            report.deleted,
            report.payload_updated
        ),
        (0, 0, 0, 0),
        "{report:?}"
    );
    assert_eq!(report.unchanged, report.chunks);
    assert_eq!(embedder.texts.load(Ordering::SeqCst), after_first_run);
    assert_eq!(
        top_file(&knowledge, "prepaid label", SearchMode::Hybrid).await,
        "returns.md"
    );
}

pub async fn the_watcher_reindexes_after_an_edit(backend: &Backend) {
    let f = Fixture::new(backend);
    let knowledge = f.open_bm25().await;
    knowledge.reindex().await.unwrap();
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let watcher = knowledge.watch(stop_rx).unwrap();

    f.write(
        "gift-cards.md",
        "---\ntitle: Gift cards\n---\n# Gift cards\n\nGift cards never expire.\n",
    );
    let found = wait_for(Duration::from_secs(10), || async {
        top_file(&knowledge, "do gift cards expire", SearchMode::Bm25).await == "gift-cards.md"
            && knowledge.status().documents == 4
    })
    .await;
    assert!(found, "the new file was indexed within 10 s");

    stop.send(true).unwrap();
    watcher.await.unwrap();
}

pub async fn wait_for<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}
