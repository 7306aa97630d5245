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
        let ms = |us: u64| to_f64(us) / 1000.0;
        let latency = (!histogram.is_empty()).then(|| Latency {
            samples: histogram.len(),
            p50_ms: ms(histogram.value_at_quantile(0.50)),
            p99_ms: ms(histogram.value_at_quantile(0.99)),
            p999_ms: ms(histogram.value_at_quantile(0.999)),
            max_ms: ms(histogram.max()),
        });
        Self {
            kind,
            messages,
            bytes,
            errors: progress.errors.load(Ordering::Relaxed),
            elapsed_s: elapsed.as_secs_f64(),
            mb_per_s: to_mb(bytes) / secs,
            messages_per_s: to_f64(messages) / secs,
            latency,
        }
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
            println!(
                "latency ms: p50 {:.3}  p99 {:.3}  p99.9 {:.3}  max {:.3}",
                l.p50_ms, l.p99_ms, l.p999_ms, l.max_ms
            );
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
