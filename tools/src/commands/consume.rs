//! `fjordctl consume TOPIC`: print records, from a chosen start, exactly.

use std::collections::BTreeMap;
use std::io::{BufWriter, IsTerminal as _, Write as _};
use std::time::Duration;

use anyhow::bail;
use clap::Args;
use fjord_tools::client::offsets::{list_offsets, log_bounds};
use fjord_tools::client::Client;
use fjord_tools::format::{Format, RecordView};
use fjord_tools::parse;

use super::fetcher::{Fetched, Fetcher};
use super::member;
use super::progress::{RunProgress, Unit};

/// `consume`.
#[derive(Debug, Args)]
pub(crate) struct ConsumeArgs {
    /// Topic to read.
    pub(crate) topic: String,
    /// Start at the log start of each partition.
    #[arg(long, conflicts_with_all = ["from_offset", "from_timestamp"])]
    pub(crate) from_beginning: bool,
    /// Start at this offset in each partition (negative: that many records before the end).
    #[arg(long, allow_negative_numbers = true, conflicts_with = "from_timestamp")]
    pub(crate) from_offset: Option<i64>,
    /// Start at the first record at or after this time (RFC 3339 or epoch milliseconds).
    #[arg(long, value_parser = parse::timestamp_ms)]
    pub(crate) from_timestamp: Option<i64>,
    /// Read only this partition (default: all).
    #[arg(long, short = 'p')]
    pub(crate) partition: Option<i32>,
    /// Stop after this many records.
    #[arg(long, short = 'n')]
    pub(crate) count: Option<u64>,
    /// Stop at the end of the partitions instead of waiting for more records.
    #[arg(long = "exit", short = 'e')]
    pub(crate) exit: bool,
    /// Consume as a member of this consumer group, committing offsets as records are printed.
    #[arg(long, short = 'g')]
    pub(crate) group: Option<String>,
    /// `json` for JSON lines, or a template with {key} {value} {offset} {partition}
    /// {timestamp} {headers} {topic}.
    #[arg(long, short = 'f', default_value = "{value}")]
    pub(crate) format: String,
    /// How long each fetch may wait for new records.
    #[arg(long, default_value = "500ms", value_parser = parse::duration)]
    pub(crate) max_wait: Duration,
}

/// Where to start when no committed offset says otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Start {
    /// The log end: only new records.
    Latest,
    /// The log start.
    Earliest,
    /// An absolute offset, or relative to the end when negative.
    Offset(i64),
    /// The first record at or after a time.
    Timestamp(i64),
}

impl ConsumeArgs {
    /// The start the flags ask for.
    pub(crate) fn start(&self) -> Start {
        if self.from_beginning {
            Start::Earliest
        } else if let Some(offset) = self.from_offset {
            Start::Offset(offset)
        } else if let Some(ts) = self.from_timestamp {
            Start::Timestamp(ts)
        } else {
            Start::Latest
        }
    }
}

/// Runs `consume`.
pub(crate) async fn run(client: &mut Client, args: ConsumeArgs) -> anyhow::Result<()> {
    if let Some(group) = args.group.clone() {
        return member::run(client, &args, &group).await;
    }
    let info = client.topic(&args.topic).await?;
    let partitions: Vec<i32> = match args.partition {
        Some(p) => vec![info.partition(p)?.index],
        None => info.partitions.iter().map(|p| p.index).collect(),
    };
    let bounds = log_bounds(client, &args.topic, &partitions).await?;
    let starts = resolve_starts(client, &args.topic, &bounds, args.start()).await?;
    let ends: BTreeMap<i32, i64> = bounds.iter().map(|(p, (_, end))| (*p, *end)).collect();
    // A replay to the end knows how far it goes (offsets, so gaps make it an upper bound).
    let expected = args.exit.then(|| {
        starts
            .iter()
            .map(|(p, start)| ends.get(p).map_or(0, |end| end - start).max(0))
            .map(|n| u64::try_from(n).unwrap_or(0))
            .sum()
    });
    let mut fetcher = Fetcher::new(info, &starts, &ends, args.max_wait);
    let mut printer = Printer::new(&args.topic, &args.format, args.count, expected);
    loop {
        if printer.finished() || (args.exit && fetcher.at_end()) {
            break;
        }
        let records = fetcher.poll(client, args.exit).await?;
        printer.print(&records)?;
    }
    Ok(())
}

