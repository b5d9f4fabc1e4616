//! [`KnowledgeIndex`] on a Qdrant server through `qdrant-client` (gRPC), chosen when
//! `qdrant.url` / `QDRANT_URL` is set, so several textdesk instances share one index.
//!
//! It ranks exactly as [`super::edge`] does: the same BM25 sparse vectors (computed
//! here, by [`super::bm25`], with the IDF modifier applied by Qdrant), the same cosine
//! dense vectors, the same prefetch limits and reciprocal rank fusion with our
//! `k` = [`super::RRF_K`]. That last point matters: a Qdrant server's plain
//! `Fusion::Rrf` uses its own default k (2 in current Qdrant), so we send the
//! parameterised RRF query with k set (tested on v1.18.3). A server too old to read it
//! refuses the query; then each vector is searched on its own and the rankings are
//! fused here with Qdrant's own formula ([`translate::rrf_fuse`]), which ranks the same.
//!
//! Every decision (which vectors, limits, filter key, write order, collection layout)
//! comes from [`super::translate`], shared with the edge backend; [`request`] maps those
//! neutral values onto client types without I/O (unit-tested), and [`ServerIndex`] only
//! makes the calls.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use qdrant_client::qdrant::{
    CreateFieldIndexCollectionBuilder, DeletePointsBuilder, Distance, FieldType,
    GetCollectionInfoResponse, Modifier, ScrollPointsBuilder, SetPayloadPointsBuilder,
    UpsertPointsBuilder, vectors_config,
};
use qdrant_client::{Qdrant, QdrantError};

use super::translate::{self, CollectionSpec, SCROLL_PAGE, WriteOp};
use super::{IndexError, KnowledgeIndex, QueryPlan, ScoredChunk, StoredPoint, WriteBatch};

/// Points per upsert request, well under gRPC's message size with 1,536-d vectors.
const UPSERT_CHUNK: usize = 256;
/// Collection metadata key naming the dense model the vectors came from (servers that
/// do not keep collection metadata simply do not get this check).
const DENSE_MODEL_KEY: &str = "textdesk_dense_model";

/// Where the server is and which collection holds the chunks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSettings {
    pub url: String,
    pub api_key: Option<String>,
    pub collection: String,
}

/// The dense vectors the caller will write: model and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DenseModel {
    pub model_id: String,
    pub dimensions: usize,
}

pub struct ServerIndex {
    client: Qdrant,
    url: String,
    collection: String,
    /// What the collection is made of: to recreate it if the server lost it.
    spec: CollectionSpec,
    dense_model: Option<String>,
    dense: Option<usize>,
    /// Hybrid rankings are fused here, not by the server (see [`Self::fusing_here`]).
    local_fusion: AtomicBool,
}

impl ServerIndex {
    /// Connects (a health check, so an unreachable server fails here, at start) and
    /// creates the collection when it is missing. An existing collection must have the
    /// vectors we write: a different dense size or model is an error saying what to do.
    pub async fn open(
        settings: &ServerSettings,
        dense: Option<DenseModel>,
    ) -> Result<Self, IndexError> {
        let open_err = |reason: String| IndexError::Open {
            path: format!("{} (collection {})", settings.url, settings.collection),
            reason,
        };
        let client = Qdrant::from_url(&settings.url)
            .api_key(settings.api_key.clone())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            // Its check blocks and prints to stdout; ours below logs the version.
            .skip_compatibility_check()
            .build()
            .map_err(|e| open_err(e.to_string()))?;
        let health = client
            .health_check()
            .await
            .map_err(|e| open_err(format!("the Qdrant server cannot be reached: {e}")))?;
        tracing::info!(url = %settings.url, version = %health.version, collection = %settings.collection, "knowledge index on a Qdrant server");

        let mut index = ServerIndex {
            client,
            url: settings.url.clone(),
            collection: settings.collection.clone(),
            spec: CollectionSpec::new(dense.as_ref().map(|d| d.dimensions)),
            dense_model: dense.as_ref().map(|d| d.model_id.clone()),
            dense: None,
            local_fusion: AtomicBool::new(false),
        };
        // The health check answers without the API key; this is the first call that
        // needs it.
        let exists = index
            .client
            .collection_exists(settings.collection.as_str())
            .await
            .map_err(|e| open_err(describe(&e)))?;
        index.dense = if exists {
            let info = index
                .client
                .collection_info(settings.collection.as_str())
                .await
                .map_err(|e| open_err(describe(&e)))?;
            let found = request::existing_layout(&info);
            let dense =
                request::check_layout(&settings.collection, &index.spec, dense.as_ref(), &found)
                    .map_err(open_err)?;
            index
                .ensure_keyword_indexes(&found)
                .await
                .map_err(|e| open_err(describe(&e)))?;
            dense
        } else {
            index.create().await.map_err(open_err)?;
            index.spec.dense.map(|(_, d)| d)
        };
        Ok(index)
    }

