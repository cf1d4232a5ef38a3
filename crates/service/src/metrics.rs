//! Prometheus metrics in the text exposition format: drafting queue depth, drafts (a counter
//! whose rate is drafts per second), time to first token, review latency, deliveries.

use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) of the histogram buckets.
const TTFT_BUCKETS: [f64; 10] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0];
const REVIEW_BUCKETS: [f64; 10] = [
    1.0, 5.0, 15.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 14400.0, 86400.0,
];

/// Cumulative-bucket histogram.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    counts: Vec<AtomicU64>,
    count: AtomicU64,
    sum: Mutex<f64>,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum: Mutex::new(0.0),
        }
    }

    pub fn observe(&self, value: Duration) {
        let seconds = value.as_secs_f64();
        for (bound, count) in self.bounds.iter().zip(&self.counts) {
            if seconds <= *bound {
                count.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        *self.sum.lock().unwrap_or_else(|e| e.into_inner()) += seconds;
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (bound, count) in self.bounds.iter().zip(&self.counts) {
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{bound}\"}} {}",
                count.load(Ordering::Relaxed)
            );
        }
        let total = self.count();
        let sum = *self.sum.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {total}");
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {total}");
    }
}

/// The service's counters and histograms.
#[derive(Debug)]
pub struct Metrics {
    pub drafts: AtomicU64,
    pub drafting_failures: AtomicU64,
    pub escalated: AtomicU64,
    pub queue_rejections: AtomicU64,
    pub delivered: AtomicU64,
    pub delivery_retries: AtomicU64,
    pub dead_letters: AtomicU64,
    pub time_to_first_token: Histogram,
    pub review_latency: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            drafts: AtomicU64::new(0),
            drafting_failures: AtomicU64::new(0),
            escalated: AtomicU64::new(0),
            queue_rejections: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            delivery_retries: AtomicU64::new(0),
            dead_letters: AtomicU64::new(0),
            time_to_first_token: Histogram::new(&TTFT_BUCKETS),
            review_latency: Histogram::new(&REVIEW_BUCKETS),
        }
    }
}

fn counter(out: &mut String, name: &str, help: &str, value: &AtomicU64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
        value.load(Ordering::Relaxed)
    );
}

impl Metrics {
    /// The text exposition, with the queue gauges read now.
    pub fn render(&self, queue_depth: usize, queue_capacity: usize) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP tact_drafting_queue_depth Messages waiting for or in drafting.\n\
             # TYPE tact_drafting_queue_depth gauge\ntact_drafting_queue_depth {queue_depth}"
        );
        let _ = writeln!(
            out,
            "# HELP tact_drafting_queue_capacity Messages the drafting queue holds before refusing.\n\
             # TYPE tact_drafting_queue_capacity gauge\ntact_drafting_queue_capacity {queue_capacity}"
        );
        counter(
            &mut out,
            "tact_drafts_total",
            "Messages drafted (rate() gives drafts per second).",
            &self.drafts,
        );
        counter(
            &mut out,
            "tact_drafting_failures_total",
            "Messages whose drafting failed.",
            &self.drafting_failures,
        );
        counter(
            &mut out,
            "tact_escalated_total",
            "Messages triage sent to a person without a draft.",
            &self.escalated,
        );
        counter(
            &mut out,
            "tact_queue_rejections_total",
            "Submissions refused because the drafting queue was full.",
            &self.queue_rejections,
        );
        counter(
            &mut out,
            "tact_deliveries_total",
            "Approved replies delivered by a connector.",
            &self.delivered,
        );
        counter(
            &mut out,
            "tact_delivery_retries_total",
            "Delivery attempts that failed and will be retried.",
            &self.delivery_retries,
        );
        counter(
            &mut out,
            "tact_dead_letters_total",
            "Deliveries given up after the last attempt.",
            &self.dead_letters,
        );
        self.time_to_first_token.render(
            &mut out,
            "tact_time_to_first_token_seconds",
            "From queueing a generation to its first streamed text.",
        );
        self.review_latency.render(
            &mut out,
            "tact_review_latency_seconds",
            "From drafts being ready to a reviewer's approval or rejection.",
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::default();
        m.time_to_first_token.observe(Duration::from_millis(70));
        m.time_to_first_token.observe(Duration::from_secs(3));
        m.drafts.fetch_add(2, Ordering::Relaxed);
        let text = m.render(4, 64);
        assert!(text.contains("tact_drafting_queue_depth 4\n"));
        assert!(text.contains("tact_drafts_total 2\n"));
        assert!(text.contains("tact_time_to_first_token_seconds_bucket{le=\"0.05\"} 0\n"));
        assert!(text.contains("tact_time_to_first_token_seconds_bucket{le=\"0.1\"} 1\n"));
        assert!(text.contains("tact_time_to_first_token_seconds_bucket{le=\"5\"} 2\n"));
        assert!(text.contains("tact_time_to_first_token_seconds_count 2\n"));
        assert!(text.contains("tact_review_latency_seconds_count 0\n"));
    }
}
