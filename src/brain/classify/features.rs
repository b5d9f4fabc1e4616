//! Text → sparse features for the local classifier: word unigrams and bigrams plus
//! character n-grams inside word boundaries, weighted by TF-IDF and L2-normalised.
//!
//! Character n-grams are what make short, misspelled texts work ("wher is my pakage"
//! still shares most trigrams with "where is my package"); words and bigrams keep
//! the meaning of well-spelled ones. The vocabulary is learned from the intents'
//! examples, so unseen n-grams simply carry no weight.

use std::collections::HashMap;

/// A sparse vector: sorted `(feature index, weight)` pairs.
pub type Sparse = Vec<(u32, f32)>;

/// Lower-cases, maps apostrophes away ("where's" → "wheres") and splits on anything
/// that is not a letter or digit.
pub fn tokens(text: &str) -> Vec<String> {
    text.to_lowercase()
        .replace(['\'', '’', '`'], "")
        .split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// Which terms a vectoriser extracts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Terms {
    /// Words, word bigrams and character 3–5-grams (the classifier).
    #[default]
    Rich,
    /// Words only (the classic TF-IDF baseline).
    Words,
}

/// The raw terms of a text: `w:word`, and for [`Terms::Rich`] also `b:word1_word2`
/// and `c:` n-grams of 3 to 5 characters of each word padded with spaces.
fn terms(text: &str, kind: Terms) -> Vec<String> {
    let words = tokens(text);
    let mut out = Vec::with_capacity(words.len() * 12);
    for word in &words {
        out.push(format!("w:{word}"));
        if kind == Terms::Words {
            continue;
        }
        let padded: Vec<char> = format!(" {word} ").chars().collect();
        for n in 3..=5 {
            if padded.len() < n {
                continue;
            }
            for window in padded.windows(n) {
                out.push(format!("c:{}", window.iter().collect::<String>()));
            }
        }
    }
    if kind == Terms::Rich {
        for pair in words.windows(2) {
            out.push(format!("b:{}_{}", pair[0], pair[1]));
        }
    }
    out
}

/// A TF-IDF vectoriser fitted on a corpus.
#[derive(Debug, Clone, Default)]
pub struct Vectorizer {
    kind: Terms,
    vocabulary: HashMap<String, u32>,
    idf: Vec<f32>,
}

impl Vectorizer {
    /// Learns the vocabulary and inverse document frequencies from `corpus`.
    pub fn fit(corpus: &[String]) -> Self {
        Self::fit_with(corpus, Terms::Rich)
    }

    pub fn fit_with(corpus: &[String], kind: Terms) -> Self {
        let mut vocabulary: HashMap<String, u32> = HashMap::new();
        let mut doc_freq: Vec<u32> = Vec::new();
        for doc in corpus {
            let mut terms = terms(doc, kind);
            terms.sort();
            terms.dedup();
            for term in terms {
                let next = vocabulary.len() as u32;
                let index = *vocabulary.entry(term).or_insert(next);
                if index as usize == doc_freq.len() {
                    doc_freq.push(0);
                }
                doc_freq[index as usize] += 1;
            }
        }
        let n = corpus.len() as f32;
        // Smoothed IDF, as scikit-learn computes it: ln((1 + n) / (1 + df)) + 1.
        let idf = doc_freq
            .iter()
            .map(|&df| ((1.0 + n) / (1.0 + df as f32)).ln() + 1.0)
            .collect();
        Self {
            kind,
            vocabulary,
            idf,
        }
    }

    pub fn dimensions(&self) -> usize {
        self.idf.len()
    }

    /// Sublinear TF (1 + ln tf) times IDF, L2-normalised; unknown terms are dropped.
    pub fn transform(&self, text: &str) -> Sparse {
        let mut counts: HashMap<u32, f32> = HashMap::new();
        for term in terms(text, self.kind) {
            if let Some(&index) = self.vocabulary.get(&term) {
                *counts.entry(index).or_insert(0.0) += 1.0;
            }
        }
        let mut vector: Sparse = counts
            .into_iter()
            .map(|(i, tf)| (i, (1.0 + tf.ln()) * self.idf[i as usize]))
            .collect();
        vector.sort_by_key(|(i, _)| *i);
        let norm = vector.iter().map(|(_, w)| w * w).sum::<f32>().sqrt();
        if norm > 0.0 {
            for (_, w) in &mut vector {
                *w /= norm;
            }
        }
        vector
    }
}

/// Dot product of two sorted sparse vectors (their cosine, as both are unit length).
pub fn sparse_dot(a: &Sparse, b: &Sparse) -> f32 {
    let (mut i, mut j, mut sum) = (0, 0, 0.0);
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                sum += a[i].1 * b[j].1;
                i += 1;
                j += 1;
            }
        }
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_drop_apostrophes_and_punctuation() {
        assert_eq!(tokens("Where's my ORDER?!"), ["wheres", "my", "order"]);
    }

    #[test]
    fn misspellings_stay_close_through_character_ngrams() {
        let corpus = vec![
            "where is my package".to_string(),
            "what are your store hours".to_string(),
        ];
        let v = Vectorizer::fit(&corpus);
        let typo = v.transform("wher is my pakage");
        let right = v.transform("where is my package");
        let other = v.transform("what are your store hours");
        assert!(sparse_dot(&typo, &right) > 0.5);
        assert!(sparse_dot(&typo, &right) > sparse_dot(&typo, &other));
    }
}