    /// Creates the collection and its payload indexes. Another instance may create it
    /// at the same moment; that is fine.
    async fn create(&self) -> Result<(), String> {
        let create =
            request::create_collection(&self.collection, &self.spec, self.dense_model.as_deref());
        match self.client.create_collection(create).await {
            Ok(_) => {
                tracing::info!(collection = %self.collection, "created the knowledge collection")
            }
            Err(e) => {
                let exists_now = self
                    .client
                    .collection_exists(self.collection.as_str())
                    .await
                    .unwrap_or(false);
                if !exists_now {
                    return Err(format!("cannot create the collection: {}", describe(&e)));
                }
            }
        }
        self.ensure_keyword_indexes(&Layout::default())
            .await
            .map_err(|e| format!("cannot index the tags: {}", describe(&e)))
    }

    /// Creates the keyword payload indexes the tag filter needs and `found` lacks
    /// (collections made by earlier versions have none). Creating one that exists is a
    /// no-op on the server.
    async fn ensure_keyword_indexes(&self, found: &Layout) -> Result<(), QdrantError> {
        for key in self.spec.keyword_indexes {
            if !found.keyword_indexes.iter().any(|k| k == key) {
                self.client
                    .create_field_index(
                        CreateFieldIndexCollectionBuilder::new(
                            self.collection.as_str(),
                            *key,
                            FieldType::Keyword,
                        )
                        .wait(true),
                    )
                    .await?;
            }
        }
        Ok(())
    }

    /// Fuses hybrid rankings here rather than on the server, as with a server that
    /// refuses parameterised RRF (it is switched to this at the first refusal). Public
    /// so a test can compare both on one server.
    pub fn fusing_here(self) -> Self {
        self.local_fusion.store(true, Ordering::Relaxed);
        self
    }

    async fn run(&self, plan: QueryPlan) -> Result<Vec<ScoredChunk>, QdrantError> {
        let query = request::query_points(&self.collection, translate::search_request(plan));
        let found = self.client.query(query).await?;
        Ok(found
            .result
            .into_iter()
            .filter_map(|p| request::scored_chunk(p.id, p.score, p.payload))
            .collect())
    }

    async fn query_fused_here(&self, plan: QueryPlan) -> Result<Vec<ScoredChunk>, IndexError> {
        let Some((singles, k, limit)) = translate::unfused(plan) else {
            return Err(IndexError::Backend("not a fused plan".into()));
        };
        let mut rankings = Vec::with_capacity(singles.len());
        for single in singles {
            rankings.push(self.run(single).await.map_err(|e| self.backend_err(e))?);
        }
        Ok(translate::rrf_fuse(rankings, k, limit))
    }

    fn backend_err(&self, e: QdrantError) -> IndexError {
        IndexError::Backend(format!(
            "Qdrant server {} (collection {}): {}",
            self.url,
            self.collection,
            describe(&e)
        ))
    }
}

