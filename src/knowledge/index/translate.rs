//! The translation layer every backend shares: [`QueryPlan`]s and [`WriteBatch`]es
//! lowered to backend-neutral requests, and payload JSON turned back into chunks.
//!
//! All decisions live here — which named vector each search uses and with what limit,
//! how the fused ranking is combined (RRF and its `k`), which payload key the tag filter
//! matches, which payload fields a scroll needs, the order of writes, how a collection's
//! vectors are configured. [`super::edge`] and [`super::server`] only map these plain
//! values one-to-one onto their client types and make the calls, so the server path
//! (which these machines cannot run) is as thin as it can be, and everything here is
//! unit-tested without any Qdrant.

use crate::knowledge::chunk::Chunk;

use super::{
    ChunkPayload, DENSE_VECTOR, IndexError, QueryPlan, QueryVector, SPARSE_VECTOR, ScoredChunk,
    SparseVec, StoredPoint, WriteBatch,
};

/// The payload key holding a chunk's tags (a list of strings).
pub const TAGS_KEY: &str = "tags";
/// The payload fields [`StoredPoint`] is read from; a scroll asks for these alone.
pub const STORED_FIELDS: [&str; 2] = ["file", "payload_hash"];
/// Points per scroll page.
pub const SCROLL_PAGE: usize = 1024;

/// How a collection's vectors are configured: sparse `bm25` with the IDF modifier
/// (document frequencies are applied by Qdrant at query time), and `dense` with cosine
/// distance when an embedder is configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectionSpec {
    pub sparse: &'static str,
    /// Always true: our BM25 vectors carry term frequencies only.
    pub sparse_idf: bool,
    /// `(name, dimensions)`; cosine distance.
    pub dense: Option<(&'static str, usize)>,
    /// Payload keys filtered on by keyword, which a server indexes (without an index
    /// Qdrant scans every payload of a filtered search). The embedded index needs none.
    pub keyword_indexes: &'static [&'static str],
}

impl CollectionSpec {
    pub fn new(dense_dimensions: Option<usize>) -> Self {
        CollectionSpec {
            sparse: SPARSE_VECTOR,
            sparse_idf: true,
            dense: dense_dimensions.map(|d| (DENSE_VECTOR, d)),
            keyword_indexes: &[TAGS_KEY],
        }
    }
}

/// One nearest-neighbour search over one named vector.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorSearch {
    /// The named vector (`bm25` or `dense`).
    pub using: &'static str,
    pub vector: QueryVector,
}

/// How the final ranking is scored.
#[derive(Debug, Clone, PartialEq)]
pub enum Scoring {
    /// Nearest neighbours of one vector.
    Nearest(VectorSearch),
    /// Reciprocal rank fusion of the prefetches: `Σ 1 / (k + rank)`.
    Rrf { k: usize },
}

/// A candidate list fetched before fusion.
#[derive(Debug, Clone, PartialEq)]
pub struct Prefetch {
    pub search: VectorSearch,
    pub limit: usize,
}

/// Points whose `key` (a list) holds any of `any` — a `should` of one keyword match
/// per tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagFilter {
    pub key: &'static str,
    pub any: Vec<String>,
}

/// A search, lowered: what a backend sends, in neutral terms. The filter applies to
/// the whole query (both backends propagate it to every prefetch).
#[derive(Debug, Clone, PartialEq)]
pub struct SearchRequest {
    pub prefetch: Vec<Prefetch>,
    pub scoring: Scoring,
    pub limit: usize,
    pub filter: Option<TagFilter>,
    /// Results carry their full payload (the chunk).
    pub with_payload: bool,
}

pub fn search_request(plan: QueryPlan) -> SearchRequest {
    let search = |vector: QueryVector| VectorSearch {
        using: vector.vector_name(),
        vector,
    };
    let (prefetch, scoring, limit, tags) = match plan {
        QueryPlan::Single {
            vector,
            limit,
            any_tags,
        } => (
            Vec::new(),
            Scoring::Nearest(search(vector)),
            limit,
            any_tags,
        ),
        QueryPlan::Fused {
            prefetch,
            prefetch_limit,
            rrf_k,
            limit,
            any_tags,
        } => (
            prefetch
                .into_iter()
                .map(|vector| Prefetch {
                    search: search(vector),
                    limit: prefetch_limit,
                })
                .collect(),
            Scoring::Rrf { k: rrf_k },
            limit,
            any_tags,
        ),
    };
    SearchRequest {
        prefetch,
        scoring,
        limit,
        filter: tag_filter(tags),
        with_payload: true,
    }
}

