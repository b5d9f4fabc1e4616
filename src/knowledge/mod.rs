//! The knowledge base: Markdown files under `knowledge/` turned into a searchable
//! index (BM25 always, dense vectors when an embedder is available), kept in step with
//! the files as they change. The files are the source of truth; the index is derived.
//!
//! Placeholder while the index lands; see [`embed`] for the embedder contract.

pub mod embed;
