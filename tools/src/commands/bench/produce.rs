//! `bench produce`: an open-loop load generator.
//!
//! Each message has an intended send time on a fixed schedule (`--rate`); its latency runs
//! from that time to its acknowledgement, so time spent queueing behind a slow broker counts
//! (no coordinated omission). Without `--rate` a message's intended time is when it was made.
//! Each connection pipelines up to `--max-in-flight` requests: a writer task sends, a reader
//! task matches responses in order.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use clap::Args;
use fjord_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use fjord_protocol::messages::{ApiKey, ProduceRequest};
use fjord_protocol::records::{Compression, RecordBatchBuilder};
use fjord_protocol::ErrorCode;
use fjord_tools::client::connection::{RequestWriter, ResponseReader};
use fjord_tools::client::{Client, ClientError};
use fjord_tools::parse;
use hdrhistogram::Histogram;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::pace::Pacer;
use super::stats::{self, Progress, ProgressLine, Report, RequestSplit};
use crate::commands::produce::parse_compression;
use crate::commands::sender::{now_ms, Acks};

/// How long the broker may take to replicate a produce.
const PRODUCE_TIMEOUT_MS: i32 = 30_000;
/// Size of the pool message payloads are cut from: varied bytes, so compression is not
/// flattered by identical messages.
const PAYLOAD_POOL: usize = 1 << 20;

/// `bench produce`.
#[derive(Debug, Args)]
pub(crate) struct ProduceBenchArgs {
    /// Topic to write to (created with --partitions if it does not exist).
    topic: String,
    /// Message (value) size, e.g. 100 or 1KiB.
    #[arg(long, short = 's', default_value = "100", value_parser = parse::size)]
    size: u64,
    /// Messages to send in total.
    #[arg(
        long,
        short = 'n',
        default_value_t = 100_000,
        conflicts_with = "duration"
    )]
    count: u64,
    /// Send for this long instead of a count (e.g. 30s).
    #[arg(long, short = 'd', value_parser = parse::duration)]
    duration: Option<Duration>,
    /// Messages per second over all producers (0: as fast as possible).
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// Partitions of the topic when this command creates it.
    #[arg(long, short = 'p', default_value_t = 1)]
    partitions: i32,
    /// Acknowledgements to wait for: 0, 1 or all.
    #[arg(long, default_value = "all", value_parser = Acks::parse)]
    acks: Acks,
    /// Compression codec: none, gzip, snappy, lz4 or zstd.
    #[arg(long, short = 'z', default_value = "none", value_parser = parse_compression)]
    compression: Compression,
    /// Close a batch at this many payload bytes.
    #[arg(long, default_value = "16KiB", value_parser = parse::size)]
    batch_size: u64,
    /// Wait this long for a batch to fill before sending it. Only a --rate run ever waits:
    /// without one every message is ready at once, so each batch fills to --batch-size (or to
    /// the last message) immediately and there is nothing to linger for.
    #[arg(long, default_value = "5ms", value_parser = parse::duration)]
    linger: Duration,
    /// Producers: connections, each with its own writer and reader, sharing the partitions.
    #[arg(
        long,
        short = 'c',
        visible_alias = "producers",
        value_name = "N",
        default_value_t = 1
    )]
    connections: u32,
    /// Requests in flight per connection.
    #[arg(long, default_value_t = 5)]
    max_in_flight: usize,
    /// Leave the messages due in this first part of the run (e.g. 2s) out of the latency
    /// percentiles, as latency benchmarks leave out their warm-up; they still count towards
    /// throughput.
    #[arg(long, default_value = "0s", value_parser = parse::duration)]
    warmup: Duration,
    /// Print the result as one JSON object.
    #[arg(long)]
    json: bool,
}

/// What one connection does.
#[derive(Debug, Clone)]
struct Plan {
    topic: String,
    /// Partitions this connection writes to, in turn.
    partitions: Vec<i32>,
    /// Messages to send, when counting.
    count: Option<u64>,
    /// When to stop, when timing.
    deadline: Option<Instant>,
    /// This connection's schedule, when rate limited.
    pace: Option<Pace>,
    size: usize,
    batch_size: u64,
    linger: Duration,
    /// Latencies of messages due before `start + warmup` are not recorded.
    warmup: Duration,
    acks: Acks,
    compression: Compression,
    version: i16,
}