/// A gRPC status code, by number (tonic's `Code` is not re-exported).
mod code {
    pub const INVALID_ARGUMENT: i32 = 3;
    pub const NOT_FOUND: i32 = 5;
    pub const PERMISSION_DENIED: i32 = 7;
    pub const UNAVAILABLE: i32 = 14;
    pub const UNAUTHENTICATED: i32 = 16;
}

fn status_code(e: &QdrantError) -> Option<i32> {
    match e {
        QdrantError::ResponseError { status }
        | QdrantError::ResourceExhaustedError { status, .. } => Some(status.code() as i32),
        _ => None,
    }
}

/// A failed call in words an operator can act on: the server's message without the
/// gRPC metadata, and what to do when it is the key or the connection.
pub fn describe(e: &QdrantError) -> String {
    let (QdrantError::ResponseError { status }
    | QdrantError::ResourceExhaustedError { status, .. }) = e
    else {
        return e.to_string();
    };
    let message = status.message();
    match status.code() as i32 {
        code::UNAUTHENTICATED | code::PERMISSION_DENIED => format!(
            "the server refused the API key; set qdrant.api_key (QDRANT_API_KEY) to the server's key ({message})"
        ),
        code::UNAVAILABLE => format!("the Qdrant server cannot be reached ({message})"),
        _ => format!("{:?}: {message}", status.code()),
    }
}

#[async_trait::async_trait]
impl KnowledgeIndex for ServerIndex {
    async fn stored(&self) -> Result<Vec<StoredPoint>, IndexError> {
        let mut points = Vec::new();
        let mut offset = None;
        loop {
            let mut scroll = ScrollPointsBuilder::new(self.collection.as_str())
                .limit(SCROLL_PAGE as u32)
                .with_payload(request::stored_fields())
                .with_vectors(false);
            if let Some(offset) = offset.take() {
                scroll = scroll.offset(offset);
            }
            let page = match self.client.scroll(scroll).await {
                Ok(page) => page,
                // The server lost the collection (fresh storage, or deleted by hand):
                // make it again, empty, so the sync that asked refills it.
                Err(e) if status_code(&e) == Some(code::NOT_FOUND) => {
                    tracing::error!(url = %self.url, collection = %self.collection, error = %describe(&e), "the knowledge collection is gone from the Qdrant server; recreating it and re-indexing");
                    self.create().await.map_err(|reason| {
                        IndexError::Backend(format!(
                            "Qdrant server {} (collection {}): {reason}",
                            self.url, self.collection
                        ))
                    })?;
                    return Ok(Vec::new());
                }
                Err(e) => return Err(self.backend_err(e)),
            };
            points.extend(
                page.result
                    .into_iter()
                    .filter_map(|p| request::stored_point(p.id, p.payload)),
            );
            match page.next_page_offset {
                Some(next) => offset = Some(next),
                None => break,
            }
        }
        Ok(points)
    }

    async fn apply(&self, batch: WriteBatch) -> Result<(), IndexError> {
        for op in translate::write_ops(batch)? {
            match op {
                WriteOp::Delete(ids) => {
                    let delete = DeletePointsBuilder::new(self.collection.as_str())
                        .points(ids)
                        .wait(true);
                    self.client
                        .delete_points(delete)
                        .await
                        .map_err(|e| self.backend_err(e))?;
                }
                WriteOp::Upsert(points) => {
                    let points = request::point_structs(points)?;
                    for chunk in points.chunks(UPSERT_CHUNK) {
                        let upsert =
                            UpsertPointsBuilder::new(self.collection.as_str(), chunk.to_vec())
                                .wait(true);
                        self.client
                            .upsert_points(upsert)
                            .await
                            .map_err(|e| self.backend_err(e))?;
                    }
                }
                WriteOp::OverwritePayload { id, payload } => {
                    let set = SetPayloadPointsBuilder::new(
                        self.collection.as_str(),
                        request::payload(payload),
                    )
                    .points_selector(vec![id])
                    .wait(true);
                    self.client
                        .overwrite_payload(set)
                        .await
                        .map_err(|e| self.backend_err(e))?;
                }
            }
        }
        Ok(())
    }