/// No tags, no filter.
pub fn tag_filter(tags: Vec<String>) -> Option<TagFilter> {
    (!tags.is_empty()).then_some(TagFilter {
        key: TAGS_KEY,
        any: tags,
    })
}

/// A vector to store under a name.
#[derive(Debug, Clone, PartialEq)]
pub enum VectorData {
    Sparse(SparseVec),
    Dense(Vec<f32>),
}

/// A point to upsert, lowered.
#[derive(Debug, Clone, PartialEq)]
pub struct PointWrite {
    pub id: u64,
    pub vectors: Vec<(&'static str, VectorData)>,
    pub payload: serde_json::Map<String, serde_json::Value>,
}

/// One write, in the order they must be applied.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteOp {
    Delete(Vec<u64>),
    Upsert(Vec<PointWrite>),
    /// Vectors stay; the whole payload is replaced (fields absent from the new payload
    /// are removed, as `Option` fields of a chunk may be).
    OverwritePayload {
        id: u64,
        payload: serde_json::Map<String, serde_json::Value>,
    },
}

/// A batch as ordered operations: deletes, then upserts, then payload overwrites. A
/// malformed point (a sparse vector whose lengths differ) fails the whole batch before
/// anything is sent.
pub fn write_ops(batch: WriteBatch) -> Result<Vec<WriteOp>, IndexError> {
    let mut ops = Vec::new();
    if !batch.deletes.is_empty() {
        ops.push(WriteOp::Delete(batch.deletes));
    }
    if !batch.upserts.is_empty() {
        let mut points = Vec::with_capacity(batch.upserts.len());
        for point in batch.upserts {
            if point.sparse.indices.len() != point.sparse.values.len() {
                return Err(IndexError::Backend(format!(
                    "bad BM25 vector for point {}: {} indices, {} values",
                    point.id,
                    point.sparse.indices.len(),
                    point.sparse.values.len()
                )));
            }
            let mut vectors = vec![(SPARSE_VECTOR, VectorData::Sparse(point.sparse))];
            if let Some(dense) = point.dense {
                vectors.push((DENSE_VECTOR, VectorData::Dense(dense)));
            }
            points.push(PointWrite {
                id: point.id,
                vectors,
                payload: payload_object(&point.payload)?,
            });
        }
        ops.push(WriteOp::Upsert(points));
    }
    for (id, payload) in batch.payload_updates {
        ops.push(WriteOp::OverwritePayload {
            id,
            payload: payload_object(&payload)?,
        });
    }
    Ok(ops)
}

/// A chunk payload as the JSON object Qdrant stores.
pub fn payload_object(
    payload: &ChunkPayload,
) -> Result<serde_json::Map<String, serde_json::Value>, IndexError> {
    match payload.to_json() {
        serde_json::Value::Object(map) => Ok(map),
        _ => Err(IndexError::Backend(
            "chunk payload is not a JSON object".into(),
        )),
    }
}

/// A scrolled point as a [`StoredPoint`]; `None` for points that are not ours (a UUID
/// id, or a payload without the fields).
pub fn stored_point(
    id: Option<u64>,
    payload: &serde_json::Map<String, serde_json::Value>,
) -> Option<StoredPoint> {
    let [file, hash] = STORED_FIELDS;
    Some(StoredPoint {
        id: id?,
        file: payload.get(file)?.as_str()?.to_string(),
        payload_hash: payload.get(hash)?.as_str()?.to_string(),
    })
}

/// A search hit as a [`ScoredChunk`]; `None` when the payload is not a chunk.
pub fn scored_chunk(
    id: Option<u64>,
    score: f32,
    payload: serde_json::Map<String, serde_json::Value>,
) -> Option<ScoredChunk> {
    Some(ScoredChunk {
        id: id?,
        score,
        chunk: chunk(payload)?,
    })
}

/// A point's payload as its [`Chunk`]; `None` when the payload is not a chunk.
pub fn chunk(payload: serde_json::Map<String, serde_json::Value>) -> Option<Chunk> {
    let payload: ChunkPayload = serde_json::from_value(serde_json::Value::Object(payload)).ok()?;
    Some(payload.chunk)
}