/// A request on the wire, waiting for its response.
#[derive(Debug)]
struct InFlight {
    correlation_id: i32,
    /// Each message's intended send time.
    intended: Vec<Instant>,
    /// When the batch was due to close: its first message's linger ended, or it filled.
    due: Instant,
    /// When the request was written.
    sent: Instant,
    bytes: u64,
}

/// What one connection measured.
#[derive(Debug)]
struct Latencies {
    /// Per message, from its intended send time to its acknowledgement.
    messages: Histogram<u64>,
    /// Per request, from `due` to `sent`.
    send_delay: Histogram<u64>,
    /// Per request, from `sent` to its response read.
    round_trip: Histogram<u64>,
}

impl Latencies {
    fn new() -> anyhow::Result<Self> {
        Ok(Self {
            messages: stats::histogram()?,
            send_delay: stats::histogram()?,
            round_trip: stats::histogram()?,
        })
    }

    fn add(&mut self, other: &Self) -> anyhow::Result<()> {
        self.messages.add(&other.messages)?;
        self.send_delay.add(&other.send_delay)?;
        self.round_trip.add(&other.round_trip)?;
        Ok(())
    }

    /// Records, as of now, the latency of each of the request's messages due at or after
    /// `measured_from`, and the request's delays if its first message was.
    fn record(&mut self, request: &InFlight, measured_from: Instant, answered: bool) {
        let now = Instant::now();
        for t in request.intended.iter().filter(|t| **t >= measured_from) {
            stats::record(&mut self.messages, now.saturating_duration_since(*t));
        }
        if request
            .intended
            .first()
            .is_some_and(|t| *t >= measured_from)
        {
            stats::record(
                &mut self.send_delay,
                request.sent.saturating_duration_since(request.due),
            );
            if answered {
                stats::record(
                    &mut self.round_trip,
                    now.saturating_duration_since(request.sent),
                );
            }
        }
    }
}

/// Runs `bench produce`.
pub(crate) async fn run(client: &mut Client, args: ProduceBenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.connections >= 1,
        "--producers (--connections) must be at least 1"
    );
    anyhow::ensure!(
        args.max_in_flight >= 1,
        "--max-in-flight must be at least 1"
    );
    anyhow::ensure!(
        args.duration.is_none_or(|d| args.warmup < d),
        "--warmup must be shorter than --duration"
    );
    let info = match client.topic(&args.topic).await {
        Ok(info) => info,
        Err(ClientError::UnknownTopic { .. }) => {
            create_topic(client, &args.topic, args.partitions).await?;
            client.topic(&args.topic).await?
        }
        Err(other) => return Err(other.into()),
    };
    let pool = payload_pool();
    let connections = args.connections;
    let progress = Arc::new(Progress::default());
    let start = Instant::now();
    let deadline = args.duration.map(|d| start + d);
    let mut tasks = Vec::new();
    for k in 0..connections {
        let partitions: Vec<i32> = info
            .partitions
            .iter()
            .map(|p| p.index)
            .skip(k as usize)
            .step_by(connections as usize)
            .collect();
        // More connections than partitions: the extra ones share from the start.
        let partitions = if partitions.is_empty() {
            info.partitions.iter().map(|p| p.index).collect()
        } else {
            partitions
        };
        let leader = info.leader(partitions.first().copied().unwrap_or(0))?;
        let conn = client.open(leader).await?;
        let count = deadline.is_none().then(|| {
            args.count / u64::from(connections)
                + u64::from(u64::from(k) < args.count % u64::from(connections))
        });
        let pace = (args.rate > 0).then_some(Pace {
            rate: args.rate,
            connections: u64::from(connections),
        });
        let plan = Plan {
            topic: args.topic.clone(),
            partitions,
            count,
            deadline,
            pace,
            size: usize::try_from(args.size).context("--size is too large")?,
            batch_size: args.batch_size.max(1),
            linger: args.linger,
            warmup: args.warmup,
            acks: args.acks,
            compression: args.compression,
            version: conn.version(ApiKey::Produce)?,
        };
        let (writer, reader, _) = conn.into_split();
        let progress = progress.clone();
        let pool = pool.clone();
        let in_flight = args.max_in_flight;
        tasks.push(tokio::spawn(async move {
            run_connection(writer, reader, plan, pool, progress, in_flight, start).await
        }));
    }
    let total = deadline.is_none().then_some(args.count);
    let line = ProgressLine::start("produce", total, progress.clone());
    let mut latencies = Latencies::new()?;
    let mut failure = None;
    for task in tasks {
        match task.await.context("a producer task panicked")? {
            Ok(l) => latencies.add(&l).context("merging latency histograms")?,
            Err(err) => failure = Some(err),
        }
    }
    // A paced run's last message is due one interval before the deadline; the run still lasts
    // its whole --duration, so the rates it reports are over the time asked for.
    if let Some(deadline) = deadline.filter(|_| failure.is_none()) {
        tokio::time::sleep_until(deadline).await;
    }
    let elapsed = start.elapsed();
    line.finish();
    if let Some(err) = failure {
        return Err(err);
    }
    Report::new("produce", &progress, elapsed, &latencies.messages)
        .with_requests(RequestSplit::new(
            &latencies.send_delay,
            &latencies.round_trip,
        ))
        .print(args.json)
}

