//! On-disk cache in front of any [`Embedder`]: a text already embedded by the same
//! model is read back instead of embedded again, so restarts and re-indexing only pay
//! for new or changed text.
//!
//! Layout: `<root>/<model-slug>/vectors.bin`, one append-only file per model.
//!
//! ```text
//! header:  b"TDEMBED1" | dimensions: u32 LE
//! record:  key: [u8; 32] | vector: dimensions × f32 LE | check: [u8; 8]
//! ```
//!
//! `key` is sha256(model_id ‖ 0x00 ‖ text); `check` is the first 8 bytes of
//! sha256(key ‖ vector bytes). Records have a fixed size, so loading is one read and a
//! walk. A crash mid-append leaves a short or corrupt tail: loading keeps every record
//! before it and truncates the file there. The whole file is read into memory at
//! start (~1.6 KB per 384-d entry, so 10k entries ≈ 16 MB).
//!
//! The cache never evicts; delete the folder to reclaim space. It does not verify that
//! the inner embedder is deterministic — the model id is the contract.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use super::{EmbedError, Embedder};

const MAGIC: &[u8; 8] = b"TDEMBED1";
const HEADER_LEN: usize = 12;
const KEY_LEN: usize = 32;
const CHECK_LEN: usize = 8;
const FILE_NAME: &str = "vectors.bin";

type Key = [u8; KEY_LEN];

/// Wraps an embedder with a persistent text → vector cache.
pub struct CachedEmbedder<E: Embedder> {
    inner: E,
    path: PathBuf,
    state: Mutex<State>,
}

struct State {
    vectors: HashMap<Key, Vec<f32>>,
    file: File,
}

impl<E: Embedder> CachedEmbedder<E> {
    /// Opens (or creates) the cache for `inner`'s model under `root`, e.g.
    /// `data/embeddings`, and loads every intact entry.
    pub fn open(inner: E, root: &Path) -> Result<Self, EmbedError> {
        Self::open_seeded(inner, root, None)
    }

    /// Opens the cache like [`CachedEmbedder::open`]; a cache that does not exist yet
    /// starts as a copy of the same model's file under `seed_root` when there is one.
    /// The repository ships the vectors of its demo knowledge and intent examples
    /// there (`scripts/seed-vectors.sh`): embedding them all on a 2-core machine takes
    /// about a minute, and a fresh data directory would wait that long to be ready.
    /// The seed is read like any cache file, so a torn or foreign one costs time only.
    pub fn open_seeded(
        inner: E,
        root: &Path,
        seed_root: Option<&Path>,
    ) -> Result<Self, EmbedError> {
        let dir = root.join(slug(inner.model_id()));
        std::fs::create_dir_all(&dir).map_err(|e| cache_err(&dir, e))?;
        let path = dir.join(FILE_NAME);
        if let Some(seed) = seed_root.map(|r| r.join(slug(inner.model_id())).join(FILE_NAME))
            && seed.is_file()
            && !path.exists()
        {
            match std::fs::copy(&seed, &path) {
                Ok(bytes) => {
                    tracing::info!(seed = %seed.display(), bytes, "embedding cache started from the shipped vectors")
                }
                Err(e) => {
                    tracing::warn!(seed = %seed.display(), error = %e, "could not copy the shipped vectors; embedding everything afresh")
                }
            }
        }
        let (vectors, file) = load(&path, inner.dimensions())?;
        tracing::info!(
            path = %path.display(),
            entries = vectors.len(),
            model = inner.model_id(),
            "opened embedding cache"
        );
        Ok(Self {
            inner,
            path,
            state: Mutex::new(State { vectors, file }),
        })
    }

    /// Number of cached vectors.
    pub fn len(&self) -> usize {
        self.lock().map_or(0, |s| s.vectors.len())
    }

