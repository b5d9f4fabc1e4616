//! Keeping the index in step with the files, incrementally.
//!
//! A sync scans every knowledge file, chunks it, and diffs the chunks against what the
//! index holds (point id = file + content hash, see [`point_id`]):
//! - a chunk whose id is new is embedded (BM25, dense) and inserted;
//! - a chunk whose id exists but whose payload changed (it moved: new line range, or
//!   the front matter's `sms`/`url` changed without touching the text) gets its payload
//!   replaced, vectors untouched;
//! - points of deleted files, and of chunks no longer in their file, are deleted;
//! - a file that fails to parse keeps its points: the last good version keeps serving.
//!
//! The index's own payloads are the manifest (file + payload hash per point), so a
//! restart with unchanged files embeds and writes nothing.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

use super::KnowledgeError;
use super::chunk::{Chunk, chunk_document};
use super::document::{self, FileError};
use super::embed::Embedder;
use super::index::bm25::Bm25;
use super::index::{ChunkPayload, KnowledgeIndex, NewPoint, StoredPoint, WriteBatch, point_id};

/// Texts per embedder call.
const EMBED_BATCH: usize = 32;

/// What a scan of the knowledge directory found.
#[derive(Debug, Default)]
pub struct Scan {
    /// Parsed files and their chunks, by relative path.
    pub files: Vec<(String, Vec<Chunk>)>,
    /// Files that could not be used.
    pub errors: Vec<FileError>,
    /// Every knowledge file present, parsed or not.
    pub present: BTreeSet<String>,
}

impl Scan {
    pub fn chunk_count(&self) -> usize {
        self.files.iter().map(|(_, c)| c.len()).sum()
    }
}

/// Reads, parses and chunks every knowledge file under `root`. Blocking.
pub fn scan(root: &Path, token_budget: usize) -> Result<Scan, KnowledgeError> {
    let names = document::discover(root).map_err(|source| KnowledgeError::Io {
        path: root.display().to_string(),
        source,
    })?;
    let mut scan = Scan::default();
    for name in names {
        scan.present.insert(name.clone());
        match document::read(root, &name) {
            Ok(doc) => scan.files.push((name, chunk_document(&doc, token_budget))),
            Err(e) => scan.errors.push(e),
        }
    }
    Ok(scan)
}

/// The changes that bring the index in line with a scan.
#[derive(Debug, Default)]
pub struct Plan {
    pub deletes: Vec<u64>,
    /// New chunks, to embed and insert.
    pub inserts: Vec<(u64, ChunkPayload)>,
    pub payload_updates: Vec<(u64, ChunkPayload)>,
    pub unchanged: usize,
}

pub fn plan(scan: &Scan, stored: &HashMap<u64, StoredPoint>) -> Plan {
    let mut plan = Plan::default();
    let mut wanted: std::collections::HashSet<u64> = std::collections::HashSet::new();
    for (file, chunks) in &scan.files {
        let mut occurrences: HashMap<&str, usize> = HashMap::new();
        for chunk in chunks {
            let occurrence = occurrences.entry(chunk.hash.as_str()).or_default();
            let id = point_id(file, &chunk.hash, *occurrence);
            *occurrence += 1;
            wanted.insert(id);
            let payload = ChunkPayload::new(chunk.clone());
            match stored.get(&id) {
                None => plan.inserts.push((id, payload)),
                Some(old) if old.payload_hash != payload.payload_hash => {
                    plan.payload_updates.push((id, payload))
                }
                Some(_) => plan.unchanged += 1,
            }
        }
    }
    let broken: BTreeSet<&str> = scan.errors.iter().map(|e| e.file.as_str()).collect();
    let mut deletes: Vec<u64> = stored
        .values()
        .filter(|p| !wanted.contains(&p.id) && !broken.contains(p.file.as_str()))
        .map(|p| p.id)
        .collect();
    deletes.sort_unstable();
    plan.deletes = deletes;
    plan
}

