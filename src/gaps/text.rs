//! Texts to vectors for grouping: the embedder's when there is one (one customer text
//! at a time, so nothing is cached to disk), else TF-IDF over stemmed words, so gaps
//! still group offline with `TEXTDESK_EMBEDDINGS=none`.

use std::collections::{BTreeMap, BTreeSet};

use crate::knowledge::embed::Embedder;

/// Size of the hashed word vectors.
const LEXICAL_DIMENSIONS: usize = 4096;

/// Customer texts embedded at once (the embedder batches queries that arrive together).
const CONCURRENT_QUERIES: usize = 8;

/// The vectors of `texts`, L2-normalised, and whether they are the embedder's (dense).
/// Should the embedder fail on any text, every text gets a word vector instead: a
/// grouping cannot mix the two.
pub async fn vectors(embedder: Option<&dyn Embedder>, texts: &[String]) -> (Vec<Vec<f32>>, bool) {
    if let Some(embedder) = embedder {
        match embed_all(embedder, texts).await {
            Ok(vectors) => return (vectors, true),
            Err(e) => {
                tracing::warn!(error = %e, "embedding gap texts failed; grouping them by words")
            }
        }
    }
    (lexical_vectors(texts), false)
}

async fn embed_all(
    embedder: &dyn Embedder,
    texts: &[String],
) -> Result<Vec<Vec<f32>>, crate::knowledge::embed::EmbedError> {
    let mut vectors = Vec::with_capacity(texts.len());
    for batch in texts.chunks(CONCURRENT_QUERIES) {
        let embedded =
            futures_util::future::join_all(batch.iter().map(|t| embedder.embed_query(t))).await;
        for vector in embedded {
            vectors.push(vector?);
        }
    }
    Ok(vectors)
}

/// TF-IDF vectors of stemmed content words, hashed into a fixed size.
pub fn lexical_vectors(texts: &[String]) -> Vec<Vec<f32>> {
    let tokenized: Vec<Vec<String>> = texts.iter().map(|t| words(t)).collect();
    let mut document_frequency: BTreeMap<&str, usize> = BTreeMap::new();
    for words in &tokenized {
        let unique: BTreeSet<&str> = words.iter().map(String::as_str).collect();
        for word in unique {
            *document_frequency.entry(word).or_default() += 1;
        }
    }
    let n = texts.len().max(1) as f32;
    tokenized
        .iter()
        .map(|words| {
            let mut vector = vec![0.0f32; LEXICAL_DIMENSIONS];
            for word in words {
                let df = document_frequency.get(word.as_str()).copied().unwrap_or(1) as f32;
                vector[bucket(word)] += (1.0 + n / df).ln();
            }
            normalise(&mut vector);
            vector
        })
        .collect()
}

/// Content words, lower case, crudely stemmed ("dogs" → "dog", "bringing" → "bring").
pub fn words(text: &str) -> Vec<String> {
    plain_words(text).iter().map(|w| stem(w)).collect()
}

/// Content words, lower case, as written (for names and tags a person reads).
pub fn plain_words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() > 1)
        .map(|w| w.to_lowercase())
        .filter(|w| !STOPWORDS.contains(&w.as_str()) && !PLACEHOLDERS.contains(&w.as_str()))
        .collect()
}

/// The stem a word is compared by.
pub fn stem_of(word: &str) -> String {
    stem(word)
}

fn stem(word: &str) -> String {
    let mut stem = word.to_string();
    for suffix in ["ing", "ies", "ed", "es", "s"] {
        if let Some(rest) = word.strip_suffix(suffix)
            && rest.chars().count() >= 3
        {
            stem = match suffix {
                "ies" => format!("{rest}y"),
                _ => rest.to_string(),
            };
            break;
        }
    }
    // "recycle", "recycled" and "recycling" meet at "recycl"; "store" and "stores" at "stor".
    if stem.ends_with('e') && stem.chars().count() > 3 {
        stem.pop();
    }
    stem
}

/// FNV-1a: a hash that is the same on every machine and every run.
fn bucket(word: &str) -> usize {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in word.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash % LEXICAL_DIMENSIONS as u64) as usize
}

pub fn normalise(vector: &mut [f32]) {
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        vector.iter_mut().for_each(|x| *x /= norm);
    }
}

/// What redaction leaves in a text: not words about the topic.
const PLACEHOLDERS: &[&str] = &["name", "phone", "email", "card", "number", "ssn", "iban"];

const STOPWORDS: &[&str] = &[
    "a",
    "about",
    "am",
    "an",
    "and",
    "any",
    "anyone",
    "are",
    "as",
    "at",
    "be",
    "been",
    "but",
    "by",
    "can",
    "could",
    "did",
    "do",
    "does",
    "for",
    "from",
    "get",
    "got",
    "had",
    "has",
    "have",
    "hello",
    "hey",
    "hi",
    "how",
    "i",
    "if",
    "im",
    "in",
    "is",
    "it",
    "its",
    "just",
    "know",
    "like",
    "me",
    "my",
    "need",
    "of",
    "on",
    "or",
    "our",
    "please",
    "pls",
    "so",
    "some",
    "thanks",
    "that",
    "the",
    "there",
    "this",
    "to",
    "u",
    "ur",
    "us",
    "want",
    "was",
    "we",
    "what",
    "when",
    "where",
    "which",
    "who",
    "will",
    "with",
    "would",
    "you",
    "your",
    "yours",
    "yall",
    "y",
    "ok",
    "okay",
    "thx",
    "ya",
    "wondering",
    "question",
    "quick",
    "tell",
    "let",
    "there",
    "then",
    "than",
    "too",
    "also",
    "really",
    "still",
    "one",
    "go",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::embed::cosine;

    #[test]
    fn words_drop_the_filler_and_fold_plurals() {
        assert_eq!(
            words("Can I bring my dogs into the store?"),
            ["bring", "dog", "into", "stor"]
        );
        assert_eq!(words("recycle recycled recycling"), ["recycl"; 3]);
    }

    #[test]
    fn texts_sharing_topic_words_are_closer_than_texts_that_do_not() {
        let texts: Vec<String> = [
            "can i bring my dog into the store",
            "are dogs allowed in your stores",
            "do you recycle old jackets",
        ]
        .map(String::from)
        .into();
        let v = lexical_vectors(&texts);
        assert!(cosine(&v[0], &v[1]) > cosine(&v[0], &v[2]));
        assert_eq!(
            lexical_vectors(&texts),
            v,
            "the same texts give the same vectors"
        );
    }
}
