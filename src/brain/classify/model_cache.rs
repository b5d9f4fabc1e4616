//! Trained intent models on disk, keyed by everything they were trained on.
//!
//! Training the softmax model is most of a start: 300 full passes over ~1,000 texts
//! with their embeddings, tens of seconds on a small machine, repeated on every
//! restart although `intents.toml` rarely changes. Like Rasa's fingerprinted models, a
//! trained model is kept under `{data_dir}/classifier/` named by a SHA-256 of its
//! inputs (the examples' features and vectors, labels, weights and the training
//! settings): the same inputs load the same model, any edit trains a new one. A file
//! that is missing, unreadable or of the wrong size is trained again, never trusted.
//!
//! The repository ships the model of its demo intents under `seed/classifier/`
//! (`scripts/seed-vectors.sh`), read when `{data_dir}` has none: a fresh data
//! directory is ready in about a second instead of training first. Its name is the
//! same fingerprint, so it is only used for exactly the inputs it was trained on.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::logreg::{Example, SoftmaxModel, TrainSettings};

/// Bump when `SoftmaxModel::train` changes what it computes, so models trained by
/// the old code are not loaded by the new.
const TRAINING_VERSION: &str = "softmax-adam-1";

const FILE_PREFIX: &str = "intent-model-";

/// Where trained intent models are kept, and where shipped ones are read from.
#[derive(Debug, Clone)]
pub struct ModelDirs {
    /// Written: `{data_dir}/classifier`.
    pub saved: PathBuf,
    /// Only read: models shipped with the demo's intents (`seed/classifier`).
    pub seed: Option<PathBuf>,
}

/// The model for these inputs: loaded from `dirs` when it was trained before (or
/// shipped), else trained and saved there (a failure to save is logged, the model
/// still served).
pub fn trained(
    dirs: Option<&ModelDirs>,
    examples: &[Example],
    labels: &[usize],
    weights: &[f32],
    classes: usize,
    sparse_dims: usize,
    settings: &TrainSettings,
) -> SoftmaxModel {
    let train = || SoftmaxModel::train(examples, labels, weights, classes, sparse_dims, settings);
    let Some(dirs) = dirs else { return train() };
    let key = fingerprint(examples, labels, weights, classes, sparse_dims, settings);
    let name = format!("{FILE_PREFIX}{key}.bin");
    let path = dirs.saved.join(&name);
    let dense_dims = examples.first().map_or(0, |e| e.dense.len());
    let shipped = dirs.seed.as_ref().map(|seed| seed.join(&name));
    for candidate in std::iter::once(&path).chain(shipped.as_ref()) {
        let Ok(bytes) = std::fs::read(candidate) else {
            continue;
        };
        if let Some(model) =
            SoftmaxModel::from_bytes(&bytes, classes, sparse_dims, dense_dims, settings)
        {
            tracing::info!(path = %candidate.display(), "intent classifier loaded (trained before on the same examples)");
            return model;
        }
        tracing::warn!(path = %candidate.display(), "a saved intent model does not match its examples; training again");
    }
    let model = train();
    if let Err(e) = save(&dirs.saved, &path, &model.to_bytes()) {
        tracing::warn!(path = %path.display(), error = %e, "could not save the trained intent model; the next start trains again");
    }
    model
}