/// A fused plan as one plain search per vector, for a server that refuses the
/// parameterised RRF query: run each, then [`rrf_fuse`] the rankings.
pub fn unfused(plan: QueryPlan) -> Option<(Vec<QueryPlan>, usize, usize)> {
    let QueryPlan::Fused {
        prefetch,
        prefetch_limit,
        rrf_k,
        limit,
        any_tags,
    } = plan
    else {
        return None;
    };
    let singles = prefetch
        .into_iter()
        .map(|vector| QueryPlan::Single {
            vector,
            limit: prefetch_limit,
            any_tags: any_tags.clone(),
        })
        .collect();
    Some((singles, rrf_k, limit))
}

/// Reciprocal rank fusion exactly as Qdrant computes it (segment's `rrf_scoring` with
/// weight 1): the chunk at 0-based position `p` of a ranking scores `1 / (p + k)`,
/// summed over the rankings, best first; the first `limit`.
pub fn rrf_fuse(rankings: Vec<Vec<ScoredChunk>>, k: usize, limit: usize) -> Vec<ScoredChunk> {
    let mut fused: Vec<ScoredChunk> = Vec::new();
    let mut at: std::collections::HashMap<u64, usize> = std::collections::HashMap::new();
    for ranking in rankings {
        for (position, mut chunk) in ranking.into_iter().enumerate() {
            let score = 1.0 / (position as f32 + k as f32);
            match at.get(&chunk.id) {
                Some(&i) => fused[i].score += score,
                None => {
                    at.insert(chunk.id, fused.len());
                    chunk.score = score;
                    fused.push(chunk);
                }
            }
        }
    }
    fused.sort_by(|a, b| b.score.total_cmp(&a.score));
    fused.truncate(limit);
    fused
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rrf_fuse_scores_as_qdrant_does() {
        let chunk = |id: u64| ScoredChunk {
            id,
            score: 0.0,
            chunk: crate::knowledge::chunk::Chunk {
                file: "a.md".into(),
                ordinal: 0,
                headings: vec![],
                line_start: 1,
                line_end: 1,
                text: "t".into(),
                hash: "h".into(),
                title: None,
                url: None,
                sms: None,
                tags: vec![],
            },
        };
        // 2 is first in one ranking and second in the other: 1/60 + 1/61.
        let fused = rrf_fuse(
            vec![vec![chunk(2), chunk(1)], vec![chunk(3), chunk(2)]],
            60,
            2,
        );
        assert_eq!(fused.iter().map(|c| c.id).collect::<Vec<_>>(), vec![2, 3]);
        assert!((fused[0].score - (1.0 / 60.0 + 1.0 / 61.0)).abs() < 1e-7);
        assert!((fused[1].score - 1.0 / 60.0).abs() < 1e-7);
    }
    use crate::knowledge::chunk::Chunk;
    use crate::knowledge::index::{NewPoint, RRF_K, SearchMode};

    fn sparse() -> SparseVec {
        SparseVec {
            indices: vec![3, 9],
            values: vec![1.0, 2.0],
        }
    }

    fn payload(file: &str) -> ChunkPayload {
        ChunkPayload::new(Chunk {
            file: file.into(),
            ordinal: 2,
            headings: vec!["Returns".into(), "Refunds".into()],
            line_start: 16,
            line_end: 18,
            text: "Refunds reach your card within five business days.".into(),
            hash: "abc".into(),
            title: Some("Returns".into()),
            url: None,
            sms: Some("Reply RETURN".into()),
            tags: vec!["orders".into(), "returns".into()],
        })
    }

    #[test]
    fn bm25_alone_is_one_nearest_search_on_the_sparse_vector() {
        let plan =
            QueryPlan::build(SearchMode::Bm25, sparse(), Some(vec![1.0]), 7, vec![]).unwrap();
        let request = search_request(plan);
        assert!(request.prefetch.is_empty());
        assert_eq!(
            request.scoring,
            Scoring::Nearest(VectorSearch {
                using: "bm25",
                vector: QueryVector::Sparse(sparse()),
            })
        );
        assert_eq!(request.limit, 7);
        assert_eq!(request.filter, None);
        assert!(request.with_payload);
    }

    #[test]
    fn dense_alone_uses_the_dense_vector() {
        let plan =
            QueryPlan::build(SearchMode::Dense, sparse(), Some(vec![0.5, 0.5]), 3, vec![]).unwrap();
        match search_request(plan).scoring {
            Scoring::Nearest(search) => assert_eq!(search.using, "dense"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn hybrid_prefetches_both_vectors_and_fuses_with_our_rrf_k() {
        let plan = QueryPlan::build(
            SearchMode::Hybrid,
            sparse(),
            Some(vec![0.0, 1.0]),
            3,
            vec!["billing".into(), "returns".into()],
        )
        .unwrap();
        let request = search_request(plan);
        assert_eq!(
            request
                .prefetch
                .iter()
                .map(|p| (p.search.using, p.limit))
                .collect::<Vec<_>>(),
            vec![("bm25", 20), ("dense", 20)]
        );
        assert_eq!(request.scoring, Scoring::Rrf { k: RRF_K });
        assert_eq!(RRF_K, 60);
        assert_eq!(request.limit, 3);
        assert_eq!(
            request.filter,
            Some(TagFilter {
                key: "tags",
                any: vec!["billing".into(), "returns".into()],
            })
        );
    }

    #[test]
    fn no_tags_means_no_filter() {
        assert_eq!(tag_filter(vec![]), None);
    }

    #[test]
    fn the_collection_has_sparse_idf_bm25_and_dense_only_with_an_embedder() {
        let spec = CollectionSpec::new(Some(384));
        assert_eq!(spec.sparse, "bm25");
        assert!(spec.sparse_idf);
        assert_eq!(spec.dense, Some(("dense", 384)));
        assert_eq!(CollectionSpec::new(None).dense, None);
    }

    #[test]
    fn writes_are_ordered_deletes_upserts_then_payload_overwrites() {
        let batch = WriteBatch {
            deletes: vec![1, 2],
            upserts: vec![NewPoint {
                id: 3,
                sparse: sparse(),
                dense: Some(vec![1.0, 0.0]),
                payload: payload("returns.md"),
            }],
            payload_updates: vec![(4, payload("returns.md"))],
        };
        let ops = write_ops(batch).unwrap();
        assert_eq!(ops.len(), 3);
        assert_eq!(ops[0], WriteOp::Delete(vec![1, 2]));
        match &ops[1] {
            WriteOp::Upsert(points) => {
                assert_eq!(points.len(), 1);
                assert_eq!(points[0].id, 3);
                assert_eq!(
                    points[0].vectors,
                    vec![
                        ("bm25", VectorData::Sparse(sparse())),
                        ("dense", VectorData::Dense(vec![1.0, 0.0])),
                    ]
                );
                assert_eq!(points[0].payload["file"], "returns.md");
                assert_eq!(points[0].payload[TAGS_KEY][1], "returns");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(&ops[2], WriteOp::OverwritePayload { id: 4, .. }));
        assert!(write_ops(WriteBatch::default()).unwrap().is_empty());
    }

    #[test]
    fn a_sparse_vector_with_mismatched_lengths_fails_the_batch() {
        let batch = WriteBatch {
            upserts: vec![NewPoint {
                id: 3,
                sparse: SparseVec {
                    indices: vec![1, 2],
                    values: vec![1.0],
                },
                dense: None,
                payload: payload("a.md"),
            }],
            ..WriteBatch::default()
        };
        assert!(write_ops(batch).is_err());
    }

    #[test]
    fn payloads_round_trip_to_stored_points_and_chunks() {
        let original = payload("help/shipping.md");
        let object = payload_object(&original).unwrap();
        assert_eq!(
            stored_point(Some(9), &object),
            Some(StoredPoint {
                id: 9,
                file: "help/shipping.md".into(),
                payload_hash: original.payload_hash.clone(),
            })
        );
        assert_eq!(stored_point(None, &object), None, "UUID ids are not ours");
        let hit = scored_chunk(Some(9), 0.5, object).unwrap();
        assert_eq!(hit.chunk, original.chunk);
        assert_eq!((hit.id, hit.score), (9, 0.5));
        assert_eq!(scored_chunk(Some(9), 0.5, serde_json::Map::new()), None);
    }
}
