//! `bench consume`: reads a topic as fast as the broker serves it.
//!
//! Latency here is end to end: the time from a record's timestamp (its producer's clock) to
//! its arrival, meaningful when a `bench produce` on the same host runs alongside.

use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use fjord_tools::client::offsets::log_bounds;
use fjord_tools::client::Client;
use fjord_tools::parse;
use tokio::time::Instant;

use super::stats::{self, Progress, ProgressLine, Report};
use crate::commands::consume::{resolve_starts, Start};
use crate::commands::fetcher::Fetcher;
use crate::commands::sender::now_ms;

/// `bench consume`.
#[derive(Debug, Args)]
pub(crate) struct ConsumeBenchArgs {
    /// Topic to read (all partitions, from the log start).
    topic: String,
    /// Stop after this many messages (default: at the end of the partitions).
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

/// Runs `bench consume`.
pub(crate) async fn run(client: &mut Client, args: ConsumeBenchArgs) -> anyhow::Result<()> {
    let info = client.topic(&args.topic).await?;
    let partitions: Vec<i32> = info.partitions.iter().map(|p| p.index).collect();
    let bounds = log_bounds(client, &args.topic, &partitions).await?;
    let start_at = if args.from_latest {
        Start::Latest
    } else {
        Start::Earliest
    };
    let starts = resolve_starts(client, &args.topic, &bounds, start_at).await?;
    let ends = bounds.iter().map(|(p, (_, end))| (*p, *end)).collect();
    let mut fetcher = Fetcher::new(info, &starts, &ends, Duration::from_millis(100));
    // Without a count or duration, read what is there now.
    let until_end = args.count.is_none() && args.duration.is_none();
    let progress = Arc::new(Progress::default());
    let line = ProgressLine::start("consume", args.count, progress.clone());
    let mut histogram = stats::histogram()?;
    let start = Instant::now();
    let deadline = args.duration.map(|d| start + d);
    let mut consumed: u64 = 0;
    loop {
        if args.count.is_some_and(|c| consumed >= c)
            || deadline.is_some_and(|d| Instant::now() >= d)
            || (until_end && fetcher.at_end())
        {
            break;
        }
        let records = fetcher.poll(client, until_end).await?;
        let now = now_ms();
        let mut bytes = 0u64;
        let mut n = 0u64;
        for f in &records {
            if args.count.is_some_and(|c| consumed + n >= c) {
                break;
            }
            n += 1;
            bytes += f.record.value.as_ref().map_or(0, |v| v.len() as u64);
            let age = u64::try_from(now.saturating_sub(f.timestamp)).unwrap_or(0);
            stats::record(&mut histogram, Duration::from_millis(age));
        }
        consumed += n;
        progress.add(n, bytes);
    }
    let elapsed = start.elapsed();
    line.finish();
    Report::new("consume", &progress, elapsed, &histogram).print(args.json)
}