    async fn query(&self, plan: QueryPlan) -> Result<Vec<ScoredChunk>, IndexError> {
        let fused = matches!(plan, QueryPlan::Fused { .. });
        if fused && self.local_fusion.load(Ordering::Relaxed) {
            return self.query_fused_here(plan).await;
        }
        match self.run(plan.clone()).await {
            // A server older than parameterised RRF cannot read the query: fuse here,
            // with the same formula, from now on.
            Err(e) if fused && status_code(&e) == Some(code::INVALID_ARGUMENT) => {
                tracing::warn!(url = %self.url, error = %describe(&e), "the Qdrant server refused the parameterised RRF query; fusing the rankings here instead (same results, one request per vector); a server from v1.18 fuses itself");
                self.local_fusion.store(true, Ordering::Relaxed);
                self.query_fused_here(plan).await
            }
            found => found.map_err(|e| self.backend_err(e)),
        }
    }

    fn dense_dimensions(&self) -> Option<usize> {
        self.dense
    }
}

/// The vector layout an existing collection has.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Layout {
    /// Sparse vector names and whether each has the IDF modifier.
    pub sparse: HashMap<String, bool>,
    /// Dense vector names and sizes.
    pub dense: HashMap<String, u64>,
    /// The dense model recorded at creation, when the server keeps metadata.
    pub dense_model: Option<String>,
    /// Payload keys with a keyword index.
    pub keyword_indexes: Vec<String>,
}

pub mod request {
    //! The shared translation layer's values as `qdrant-client` types, and results
    //! back. No I/O.

    use std::collections::HashMap;

    use qdrant_client::Payload;
    use qdrant_client::qdrant::{
        Condition, CreateCollectionBuilder, Filter, PayloadIncludeSelector, PayloadSchemaType,
        PointId, PointStruct, PrefetchQueryBuilder, Query, QueryPoints, QueryPointsBuilder,
        RrfBuilder, SparseVectorParamsBuilder, SparseVectorsConfigBuilder, Value, Vector,
        VectorInput, VectorParamsBuilder, VectorsConfigBuilder, point_id::PointIdOptions,
        with_payload_selector::SelectorOptions,
    };

    use super::super::translate::{
        self, CollectionSpec, PointWrite, Scoring, SearchRequest, TagFilter, VectorData,
        VectorSearch,
    };
    use super::super::{DENSE_VECTOR, IndexError, QueryVector, ScoredChunk, StoredPoint};
    use super::{
        DENSE_MODEL_KEY, DenseModel, Distance, GetCollectionInfoResponse, Layout, Modifier,
        vectors_config,
    };

    pub fn query_points(collection: &str, request: SearchRequest) -> QueryPoints {
        let mut builder = QueryPointsBuilder::new(collection)
            .limit(request.limit as u64)
            .with_payload(request.with_payload)
            .with_vectors(false);
        for prefetch in request.prefetch {
            builder = builder.add_prefetch(
                PrefetchQueryBuilder::default()
                    .query(nearest(&prefetch.search))
                    .using(prefetch.search.using)
                    .limit(prefetch.limit as u64),
            );
        }
        builder = match request.scoring {
            Scoring::Nearest(search) => builder.query(nearest(&search)).using(search.using),
            // Parameterised: the server's default k differs from ours.
            Scoring::Rrf { k } => builder.query(Query::new_rrf(RrfBuilder::with_k(k as u32))),
        };
        if let Some(filter) = request.filter.as_ref().and_then(tag_filter) {
            // On the whole query: Qdrant applies it to every prefetch too.
            builder = builder.filter(filter);
        }
        builder.build()
    }

    fn nearest(search: &VectorSearch) -> Query {
        Query::new_nearest(match &search.vector {
            QueryVector::Sparse(s) => VectorInput::new_sparse(s.indices.clone(), s.values.clone()),
            QueryVector::Dense(d) => VectorInput::new_dense(d.clone()),
        })
    }

