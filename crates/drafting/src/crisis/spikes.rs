//! Spike detection: per topic, a sliding window ending at each of its messages is compared with
//! the brand's baseline just before that window.
//!
//! A window is a spike window when all of these hold (thresholds from [`CrisisConfig`]):
//! - it holds at least `min_messages` messages of the topic;
//! - that is at least `volume_ratio` times the topic's expected count, i.e. its count in the
//!   baseline (the `baseline_hours` before the window, or as much of them as the stream covers)
//!   scaled to one window, never taken below `min_expected`;
//! - the share of them the sentiment classifier calls negative is at least
//!   `min_negative_share` and at least `negative_share_margin` above the brand's negative share
//!   in the same baseline (capped at 1).
//!
//! Consecutive spike windows of a topic, and windows that overlap an episode's messages, form
//! one episode: its messages are the topic's messages from the start of its first spike window
//! to the end of its last.

use super::config::CrisisConfig;

/// One message as the detector sees it. Observations are sorted by time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Observation {
    pub at_ms: i64,
    pub topic: usize,
    pub negative: bool,
}

/// A detected spike of one topic.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Episode {
    pub topic: usize,
    /// Indices into the observations, in time order.
    pub members: Vec<usize>,
    /// Most topic messages in one window during the episode.
    pub peak_window: usize,
    /// The topic's expected messages per window before the episode (before the floor).
    pub baseline_per_window: f64,
    /// The brand's negative share in the baseline before the episode (`None`: no baseline).
    pub baseline_negative_share: Option<f64>,
}

/// Counts of all observations up to each index, for range queries by time.
struct Prefix {
    times: Vec<i64>,
    negatives: Vec<usize>,
}

impl Prefix {
    fn new(obs: &[Observation]) -> Self {
        let mut negatives = vec![0];
        for o in obs {
            negatives.push(negatives.last().unwrap() + usize::from(o.negative));
        }
        Self {
            times: obs.iter().map(|o| o.at_ms).collect(),
            negatives,
        }
    }

    /// Messages and negatives with `from <= time < to`.
    fn range(&self, from: i64, to: i64) -> (usize, usize) {
        let a = self.times.partition_point(|&t| t < from);
        let b = self.times.partition_point(|&t| t < to);
        (
            b.saturating_sub(a),
            self.negatives[b.max(a)] - self.negatives[a],
        )
    }
}

/// What one window ending at a topic message looks like.
struct Window {
    /// Position (in the topic's message list) of the window's first message.
    first: usize,
    count: usize,
    spike: bool,
    baseline_per_window: f64,
    baseline_negative_share: Option<f64>,
}

pub(crate) fn detect(obs: &[Observation], config: &CrisisConfig) -> Vec<Episode> {
    let Some(start) = obs.first().map(|o| o.at_ms) else {
        return Vec::new();
    };
    let brand = Prefix::new(obs);
    let topics = obs.iter().map(|o| o.topic).max().map_or(0, |m| m + 1);
    let mut by_topic: Vec<Vec<usize>> = vec![Vec::new(); topics];
    for (i, o) in obs.iter().enumerate() {
        by_topic[o.topic].push(i);
    }
    let mut episodes = Vec::new();
    for (topic, members) in by_topic.iter().enumerate() {
        if members.len() < config.min_messages {
            continue;
        }
        let topic_obs: Vec<Observation> = members.iter().map(|&i| obs[i]).collect();
        let prefix = Prefix::new(&topic_obs);
        // Spike windows as position ranges of the topic's messages, merged when they overlap.
        let mut current: Option<(usize, usize, Episode)> = None;
        for end in 0..members.len() {
            let w = window(&topic_obs, &prefix, &brand, end, start, config);
            if !w.spike {
                continue;
            }
            match current.as_mut() {
                Some((_, last, ep)) if w.first <= *last => {
                    *last = end;
                    ep.peak_window = ep.peak_window.max(w.count);
                }
                _ => {
                    if let Some((first, last, mut ep)) = current.take() {
                        ep.members = members[first..=last].to_vec();
                        episodes.push(ep);
                    }
                    let ep = Episode {
                        topic,
                        members: Vec::new(),
                        peak_window: w.count,
                        baseline_per_window: w.baseline_per_window,
                        baseline_negative_share: w.baseline_negative_share,
                    };
                    current = Some((w.first, end, ep));
                }
            }
        }
        if let Some((first, last, mut ep)) = current {
            ep.members = members[first..=last].to_vec();
            episodes.push(ep);
        }
    }
    episodes.sort_by_key(|ep| (ep.members[0], ep.topic));
    episodes
}

