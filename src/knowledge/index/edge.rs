//! [`KnowledgeIndex`] on qdrant-edge: one shard in-process under `<data_dir>/qdrant/`.
//!
//! Facts about qdrant-edge 0.7.2 this module is built around:
//! - `EdgeShard::load` does not replay the WAL, so every write batch is followed by
//!   `flush()` before it is acknowledged;
//! - `flush()` while another write is in progress panics, so every write (and flush)
//!   runs on one dedicated writer thread fed by a channel; searches run concurrently;
//! - a shard directory is locked by its process; we take our own lock file first so a
//!   second process gets [`IndexError::Busy`] with a clear message instead.
//!
//! What a [`QueryPlan`] / [`WriteBatch`] turns into is decided in the shared
//! [`translate`](super::translate) layer (also used by the Qdrant-server backend);
//! [`request`] maps it onto qdrant-edge types, separate from the calls.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use qdrant_edge::{
    Distance, EdgeConfig, EdgeShard, EdgeSparseVectorParams, JsonPath, Modifier, PointId,
    ScrollRequest, WithPayloadInterface, WithVector,
};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use super::translate::{CollectionSpec, SCROLL_PAGE, STORED_FIELDS};
use super::{IndexError, KnowledgeIndex, QueryPlan, ScoredChunk, StoredPoint, WriteBatch};
use crate::knowledge::chunk::Chunk;

/// The dense vector the index is built for; a different model means a rebuild.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DenseSpec {
    pub model_id: String,
    pub dimensions: usize,
}

/// What the shard was built with, stored next to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Meta {
    schema: u32,
    dense: Option<DenseSpec>,
}

/// Bumped when the payload layout or BM25 settings change: the index is rebuilt.
const SCHEMA: u32 = 1;

type Reply = oneshot::Sender<Result<(), IndexError>>;
/// One write batch for the writer thread, and where to send its outcome.
type WriteJob = (Vec<qdrant_edge::UpdateOperation>, Reply);

pub struct EdgeIndex {
    shard: Option<Arc<EdgeShard>>,
    writer: Option<mpsc::Sender<WriteJob>>,
    thread: Option<JoinHandle<()>>,
    dense: Option<DenseSpec>,
    chunks: Arc<Mutex<ChunkCache>>,
}

/// The chunks searches have read, by point id. Reading a hit's payload (a stored,
/// compressed JSON document, parsed back into a [`Chunk`]) was a fifth of the CPU of a
/// turn under a flood of BM25-only texts, every turn reading the same few dozen FAQ
/// passages again. This process is the shard's only writer, so the cache is exact:
/// every write empties it, and a search that began before a write does not fill it.
#[derive(Default)]
struct ChunkCache {
    /// Bumped by every write.
    generation: u64,
    chunks: HashMap<u64, Chunk>,
}

impl EdgeIndex {
    /// Opens (or creates) the index under `root` (normally `<data_dir>/qdrant`). An index
    /// built for another dense model, or none, is deleted and recreated empty: the
    /// files are the source of truth, the next sync refills it. Blocking.
    pub fn open(root: &Path, dense: Option<DenseSpec>) -> Result<Self, IndexError> {
        let open_err = |reason: String| IndexError::Open {
            path: root.display().to_string(),
            reason,
        };
        std::fs::create_dir_all(root).map_err(|e| open_err(e.to_string()))?;
        let lock =
            File::create(root.join("knowledge.lock")).map_err(|e| open_err(e.to_string()))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(IndexError::Busy {
                    path: root.display().to_string(),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(open_err(format!("cannot lock: {e}")));
            }
        }

        let shard_dir = root.join("knowledge");
        let meta_path = root.join("knowledge.meta.json");
        let wanted = Meta {
            schema: SCHEMA,
            dense: dense.clone(),
        };
        let existing: Option<Meta> = std::fs::read(&meta_path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok());
        let segments_exist = shard_dir
            .join("segments")
            .read_dir()
            .is_ok_and(|mut d| d.next().is_some());
        let shard = if segments_exist && existing.as_ref() == Some(&wanted) {
            EdgeShard::load(&shard_dir, None).map_err(|e| open_err(e.to_string()))?
        } else {
            if shard_dir.exists() {
                tracing::info!(path = %shard_dir.display(), "knowledge index was built with other settings; rebuilding it");
                std::fs::remove_dir_all(&shard_dir).map_err(|e| open_err(e.to_string()))?;
            }
            std::fs::create_dir_all(&shard_dir).map_err(|e| open_err(e.to_string()))?;
            let shard = EdgeShard::new(&shard_dir, edge_config(dense.as_ref()))
                .map_err(|e| open_err(e.to_string()))?;
            let json = serde_json::to_vec_pretty(&wanted).unwrap_or_default();
            std::fs::write(&meta_path, json).map_err(|e| open_err(e.to_string()))?;
            shard
        };
        let shard = Arc::new(shard);
        let (writer, thread) =
            spawn_writer(shard.clone(), lock).map_err(|e| open_err(e.to_string()))?;
        Ok(EdgeIndex {
            shard: Some(shard),
            writer: Some(writer),
            thread: Some(thread),
            dense,
            chunks: Arc::default(),
        })
    }