async fn create_topic(client: &mut Client, topic: &str, partitions: i32) -> anyhow::Result<()> {
    use fjord_protocol::messages::create_topics_request::CreatableTopic;
    use fjord_protocol::messages::CreateTopicsRequest;
    let conn = client.controller().await?;
    let version = conn.version(ApiKey::CreateTopics)?;
    let request = CreateTopicsRequest {
        topics: vec![CreatableTopic {
            name: topic.to_owned(),
            num_partitions: partitions,
            replication_factor: if version >= 4 { -1 } else { 1 },
            ..CreatableTopic::default()
        }],
        timeout_ms: PRODUCE_TIMEOUT_MS,
        ..CreateTopicsRequest::default()
    };
    let response = conn.send_at(&request, version, Duration::ZERO).await?;
    for t in &response.topics {
        // Another bench may have created it first; that is fine.
        if t.error_code != ErrorCode::TopicAlreadyExists.code() {
            fjord_tools::client::error::check_with_message(
                t.error_code,
                t.error_message.as_deref(),
                || format!("create topic {topic}"),
            )?;
        }
    }
    Ok(())
}

/// Printable pseudo-random bytes (a fixed xorshift sequence, so runs are comparable).
fn payload_pool() -> Bytes {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/";
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let bytes: Vec<u8> = (0..PAYLOAD_POOL)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            ALPHABET[(state % 64) as usize]
        })
        .collect();
    Bytes::from(bytes)
}

/// One connection's share of a fixed rate: `rate` messages a second over `connections`
/// connections, so one every `connections / rate` seconds.
#[derive(Debug, Clone, Copy)]
struct Pace {
    rate: u64,
    connections: u64,
}

impl Pace {
    /// When message `i` is due, after the start; in integers, exact to the nanosecond.
    fn offset(self, i: u64) -> Duration {
        let nanos =
            u128::from(i) * u128::from(self.connections) * 1_000_000_000 / u128::from(self.rate);
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }
}

/// One connection's writer and reader; returns what it measured.
async fn run_connection(
    writer: RequestWriter,
    reader: ResponseReader,
    plan: Plan,
    pool: Bytes,
    progress: Arc<Progress>,
    max_in_flight: usize,
    start: Instant,
) -> anyhow::Result<Latencies> {
    let (tx, rx) = mpsc::channel(max_in_flight);
    let version = plan.version;
    let acks = plan.acks;
    let measured_from = start + plan.warmup;
    let reading = tokio::spawn(read_responses(
        reader,
        rx,
        version,
        acks,
        measured_from,
        progress.clone(),
    ));
    let written = write_requests(writer, &plan, &pool, tx, &progress, start).await;
    let latencies = reading.await.context("a response reader panicked")??;
    written?;
    Ok(latencies)
}