/// The start offset of each partition for `start`, checked against the log bounds so that a
/// replay never silently begins somewhere else than asked.
pub(crate) async fn resolve_starts(
    client: &mut Client,
    topic: &str,
    bounds: &BTreeMap<i32, (i64, i64)>,
    start: Start,
) -> anyhow::Result<BTreeMap<i32, i64>> {
    let mut starts = BTreeMap::new();
    match start {
        Start::Latest => starts.extend(bounds.iter().map(|(p, (_, end))| (*p, *end))),
        Start::Earliest => starts.extend(bounds.iter().map(|(p, (begin, _))| (*p, *begin))),
        Start::Offset(offset) => {
            for (&p, &(begin, end)) in bounds {
                let position = if offset < 0 {
                    end.saturating_add(offset).max(begin)
                } else {
                    offset
                };
                if position < begin {
                    bail!(
                        "offset {position} of {topic}-{p} is before the log start {begin} \
                         (those records were deleted)"
                    );
                }
                if position > end {
                    bail!("offset {position} of {topic}-{p} is past the log end {end}");
                }
                starts.insert(p, position);
            }
        }
        Start::Timestamp(ts) => {
            let queries: Vec<(i32, i64)> = bounds.keys().map(|p| (*p, ts)).collect();
            let found = list_offsets(client, topic, &queries).await?;
            for (&p, &(_, end)) in bounds {
                // -1: no record at or after the time yet; start at the end.
                let offset = found.get(&p).map_or(-1, |o| o.offset);
                starts.insert(p, if offset < 0 { end } else { offset });
            }
        }
    }
    Ok(starts)
}

/// Writes records to stdout in the chosen format and counts them.
#[derive(Debug)]
pub(crate) struct Printer {
    topic: String,
    format: Format,
    limit: Option<u64>,
    printed: u64,
    /// Per partition, the offset after the last record printed: what a group commits.
    next: BTreeMap<i32, i64>,
    out: BufWriter<std::io::Stdout>,
    /// Records printed, on stderr when someone watches a replay into a file or pipe.
    progress: RunProgress,
}

impl Printer {
    /// A printer for records of `topic`, printing at most `limit`; `expected` is how many the
    /// run will print, when known, for the progress line.
    pub(crate) fn new(
        topic: &str,
        format: &str,
        limit: Option<u64>,
        expected: Option<u64>,
    ) -> Self {
        let total = match (limit, expected) {
            (Some(limit), Some(expected)) => Some(limit.min(expected)),
            (limit, expected) => limit.or(expected),
        };
        let stdout = std::io::stdout();
        let progress = RunProgress::new(Unit::Records, total, stdout.is_terminal());
        progress.note(format!("from {topic}"));
        Self {
            topic: topic.to_owned(),
            format: Format::parse(format),
            limit,
            printed: 0,
            next: BTreeMap::new(),
            out: BufWriter::new(stdout),
            progress,
        }
    }

    /// Whether the record limit is reached.
    pub(crate) fn finished(&self) -> bool {
        self.limit.is_some_and(|limit| self.printed >= limit)
    }

    /// The offset after the last printed record of `partition`, if any was printed.
    pub(crate) fn next_offset(&self, partition: i32) -> Option<i64> {
        self.next.get(&partition).copied()
    }

    /// Prints records until the limit; returns how many were printed. Flushes, so a reader
    /// sees each fetch's records as they come.
    pub(crate) fn print(&mut self, records: &[Fetched]) -> std::io::Result<usize> {
        let mut n = 0;
        for f in records {
            if self.finished() {
                break;
            }
            let view = RecordView {
                topic: &self.topic,
                partition: f.partition,
                offset: f.offset,
                timestamp: f.timestamp,
                key: f.record.key.as_deref(),
                value: f.record.value.as_deref(),
                headers: &f.record.headers,
            };
            self.format.write(&mut self.out, &view)?;
            self.printed += 1;
            self.next.insert(f.partition, f.offset + 1);
            n += 1;
        }
        self.out.flush()?;
        self.progress.advance(n as u64);
        Ok(n)
    }
}