    fn shard(&self) -> Result<Arc<EdgeShard>, IndexError> {
        self.shard
            .clone()
            .ok_or_else(|| IndexError::WriterStopped("index closed".into()))
    }
}

fn edge_config(dense: Option<&DenseSpec>) -> EdgeConfig {
    let spec = CollectionSpec::new(dense.map(|d| d.dimensions));
    let mut config = EdgeConfig::default();
    config.sparse_vectors.insert(
        spec.sparse.to_string(),
        EdgeSparseVectorParams {
            modifier: spec.sparse_idf.then_some(Modifier::Idf),
            ..EdgeSparseVectorParams::default()
        },
    );
    if let Some((name, dimensions)) = spec.dense {
        config.vectors.insert(
            name.to_string(),
            qdrant_edge::EdgeVectorParamsBuilder::new(dimensions, Distance::Cosine).build(),
        );
    }
    config
}

/// The one thread that writes: applies each batch's operations, flushes, replies. It
/// owns the lock file, released only after the shard has been dropped (and flushed).
fn spawn_writer(
    shard: Arc<EdgeShard>,
    lock: File,
) -> std::io::Result<(mpsc::Sender<WriteJob>, JoinHandle<()>)> {
    let (tx, rx) = mpsc::channel::<WriteJob>();
    let thread = std::thread::Builder::new()
        .name("knowledge-index-writer".into())
        .spawn(move || {
            for (operations, reply) in rx {
                let result = write(&shard, operations);
                let _ = reply.send(result);
            }
            // Dropping the shard flushes it; a failure there (the directory was removed
            // under us) panics inside qdrant-edge and must not take the lock with it.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(shard)));
            drop(lock);
        })?;
    Ok((tx, thread))
}

fn write(
    shard: &EdgeShard,
    operations: Vec<qdrant_edge::UpdateOperation>,
) -> Result<(), IndexError> {
    let mut result = Ok(());
    for operation in operations {
        if let Err(e) = shard.update(operation) {
            result = Err(IndexError::Backend(e.to_string()));
            break;
        }
    }
    // Flush even after a failed operation, so what was applied is what survives.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| shard.flush()))
        .map_err(|_| IndexError::Backend("flushing the knowledge index to disk failed".into()))?;
    result
}