/// Writes the model through a temporary file (a crash never leaves half a model under
/// the final name) and removes the models of earlier examples.
fn save(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    // Named for this writer: conversation tests start several engines on one data
    // folder, and two may save the same model at once.
    let partial = path.with_extension(format!(
        "{}.{:?}.partial",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::write(&partial, bytes)?;
    std::fs::rename(&partial, path)?;
    for entry in std::fs::read_dir(dir)?.flatten() {
        let other: PathBuf = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if other != path && name.starts_with(FILE_PREFIX) && name.ends_with(".bin") {
            let _ = std::fs::remove_file(other);
        }
    }
    Ok(())
}

/// SHA-256 (hex) of the training inputs, bit for bit.
fn fingerprint(
    examples: &[Example],
    labels: &[usize],
    weights: &[f32],
    classes: usize,
    sparse_dims: usize,
    settings: &TrainSettings,
) -> String {
    let mut hash = Sha256::new();
    hash.update(TRAINING_VERSION.as_bytes());
    for n in [classes, sparse_dims, settings.epochs, examples.len()] {
        hash.update((n as u64).to_le_bytes());
    }
    for x in [settings.learning_rate, settings.l2, settings.dense_weight] {
        hash.update(x.to_le_bytes());
    }
    for ((example, &label), &weight) in examples.iter().zip(labels).zip(weights) {
        hash.update((label as u64).to_le_bytes());
        hash.update(weight.to_le_bytes());
        hash.update((example.sparse.len() as u64).to_le_bytes());
        for &(i, x) in &example.sparse {
            hash.update(i.to_le_bytes());
            hash.update(x.to_le_bytes());
        }
        hash.update((example.dense.len() as u64).to_le_bytes());
        for x in &example.dense {
            hash.update(x.to_le_bytes());
        }
    }
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn examples() -> (Vec<Example>, Vec<usize>) {
        let ex = |i: u32, d: f32| Example {
            sparse: vec![(i, 1.0)],
            dense: vec![d, 1.0 - d],
        };
        (vec![ex(0, 0.9), ex(1, 0.1), ex(0, 0.8)], vec![0, 1, 0])
    }

    #[test]
    fn a_saved_model_is_loaded_for_the_same_examples_and_not_for_others() {
        let dir = tempfile::tempdir().unwrap();
        let (examples, labels) = examples();
        let weights = vec![1.0; examples.len()];
        let settings = TrainSettings::default();
        let dirs = ModelDirs {
            saved: dir.path().to_path_buf(),
            seed: None,
        };
        let train = |examples: &[Example]| {
            trained(Some(&dirs), examples, &labels, &weights, 2, 2, &settings)
        };
        let first = train(&examples);
        let saved: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert_eq!(saved.len(), 1, "one model file");

        // A corrupted file with the right name is trained again, not trusted.
        std::fs::write(saved[0].path(), b"junk").unwrap();
        let again = train(&examples);
        assert_eq!(again.to_bytes(), first.to_bytes());
        let loaded =
            SoftmaxModel::from_bytes(&std::fs::read(saved[0].path()).unwrap(), 2, 2, 2, &settings)
                .expect("the retrained model was saved over the junk");
        assert_eq!(loaded.to_bytes(), first.to_bytes());

        // Other examples: another model, and the old file is removed.
        let mut other = examples.clone();
        other[2].dense = vec![0.2, 0.8];
        train(&other);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        assert_eq!(names.len(), 1);
        assert_ne!(names[0], saved[0].path());
    }

    #[test]
    fn a_shipped_model_is_read_when_none_was_saved_and_never_written() {
        let (examples, labels) = examples();
        let weights = vec![1.0; examples.len()];
        let settings = TrainSettings::default();
        let seed = tempfile::tempdir().unwrap();
        let in_seed = |examples: &[Example]| {
            let dirs = ModelDirs {
                saved: seed.path().to_path_buf(),
                seed: None,
            };
            trained(Some(&dirs), examples, &labels, &weights, 2, 2, &settings)
        };
        let trained_here = in_seed(&examples);
        // Under the fingerprint of `examples`, a model that training on them would
        // not give: only reading the file returns it.
        let mut other = examples.clone();
        other[1].dense = vec![0.7, 0.3];
        let marker = SoftmaxModel::train(&other, &labels, &weights, 2, 2, &settings);
        assert_ne!(marker.to_bytes(), trained_here.to_bytes());
        let shipped = std::fs::read_dir(seed.path())
            .unwrap()
            .flatten()
            .next()
            .unwrap();
        std::fs::write(shipped.path(), marker.to_bytes()).unwrap();

        let data = tempfile::tempdir().unwrap();
        let dirs = ModelDirs {
            saved: data.path().join("classifier"),
            seed: Some(seed.path().to_path_buf()),
        };
        let loaded = trained(Some(&dirs), &examples, &labels, &weights, 2, 2, &settings);
        assert_eq!(loaded.to_bytes(), marker.to_bytes(), "read from the seed");
        assert!(!dirs.saved.exists(), "nothing trained, nothing saved");

        // Other inputs have no shipped model: trained and saved in the data folder.
        let retrained = trained(Some(&dirs), &other, &labels, &weights, 2, 2, &settings);
        assert_eq!(retrained.to_bytes(), marker.to_bytes());
        assert_eq!(std::fs::read_dir(&dirs.saved).unwrap().count(), 1);
    }
}
