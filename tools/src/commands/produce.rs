//! `fjordctl produce TOPIC`: one record per line of standard input.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::IsTerminal as _;
use std::time::Duration;

use anyhow::bail;
use bytes::Bytes;
use clap::Args;
use fjord_protocol::records::{Compression, Header};
use fjord_tools::client::partitioner::{partition_for_key, RoundRobin};
use fjord_tools::client::Client;
use fjord_tools::parse::{self, key_value, unescape};
use tokio::io::{AsyncBufReadExt, BufReader};

use super::progress::{RunProgress, Unit};
use super::sender::{Acks, PartitionAppend, Sender};

/// `produce`.
#[derive(Debug, Args)]
pub(crate) struct ProduceArgs {
    /// Topic to write to.
    topic: String,
    /// Split each line into key and value at the first SEP (`\t` and friends are understood);
    /// lines without SEP get no key.
    #[arg(long, short = 'K')]
    key_separator: Option<String>,
    /// A header added to every record, KEY=VALUE (repeatable).
    #[arg(long = "header", short = 'H', value_parser = key_value)]
    headers: Vec<(String, String)>,
    /// Write every record to this partition (else: murmur2 of the key, round-robin without).
    #[arg(long, short = 'p')]
    partition: Option<i32>,
    /// Compression codec: none, gzip, snappy, lz4 or zstd.
    #[arg(long, short = 'z', default_value = "none", value_parser = parse_compression)]
    compression: Compression,
    /// Acknowledgements to wait for: 0, 1 or all.
    #[arg(long, default_value = "all", value_parser = Acks::parse)]
    acks: Acks,
    /// Send a request once this many records are waiting.
    #[arg(long, default_value_t = 1000)]
    batch_records: usize,
    /// Send a request once this many bytes are waiting (e.g. 1MiB).
    #[arg(long, default_value = "1MiB", value_parser = parse::size)]
    batch_bytes: u64,
    /// Send what is waiting once input has been idle this long (e.g. 10ms).
    #[arg(long, default_value = "10ms", value_parser = parse::duration)]
    linger: Duration,
}

/// Parses a codec name.
pub(crate) fn parse_compression(name: &str) -> Result<Compression, String> {
    Compression::ALL
        .into_iter()
        .find(|c| c.name() == name)
        .ok_or_else(|| format!("unknown compression {name:?}: use none, gzip, snappy, lz4 or zstd"))
}

/// Offsets written to one partition.
#[derive(Debug, Clone, Copy)]
struct Written {
    /// Records written.
    count: u64,
    /// The first offset, if the broker reported one (not with acks=0).
    first: Option<i64>,
    /// The last offset, likewise.
    last: Option<i64>,
}

/// Runs `produce`.
pub(crate) async fn run(client: &mut Client, args: ProduceArgs) -> anyhow::Result<()> {
    let info = client.topic(&args.topic).await?;
    if let Some(p) = args.partition {
        info.partition(p)?;
    }
    let partitions = info.partitions.len();
    let separator = args.key_separator.as_deref().map(unescape);
    if separator.as_deref() == Some("") {
        bail!("--key-separator must not be empty");
    }
    let headers: Vec<Header> = args
        .headers
        .iter()
        .map(|(k, v)| Header {
            key: k.clone(),
            value: Some(Bytes::from(v.clone().into_bytes())),
        })
        .collect();
    let mut sender = Sender::new(&args.topic, args.compression, args.acks);
    let mut round_robin = RoundRobin::default();
    let mut written: BTreeMap<i32, Written> = BTreeMap::new();
    // Typed input is not a long run; piped input is, and a file's size makes it a bar.
    let progress = RunProgress::new(
        Unit::Bytes,
        stdin_file_len(),
        std::io::stdin().is_terminal(),
    );
    let mut stdin = BufReader::new(tokio::io::stdin());
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = if sender.is_empty() {
            stdin.read_until(b'\n', &mut line).await?
        } else {
            match tokio::time::timeout(args.linger, stdin.read_until(b'\n', &mut line)).await {
                Ok(read) => read?,
                Err(_) => {
                    // Idle input: send what waits. A cancelled `read_until` keeps the bytes it
                    // read in `line`, so a half-read line is finished before it becomes a record.
                    absorb(&mut written, sender.flush(client).await?);
                    progress.note(sent(&written));
                    if line.is_empty() {
                        continue;
                    }
                    stdin.read_until(b'\n', &mut line).await?
                }
            }
        };
        if read == 0 && line.is_empty() {
            break;
        }
        progress.advance(line.len() as u64);
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        let (key, value) = split_line(&line, separator.as_deref());
        let partition = match (args.partition, &key) {
            (Some(p), _) => p,
            (None, Some(key)) => partition_for_key(key, partitions),
            (None, None) => round_robin.next(partitions),
        };
        sender.push(partition, key, Some(value), headers.clone());
        if sender.len() >= args.batch_records || sender.bytes() >= args.batch_bytes {
            absorb(&mut written, sender.flush(client).await?);
            progress.note(sent(&written));
        }
    }
    absorb(&mut written, sender.flush(client).await?);
    drop(progress);
    eprintln!("{}", report(&args.topic, &written));
    Ok(())
}