impl Drop for EdgeIndex {
    fn drop(&mut self) {
        self.writer.take();
        self.shard.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[async_trait::async_trait]
impl KnowledgeIndex for EdgeIndex {
    async fn stored(&self) -> Result<Vec<StoredPoint>, IndexError> {
        let shard = self.shard()?;
        blocking(move || {
            let fields: Vec<JsonPath> = STORED_FIELDS
                .into_iter()
                .filter_map(|f| JsonPath::try_from(f).ok())
                .collect();
            let mut points = Vec::new();
            let mut offset: Option<PointId> = None;
            loop {
                let (records, next) = shard
                    .scroll(ScrollRequest {
                        offset,
                        limit: Some(SCROLL_PAGE),
                        filter: None,
                        with_payload: Some(WithPayloadInterface::Fields(fields.clone())),
                        with_vector: WithVector::Bool(false),
                        order_by: None,
                    })
                    .map_err(|e| IndexError::Backend(e.to_string()))?;
                points.extend(
                    records
                        .into_iter()
                        .filter_map(|r| request::stored_point(r.id, r.payload)),
                );
                match next {
                    Some(next) => offset = Some(next),
                    None => break,
                }
            }
            Ok(points)
        })
        .await
    }

    async fn apply(&self, batch: WriteBatch) -> Result<(), IndexError> {
        if batch.is_empty() {
            return Ok(());
        }
        let operations = request::update_operations(batch)?;
        let (reply, done) = oneshot::channel();
        self.writer
            .as_ref()
            .ok_or_else(|| IndexError::WriterStopped("index closed".into()))?
            .send((operations, reply))
            .map_err(|_| IndexError::WriterStopped("the writer thread ended".into()))?;
        let written = done
            .await
            .map_err(|_| IndexError::WriterStopped("the writer thread panicked".into()))?;
        // Even a failed batch may have changed some points.
        let mut cache = lock(&self.chunks);
        cache.generation += 1;
        cache.chunks.clear();
        written
    }

    /// Ranks the points without their payloads, then takes each hit's chunk from the
    /// cache, reading only the ones it does not hold yet.
    async fn query(&self, plan: QueryPlan) -> Result<Vec<ScoredChunk>, IndexError> {
        let shard = self.shard()?;
        let mut request = request::query_request(plan);
        request.with_payload = WithPayloadInterface::Bool(false);
        let cache = Arc::clone(&self.chunks);
        blocking(move || {
            let generation = lock(&cache).generation;
            let ranked: Vec<(u64, f32)> = shard
                .query(request)
                .map_err(|e| IndexError::Backend(e.to_string()))?
                .into_iter()
                .filter_map(|point| Some((request::numeric_id(point.id)?, point.score)))
                .collect();
            let mut found: HashMap<u64, Chunk> = {
                let cache = lock(&cache);
                ranked
                    .iter()
                    .filter_map(|(id, _)| Some((*id, cache.chunks.get(id)?.clone())))
                    .collect()
            };
            let missing: Vec<PointId> = ranked
                .iter()
                .filter(|(id, _)| !found.contains_key(id))
                .map(|(id, _)| PointId::NumId(*id))
                .collect();
            if !missing.is_empty() {
                let read: Vec<(u64, Chunk)> = shard
                    .retrieve(&missing, Some(WithPayloadInterface::Bool(true)), None)
                    .map_err(|e| IndexError::Backend(e.to_string()))?
                    .into_iter()
                    .filter_map(|record| request::chunk_of(record.id, record.payload?))
                    .collect();
                let mut cache = lock(&cache);
                if cache.generation == generation {
                    cache.chunks.extend(read.iter().cloned());
                }
                found.extend(read);
            }
            Ok(ranked
                .into_iter()
                .filter_map(|(id, score)| {
                    // Each id is ranked once, so its chunk can be moved out.
                    Some(ScoredChunk {
                        id,
                        score,
                        chunk: found.remove(&id)?,
                    })
                })
                .collect())
        })
        .await
    }

    fn dense_dimensions(&self) -> Option<usize> {
        self.dense.as_ref().map(|d| d.dimensions)
    }
}

fn lock(cache: &Mutex<ChunkCache>) -> std::sync::MutexGuard<'_, ChunkCache> {
    // A panic while holding it leaves nothing half-done: the map is only read,
    // cleared or extended.
    cache
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, IndexError> + Send + 'static,
) -> Result<T, IndexError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| IndexError::Backend(format!("index task failed: {e}")))?
}

pub mod request {
    //! The shared [`translate`](super::super::translate) layer's requests mapped onto
    //! qdrant-edge types, and results back. No I/O, no decisions.

    use qdrant_edge::{
        Condition, FieldCondition, Filter, Fusion, JsonPath, Match, NamedQuery, Payload,
        PayloadOps, PointId, PointInsertOperations, PointOperations, PointStruct, Prefetch,
        QueryEnum, QueryRequest, ScoringQuery, SetPayloadOp, UpdateOperation, ValueVariants,
        Vector, VectorInternal, Vectors, WithPayloadInterface, WithVector,
    };

    use super::super::translate::{self, Scoring, TagFilter, VectorData, VectorSearch, WriteOp};
    use super::super::{IndexError, QueryPlan, QueryVector, StoredPoint, WriteBatch};
    use crate::knowledge::chunk::Chunk;

    pub fn query_request(plan: QueryPlan) -> QueryRequest {
        let request = translate::search_request(plan);
        let prefetches = request
            .prefetch
            .into_iter()
            .map(|prefetch| Prefetch {
                prefetches: Vec::new(),
                query: Some(nearest(prefetch.search)),
                limit: prefetch.limit,
                params: None,
                filter: None,
                score_threshold: None,
            })
            .collect();
        let query = match request.scoring {
            Scoring::Nearest(search) => nearest(search),
            Scoring::Rrf { k } => ScoringQuery::Fusion(Fusion::Rrf { k, weights: None }),
        };
        QueryRequest {
            prefetches,
            query: Some(query),
            // Propagated to every prefetch by the planner.
            filter: request.filter.as_ref().and_then(tag_filter),
            score_threshold: None,
            limit: request.limit,
            offset: 0,
            params: None,
            with_vector: WithVector::Bool(false),
            with_payload: WithPayloadInterface::Bool(request.with_payload),
        }
    }

