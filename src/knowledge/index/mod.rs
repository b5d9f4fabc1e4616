//! Where chunks are stored and searched, behind one [`KnowledgeIndex`] trait.
//!
//! This module owns the backend-neutral vocabulary — points, write batches, and the
//! [`QueryPlan`] a search turns into (which vectors to prefetch, how to fuse, which tags
//! to filter on). A backend only translates a plan into its own request and runs it:
//! [`edge`] does so in-process with qdrant-edge, [`server`] over `qdrant-client` on a
//! Qdrant server. What a plan or batch becomes is decided once, in [`translate`], which
//! both call; each backend only maps its neutral values onto its client's types.
//!
//! Vector names: `bm25` (sparse, IDF modifier) always; `dense` (cosine) when an embedder
//! is configured.

pub mod bm25;
pub mod edge;
pub mod server;
pub mod translate;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::chunk::Chunk;

pub const SPARSE_VECTOR: &str = "bm25";
pub const DENSE_VECTOR: &str = "dense";

/// How the candidates of each vector are combined in a hybrid search.
pub const RRF_K: usize = 60;

/// A sparse vector (BM25 term weights).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SparseVec {
    pub indices: Vec<u32>,
    pub values: Vec<f32>,
}

/// What a point carries besides its vectors: the chunk, plus the hash of this payload
/// so that a chunk that only moved (new line range) is updated without re-embedding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChunkPayload {
    #[serde(flatten)]
    pub chunk: Chunk,
    pub payload_hash: String,
}

impl ChunkPayload {
    pub fn new(chunk: Chunk) -> Self {
        let mut payload = ChunkPayload {
            chunk,
            payload_hash: String::new(),
        };
        payload.payload_hash = payload.fingerprint();
        payload
    }

    fn fingerprint(&self) -> String {
        let json = serde_json::to_vec(&self.chunk).unwrap_or_default();
        short_hex(&Sha256::digest(&json))
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_else(|_| serde_json::json!({}))
    }
}

/// The stable id of a chunk's point: derived from its file and content hash (and the
/// occurrence of that hash in the file, for repeated sections), so a chunk that only
/// moves keeps its id and its vectors.
pub fn point_id(file: &str, hash: &str, occurrence: usize) -> u64 {
    let digest = Sha256::digest(format!("{file}\0{hash}\0{occurrence}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(bytes)
}

fn short_hex(bytes: &[u8]) -> String {
    bytes.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// A point to insert or replace.
#[derive(Debug, Clone)]
pub struct NewPoint {
    pub id: u64,
    pub sparse: SparseVec,
    /// Present exactly when the index has a dense vector.
    pub dense: Option<Vec<f32>>,
    pub payload: ChunkPayload,
}

/// One atomic-enough unit of change: applied, then made durable, before the call
/// returns. Order: deletes, upserts, payload updates.
#[derive(Debug, Clone, Default)]
pub struct WriteBatch {
    pub deletes: Vec<u64>,
    pub upserts: Vec<NewPoint>,
    /// Points whose vectors stay and whose payload is replaced.
    pub payload_updates: Vec<(u64, ChunkPayload)>,
}

impl WriteBatch {
    pub fn is_empty(&self) -> bool {
        self.deletes.is_empty() && self.upserts.is_empty() && self.payload_updates.is_empty()
    }
}

/// What the index holds for one point, enough to diff against the files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPoint {
    pub id: u64,
    pub file: String,
    pub payload_hash: String,
}

/// Which vectors a search uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SearchMode {
    Bm25,
    Dense,
    Hybrid,
}

impl std::fmt::Display for SearchMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SearchMode::Bm25 => "bm25",
            SearchMode::Dense => "dense",
            SearchMode::Hybrid => "hybrid",
        })
    }
}

impl std::str::FromStr for SearchMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "bm25" => Ok(SearchMode::Bm25),
            "dense" => Ok(SearchMode::Dense),
            "hybrid" => Ok(SearchMode::Hybrid),
            other => Err(format!(
                "unknown search mode `{other}` (expected bm25, dense or hybrid)"
            )),
        }
    }
}

/// One vector to score against.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryVector {
    Sparse(SparseVec),
    Dense(Vec<f32>),
}

impl QueryVector {
    pub fn vector_name(&self) -> &'static str {
        match self {
            QueryVector::Sparse(_) => SPARSE_VECTOR,
            QueryVector::Dense(_) => DENSE_VECTOR,
        }
    }
}

