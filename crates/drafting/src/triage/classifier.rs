//! Triage classifiers over sentence embeddings: one multinomial logistic regression per label
//! (sentiment, intent, urgency, language), trained in a few hundred milliseconds at load time
//! from the labelled set, so there is no model file to ship or keep in sync.
//!
//! Inputs are embeddings of any dimension (whatever the embedder produces); they are
//! L2-normalised before training and prediction.

use serde::Serialize;

use super::labels::{Intent, Sentiment, TriageLabels, Urgency};
use crate::error::{Error, Result};

/// Training settings. Full-batch gradient descent from zero weights, so training is
/// deterministic.
#[derive(Debug, Clone, Copy)]
pub struct TrainOptions {
    pub epochs: usize,
    pub learning_rate: f32,
    /// L2 penalty on the weights (not the bias).
    pub l2: f32,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            epochs: 400,
            learning_rate: 2.0,
            l2: 1e-4,
        }
    }
}

/// Softmax regression from an embedding to one of `labels`.
#[derive(Debug, Clone)]
pub struct Head<L> {
    labels: Vec<L>,
    /// `labels.len()` rows of `dim` weights followed by a bias.
    weights: Vec<Vec<f32>>,
    dim: usize,
}

/// A predicted label and the model's probability for it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scored<L> {
    pub label: L,
    pub probability: f32,
}

impl<L: Clone + PartialEq> Head<L> {
    /// Learns to predict `targets[i]` from `inputs[i]`; the classes are the distinct targets.
    pub fn train(inputs: &[Vec<f32>], targets: &[L], options: TrainOptions) -> Result<Self> {
        let dim = validate(inputs)?;
        if inputs.len() != targets.len() {
            return Err(Error::Classifier(format!(
                "{} embeddings but {} labels",
                inputs.len(),
                targets.len()
            )));
        }
        let mut labels: Vec<L> = Vec::new();
        let classes: Vec<usize> = targets
            .iter()
            .map(|t| match labels.iter().position(|l| l == t) {
                Some(i) => i,
                None => {
                    labels.push(t.clone());
                    labels.len() - 1
                }
            })
            .collect();
        if labels.len() < 2 {
            return Err(Error::Classifier(
                "need at least two distinct labels".into(),
            ));
        }
        let xs: Vec<Vec<f32>> = inputs.iter().map(|x| normalized(x)).collect();
        let mut weights = vec![vec![0.0f32; dim + 1]; labels.len()];
        let n = xs.len() as f32;
        for _ in 0..options.epochs {
            let mut grad = vec![vec![0.0f32; dim + 1]; labels.len()];
            for (x, &y) in xs.iter().zip(&classes) {
                let p = softmax(&weights, x);
                for (k, row) in grad.iter_mut().enumerate() {
                    let err = p[k] - if k == y { 1.0 } else { 0.0 };
                    for (g, xi) in row.iter_mut().zip(x) {
                        *g += err * xi;
                    }
                    row[dim] += err;
                }
            }
            for (row, g) in weights.iter_mut().zip(&grad) {
                for (j, w) in row.iter_mut().enumerate() {
                    let penalty = if j < dim { options.l2 * *w } else { 0.0 };
                    *w -= options.learning_rate * (g[j] / n + penalty);
                }
            }
        }
        Ok(Self {
            labels,
            weights,
            dim,
        })
    }

    pub fn predict(&self, input: &[f32]) -> Result<Scored<L>> {
        if input.len() != self.dim {
            return Err(Error::Classifier(format!(
                "embedding has {} dimensions; the classifier was trained on {}",
                input.len(),
                self.dim
            )));
        }
        let p = softmax(&self.weights, &normalized(input));
        let (best, probability) = p
            .iter()
            .copied()
            .enumerate()
            .fold((0, f32::MIN), |a, b| if b.1 > a.1 { b } else { a });
        Ok(Scored {
            label: self.labels[best].clone(),
            probability,
        })
    }

    /// Share of `inputs` whose prediction equals `targets`.
    pub fn accuracy(&self, inputs: &[Vec<f32>], targets: &[L]) -> Result<f64> {
        let mut right = 0usize;
        for (x, t) in inputs.iter().zip(targets) {
            right += usize::from(self.predict(x)?.label == *t);
        }
        Ok(right as f64 / inputs.len().max(1) as f64)
    }
}

fn validate(inputs: &[Vec<f32>]) -> Result<usize> {
    let dim = inputs
        .first()
        .map(Vec::len)
        .ok_or_else(|| Error::Classifier("no training examples".into()))?;
    if dim == 0 {
        return Err(Error::Classifier("embeddings are empty".into()));
    }
    for (i, x) in inputs.iter().enumerate() {
        if x.len() != dim {
            return Err(Error::Classifier(format!(
                "embedding {i} has {} dimensions; the first has {dim}",
                x.len()
            )));
        }
        if x.iter().any(|v| !v.is_finite()) {
            return Err(Error::Classifier(format!("embedding {i} is not finite")));
        }
    }
    Ok(dim)
}