    /// True when nothing is cached yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The wrapped embedder.
    pub fn inner(&self) -> &E {
        &self.inner
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, State>, EmbedError> {
        self.state
            .lock()
            .map_err(|_| EmbedError::Cache(format!("{}: lock poisoned", self.path.display())))
    }
}

#[async_trait::async_trait]
impl<E: Embedder> Embedder for CachedEmbedder<E> {
    fn model_id(&self) -> &str {
        self.inner.model_id()
    }

    fn dimensions(&self) -> usize {
        self.inner.dimensions()
    }

    /// Customer texts bypass the cache: nothing a customer wrote is stored on disk.
    async fn embed_query(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        self.inner.embed_query(text).await
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let keys: Vec<Key> = texts
            .iter()
            .map(|t| key(self.inner.model_id(), t))
            .collect();

        // Look everything up first; each distinct missing text goes to the model once.
        let mut out: Vec<Option<Vec<f32>>> = Vec::with_capacity(texts.len());
        let mut misses: Vec<(Key, String)> = Vec::new();
        {
            let state = self.lock()?;
            for (k, text) in keys.iter().zip(texts) {
                let hit = state.vectors.get(k).cloned();
                if hit.is_none() && !misses.iter().any(|(m, _)| m == k) {
                    misses.push((*k, text.clone()));
                }
                out.push(hit);
            }
        }
        if misses.is_empty() {
            return Ok(out.into_iter().flatten().collect());
        }

        let miss_texts: Vec<String> = misses.iter().map(|(_, t)| t.clone()).collect();
        let fresh = self.inner.embed(&miss_texts).await?;
        let dims = self.inner.dimensions();
        if fresh.len() != misses.len() || fresh.iter().any(|v| v.len() != dims) {
            return Err(EmbedError::Inference(format!(
                "{} returned {} vectors for {} texts (or a vector not of {dims} dimensions)",
                self.inner.model_id(),
                fresh.len(),
                misses.len()
            )));
        }

        let mut buf = Vec::with_capacity(misses.len() * record_len(dims));
        for ((k, _), v) in misses.iter().zip(&fresh) {
            encode_record(&mut buf, k, v);
        }
        let mut state = self.lock()?;
        // A failed write only costs a future re-embed, so it is logged, not returned.
        if let Err(e) = state.file.write_all(&buf) {
            tracing::warn!(path = %self.path.display(), error = %e, "could not append to embedding cache");
        }
        let new: HashMap<Key, Vec<f32>> = misses.into_iter().map(|(k, _)| k).zip(fresh).collect();
        for (slot, k) in out.iter_mut().zip(&keys) {
            if slot.is_none() {
                *slot = new.get(k).cloned();
            }
        }
        state.vectors.extend(new);
        drop(state);

        out.into_iter()
            .map(|v| v.ok_or_else(|| EmbedError::Inference("cache lost a vector".into())))
            .collect()
    }
}

/// Filesystem-safe folder name for a model id: `local:all-MiniLM-L6-v2` →
/// `local_all-MiniLM-L6-v2`.
pub fn slug(model_id: &str) -> String {
    model_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn key(model_id: &str, text: &str) -> Key {
    let mut h = Sha256::new();
    h.update(model_id.as_bytes());
    h.update([0u8]);
    h.update(text.as_bytes());
    h.finalize().into()
}

fn record_len(dims: usize) -> usize {
    KEY_LEN + dims * 4 + CHECK_LEN
}

fn check(key: &Key, vector_bytes: &[u8]) -> [u8; CHECK_LEN] {
    let mut h = Sha256::new();
    h.update(key);
    h.update(vector_bytes);
    let digest = h.finalize();
    let mut out = [0u8; CHECK_LEN];
    out.copy_from_slice(&digest[..CHECK_LEN]);
    out
}

fn encode_record(buf: &mut Vec<u8>, key: &Key, vector: &[f32]) {
    let start = buf.len();
    buf.extend_from_slice(key);
    for x in vector {
        buf.extend_from_slice(&x.to_le_bytes());
    }
    let c = check(key, &buf[start + KEY_LEN..]);
    buf.extend_from_slice(&c);
}

fn header(dims: usize) -> Vec<u8> {
    let mut h = MAGIC.to_vec();
    h.extend_from_slice(&(dims as u32).to_le_bytes());
    h
}

/// Reads every intact record, truncates a torn tail, and returns the file positioned
/// for appending. A file for another vector size or with a foreign header is started
/// afresh: it is a cache, so losing it only costs time.
fn load(path: &Path, dims: usize) -> Result<(HashMap<Key, Vec<f32>>, File), EmbedError> {
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| cache_err(path, e))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|e| cache_err(path, e))?;