/// The window of the topic ending at its message `end`.
fn window(
    topic_obs: &[Observation],
    topic: &Prefix,
    brand: &Prefix,
    end: usize,
    stream_start: i64,
    config: &CrisisConfig,
) -> Window {
    let window_ms = config.window_ms();
    let t = topic_obs[end].at_ms;
    let window_start = t - window_ms + 1;
    let first = topic_obs[..=end].partition_point(|o| o.at_ms < window_start);
    let count = end + 1 - first;
    let negatives = topic_obs[first..=end].iter().filter(|o| o.negative).count();

    let baseline_start = (window_start - config.baseline_ms()).max(stream_start);
    let covered = (window_start - baseline_start).max(window_ms);
    let (topic_before, _) = topic.range(baseline_start, window_start);
    let (brand_before, brand_negative_before) = brand.range(baseline_start, window_start);
    let baseline_per_window = topic_before as f64 * window_ms as f64 / covered as f64;
    let baseline_negative_share =
        (brand_before > 0).then(|| brand_negative_before as f64 / brand_before as f64);

    let expected = baseline_per_window.max(config.min_expected);
    let required_share = (baseline_negative_share.unwrap_or(0.0) + config.negative_share_margin)
        .max(config.min_negative_share)
        .min(1.0);
    let spike = count >= config.min_messages
        && count as f64 >= config.volume_ratio * expected
        && negatives as f64 >= required_share * count as f64;
    Window {
        first,
        count,
        spike,
        baseline_per_window,
        baseline_negative_share,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: i64 = 60_000;
    const HOUR: i64 = 60 * MINUTE;

    /// Five quiet days: a message every two hours, cycling through five topics, one in five
    /// negative.
    fn quiet() -> Vec<Observation> {
        (0..60)
            .map(|i| Observation {
                at_ms: i * 2 * HOUR,
                topic: (i % 5) as usize,
                negative: i % 5 == 2,
            })
            .collect()
    }

    /// `n` messages of `topic`, one every `every` ms from `from`.
    fn burst(from: i64, every: i64, n: i64, topic: usize, negative: bool) -> Vec<Observation> {
        (0..n)
            .map(|i| Observation {
                at_ms: from + i * every,
                topic,
                negative,
            })
            .collect()
    }

    fn sorted(mut obs: Vec<Observation>) -> Vec<Observation> {
        obs.sort_by_key(|o| o.at_ms);
        obs
    }

    #[test]
    fn a_quiet_stream_raises_nothing() {
        assert_eq!(detect(&quiet(), &CrisisConfig::default()), []);
        assert_eq!(detect(&[], &CrisisConfig::default()), []);
    }

    #[test]
    fn a_negative_burst_of_one_topic_is_one_episode_with_all_its_messages() {
        let mut obs = quiet();
        obs.extend(burst(100 * HOUR + 1, 90_000, 30, 9, true));
        let obs = sorted(obs);
        let episodes = detect(&obs, &CrisisConfig::default());
        assert_eq!(episodes.len(), 1, "{episodes:?}");
        let ep = &episodes[0];
        assert_eq!(ep.topic, 9);
        assert_eq!(ep.members.len(), 30);
        assert!(ep.members.iter().all(|&i| obs[i].topic == 9));
        // 30 messages 90 s apart: at most 40 fit in an hour, so the peak is all 30.
        assert_eq!(ep.peak_window, 30);
        assert_eq!(ep.baseline_per_window, 0.0);
        // The 50 messages before the first spike window, 10 of them negative.
        assert_eq!(ep.baseline_negative_share, Some(0.2));
    }

    #[test]
    fn bursts_below_a_threshold_are_not_spikes() {
        let config = CrisisConfig::default();
        // Praise: volume without negative share.
        let mut obs = quiet();
        obs.extend(burst(100 * HOUR + 1, MINUTE, 30, 9, false));
        assert_eq!(detect(&sorted(obs), &config), []);
        // Nine complaints are one short of `min_messages`.
        let mut obs = quiet();
        obs.extend(burst(100 * HOUR + 1, MINUTE, 9, 9, true));
        assert_eq!(detect(&sorted(obs), &config), []);
        // Spread over a day, thirty complaints never put ten in one hour.
        let mut obs = quiet();
        obs.extend(burst(100 * HOUR + 1, 50 * MINUTE, 30, 9, true));
        assert_eq!(detect(&sorted(obs), &config), []);
    }

    #[test]
    fn volume_is_measured_against_the_topics_own_baseline() {
        // Topic 7 gets three messages an hour all week; twelve in an hour is only four times
        // that, below the default ratio of five. Twenty is a spike.
        let mut steady = burst(1, 20 * MINUTE, 3 * 24 * 5, 7, true);
        steady.extend(burst(120 * HOUR + 1, 5 * MINUTE, 12, 7, true));
        let config = CrisisConfig {
            negative_share_margin: 0.0,
            ..CrisisConfig::default()
        };
        assert_eq!(detect(&sorted(steady.clone()), &config), []);
        steady.extend(burst(120 * HOUR + 2, 5 * MINUTE, 8, 7, true));
        let episodes = detect(&sorted(steady), &config);
        assert_eq!(episodes.len(), 1);
        let rate = episodes[0].baseline_per_window;
        assert!((2.9..3.1).contains(&rate), "{rate}");
    }

    #[test]
    fn a_brand_that_is_always_unhappy_needs_a_higher_negative_share() {
        // Every baseline message is negative: the required share is capped at 1, so an
        // all-negative burst still counts and a 90 % negative one does not.
        let all_negative: Vec<Observation> = quiet()
            .into_iter()
            .map(|o| Observation {
                negative: true,
                ..o
            })
            .collect();
        let mut obs = all_negative.clone();
        obs.extend(burst(100 * HOUR + 1, MINUTE, 20, 9, true));
        assert_eq!(detect(&sorted(obs), &CrisisConfig::default()).len(), 1);
        let mut obs = all_negative;
        obs.extend(burst(100 * HOUR + 1, MINUTE, 18, 9, true));
        obs.extend(burst(100 * HOUR + 2, MINUTE, 2, 9, false));
        assert_eq!(detect(&sorted(obs), &CrisisConfig::default()), []);
    }

    #[test]
    fn bursts_days_apart_are_separate_episodes() {
        let mut obs = quiet();
        obs.extend(burst(30 * HOUR + 1, MINUTE, 15, 9, true));
        obs.extend(burst(100 * HOUR + 1, MINUTE, 15, 9, true));
        let episodes = detect(&sorted(obs), &CrisisConfig::default());
        assert_eq!(episodes.len(), 2, "{episodes:?}");
        assert_eq!(episodes[0].members.len(), 15);
        // The first burst is the second one's baseline: 15 messages in 69 hours of history.
        assert_eq!(episodes[1].members.len(), 15);
        assert!(episodes[1].baseline_per_window > 0.0);
    }
}