/// What one sync did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SyncReport {
    /// Files parsed without error.
    pub documents: usize,
    /// Chunks of those files.
    pub chunks: usize,
    /// Chunks whose text went through the embedder (0 without one).
    pub embedded: usize,
    /// Points inserted or replaced (vectors and payload).
    pub written: usize,
    /// Points whose payload alone was replaced.
    pub payload_updated: usize,
    pub deleted: usize,
    pub unchanged: usize,
    pub errors: Vec<FileError>,
}

/// Embeds the plan's new chunks and applies everything to `index` in one batch.
pub async fn apply(
    plan: Plan,
    index: &dyn KnowledgeIndex,
    bm25: &Bm25,
    embedder: Option<&Arc<dyn Embedder>>,
) -> Result<(usize, WriteBatch), KnowledgeError> {
    let mut dense: Vec<Option<Vec<f32>>> = vec![None; plan.inserts.len()];
    let mut embedded = 0;
    if let Some(embedder) = embedder {
        let texts: Vec<String> = plan
            .inserts
            .iter()
            .map(|(_, p)| p.chunk.index_text())
            .collect();
        for (batch_index, batch) in texts.chunks(EMBED_BATCH).enumerate() {
            let vectors = embedder.embed(batch).await?;
            if vectors.len() != batch.len() {
                return Err(KnowledgeError::Embedding(
                    super::embed::EmbedError::Inference(format!(
                        "the embedder returned {} vectors for {} texts",
                        vectors.len(),
                        batch.len()
                    )),
                ));
            }
            for (offset, vector) in vectors.into_iter().enumerate() {
                dense[batch_index * EMBED_BATCH + offset] = Some(vector);
            }
            embedded += batch.len();
        }
    }
    let upserts = plan
        .inserts
        .into_iter()
        .zip(dense)
        .map(|((id, payload), dense)| NewPoint {
            id,
            sparse: bm25.document(&payload.chunk.index_text()),
            dense,
            payload,
        })
        .collect();
    let batch = WriteBatch {
        deletes: plan.deletes,
        upserts,
        payload_updates: plan.payload_updates,
    };
    index.apply(batch.clone()).await?;
    Ok((embedded, batch))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_of(files: &[(&str, &str)]) -> Scan {
        let mut scan = Scan::default();
        for (name, text) in files {
            scan.present.insert(name.to_string());
            match document::parse(name, text) {
                Ok(doc) => scan
                    .files
                    .push((name.to_string(), chunk_document(&doc, 350))),
                Err(e) => scan.errors.push(e),
            }
        }
        scan
    }

    fn stored_after(scan: &Scan) -> HashMap<u64, StoredPoint> {
        let p = plan(scan, &HashMap::new());
        p.inserts
            .into_iter()
            .map(|(id, payload)| {
                (
                    id,
                    StoredPoint {
                        id,
                        file: payload.chunk.file.clone(),
                        payload_hash: payload.payload_hash,
                    },
                )
            })
            .collect()
    }

    #[test]
    fn an_edit_touches_only_the_edited_chunk_and_moves_the_rest() {
        let before = scan_of(&[
            ("a.md", "# One\n\nFirst.\n\n# Two\n\nSecond.\n"),
            ("b.md", "# B\n\nBee.\n"),
        ]);
        let stored = stored_after(&before);
        let after = scan_of(&[
            ("a.md", "# One\n\nFirst, longer\nnow.\n\n# Two\n\nSecond.\n"),
            ("b.md", "# B\n\nBee.\n"),
        ]);
        let p = plan(&after, &stored);
        assert_eq!(p.inserts.len(), 1, "the edited section");
        assert_eq!(p.deletes.len(), 1, "its old version");
        assert_eq!(p.payload_updates.len(), 1, "`Two` moved down a line");
        assert_eq!(p.unchanged, 1, "b.md");
    }

    #[test]
    fn a_broken_file_keeps_its_points_and_a_deleted_file_loses_them() {
        let before = scan_of(&[("a.md", "# A\n\nAy.\n"), ("b.md", "# B\n\nBee.\n")]);
        let stored = stored_after(&before);
        let after = scan_of(&[("a.md", "---\ntags: [x\n---\n# A\n\nAy.\n")]);
        let p = plan(&after, &stored);
        assert_eq!(p.inserts.len(), 0);
        assert_eq!(p.deletes.len(), 1, "b.md is gone; broken a.md stays");
    }
}