    /// A `should` of one keyword match per tag, as the edge backend builds it.
    pub fn tag_filter(tags: &TagFilter) -> Option<Filter> {
        (!tags.any.is_empty()).then(|| {
            Filter::should(
                tags.any
                    .iter()
                    .map(|tag| Condition::matches(tags.key, tag.clone())),
            )
        })
    }

    pub fn stored_fields() -> SelectorOptions {
        SelectorOptions::Include(PayloadIncludeSelector {
            fields: translate::STORED_FIELDS.map(String::from).to_vec(),
        })
    }

    pub fn point_structs(points: Vec<PointWrite>) -> Result<Vec<PointStruct>, IndexError> {
        Ok(points
            .into_iter()
            .map(|point| {
                let vectors: HashMap<String, Vector> = point
                    .vectors
                    .into_iter()
                    .map(|(name, data)| {
                        let vector = match data {
                            VectorData::Sparse(s) => Vector::new_sparse(s.indices, s.values),
                            VectorData::Dense(d) => Vector::new_dense(d),
                        };
                        (name.to_string(), vector)
                    })
                    .collect();
                PointStruct::new(point.id, vectors, payload(point.payload))
            })
            .collect())
    }

    pub fn payload(object: serde_json::Map<String, serde_json::Value>) -> Payload {
        Payload::from(object)
    }

    fn numeric_id(id: Option<PointId>) -> Option<u64> {
        match id?.point_id_options? {
            PointIdOptions::Num(n) => Some(n),
            PointIdOptions::Uuid(_) => None,
        }
    }

    fn json(payload: HashMap<String, Value>) -> serde_json::Map<String, serde_json::Value> {
        serde_json::Map::from(Payload::from(payload))
    }

    pub fn stored_point(
        id: Option<PointId>,
        payload: HashMap<String, Value>,
    ) -> Option<StoredPoint> {
        translate::stored_point(numeric_id(id), &json(payload))
    }

    pub fn scored_chunk(
        id: Option<PointId>,
        score: f32,
        payload: HashMap<String, Value>,
    ) -> Option<ScoredChunk> {
        translate::scored_chunk(numeric_id(id), score, json(payload))
    }

    pub fn create_collection(
        collection: &str,
        spec: &CollectionSpec,
        dense_model: Option<&str>,
    ) -> CreateCollectionBuilder {
        let mut sparse = SparseVectorsConfigBuilder::default();
        let mut params = SparseVectorParamsBuilder::default();
        if spec.sparse_idf {
            params = params.modifier(Modifier::Idf);
        }
        sparse.add_named_vector_params(spec.sparse, params);
        let mut builder = CreateCollectionBuilder::new(collection).sparse_vectors_config(sparse);
        if let Some((name, dimensions)) = spec.dense {
            let mut dense = VectorsConfigBuilder::default();
            dense.add_named_vector_params(
                name,
                VectorParamsBuilder::new(dimensions as u64, Distance::Cosine),
            );
            builder = builder.vectors_config(dense);
        }
        if let Some(model) = dense_model {
            let metadata: HashMap<String, serde_json::Value> =
                HashMap::from([(DENSE_MODEL_KEY.to_string(), model.into())]);
            builder = builder.metadata(metadata);
        }
        builder
    }

    pub fn existing_layout(info: &GetCollectionInfoResponse) -> Layout {
        let Some(config) = info.result.as_ref().and_then(|r| r.config.as_ref()) else {
            return Layout::default();
        };
        let keyword_indexes = info
            .result
            .iter()
            .flat_map(|r| &r.payload_schema)
            .filter(|(_, schema)| schema.data_type == PayloadSchemaType::Keyword as i32)
            .map(|(key, _)| key.clone())
            .collect();
        let mut layout = Layout {
            keyword_indexes,
            dense_model: config
                .metadata
                .get(DENSE_MODEL_KEY)
                .and_then(|v| v.clone().into_json().as_str().map(String::from)),
            ..Layout::default()
        };
        if let Some(params) = &config.params {
            if let Some(sparse) = &params.sparse_vectors_config {
                for (name, p) in &sparse.map {
                    layout
                        .sparse
                        .insert(name.clone(), p.modifier == Some(Modifier::Idf as i32));
                }
            }
            match params
                .vectors_config
                .as_ref()
                .and_then(|v| v.config.as_ref())
            {
                Some(vectors_config::Config::ParamsMap(map)) => {
                    for (name, p) in &map.map {
                        layout.dense.insert(name.clone(), p.size);
                    }
                }
                Some(vectors_config::Config::Params(p)) => {
                    layout.dense.insert(String::new(), p.size);
                }
                None => {}
            }
        }
        layout
    }

