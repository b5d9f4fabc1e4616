//! Grouping texts by meaning: average-linkage agglomerative clustering on cosine
//! similarity, stopped at a threshold. Average linkage (the mean similarity of every
//! pair across two groups) keeps a group about one topic: a single text that happens
//! to resemble two topics cannot chain them together, as it can with single linkage.
//!
//! Deterministic: the same vectors in the same order give the same groups, ties are
//! broken by the lowest index, and groups are numbered by their first text.

/// The group of each vector (0, 1, …, numbered in order of each group's first
/// member). Vectors must be L2-normalised; groups merge while the mean similarity
/// between them is at least `threshold`.
pub fn cluster(vectors: &[Vec<f32>], threshold: f32) -> Vec<usize> {
    let n = vectors.len();
    if n == 0 {
        return Vec::new();
    }
    // similarity[i][j] between groups i and j (each starts as one text); rows of
    // merged-away groups are left behind, `alive` says which count.
    let mut similarity: Vec<Vec<f32>> = vec![vec![0.0; n]; n];
    for i in 0..n {
        for j in (i + 1)..n {
            let s = dot(&vectors[i], &vectors[j]);
            similarity[i][j] = s;
            similarity[j][i] = s;
        }
    }
    let mut size = vec![1usize; n];
    let mut alive = vec![true; n];
    let mut parent: Vec<usize> = (0..n).collect();
    // Each group's most similar other group, so a merge step costs O(n), not O(n²).
    let mut nearest: Vec<(usize, f32)> = (0..n).map(|i| best(&similarity, &alive, i)).collect();
    loop {
        let mut pick: Option<(usize, usize, f32)> = None;
        for i in (0..n).filter(|&i| alive[i]) {
            let (j, s) = nearest[i];
            if j == usize::MAX {
                continue;
            }
            if pick.is_none_or(|(_, _, best)| s > best) {
                pick = Some((i.min(j), i.max(j), s));
            }
        }
        let Some((a, b, s)) = pick else { break };
        if s < threshold {
            break;
        }
        // b joins a: the mean similarity to a third group is the size-weighted mean
        // of the two (Lance–Williams for average linkage).
        let (sa, sb) = (size[a] as f32, size[b] as f32);
        for k in 0..n {
            if alive[k] && k != a && k != b {
                let merged = (sa * similarity[a][k] + sb * similarity[b][k]) / (sa + sb);
                similarity[a][k] = merged;
                similarity[k][a] = merged;
            }
        }
        size[a] += size[b];
        alive[b] = false;
        parent[b] = a;
        nearest[a] = best(&similarity, &alive, a);
        for k in 0..n {
            if !alive[k] || k == a {
                continue;
            }
            let (j, s) = nearest[k];
            if j == a || j == b {
                nearest[k] = best(&similarity, &alive, k);
            } else if similarity[k][a] > s || (similarity[k][a] == s && a < j) {
                nearest[k] = (a, similarity[k][a]);
            }
        }
    }
    // Each text's group is its chain of merges' end; groups numbered by first member.
    let root = |mut i: usize| {
        while parent[i] != i {
            i = parent[i];
        }
        i
    };
    let mut number = vec![usize::MAX; n];
    let mut next = 0;
    (0..n)
        .map(|i| {
            let r = root(i);
            if number[r] == usize::MAX {
                number[r] = next;
                next += 1;
            }
            number[r]
        })
        .collect()
}

fn best(similarity: &[Vec<f32>], alive: &[bool], i: usize) -> (usize, f32) {
    let mut found = (usize::MAX, f32::NEG_INFINITY);
    for (j, &s) in similarity[i].iter().enumerate() {
        if j != i && alive[j] && s > found.1 {
            found = (j, s);
        }
    }
    found
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The index of the member closest to the group's mean, then the next closest: the
/// texts that best stand for the group, first.
pub fn most_central(vectors: &[&Vec<f32>]) -> Vec<usize> {
    let Some(first) = vectors.first() else {
        return Vec::new();
    };
    let mut centroid = vec![0.0f32; first.len()];
    for v in vectors {
        for (c, x) in centroid.iter_mut().zip(v.iter()) {
            *c += x;
        }
    }
    let mut order: Vec<(usize, f32)> = vectors
        .iter()
        .enumerate()
        .map(|(i, v)| (i, dot(v, &centroid)))
        .collect();
    order.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    order.into_iter().map(|(i, _)| i).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gaps::text::normalise;

    fn v(x: &[f32]) -> Vec<f32> {
        let mut v = x.to_vec();
        normalise(&mut v);
        v
    }

    #[test]
    fn close_texts_group_and_far_ones_stay_apart() {
        let vectors = vec![
            v(&[1.0, 0.1, 0.0]),
            v(&[0.0, 1.0, 0.1]),
            v(&[0.9, 0.2, 0.0]),
            v(&[0.1, 0.9, 0.0]),
            v(&[0.0, 0.0, 1.0]),
        ];
        assert_eq!(cluster(&vectors, 0.8), vec![0, 1, 0, 1, 2]);
        assert_eq!(cluster(&vectors, 1.1), vec![0, 1, 2, 3, 4]);
        assert_eq!(cluster(&vectors, -1.0), vec![0, 0, 0, 0, 0]);
    }

    #[test]
    fn a_text_between_two_topics_does_not_chain_them() {
        // a1, a2 are one topic, b1, b2 another; m resembles one of each.
        let vectors = vec![
            v(&[1.0, 0.0, 0.0]),
            v(&[0.95, 0.05, 0.0]),
            v(&[0.6, 0.6, 0.0]),
            v(&[0.05, 0.95, 0.0]),
            v(&[0.0, 1.0, 0.0]),
        ];
        let labels = cluster(&vectors, 0.7);
        assert_ne!(labels[0], labels[4]);
    }

    #[test]
    fn the_central_member_comes_first() {
        let a = v(&[1.0, 0.0]);
        let b = v(&[0.8, 0.2]);
        let c = v(&[0.6, 0.4]);
        assert_eq!(most_central(&[&a, &b, &c])[0], 1);
    }
}
