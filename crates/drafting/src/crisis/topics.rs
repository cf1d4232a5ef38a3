//! Topics: messages grouped by what they are about, by online leader clustering of their
//! sentence embeddings.
//!
//! Messages are visited in time order; each joins the topic whose centroid it is most similar
//! to when that cosine similarity reaches the threshold, and otherwise starts a topic of its
//! own. Leader clustering splits a topic whose first messages happened to differ (people who
//! name the brand in every complaint and people who do not), so topics whose centroids are
//! as similar as the threshold are then merged, most similar pair first. One reassignment pass
//! against the final centroids undoes what the visiting order decided too early (a message
//! that joined a topic before a closer one existed). Nothing is random, so the same stream
//! always gives the same topics.

/// Every message's topic, and each topic's centroid (unit length).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Topics {
    pub assignment: Vec<usize>,
    pub centroids: Vec<Vec<f32>>,
}

pub(crate) fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

pub(crate) fn unit(v: &[f32]) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm == 0.0 {
        return v.to_vec();
    }
    v.iter().map(|x| x / norm).collect()
}

/// The centroid (unit length) of the given embeddings.
pub(crate) fn centroid<'a>(vectors: impl IntoIterator<Item = &'a Vec<f32>>) -> Vec<f32> {
    let mut sum: Vec<f32> = Vec::new();
    for v in vectors {
        if sum.is_empty() {
            sum = vec![0.0; v.len()];
        }
        for (s, x) in sum.iter_mut().zip(v) {
            *s += x;
        }
    }
    unit(&sum)
}

/// The index and similarity of the most similar centroid; ties go to the older topic.
fn nearest(v: &[f32], centroids: &[Vec<f32>]) -> Option<(usize, f32)> {
    centroids
        .iter()
        .map(|c| cosine(v, c))
        .enumerate()
        .fold(None, |best, (k, s)| match best {
            Some((_, b)) if b >= s => best,
            _ => Some((k, s)),
        })
}

/// Merges the most similar pair of topics while their centroids' cosine similarity reaches
/// `threshold`; the merged topic keeps the lower index.
fn merge_similar(sums: &mut Vec<Vec<f32>>, centroids: &mut Vec<Vec<f32>>, threshold: f32) {
    loop {
        let mut best: Option<(f32, usize, usize)> = None;
        for a in 0..centroids.len() {
            for b in a + 1..centroids.len() {
                let s = cosine(&centroids[a], &centroids[b]);
                if s >= threshold && best.is_none_or(|(top, _, _)| s > top) {
                    best = Some((s, a, b));
                }
            }
        }
        let Some((_, a, b)) = best else {
            return;
        };
        let gone = sums.remove(b);
        centroids.remove(b);
        for (x, y) in sums[a].iter_mut().zip(&gone) {
            *x += y;
        }
        centroids[a] = unit(&sums[a]);
    }
}

/// Clusters unit-length `embeddings`, given in time order.
pub(crate) fn cluster(embeddings: &[Vec<f32>], threshold: f32) -> Topics {
    let mut sums: Vec<Vec<f32>> = Vec::new();
    let mut centroids: Vec<Vec<f32>> = Vec::new();
    for v in embeddings {
        match nearest(v, &centroids) {
            Some((k, s)) if s >= threshold => {
                for (x, y) in sums[k].iter_mut().zip(v) {
                    *x += y;
                }
                centroids[k] = unit(&sums[k]);
            }
            _ => {
                sums.push(v.clone());
                centroids.push(unit(v));
            }
        }
    }
    merge_similar(&mut sums, &mut centroids, threshold);
    // Reassign against the final centroids, then renumber the topics that kept members in
    // order of first appearance.
    let nearest_topic: Vec<usize> = embeddings
        .iter()
        .map(|v| nearest(v, &centroids).map_or(0, |(k, _)| k))
        .collect();
    let mut renumber: Vec<Option<usize>> = vec![None; centroids.len()];
    let mut members: Vec<Vec<usize>> = Vec::new();
    let assignment = nearest_topic
        .iter()
        .enumerate()
        .map(|(i, &k)| {
            let id = *renumber[k].get_or_insert_with(|| {
                members.push(Vec::new());
                members.len() - 1
            });
            members[id].push(i);
            id
        })
        .collect();
    let centroids = members
        .iter()
        .map(|m| centroid(m.iter().map(|&i| &embeddings[i])))
        .collect();
    Topics {
        assignment,
        centroids,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(x: &[f32]) -> Vec<f32> {
        unit(x)
    }

    #[test]
    fn similar_vectors_share_a_topic_and_others_do_not() {
        let embeddings = [
            v(&[1.0, 0.0, 0.0]),
            v(&[0.0, 1.0, 0.0]),
            v(&[0.9, 0.1, 0.0]),
            v(&[0.0, 0.0, 1.0]),
            v(&[0.95, 0.0, 0.05]),
            v(&[0.1, 0.9, 0.0]),
        ];
        let topics = cluster(&embeddings, 0.8);
        assert_eq!(topics.assignment, [0, 1, 0, 2, 0, 1]);
        assert_eq!(topics.centroids.len(), 3);
        assert!(cosine(&topics.centroids[0], &embeddings[0]) > 0.95);
        // Nothing is similar enough at a threshold near 1: every message is its own topic.
        assert_eq!(cluster(&embeddings, 0.999).assignment, [0, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn reassignment_moves_an_early_member_to_a_closer_topic() {
        // The fourth vector joins topic 0 (cosine 0.75 ≥ 0.7) before topic 1 exists; against
        // the final centroids it is closer to topic 1.
        let embeddings = [
            v(&[1.0, 0.0]),
            v(&[1.0, 0.05]),
            v(&[1.0, -0.05]),
            v(&[0.75, 0.66]),
            v(&[0.2, 1.0]),
            v(&[0.45, 0.9]),
            v(&[0.55, 0.84]),
        ];
        let topics = cluster(&embeddings, 0.7);
        assert_eq!(topics.assignment, [0, 0, 0, 1, 1, 1, 1]);
    }

    #[test]
    fn clustering_is_deterministic() {
        let embeddings: Vec<Vec<f32>> = (0..40)
            .map(|i| v(&[(i % 3) as f32, (i % 5) as f32, 1.0]))
            .collect();
        assert_eq!(cluster(&embeddings, 0.9), cluster(&embeddings, 0.9));
    }
}
