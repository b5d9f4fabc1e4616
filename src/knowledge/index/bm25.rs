//! BM25 term weights from qdrant-edge's own model (English stopwords and stemming, as
//! a Qdrant server does), so sparse vectors mean the same in every backend. Document
//! frequencies are not computed here: the `bm25` vector's IDF modifier applies them at
//! query time from what the index holds.

use qdrant_edge::bm25_embed::{EdgeBm25, EdgeBm25Config};

use super::SparseVec;

pub struct Bm25 {
    model: EdgeBm25,
}

impl std::fmt::Debug for Bm25 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Bm25")
    }
}

impl Bm25 {
    pub fn new() -> Result<Self, String> {
        let config = EdgeBm25Config {
            language: Some("english".into()),
            ..EdgeBm25Config::default()
        };
        EdgeBm25::new(config)
            .map(|model| Bm25 { model })
            .map_err(|e| e.to_string())
    }

    pub fn document(&self, text: &str) -> SparseVec {
        let v = self.model.embed_document(text);
        SparseVec {
            indices: v.indices,
            values: v.values,
        }
    }

    pub fn query(&self, text: &str) -> SparseVec {
        let v = self.model.embed_query(text);
        SparseVec {
            indices: v.indices,
            values: v.values,
        }
    }
}