    let mut vectors = HashMap::new();
    let expected = header(dims);
    let good_len = if bytes.len() < HEADER_LEN || bytes[..HEADER_LEN] != expected[..] {
        if !bytes.is_empty() {
            tracing::warn!(path = %path.display(), "embedding cache has another format or size; starting it afresh");
        }
        file.set_len(0).map_err(|e| cache_err(path, e))?;
        file.seek(SeekFrom::Start(0))
            .map_err(|e| cache_err(path, e))?;
        file.write_all(&expected).map_err(|e| cache_err(path, e))?;
        HEADER_LEN
    } else {
        let rec = record_len(dims);
        let mut pos = HEADER_LEN;
        while pos + rec <= bytes.len() {
            let r = &bytes[pos..pos + rec];
            let (k, rest) = r.split_at(KEY_LEN);
            let (v, c) = rest.split_at(dims * 4);
            let mut key = [0u8; KEY_LEN];
            key.copy_from_slice(k);
            if check(&key, v) != c {
                break;
            }
            let vector = v
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            vectors.insert(key, vector);
            pos += rec;
        }
        if pos != bytes.len() {
            tracing::warn!(
                path = %path.display(),
                kept = vectors.len(),
                dropped_bytes = bytes.len() - pos,
                "embedding cache had a torn or corrupt tail; truncated it"
            );
            file.set_len(pos as u64).map_err(|e| cache_err(path, e))?;
        }
        pos
    };
    file.seek(SeekFrom::Start(good_len as u64))
        .map_err(|e| cache_err(path, e))?;
    Ok((vectors, file))
}