fn normalized(x: &[f32]) -> Vec<f32> {
    let norm = x.iter().map(|v| v * v).sum::<f32>().sqrt();
    if norm == 0.0 {
        return x.to_vec();
    }
    x.iter().map(|v| v / norm).collect()
}

fn softmax(weights: &[Vec<f32>], x: &[f32]) -> Vec<f32> {
    let dim = x.len();
    let logits: Vec<f32> = weights
        .iter()
        .map(|row| row[..dim].iter().zip(x).map(|(w, v)| w * v).sum::<f32>() + row[dim])
        .collect();
    let max = logits.iter().copied().fold(f32::MIN, f32::max);
    let exp: Vec<f32> = logits.iter().map(|l| (l - max).exp()).collect();
    let sum: f32 = exp.iter().sum();
    exp.iter().map(|e| e / sum).collect()
}

/// The four triage heads, trained together from one labelled set.
#[derive(Debug, Clone)]
pub struct TriageClassifier {
    pub sentiment: Head<Sentiment>,
    pub intent: Head<Intent>,
    pub urgency: Head<Urgency>,
    pub language: Head<String>,
}

/// A message's predicted triage labels.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TriagePrediction {
    pub sentiment: Scored<Sentiment>,
    pub intent: Scored<Intent>,
    pub urgency: Scored<Urgency>,
    pub language: Scored<String>,
}

/// Accuracy of each head on a labelled set, in `[0, 1]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TriageAccuracy {
    pub sentiment: f64,
    pub intent: f64,
    pub urgency: f64,
    pub language: f64,
}

impl TriageClassifier {
    /// Trains every head on `embeddings[i]` labelled `labels[i]`.
    pub fn train(
        embeddings: &[Vec<f32>],
        labels: &[TriageLabels],
        options: TrainOptions,
    ) -> Result<Self> {
        Ok(Self {
            sentiment: Head::train(embeddings, &column(labels, |l| l.sentiment), options)?,
            intent: Head::train(embeddings, &column(labels, |l| l.intent), options)?,
            urgency: Head::train(embeddings, &column(labels, |l| l.urgency), options)?,
            language: Head::train(embeddings, &column(labels, |l| l.language.clone()), options)?,
        })
    }

    /// Predicts the labels of each embedded message.
    pub fn predict(&self, embeddings: &[Vec<f32>]) -> Result<Vec<TriagePrediction>> {
        embeddings
            .iter()
            .map(|x| {
                Ok(TriagePrediction {
                    sentiment: self.sentiment.predict(x)?,
                    intent: self.intent.predict(x)?,
                    urgency: self.urgency.predict(x)?,
                    language: self.language.predict(x)?,
                })
            })
            .collect()
    }

    pub fn accuracy(
        &self,
        embeddings: &[Vec<f32>],
        labels: &[TriageLabels],
    ) -> Result<TriageAccuracy> {
        if embeddings.len() != labels.len() {
            return Err(Error::Classifier(format!(
                "{} embeddings but {} labels",
                embeddings.len(),
                labels.len()
            )));
        }
        Ok(TriageAccuracy {
            sentiment: self
                .sentiment
                .accuracy(embeddings, &column(labels, |l| l.sentiment))?,
            intent: self
                .intent
                .accuracy(embeddings, &column(labels, |l| l.intent))?,
            urgency: self
                .urgency
                .accuracy(embeddings, &column(labels, |l| l.urgency))?,
            language: self
                .language
                .accuracy(embeddings, &column(labels, |l| l.language.clone()))?,
        })
    }
}

fn column<T>(labels: &[TriageLabels], f: impl Fn(&TriageLabels) -> T) -> Vec<T> {
    labels.iter().map(f).collect()
}