/// The size of standard input when it is a regular file (`produce t < data`), so progress can
/// be shown as a fraction of it.
fn stdin_file_len() -> Option<u64> {
    std::fs::metadata("/dev/stdin")
        .ok()
        .filter(std::fs::Metadata::is_file)
        .map(|m| m.len())
}

/// `12000 records sent`, for the progress line.
fn sent(written: &BTreeMap<i32, Written>) -> String {
    let total: u64 = written.values().map(|w| w.count).sum();
    format!("{total} records sent")
}

/// Splits a line into key and value at the first `separator`.
fn split_line(line: &[u8], separator: Option<&str>) -> (Option<Bytes>, Bytes) {
    if let Some(sep) = separator {
        let sep = sep.as_bytes();
        if let Some(at) = line.windows(sep.len()).position(|w| w == sep) {
            let key = Bytes::copy_from_slice(&line[..at]);
            let value = Bytes::copy_from_slice(&line[at + sep.len()..]);
            return (Some(key), value);
        }
    }
    (None, Bytes::copy_from_slice(line))
}

fn absorb(written: &mut BTreeMap<i32, Written>, appends: Vec<PartitionAppend>) {
    for append in appends {
        let entry = written.entry(append.partition).or_insert(Written {
            count: 0,
            first: None,
            last: None,
        });
        entry.count += append.count;
        if let Some(base) = append.base_offset {
            let count = i64::try_from(append.count).unwrap_or(i64::MAX);
            entry.first = Some(entry.first.map_or(base, |f| f.min(base)));
            let last = base.saturating_add(count - 1);
            entry.last = Some(entry.last.map_or(last, |l| l.max(last)));
        }
    }
}

/// `wrote 20 records to orders: partition 0 offsets 0-9, partition 1 offsets 0-9`.
fn report(topic: &str, written: &BTreeMap<i32, Written>) -> String {
    let total: u64 = written.values().map(|w| w.count).sum();
    let mut text = format!(
        "wrote {total} record{} to {topic}",
        if total == 1 { "" } else { "s" }
    );
    for (i, (partition, w)) in written.iter().enumerate() {
        text.push_str(if i == 0 { ": " } else { ", " });
        let _ = match (w.first, w.last) {
            (Some(first), Some(last)) => {
                write!(text, "partition {partition} offsets {first}-{last}")
            }
            _ => write!(text, "partition {partition} {} records (acks=0)", w.count),
        };
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_at_the_first_separator_only() {
        let (key, value) = split_line(b"k:v:w", Some(":"));
        assert_eq!(key.as_deref(), Some(&b"k"[..]));
        assert_eq!(&value[..], b"v:w");
        let (key, value) = split_line(b"no-separator", Some(":"));
        assert_eq!(key, None);
        assert_eq!(&value[..], b"no-separator");
    }

    #[test]
    fn report_lists_offsets_per_partition() {
        let mut written = BTreeMap::new();
        absorb(
            &mut written,
            vec![
                PartitionAppend {
                    partition: 1,
                    count: 10,
                    base_offset: Some(0),
                },
                PartitionAppend {
                    partition: 1,
                    count: 5,
                    base_offset: Some(10),
                },
                PartitionAppend {
                    partition: 0,
                    count: 2,
                    base_offset: Some(7),
                },
            ],
        );
        assert_eq!(
            report("t", &written),
            "wrote 17 records to t: partition 0 offsets 7-8, partition 1 offsets 0-14"
        );
    }
}