/// A search, backend-neutral: score by one vector, or prefetch several and fuse their
/// rankings with reciprocal rank fusion.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryPlan {
    Single {
        vector: QueryVector,
        limit: usize,
        any_tags: Vec<String>,
    },
    Fused {
        prefetch: Vec<QueryVector>,
        prefetch_limit: usize,
        rrf_k: usize,
        limit: usize,
        any_tags: Vec<String>,
    },
}

impl QueryPlan {
    /// The plan for `mode` given the query's vectors. Hybrid without a dense vector
    /// falls back to BM25 alone; dense without one is `None`.
    pub fn build(
        mode: SearchMode,
        sparse: SparseVec,
        dense: Option<Vec<f32>>,
        limit: usize,
        any_tags: Vec<String>,
    ) -> Option<Self> {
        let limit = limit.max(1);
        Some(match (mode, dense) {
            (SearchMode::Bm25, _) | (SearchMode::Hybrid, None) => QueryPlan::Single {
                vector: QueryVector::Sparse(sparse),
                limit,
                any_tags,
            },
            (SearchMode::Dense, Some(dense)) => QueryPlan::Single {
                vector: QueryVector::Dense(dense),
                limit,
                any_tags,
            },
            (SearchMode::Dense, None) => return None,
            (SearchMode::Hybrid, Some(dense)) => QueryPlan::Fused {
                prefetch: vec![QueryVector::Sparse(sparse), QueryVector::Dense(dense)],
                // Each ranking contributes enough candidates for fusion to reorder.
                prefetch_limit: (limit * 4).max(20),
                rrf_k: RRF_K,
                limit,
                any_tags,
            },
        })
    }
}

/// A chunk found by a search.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoredChunk {
    pub id: u64,
    pub score: f32,
    pub chunk: Chunk,
}

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error(
        "the knowledge index at {path} is in use by another textdesk process (is `textdesk serve` running?); \
         stop it first, or look at GET /api/v1/admin/knowledge on the running server"
    )]
    Busy { path: String },
    #[error("cannot open the knowledge index at {path}: {reason}")]
    Open { path: String, reason: String },
    #[error("knowledge index operation failed: {0}")]
    Backend(String),
    #[error("the knowledge index writer has stopped: {0}")]
    WriterStopped(String),
}

/// A store of chunk points with sparse (and optionally dense) vectors.
#[async_trait::async_trait]
pub trait KnowledgeIndex: Send + Sync {
    /// Every point's id, file and payload hash.
    async fn stored(&self) -> Result<Vec<StoredPoint>, IndexError>;

    /// Applies `batch` and makes it durable before returning.
    async fn apply(&self, batch: WriteBatch) -> Result<(), IndexError>;

    /// Runs a search.
    async fn query(&self, plan: QueryPlan) -> Result<Vec<ScoredChunk>, IndexError>;

    /// Length of the dense vector, when the index has one.
    fn dense_dimensions(&self) -> Option<usize>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hybrid_prefetches_both_vectors_and_fuses() {
        let plan = QueryPlan::build(
            SearchMode::Hybrid,
            SparseVec::default(),
            Some(vec![1.0]),
            5,
            vec![],
        )
        .unwrap();
        match plan {
            QueryPlan::Fused {
                prefetch,
                prefetch_limit,
                limit,
                ..
            } => {
                assert_eq!(
                    prefetch
                        .iter()
                        .map(QueryVector::vector_name)
                        .collect::<Vec<_>>(),
                    vec!["bm25", "dense"]
                );
                assert_eq!(limit, 5);
                assert!(prefetch_limit >= 20);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn hybrid_without_dense_is_bm25_and_dense_without_is_none() {
        let plan =
            QueryPlan::build(SearchMode::Hybrid, SparseVec::default(), None, 5, vec![]).unwrap();
        assert!(matches!(
            plan,
            QueryPlan::Single {
                vector: QueryVector::Sparse(_),
                ..
            }
        ));
        assert!(
            QueryPlan::build(SearchMode::Dense, SparseVec::default(), None, 5, vec![]).is_none()
        );
    }

    #[test]
    fn point_ids_are_stable_and_distinct() {
        assert_eq!(point_id("a.md", "h", 0), point_id("a.md", "h", 0));
        assert_ne!(point_id("a.md", "h", 0), point_id("a.md", "h", 1));
        assert_ne!(point_id("a.md", "h", 0), point_id("b.md", "h", 0));
    }
}