/// Indices of a deterministic held-out split: every `k`-th example is held out.
pub fn holdout_split(n: usize, k: usize) -> (Vec<usize>, Vec<usize>) {
    (0..n).partition(|i| k == 0 || i % k != k - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny deterministic generator, so the test data is the same on every run.
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> f32 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((self.0 >> 40) as f32 / (1u64 << 24) as f32) - 0.5
        }

        fn vector(&mut self, dim: usize) -> Vec<f32> {
            (0..dim).map(|_| self.next()).collect()
        }
    }

    const SENTIMENTS: [Sentiment; 3] =
        [Sentiment::Negative, Sentiment::Neutral, Sentiment::Positive];
    const INTENTS: [Intent; 4] = [
        Intent::Question,
        Intent::Complaint,
        Intent::Praise,
        Intent::Delivery,
    ];
    const URGENCIES: [Urgency; 3] = [Urgency::Low, Urgency::Normal, Urgency::High];
    const LANGUAGES: [&str; 3] = ["en", "es", "fr"];

    /// Embeddings that are a sum of one random direction per label plus noise: a stand-in for
    /// sentence embeddings whose labels are linearly separable, as the real ones mostly are.
    fn synthetic(n: usize, noise: f32, rng: &mut Lcg) -> (Vec<Vec<f32>>, Vec<TriageLabels>) {
        const DIM: usize = 32;
        let mut directions = Lcg(7);
        let s: Vec<_> = SENTIMENTS.iter().map(|_| directions.vector(DIM)).collect();
        let i: Vec<_> = INTENTS.iter().map(|_| directions.vector(DIM)).collect();
        let u: Vec<_> = URGENCIES.iter().map(|_| directions.vector(DIM)).collect();
        let l: Vec<_> = LANGUAGES.iter().map(|_| directions.vector(DIM)).collect();
        let mut xs = Vec::new();
        let mut ys = Vec::new();
        for k in 0..n {
            let (a, b, c, d) = (k % 3, (k / 3) % 4, (k / 12) % 3, (k / 36) % 3);
            let noise_vec = rng.vector(DIM);
            xs.push(
                (0..DIM)
                    .map(|j| s[a][j] + i[b][j] + u[c][j] + l[d][j] + noise * noise_vec[j])
                    .collect(),
            );
            ys.push(TriageLabels {
                sentiment: SENTIMENTS[a],
                intent: INTENTS[b],
                urgency: URGENCIES[c],
                language: LANGUAGES[d].into(),
            });
        }
        (xs, ys)
    }

    #[test]
    fn learns_separable_labels_and_generalises_to_held_out_data() {
        let mut rng = Lcg(1);
        let (train_x, train_y) = synthetic(216, 0.5, &mut rng);
        let (test_x, test_y) = synthetic(108, 0.5, &mut rng);
        let model = TriageClassifier::train(&train_x, &train_y, TrainOptions::default()).unwrap();
        let acc = model.accuracy(&test_x, &test_y).unwrap();
        for (head, a) in [
            ("sentiment", acc.sentiment),
            ("intent", acc.intent),
            ("urgency", acc.urgency),
            ("language", acc.language),
        ] {
            assert!(a > 0.9, "{head} accuracy {a}");
        }
        let p = &model.predict(&test_x[..1]).unwrap()[0];
        assert_eq!(p.intent.label, test_y[0].intent);
        assert!(p.intent.probability > 0.25 && p.intent.probability <= 1.0);
    }

    #[test]
    fn untrained_directions_are_no_better_than_chance() {
        // Labels assigned with no relation to the inputs: held-out accuracy must stay near
        // chance, which shows the accuracy above is learned, not an artefact of the split.
        let mut rng = Lcg(3);
        let xs: Vec<Vec<f32>> = (0..300).map(|_| rng.vector(16)).collect();
        let ys: Vec<Sentiment> = (0..300).map(|k| SENTIMENTS[(k * 7 + k / 5) % 3]).collect();
        let (train, test) = holdout_split(300, 3);
        let pick = |idx: &[usize]| -> (Vec<Vec<f32>>, Vec<Sentiment>) {
            (
                idx.iter().map(|&i| xs[i].clone()).collect(),
                idx.iter().map(|&i| ys[i]).collect(),
            )
        };
        let (tx, ty) = pick(&train);
        let (vx, vy) = pick(&test);
        let head = Head::train(&tx, &ty, TrainOptions::default()).unwrap();
        assert!(head.accuracy(&vx, &vy).unwrap() < 0.55);
    }

    #[test]
    fn bad_inputs_are_refused_with_a_reason() {
        let opts = TrainOptions::default();
        let err = Head::train(&[vec![1.0, 0.0], vec![1.0]], &["a", "b"], opts).unwrap_err();
        assert!(
            err.to_string().contains("embedding 1 has 1 dimensions"),
            "{err}"
        );
        let err = Head::train(&[vec![1.0], vec![2.0]], &["a", "a"], opts).unwrap_err();
        assert!(err.to_string().contains("two distinct labels"));
        let err = Head::train(&[vec![f32::NAN], vec![2.0]], &["a", "b"], opts).unwrap_err();
        assert!(err.to_string().contains("not finite"));
        let err = Head::train(&[vec![1.0]], &["a", "b"], opts).unwrap_err();
        assert!(err.to_string().contains("1 embeddings but 2 labels"));
        let head = Head::train(&[vec![1.0, 0.0], vec![0.0, 1.0]], &["a", "b"], opts).unwrap();
        assert!(head.predict(&[1.0]).is_err());
        assert_eq!(head.predict(&[0.9, 0.1]).unwrap().label, "a");
    }

    #[test]
    fn holdout_split_is_disjoint_and_complete() {
        let (train, test) = holdout_split(10, 5);
        assert_eq!(test, [4, 9]);
        assert_eq!(train.len(), 8);
    }
}
