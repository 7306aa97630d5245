//! `bench consume`: reads a topic as fast as the broker serves it.
//!
//! `--consumers N` reads over N clients, each with its own connections and its own disjoint
//! share of the partitions. Latency here is end to end: the time from a record's timestamp
//! (its producer's clock) to its arrival, meaningful when a `bench produce` on the same host
//! runs alongside.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use fjord_tools::client::offsets::log_bounds;
use fjord_tools::client::Client;
use fjord_tools::parse;
use hdrhistogram::Histogram;
use tokio::time::Instant;

use super::stats::{self, Progress, ProgressLine, Report};
use crate::commands::consume::{resolve_starts, Start};
use crate::commands::fetcher::Fetcher;
use crate::commands::sender::now_ms;

/// How long one fetch may wait for new records.
const MAX_WAIT: Duration = Duration::from_millis(100);

/// `bench consume`.
#[derive(Debug, Args)]
pub(crate) struct ConsumeBenchArgs {
    /// Topic to read (from the log start).
    topic: String,
    /// Read only this partition (repeatable; default: all).
    #[arg(long = "partition", short = 'p', value_name = "P")]
    partitions: Vec<i32>,
    /// Consumers: clients with their own connections, each reading its own share of the
    /// partitions (so no more than the partitions read).
    #[arg(long, short = 'c', value_name = "N", default_value_t = 1)]
    consumers: usize,
    /// Stop after this many messages in all (default: at the end of the partitions).
    #[arg(long, short = 'n', conflicts_with = "duration")]
    count: Option<u64>,
    /// Read for this long, waiting for new records at the end (e.g. 30s).
    #[arg(long, short = 'd', value_parser = parse::duration)]
    duration: Option<Duration>,
    /// Start at the log end instead of the log start (to measure a concurrent producer).
    #[arg(long)]
    from_latest: bool,
    /// Print the result as one JSON object.
    #[arg(long)]
    json: bool,
}

/// When every consumer stops; shared by all of them.
#[derive(Debug)]
struct Limits {
    /// Messages still to read, when counting: consumers claim from it, so the total is exact.
    remaining: Option<AtomicU64>,
    /// When to stop, when timing.
    deadline: Option<Instant>,
    /// Stop at the end of the partitions (neither a count nor a duration was given).
    until_end: bool,
}

impl Limits {
    /// Claims up to `wanted` messages; returns how many this consumer may count.
    fn claim(&self, wanted: u64) -> u64 {
        let Some(remaining) = &self.remaining else {
            return wanted;
        };
        let before = remaining
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |r| {
                Some(r.saturating_sub(wanted))
            })
            .unwrap_or(0);
        before.min(wanted)
    }

    /// Whether the count is used up or the time is over.
    fn reached(&self) -> bool {
        self.remaining
            .as_ref()
            .is_some_and(|r| r.load(Ordering::Acquire) == 0)
            || self.deadline.is_some_and(|d| Instant::now() >= d)
    }
}

/// Runs `bench consume`.
pub(crate) async fn run(client: &mut Client, args: ConsumeBenchArgs) -> anyhow::Result<()> {
    let info = client.topic(&args.topic).await?;
    let mut partitions: Vec<i32> = if args.partitions.is_empty() {
        info.partitions.iter().map(|p| p.index).collect()
    } else {
        let mut chosen = Vec::new();
        for &p in &args.partitions {
            chosen.push(info.partition(p)?.index);
        }
        chosen
    };
    partitions.sort_unstable();
    partitions.dedup();
    anyhow::ensure!(args.consumers >= 1, "--consumers must be at least 1");
    anyhow::ensure!(
        args.consumers <= partitions.len(),
        "--consumers {} is more than the {} partition(s) read: each consumer reads its own",
        args.consumers,
        partitions.len()
    );
    let bounds = log_bounds(client, &args.topic, &partitions).await?;
    let start_at = if args.from_latest {
        Start::Latest
    } else {
        Start::Earliest
    };
    let starts = resolve_starts(client, &args.topic, &bounds, start_at).await?;
    let ends: BTreeMap<i32, i64> = bounds.iter().map(|(p, (_, end))| (*p, *end)).collect();
    let progress = Arc::new(Progress::default());
    let line = ProgressLine::start("consume", args.count, progress.clone());
    let start = Instant::now();
    let limits = Arc::new(Limits {
        remaining: args.count.map(AtomicU64::new),
        deadline: args.duration.map(|d| start + d),
        until_end: args.count.is_none() && args.duration.is_none(),
    });
    let mut tasks = Vec::new();
    for k in 0..args.consumers {
        let share: Vec<i32> = partitions
            .iter()
            .copied()
            .skip(k)
            .step_by(args.consumers)
            .collect();
        let pick = |all: &BTreeMap<i32, i64>| -> BTreeMap<i32, i64> {
            all.iter()
                .filter(|(p, _)| share.contains(p))
                .map(|(p, o)| (*p, *o))
                .collect()
        };
        let fetcher = Fetcher::new(info.clone(), &pick(&starts), &pick(&ends), MAX_WAIT);
        let mut own = client.sibling().await?;
        own.topic(&args.topic).await?;
        let limits = limits.clone();
        let progress = progress.clone();
        tasks.push(tokio::spawn(async move {
            read_share(own, fetcher, &limits, &progress).await
        }));
    }
    let mut histogram = stats::histogram()?;
    let mut failure = None;
    for task in tasks {
        match task.await.context("a consumer task panicked")? {
            Ok(h) => histogram.add(&h).context("merging latency histograms")?,
            Err(err) => failure = Some(err),
        }
    }
    let elapsed = start.elapsed();
    line.finish();
    if let Some(err) = failure {
        return Err(err);
    }
    Report::new("consume", &progress, elapsed, &histogram).print(args.json)
}

/// One consumer: reads its partitions until the limits say stop; returns its latencies.
async fn read_share(
    mut client: Client,
    mut fetcher: Fetcher,
    limits: &Limits,
    progress: &Progress,
) -> anyhow::Result<Histogram<u64>> {
    let mut histogram = stats::histogram()?;
    loop {
        if limits.reached() || (limits.until_end && fetcher.at_end()) {
            break;
        }
        let records = fetcher.poll(&mut client, limits.until_end).await?;
        let now = now_ms();
        let counted = limits.claim(records.len() as u64);
        let mut bytes = 0u64;
        for f in records
            .iter()
            .take(usize::try_from(counted).unwrap_or(usize::MAX))
        {
            bytes += f.record.value.as_ref().map_or(0, |v| v.len() as u64);
            let age = u64::try_from(now.saturating_sub(f.timestamp)).unwrap_or(0);
            stats::record(&mut histogram, Duration::from_millis(age));
        }
        progress.add(counted, bytes);
    }
    Ok(histogram)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counting(n: u64) -> Limits {
        Limits {
            remaining: Some(AtomicU64::new(n)),
            deadline: None,
            until_end: false,
        }
    }

    #[test]
    fn claims_never_add_up_to_more_than_the_count() {
        let limits = counting(10);
        assert_eq!(limits.claim(4), 4);
        assert!(!limits.reached());
        assert_eq!(limits.claim(4), 4);
        assert_eq!(limits.claim(4), 2);
        assert!(limits.reached());
        assert_eq!(limits.claim(4), 0);
    }

    #[test]
    fn without_a_count_everything_counts() {
        let limits = Limits {
            remaining: None,
            deadline: None,
            until_end: true,
        };
        assert_eq!(limits.claim(1_000), 1_000);
        assert!(!limits.reached());
    }
}