    /// Whether an existing collection fits what we write; the dense size to use (none
    /// when we have no embedder). The error says what to do.
    pub fn check_layout(
        collection: &str,
        spec: &CollectionSpec,
        dense: Option<&DenseModel>,
        found: &Layout,
    ) -> Result<Option<usize>, String> {
        let fix = format!(
            "delete the collection `{collection}` (textdesk refills it from the knowledge files) \
             or set qdrant.collection (TEXTDESK_QDRANT_COLLECTION) to a new name"
        );
        match found.sparse.get(spec.sparse) {
            Some(true) => {}
            Some(false) => {
                return Err(format!(
                    "collection `{collection}`: sparse vector `{}` has no IDF modifier, so BM25 would rank differently; {fix}",
                    spec.sparse
                ));
            }
            None => {
                return Err(format!(
                    "collection `{collection}` has no sparse vector `{}`; it was not made by textdesk, or by another version; {fix}",
                    spec.sparse
                ));
            }
        }
        let Some((name, wanted)) = spec.dense else {
            if found.dense.contains_key(DENSE_VECTOR) {
                tracing::warn!(
                    collection,
                    "the collection has dense vectors but no embedder is configured here; this instance searches with BM25 only"
                );
            }
            return Ok(None);
        };
        match found.dense.get(name) {
            Some(&size) if size == wanted as u64 => {}
            Some(&size) => {
                return Err(format!(
                    "collection `{collection}` holds {size}-dimensional `{name}` vectors but the embedder{} gives {wanted}; {fix}",
                    dense
                        .map(|d| format!(" ({})", d.model_id))
                        .unwrap_or_default()
                ));
            }
            None => {
                return Err(format!(
                    "collection `{collection}` was created without `{name}` vectors (no embedder then) but an embedder is configured now; {fix}"
                ));
            }
        }
        if let (Some(recorded), Some(model)) = (&found.dense_model, dense) {
            if recorded != &model.model_id {
                return Err(format!(
                    "collection `{collection}` holds vectors of the model `{recorded}` but the embedder is `{}`; {fix}",
                    model.model_id
                ));
            }
        }
        Ok(Some(wanted))
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use crate::knowledge::index::{QueryPlan, SearchMode, SparseVec};
        use qdrant_client::qdrant::query;

        fn sparse() -> SparseVec {
            SparseVec {
                indices: vec![1, 4],
                values: vec![1.0, 0.5],
            }
        }

        #[test]
        fn hybrid_is_two_named_prefetches_and_rrf_with_our_k() {
            let plan = QueryPlan::build(
                SearchMode::Hybrid,
                sparse(),
                Some(vec![0.0, 1.0]),
                3,
                vec!["billing".into(), "returns".into()],
            )
            .unwrap();
            let q = query_points("kb", translate::search_request(plan));
            assert_eq!(q.collection_name, "kb");
            assert_eq!(q.limit, Some(3));
            assert_eq!(
                q.prefetch
                    .iter()
                    .map(|p| (p.using.as_deref(), p.limit))
                    .collect::<Vec<_>>(),
                vec![(Some("bm25"), Some(20)), (Some("dense"), Some(20))]
            );
            match q.query.and_then(|q| q.variant) {
                Some(query::Variant::Rrf(rrf)) => assert_eq!(rrf.k, Some(60)),
                other => panic!("{other:?}"),
            }
            assert_eq!(q.using, None);
            let should = q.filter.map(|f| f.should).unwrap_or_default();
            assert_eq!(should.len(), 2);
        }

        #[test]
        fn bm25_alone_queries_the_sparse_vector_without_a_filter() {
            let plan = QueryPlan::build(SearchMode::Bm25, sparse(), None, 5, vec![]).unwrap();
            let q = query_points("kb", translate::search_request(plan));
            assert!(q.prefetch.is_empty());
            assert_eq!(q.using.as_deref(), Some("bm25"));
            assert!(matches!(
                q.query.and_then(|q| q.variant),
                Some(query::Variant::Nearest(_))
            ));
            assert!(q.filter.is_none());
        }

        #[test]
        fn payloads_and_ids_come_back_as_chunks() {
            let point = |n: u64| Some(PointId::from(n));
            let mut payload = HashMap::new();
            payload.insert("file".to_string(), Value::from("a.md".to_string()));
            payload.insert("payload_hash".to_string(), Value::from("h".to_string()));
            assert_eq!(
                stored_point(point(7), payload.clone()),
                Some(StoredPoint {
                    id: 7,
                    file: "a.md".into(),
                    payload_hash: "h".into(),
                })
            );
            assert_eq!(stored_point(None, payload.clone()), None);
            assert_eq!(
                scored_chunk(point(7), 1.0, payload),
                None,
                "not a whole chunk"
            );
        }

        fn layout(idf: bool, dense: Option<u64>, model: Option<&str>) -> Layout {
            Layout {
                sparse: HashMap::from([("bm25".to_string(), idf)]),
                dense: dense
                    .map(|d| HashMap::from([("dense".to_string(), d)]))
                    .unwrap_or_default(),
                dense_model: model.map(String::from),
                keyword_indexes: vec![],
            }
        }

        #[test]
        fn an_existing_collection_must_have_our_vectors() {
            let model = DenseModel {
                model_id: "minilm".into(),
                dimensions: 384,
            };
            let spec = CollectionSpec::new(Some(384));
            let ok = check_layout("kb", &spec, Some(&model), &layout(true, Some(384), None));
            assert_eq!(ok, Ok(Some(384)));
            let wrong_size =
                check_layout("kb", &spec, Some(&model), &layout(true, Some(1536), None))
                    .unwrap_err();
            assert!(wrong_size.contains("`kb`"), "{wrong_size}");
            assert!(wrong_size.contains("1536"), "{wrong_size}");
            assert!(wrong_size.contains("delete the collection"), "{wrong_size}");
            assert!(check_layout("kb", &spec, Some(&model), &layout(true, None, None)).is_err());
            assert!(
                check_layout("kb", &spec, Some(&model), &layout(false, Some(384), None)).is_err()
            );
            assert!(
                check_layout(
                    "kb",
                    &spec,
                    Some(&model),
                    &layout(true, Some(384), Some("other"))
                )
                .unwrap_err()
                .contains("other")
            );
            // No embedder here: BM25 over whatever the collection has.
            let bm25 = CollectionSpec::new(None);
            assert_eq!(
                check_layout("kb", &bm25, None, &layout(true, Some(384), None)),
                Ok(None)
            );
        }

        #[test]
        fn a_new_collection_gets_sparse_idf_and_cosine_dense() {
            let create = create_collection("kb", &CollectionSpec::new(Some(8)), Some("m")).build();
            let sparse = create.sparse_vectors_config.unwrap();
            assert_eq!(sparse.map["bm25"].modifier, Some(Modifier::Idf as i32));
            match create.vectors_config.and_then(|v| v.config) {
                Some(vectors_config::Config::ParamsMap(map)) => {
                    assert_eq!(map.map["dense"].size, 8);
                    assert_eq!(map.map["dense"].distance, Distance::Cosine as i32);
                }
                other => panic!("{other:?}"),
            }
            assert!(create.metadata.contains_key(DENSE_MODEL_KEY));
            let bm25_only = create_collection("kb", &CollectionSpec::new(None), None).build();
            assert!(bm25_only.vectors_config.is_none());
        }
    }
}
