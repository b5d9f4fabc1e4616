//! Stories about the knowledge index (see `knowledge_cases`), on the embedded
//! qdrant-edge index in a temp dir, plus what only the embedded index has: one process
//! at a time.

use crate::knowledge_cases;
use crate::knowledge_cases::{Backend, Fixture};
use textdesk::knowledge::{IndexError, Knowledge, KnowledgeError};

#[tokio::test]
async fn search_finds_the_file_that_answers() {
    knowledge_cases::search_finds_the_file_that_answers(&Backend::Edge).await;
}

#[tokio::test]
async fn dense_and_hybrid_search_use_the_embedder() {
    knowledge_cases::dense_and_hybrid_search_use_the_embedder(&Backend::Edge).await;
}

#[tokio::test]
async fn a_tag_filter_keeps_only_tagged_documents() {
    knowledge_cases::a_tag_filter_keeps_only_tagged_documents(&Backend::Edge).await;
}

#[tokio::test]
async fn editing_a_file_reindexes_only_its_changed_chunks() {
    knowledge_cases::editing_a_file_reindexes_only_its_changed_chunks(&Backend::Edge).await;
}

#[tokio::test]
async fn a_broken_file_is_reported_with_its_line_and_keeps_serving() {
    knowledge_cases::a_broken_file_is_reported_with_its_line_and_keeps_serving(&Backend::Edge)
        .await;
}

#[tokio::test]
async fn deleting_a_file_removes_its_chunks() {
    knowledge_cases::deleting_a_file_removes_its_chunks(&Backend::Edge).await;
}

#[tokio::test]
async fn a_restart_with_unchanged_files_embeds_and_writes_nothing() {
    knowledge_cases::a_restart_with_unchanged_files_embeds_and_writes_nothing(&Backend::Edge).await;
}

#[tokio::test]
async fn the_watcher_reindexes_after_an_edit() {
    knowledge_cases::the_watcher_reindexes_after_an_edit(&Backend::Edge).await;
}

#[tokio::test]
async fn a_second_opener_of_the_same_index_is_told_it_is_busy() {
    let f = Fixture::new(&Backend::Edge);
    let _first = f.open_bm25().await;
    let second = Knowledge::open(&f.dirs(), None).await.unwrap_err();
    assert!(
        matches!(second, KnowledgeError::Index(IndexError::Busy { .. })),
        "{second}"
    );
    assert!(second.to_string().contains("textdesk serve"), "{second}");
}