    fn nearest(search: VectorSearch) -> ScoringQuery {
        let query = match search.vector {
            QueryVector::Sparse(s) => VectorInternal::from(qdrant_edge::SparseVector {
                indices: s.indices,
                values: s.values,
            }),
            QueryVector::Dense(d) => VectorInternal::from(d),
        };
        ScoringQuery::Vector(QueryEnum::Nearest(NamedQuery {
            query,
            using: Some(search.using.to_string()),
        }))
    }

    /// A `should` of one keyword match per tag (a chunk's `tags` is a list; a match on
    /// one element matches the point).
    pub fn tag_filter(tags: &TagFilter) -> Option<Filter> {
        let key = JsonPath::try_from(tags.key).ok()?;
        let mut conditions = tags.any.iter().map(|tag| {
            Condition::Field(FieldCondition::new_match(
                key.clone(),
                Match::new_value(ValueVariants::String(tag.clone())),
            ))
        });
        let first = conditions.next()?;
        let mut filter = Filter::new_should(first);
        if let Some(should) = filter.should.as_mut() {
            should.extend(conditions);
        }
        Some(filter)
    }

    pub fn update_operations(batch: WriteBatch) -> Result<Vec<UpdateOperation>, IndexError> {
        let mut operations = Vec::new();
        for op in translate::write_ops(batch)? {
            operations.push(match op {
                WriteOp::Delete(ids) => {
                    let ids = ids.into_iter().map(PointId::from).collect();
                    UpdateOperation::PointOperation(PointOperations::DeletePoints { ids })
                }
                WriteOp::Upsert(points) => {
                    let mut structs = Vec::with_capacity(points.len());
                    for point in points {
                        let mut vectors = Vec::with_capacity(point.vectors.len());
                        for (name, data) in point.vectors {
                            let vector = match data {
                                VectorData::Sparse(s) => Vector::new_sparse(s.indices, s.values)
                                    .map_err(|e| {
                                        IndexError::Backend(format!("bad BM25 vector: {e}"))
                                    })?,
                                VectorData::Dense(d) => Vector::new_dense(d),
                            };
                            vectors.push((name.to_string(), vector));
                        }
                        // `PointStruct::new` panics unless the payload is a JSON object;
                        // the translation layer only hands out objects.
                        structs.push(
                            PointStruct::new(
                                point.id,
                                Vectors::new_named(vectors),
                                serde_json::Value::Object(point.payload),
                            )
                            .into(),
                        );
                    }
                    UpdateOperation::PointOperation(PointOperations::UpsertPoints(
                        PointInsertOperations::PointsList(structs),
                    ))
                }
                WriteOp::OverwritePayload { id, payload } => {
                    UpdateOperation::PayloadOperation(PayloadOps::OverwritePayload(SetPayloadOp {
                        payload: Payload(payload),
                        points: Some(vec![PointId::from(id)]),
                        filter: None,
                        key: None,
                    }))
                }
            });
        }
        Ok(operations)
    }

    pub fn numeric_id(id: PointId) -> Option<u64> {
        match id {
            PointId::NumId(n) => Some(n),
            PointId::Uuid(_) => None,
        }
    }

    pub fn stored_point(id: PointId, payload: Option<Payload>) -> Option<StoredPoint> {
        translate::stored_point(numeric_id(id), &payload?.0)
    }

    /// A point's chunk, from its payload.
    pub fn chunk_of(id: PointId, payload: Payload) -> Option<(u64, Chunk)> {
        Some((numeric_id(id)?, translate::chunk(payload.0)?))
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use crate::knowledge::index::{SearchMode, SparseVec};

        #[test]
        fn hybrid_becomes_two_prefetches_fused_with_rrf_and_a_tag_filter() {
            let plan = QueryPlan::build(
                SearchMode::Hybrid,
                SparseVec {
                    indices: vec![1],
                    values: vec![1.0],
                },
                Some(vec![0.0, 1.0]),
                3,
                vec!["billing".into(), "returns".into()],
            )
            .unwrap();
            let request = query_request(plan);
            assert_eq!(request.prefetches.len(), 2);
            assert!(matches!(
                request.query,
                Some(ScoringQuery::Fusion(Fusion::Rrf { k: 60, .. }))
            ));
            assert_eq!(request.limit, 3);
            assert_eq!(
                request.filter.and_then(|f| f.should).map(|s| s.len()),
                Some(2)
            );
        }

        #[test]
        fn no_tags_means_no_filter() {
            let plan =
                QueryPlan::build(SearchMode::Bm25, SparseVec::default(), None, 3, Vec::new())
                    .unwrap();
            assert!(query_request(plan).filter.is_none());
        }
    }
}

/// `<data_dir>/qdrant`.
pub fn default_root(data_dir: &Path) -> PathBuf {
    data_dir.join("qdrant")
}
