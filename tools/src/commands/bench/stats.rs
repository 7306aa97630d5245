//! Bench results: throughput and an HDR latency histogram, printed for people or as JSON.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

/// Latencies are recorded in microseconds, up to an hour, with 3 significant digits.
const MAX_LATENCY_US: u64 = 3_600_000_000;

/// A new latency histogram.
pub(crate) fn histogram() -> anyhow::Result<Histogram<u64>> {
    Ok(Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)?)
}

/// Records one latency.
pub(crate) fn record(histogram: &mut Histogram<u64>, latency: Duration) {
    let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
    histogram.saturating_record(us.clamp(1, MAX_LATENCY_US));
}

/// Counters shared by the workers and the progress line.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    /// Messages done (acknowledged, or consumed).
    pub(crate) messages: AtomicU64,
    /// Payload bytes done.
    pub(crate) bytes: AtomicU64,
    /// Failed requests.
    pub(crate) errors: AtomicU64,
}

impl Progress {
    /// Adds one finished batch.
    pub(crate) fn add(&self, messages: u64, bytes: u64) {
        self.messages.fetch_add(messages, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }
}

/// Draws a live progress line on stderr (hidden when stderr is not a terminal) until dropped.
#[derive(Debug)]
pub(crate) struct ProgressLine {
    bar: ProgressBar,
    ticker: tokio::task::JoinHandle<()>,
}

impl ProgressLine {
    /// Starts the line; `total` messages when known.
    pub(crate) fn start(verb: &'static str, total: Option<u64>, progress: Arc<Progress>) -> Self {
        let bar = match total {
            Some(total) => ProgressBar::new(total),
            None => ProgressBar::new_spinner(),
        };
        let template = if total.is_some() {
            "{bar:30} {pos}/{len} {msg}"
        } else {
            "{spinner} {pos} {msg}"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        let shown = bar.clone();
        let ticker = tokio::spawn(async move {
            let started = Instant::now();
            let mut tick = tokio::time::interval(Duration::from_millis(200));
            loop {
                tick.tick().await;
                let messages = progress.messages.load(Ordering::Relaxed);
                let bytes = progress.bytes.load(Ordering::Relaxed);
                let secs = started.elapsed().as_secs_f64().max(1e-9);
                shown.set_position(messages);
                shown.set_message(format!(
                    "{verb}  {:.1} MB/s  {:.0} msg/s",
                    to_mb(bytes) / secs,
                    to_f64(messages) / secs
                ));
            }
        });
        Self { bar, ticker }
    }

    /// Removes the line.
    pub(crate) fn finish(self) {
        self.ticker.abort();
        self.bar.finish_and_clear();
    }
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Latency {
    /// Messages the percentiles cover (a warm-up leaves some out).
    pub(crate) samples: u64,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) p999_ms: f64,
    pub(crate) max_ms: f64,
}

impl Latency {
    /// The percentiles of `histogram`; `None` when it is empty.
    fn of(histogram: &Histogram<u64>) -> Option<Self> {
        let ms = |us: u64| to_f64(us) / 1000.0;
        (!histogram.is_empty()).then(|| Self {
            samples: histogram.len(),
            p50_ms: ms(histogram.value_at_quantile(0.50)),
            p99_ms: ms(histogram.value_at_quantile(0.99)),
            p999_ms: ms(histogram.value_at_quantile(0.999)),
            max_ms: ms(histogram.max()),
        })
    }

    /// The percentiles for people: `p50 0.379  p99 26.200  p99.9 40.300  max 45.200`.
    fn line(&self) -> String {
        format!(
            "p50 {:.3}  p99 {:.3}  p99.9 {:.3}  max {:.3}",
            self.p50_ms, self.p99_ms, self.p999_ms, self.max_ms
        )
    }
}

/// Where a produce request's time went, per request: a message's latency is its wait for the
/// batch to close, plus these two.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RequestSplit {
    /// From when the batch was due to close until its request was written: the load
    /// generator's own delay (waking, building, waiting for its core or an in-flight slot).
    pub(crate) send_delay: Option<Latency>,
    /// From the request written until its response was read: the network, the broker, and
    /// the generator waking to read.
    pub(crate) round_trip: Option<Latency>,
}

impl RequestSplit {
    /// The percentiles of the two per-request histograms.
    pub(crate) fn new(send_delay: &Histogram<u64>, round_trip: &Histogram<u64>) -> Self {
        Self {
            send_delay: Latency::of(send_delay),
            round_trip: Latency::of(round_trip),
        }
    }
}

/// The result of a bench run.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Report {
    /// `produce` or `consume`.
    pub(crate) kind: &'static str,
    /// Messages done.
    pub(crate) messages: u64,
    /// Payload bytes done.
    pub(crate) bytes: u64,
    /// Failed requests.
    pub(crate) errors: u64,
    /// Wall time, seconds.
    pub(crate) elapsed_s: f64,
    /// Payload megabytes (2^20) per second.
    pub(crate) mb_per_s: f64,
    /// Messages per second.
    pub(crate) messages_per_s: f64,
    /// Latency percentiles, when any latency was recorded.
    pub(crate) latency: Option<Latency>,
    /// Produce only: the per-request split of that latency.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) requests: Option<RequestSplit>,
}

impl Report {
    /// Builds the report from the totals and the merged histogram.
    pub(crate) fn new(
        kind: &'static str,
        progress: &Progress,
        elapsed: Duration,
        histogram: &Histogram<u64>,
    ) -> Self {
        let messages = progress.messages.load(Ordering::Relaxed);
        let bytes = progress.bytes.load(Ordering::Relaxed);
        let secs = elapsed.as_secs_f64().max(1e-9);
        Self {
            kind,
            messages,
            bytes,
            errors: progress.errors.load(Ordering::Relaxed),
            elapsed_s: elapsed.as_secs_f64(),
            mb_per_s: to_mb(bytes) / secs,
            messages_per_s: to_f64(messages) / secs,
            latency: Latency::of(histogram),
            requests: None,
        }
    }

    /// Adds the per-request split of a produce run.
    #[must_use]
    pub(crate) fn with_requests(mut self, split: RequestSplit) -> Self {
        self.requests = Some(split);
        self
    }

    /// Prints the report: JSON on stdout, or a few human lines.
    pub(crate) fn print(&self, json: bool) -> anyhow::Result<()> {
        if json {
            println!("{}", serde_json::to_string(self)?);
            return Ok(());
        }
        println!(
            "{}: {} messages, {:.1} MB in {:.2}s: {:.2} MB/s, {:.0} msg/s{}",
            self.kind,
            self.messages,
            to_mb(self.bytes),
            self.elapsed_s,
            self.mb_per_s,
            self.messages_per_s,
            if self.errors > 0 {
                format!(", {} failed requests", self.errors)
            } else {
                String::new()
            }
        );
        if let Some(l) = &self.latency {
            println!("latency ms: {}", l.line());
        }
        if let Some(split) = &self.requests {
            for (what, l) in [
                ("send delay", &split.send_delay),
                ("round trip", &split.round_trip),
            ] {
                if let Some(l) = l {
                    println!("  per request, {what} ms: {}", l.line());
                }
            }
        }
        Ok(())
    }
}

/// Lossy on purpose: rates are for display.
#[allow(clippy::cast_precision_loss)]
fn to_f64(n: u64) -> f64 {
    n as f64
}

fn to_mb(bytes: u64) -> f64 {
    to_f64(bytes) / (1024.0 * 1024.0)
}