/// Builds batches on the schedule and sends them.
async fn write_requests(
    mut writer: RequestWriter,
    plan: &Plan,
    pool: &Bytes,
    tx: mpsc::Sender<InFlight>,
    progress: &Progress,
    start: Instant,
) -> anyhow::Result<()> {
    let pacer = Pacer::new().context("creating the pacing timer")?;
    let batch_messages = plan.batch_size.div_ceil((plan.size as u64).max(1)).max(1);
    let mut scheduled: u64 = 0;
    let mut turn = 0usize;
    // Without a rate a message is due when it is made.
    let intended = |i: u64, now: Instant| match plan.pace {
        Some(pace) => start + pace.offset(i),
        None => now,
    };
    let more = |i: u64, at: Instant| {
        plan.count.is_none_or(|c| i < c) && plan.deadline.is_none_or(|d| at < d)
    };
    loop {
        let first = intended(scheduled, Instant::now());
        if !more(scheduled, first) {
            break;
        }
        // The batch closes when it is full or when its linger ends, whichever comes first: one
        // wake-up per batch, not one per message.
        let last_fitting = scheduled + batch_messages - 1;
        let due = intended(last_fitting, first).min(first + plan.linger);
        pacer.until(due).await?;
        // One clock reading for the batch: the messages due by now go in it.
        let now = Instant::now();
        let mut times = vec![first];
        scheduled += 1;
        while (times.len() as u64) < batch_messages {
            let next = intended(scheduled, now);
            if !more(scheduled, next) || next > now {
                break;
            }
            times.push(next);
            scheduled += 1;
        }
        let partition = plan.partitions[turn % plan.partitions.len()];
        turn += 1;
        let request = build_request(plan, partition, times.len(), pool, scheduled)?;
        let bytes = (times.len() as u64) * (plan.size as u64);
        let permit = tx.reserve().await.context("the response reader stopped")?;
        let correlation_id = writer.write(&request, plan.version).await?;
        let sent = Instant::now();
        if plan.acks == Acks::None {
            progress.add(times.len() as u64, bytes);
        }
        permit.send(InFlight {
            correlation_id,
            intended: times,
            due,
            sent,
            bytes,
        });
    }
    Ok(())
}

/// One produce request with one batch of `count` messages for `partition`.
fn build_request(
    plan: &Plan,
    partition: i32,
    count: usize,
    pool: &Bytes,
    seed: u64,
) -> anyhow::Result<ProduceRequest> {
    let mut builder = RecordBatchBuilder::new().compression(plan.compression);
    let now = now_ms();
    let span = pool.len().saturating_sub(plan.size).max(1);
    for i in 0..count {
        let at = usize::try_from(seed.wrapping_mul(7919).wrapping_add(i as u64 * 104_729))
            .unwrap_or(0)
            % span;
        let value = pool.slice(at..(at + plan.size).min(pool.len()));
        builder.push(now, None, Some(value), Vec::new());
    }
    let batch = builder.build().context("encoding a bench batch")?;
    Ok(ProduceRequest {
        acks: plan.acks.wire(),
        timeout_ms: PRODUCE_TIMEOUT_MS,
        topic_data: vec![TopicProduceData {
            name: plan.topic.clone(),
            partition_data: vec![PartitionProduceData {
                index: partition,
                records: Some(batch),
                ..PartitionProduceData::default()
            }],
            ..TopicProduceData::default()
        }],
        ..ProduceRequest::default()
    })
}

/// Matches responses to requests in order and records each message's latency. With acks=0
/// there are no responses: latency is the time until the request was written.
async fn read_responses(
    mut reader: ResponseReader,
    mut rx: mpsc::Receiver<InFlight>,
    version: i16,
    acks: Acks,
    measured_from: Instant,
    progress: Arc<Progress>,
) -> anyhow::Result<Latencies> {
    let mut latencies = Latencies::new()?;
    while let Some(request) = rx.recv().await {
        if acks == Acks::None {
            latencies.record(&request, measured_from, false);
            continue;
        }
        let response = reader
            .read::<ProduceRequest>(request.correlation_id, version)
            .await?;
        let failed = response
            .responses
            .iter()
            .flat_map(|t| &t.partition_responses)
            .find(|p| p.error_code != 0);
        if let Some(p) = failed {
            progress.errors.fetch_add(1, Ordering::Relaxed);
            let code = ErrorCode::from(p.error_code);
            if !code.is_retriable() {
                anyhow::bail!(
                    "produce to partition {} failed: {} ({})",
                    p.index,
                    code.name(),
                    code.code()
                );
            }
            continue;
        }
        latencies.record(&request, measured_from, true);
        progress.add(request.intended.len() as u64, request.bytes);
    }
    Ok(latencies)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pace_is_exact_to_the_nanosecond_without_drift() {
        // 744,000 msg/s over 4 connections: one every 5,376.34 ns on each, which a whole
        // number of nanoseconds per message would get 63 µs wrong after a second.
        let pace = Pace {
            rate: 744_000,
            connections: 4,
        };
        assert_eq!(pace.offset(0), Duration::ZERO);
        assert_eq!(pace.offset(1), Duration::from_nanos(5_376));
        assert_eq!(pace.offset(186_000), Duration::from_secs(1));
        assert_eq!(pace.offset(1_860_000), Duration::from_secs(10));
        let slow = Pace {
            rate: 3,
            connections: 2,
        };
        assert_eq!(slow.offset(1), Duration::from_nanos(666_666_666));
        assert_eq!(slow.offset(3), Duration::from_secs(2));
    }
}