fn cache_err(path: &Path, e: std::io::Error) -> EmbedError {
    EmbedError::Cache(format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Counts the texts it is asked to embed; the vector encodes the text's length and
    /// first byte so tests can tell vectors apart.
    #[derive(Clone)]
    struct CountingFake {
        id: &'static str,
        calls: Arc<AtomicUsize>,
        texts: Arc<AtomicUsize>,
    }

    impl CountingFake {
        fn new(id: &'static str) -> Self {
            Self {
                id,
                calls: Arc::default(),
                texts: Arc::default(),
            }
        }
        fn texts_embedded(&self) -> usize {
            self.texts.load(Ordering::SeqCst)
        }
    }

    fn fake_vector(text: &str) -> Vec<f32> {
        vec![
            text.len() as f32,
            text.bytes().next().unwrap_or(0) as f32,
            1.0,
        ]
    }

    #[async_trait::async_trait]
    impl Embedder for CountingFake {
        fn model_id(&self) -> &str {
            self.id
        }
        fn dimensions(&self) -> usize {
            3
        }
        async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.texts.fetch_add(texts.len(), Ordering::SeqCst);
            Ok(texts.iter().map(|t| fake_vector(t)).collect())
        }
    }

    fn strings(xs: &[&str]) -> Vec<String> {
        xs.iter().map(|s| s.to_string()).collect()
    }

    fn cache_file(root: &Path, model: &str) -> PathBuf {
        root.join(slug(model)).join(FILE_NAME)
    }

    #[tokio::test]
    async fn only_misses_reach_the_model_and_order_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let fake = CountingFake::new("fake:v1");
        let cache = CachedEmbedder::open(fake.clone(), dir.path()).unwrap();

        let first = cache
            .embed(&strings(&["where is my order", "STOP"]))
            .await
            .unwrap();
        assert_eq!(fake.texts_embedded(), 2);

        let second = cache
            .embed(&strings(&["hours?", "STOP", "where is my order"]))
            .await
            .unwrap();
        assert_eq!(fake.texts_embedded(), 3, "only 'hours?' was new");
        assert_eq!(second[0], fake_vector("hours?"));
        assert_eq!(second[1], first[1]);
        assert_eq!(second[2], first[0]);
    }

    #[tokio::test]
    async fn a_text_repeated_in_one_batch_is_embedded_once() {
        let dir = tempfile::tempdir().unwrap();
        let fake = CountingFake::new("fake:v1");
        let cache = CachedEmbedder::open(fake.clone(), dir.path()).unwrap();
        let out = cache
            .embed(&strings(&["hi", "hi", "yo", "hi"]))
            .await
            .unwrap();
        assert_eq!(fake.texts_embedded(), 2);
        assert_eq!(out.len(), 4);
        assert_eq!(out[0], out[3]);
    }

    #[tokio::test]
    async fn a_fully_cached_batch_never_calls_the_model() {
        let dir = tempfile::tempdir().unwrap();
        let fake = CountingFake::new("fake:v1");
        let cache = CachedEmbedder::open(fake.clone(), dir.path()).unwrap();
        cache.embed(&strings(&["a", "b"])).await.unwrap();
        cache.embed(&strings(&["b", "a"])).await.unwrap();
        cache.embed(&[]).await.unwrap();
        assert_eq!(fake.calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_new_cache_starts_from_the_seed_and_an_existing_one_keeps_its_own() {
        let seed = tempfile::tempdir().unwrap();
        let shipped = strings(&["what are your hours", "where is my order"]);
        {
            let cache = CachedEmbedder::open(CountingFake::new("fake:v1"), seed.path()).unwrap();
            cache.embed(&shipped).await.unwrap();
        }

        // A fresh data directory: the shipped texts are read, only a new one is embedded.
        let fresh = tempfile::tempdir().unwrap();
        let fake = CountingFake::new("fake:v1");
        let cache =
            CachedEmbedder::open_seeded(fake.clone(), fresh.path(), Some(seed.path())).unwrap();
        assert_eq!(cache.len(), 2);
        let mut texts = shipped.clone();
        texts.push("do you ship to Canada".into());
        cache.embed(&texts).await.unwrap();
        assert_eq!(fake.texts_embedded(), 1, "only the text the seed lacks");
        drop(cache);

        // The seed never replaces a cache that exists, and is not written to.
        let cache = CachedEmbedder::open_seeded(
            CountingFake::new("fake:v1"),
            fresh.path(),
            Some(seed.path()),
        )
        .unwrap();
        assert_eq!(cache.len(), 3);
        let seed_len = std::fs::metadata(cache_file(seed.path(), "fake:v1"))
            .unwrap()
            .len();
        assert_eq!(seed_len as usize, HEADER_LEN + 2 * record_len(3));

        // Another model's seed is not this model's: nothing is copied.
        let other = tempfile::tempdir().unwrap();
        let cache = CachedEmbedder::open_seeded(
            CountingFake::new("fake:v2"),
            other.path(),
            Some(seed.path()),
        )
        .unwrap();
        assert!(cache.is_empty());
    }

    #[tokio::test]
    async fn vectors_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let texts = strings(&["refund please", "ok", "¿dónde está mi pedido? 📦"]);
        let before = {
            let cache = CachedEmbedder::open(CountingFake::new("fake:v1"), dir.path()).unwrap();
            cache.embed(&texts).await.unwrap()
        };

        let fake = CountingFake::new("fake:v1");
        let cache = CachedEmbedder::open(fake.clone(), dir.path()).unwrap();
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.embed(&texts).await.unwrap(), before);
        assert_eq!(fake.texts_embedded(), 0);
    }

    #[tokio::test]
    async fn another_model_does_not_see_the_first_models_vectors() {
        let dir = tempfile::tempdir().unwrap();
        let a = CountingFake::new("local:all-MiniLM-L6-v2");
        CachedEmbedder::open(a, dir.path())
            .unwrap()
            .embed(&strings(&["hi"]))
            .await
            .unwrap();

        let b = CountingFake::new("openai:text-embedding-3-small");
        let cache_b = CachedEmbedder::open(b.clone(), dir.path()).unwrap();
        assert!(cache_b.is_empty());
        cache_b.embed(&strings(&["hi"])).await.unwrap();
        assert_eq!(b.texts_embedded(), 1);
        assert!(
            dir.path()
                .join("local_all-MiniLM-L6-v2")
                .join(FILE_NAME)
                .is_file()
        );
        assert!(
            dir.path()
                .join("openai_text-embedding-3-small")
                .join(FILE_NAME)
                .is_file()
        );
    }

    #[tokio::test]
    async fn a_torn_last_record_is_dropped_and_the_rest_kept() {
        let dir = tempfile::tempdir().unwrap();
        {
            let cache = CachedEmbedder::open(CountingFake::new("fake:v1"), dir.path()).unwrap();
            cache
                .embed(&strings(&["one", "two", "three"]))
                .await
                .unwrap();
        }
        // Simulate a crash halfway through writing the third record.
        let path = cache_file(dir.path(), "fake:v1");
        let len = std::fs::metadata(&path).unwrap().len();
        let torn = len - (record_len(3) as u64) / 2;
        OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(torn)
            .unwrap();

        let fake = CountingFake::new("fake:v1");
        let cache = CachedEmbedder::open(fake.clone(), dir.path()).unwrap();
        assert_eq!(cache.len(), 2);
        let out = cache
            .embed(&strings(&["one", "two", "three"]))
            .await
            .unwrap();
        assert_eq!(
            fake.texts_embedded(),
            1,
            "only the torn record is embedded again"
        );
        assert_eq!(out[2], fake_vector("three"));
        drop(cache);

        // The re-embedded record was appended after the truncation point, not after garbage.
        let cache = CachedEmbedder::open(CountingFake::new("fake:v1"), dir.path()).unwrap();
        assert_eq!(cache.len(), 3);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), len);
    }

    #[tokio::test]
    async fn a_corrupted_record_stops_loading_at_that_record() {
        let dir = tempfile::tempdir().unwrap();
        {
            let cache = CachedEmbedder::open(CountingFake::new("fake:v1"), dir.path()).unwrap();
            cache
                .embed(&strings(&["one", "two", "three"]))
                .await
                .unwrap();
        }
        let path = cache_file(dir.path(), "fake:v1");
        let mut bytes = std::fs::read(&path).unwrap();
        let second_vector = HEADER_LEN + record_len(3) + KEY_LEN;
        bytes[second_vector] ^= 0xff;
        std::fs::write(&path, bytes).unwrap();

        let cache = CachedEmbedder::open(CountingFake::new("fake:v1"), dir.path()).unwrap();
        assert_eq!(cache.len(), 1);
    }

    #[tokio::test]
    async fn a_file_of_another_format_is_started_afresh() {
        let dir = tempfile::tempdir().unwrap();
        let path = cache_file(dir.path(), "fake:v1");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, b"not a cache at all").unwrap();

        let fake = CountingFake::new("fake:v1");
        let cache = CachedEmbedder::open(fake.clone(), dir.path()).unwrap();
        assert!(cache.is_empty());
        cache.embed(&strings(&["hi"])).await.unwrap();
        drop(cache);
        assert_eq!(CachedEmbedder::open(fake, dir.path()).unwrap().len(), 1);
    }

    #[test]
    fn keys_depend_on_model_and_text() {
        assert_ne!(key("a", "b"), key("b", "a"));
        assert_ne!(
            key("ab", "c"),
            key("a", "bc"),
            "the NUL separator keeps boundaries"
        );
        assert_eq!(key("m", "t"), key("m", "t"));
    }
}
