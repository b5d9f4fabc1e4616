//! Trained intent models on disk, keyed by everything they were trained on.
//!
//! Training the softmax model is most of a start: 300 full passes over ~1,000 texts
//! with their embeddings, tens of seconds on a small machine, repeated on every
//! restart although `intents.toml` rarely changes. Like Rasa's fingerprinted models, a
//! trained model is kept under `{data_dir}/classifier/` named by a SHA-256 of its
//! inputs (the examples' features and vectors, labels, weights and the training
//! settings): the same inputs load the same model, any edit trains a new one. A file
//! that is missing, unreadable or of the wrong size is trained again, never trusted.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::logreg::{Example, SoftmaxModel, TrainSettings};

/// Bump when `SoftmaxModel::train` changes what it computes, so models trained by
/// the old code are not loaded by the new.
const TRAINING_VERSION: &str = "softmax-adam-1";

const FILE_PREFIX: &str = "intent-model-";

/// The model for these inputs: loaded from `dir` when it was trained before, else
/// trained and saved there (a failure to save is logged, the model still served).
pub fn trained(
    dir: Option<&Path>,
    examples: &[Example],
    labels: &[usize],
    weights: &[f32],
    classes: usize,
    sparse_dims: usize,
    settings: &TrainSettings,
) -> SoftmaxModel {
    let train = || SoftmaxModel::train(examples, labels, weights, classes, sparse_dims, settings);
    let Some(dir) = dir else { return train() };
    let key = fingerprint(examples, labels, weights, classes, sparse_dims, settings);
    let path = dir.join(format!("{FILE_PREFIX}{key}.bin"));
    let dense_dims = examples.first().map_or(0, |e| e.dense.len());
    if let Ok(bytes) = std::fs::read(&path) {
        if let Some(model) =
            SoftmaxModel::from_bytes(&bytes, classes, sparse_dims, dense_dims, settings)
        {
            tracing::info!(path = %path.display(), "intent classifier loaded (trained before on the same examples)");
            return model;
        }
        tracing::warn!(path = %path.display(), "a saved intent model does not match its examples; training again");
    }
    let model = train();
    if let Err(e) = save(dir, &path, &model.to_bytes()) {
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
        let train = |examples: &[Example]| {
            trained(
                Some(dir.path()),
                examples,
                &labels,
                &weights,
                2,
                2,
                &settings,
            )
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
}
