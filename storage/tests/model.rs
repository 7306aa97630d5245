//! Property test: random appends, reads, timestamp lookups, truncations, `DeleteRecords`,
//! time-based rolls and clean or torn reopens agree with a simple in-memory model of the log.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns may unwrap too

mod common;

use std::path::Path;

use common::opts;
use fjord_protocol::records::{BatchHeader, Batches};
use fjord_storage::testing::BatchSpec;
use fjord_storage::{Log, LogConfig, ReadError, ReadOptions};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    /// Batches of (record count, value length).
    Append(Vec<(usize, usize)>),
    /// Read at a fraction of the way through the log, with a byte limit.
    Read {
        at: f64,
        max_bytes: usize,
        min_one: bool,
        below_end: u8,
    },
    Truncate(f64),
    DeleteBefore(f64),
    Reopen {
        clean: bool,
    },
    /// `maintain(now)` with `now` this far past the newest batch timestamp: rolls by `segment.ms`.
    Maintain(i64),
    /// `offset_for_timestamp` at a fraction of the way through the timestamps appended.
    Timestamp(f64),
    /// Crash, cut this fraction (at least one byte) off the end of the active segment, reopen.
    TornReopen(f64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => prop::collection::vec((1usize..6, 0usize..120), 1..4).prop_map(Op::Append),
        6 => (0.0..1.0f64, 1usize..1500, any::<bool>(), 0u8..3)
            .prop_map(|(at, max_bytes, min_one, below_end)| Op::Read { at, max_bytes, min_one, below_end }),
        1 => (0.0..1.0f64).prop_map(Op::Truncate),
        1 => (0.0..1.0f64).prop_map(Op::DeleteBefore),
        1 => any::<bool>().prop_map(|clean| Op::Reopen { clean }),
        2 => (-20i64..120).prop_map(Op::Maintain),
        2 => (0.0..1.0f64).prop_map(Op::Timestamp),
        1 => (0.0..1.0f64).prop_map(Op::TornReopen),
    ]
}

const SEGMENT_MS: i64 = 50;

fn config() -> LogConfig {
    LogConfig {
        segment_bytes: 700,
        index_interval_bytes: 90,
        // Room for a handful of entries: exercises rolls on a full index too.
        segment_index_bytes: 64,
        // Batch timestamps count appends (1, 2, ...); `Maintain` picks times around them.
        segment_ms: SEGMENT_MS,
        retention_ms: -1,
        // Few open sealed segments: reads keep closing and reopening files.
        max_open_sealed_segments: 2,
        ..LogConfig::default()
    }
}

/// One stored batch: base offset, last offset, bytes as stored, timestamp of all its records.
type ModelBatch = (i64, i64, Vec<u8>, i64);

/// The model: stored batches in order, and the log start offset.
#[derive(Debug, Default)]
struct Model {
    batches: Vec<ModelBatch>,
    start: i64,
    end: i64,
}

impl Model {
    fn pick(&self, frac: f64) -> i64 {
        self.start + ((self.end - self.start) as f64 * frac) as i64
    }

    /// The log now ends at `end` (every batch from `end` on is gone); a log start past it
    /// empties the log, which restarts at the start.
    fn cut_at(&mut self, end: i64) {
        self.batches.retain(|b| b.0 < end);
        self.end = end;
        if self.start > end {
            self.batches.clear();
            self.end = self.start;
        }
    }

    /// First record at or after the start with a timestamp of at least `ts`.
    fn offset_for_timestamp(&self, ts: i64) -> Option<(i64, i64)> {
        self.batches
            .iter()
            .find(|b| b.1 >= self.start && b.3 >= ts)
            .map(|b| (b.0.max(self.start), b.3))
    }
}

/// Drops `log` without closing it (a crash), cuts `frac` of the active segment's bytes (at
/// least one) off its end, and returns the base offset of the first batch the cut damaged.
fn crash_and_cut(dir: &Path, log: Log, m: &Model, frac: f64) -> Option<i64> {
    let active = *log.segment_base_offsets().last().unwrap();
    drop(log);
    let path = dir.join(format!("{active:020}.log"));
    let size = std::fs::metadata(&path).unwrap().len();
    if size == 0 {
        return None;
    }
    let cut = (1 + (size as f64 * frac) as u64).min(size);
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len(size - cut).unwrap();
    // The active segment is gap-free from its base: its batches lie back to back.
    let mut pos = 0u64;
    for (base, _, raw, _) in m.batches.iter().filter(|b| b.0 >= active) {
        pos += raw.len() as u64;
        if pos > size - cut {
            return Some(*base);
        }
    }
    unreachable!("a cut of {cut} bytes of {size} damaged no batch")
}

fn run(ops: Vec<Op>) {
    let dir = common::test_dir();
    let mut log = Some(Log::open(dir.path(), config()).unwrap());
    let mut m = Model::default();
    let mut n = 0i64;
    for op in ops {
        let l = log.as_ref().unwrap();
        match op {
            Op::Append(specs) => {
                let mut input = Vec::new();
                for (records, len) in &specs {
                    n += 1;
                    input.extend(BatchSpec::new(n).filler(*records, *len, n as u8).build());
                }
                let info = l.append(&input, &opts(0)).unwrap();
                assert_eq!(info.base_offset, m.end);
                // What the log should hold: the input, each batch re-stamped at its offset.
                let mut base = info.base_offset;
                for b in Batches::new(&input) {
                    let (h, raw) = b.unwrap();
                    let stored = common::stored(raw.to_vec(), base, opts(0).leader_epoch);
                    m.batches.push((
                        base,
                        base + i64::from(h.last_offset_delta),
                        stored,
                        h.max_timestamp,
                    ));
                    base += i64::from(h.last_offset_delta) + 1;
                }
                m.end = info.last_offset + 1;
            }
            Op::Read {
                at,
                max_bytes,
                min_one,
                below_end,
            } => {
                let offset = m.pick(at);
                let max_offset = (below_end > 0).then(|| m.end - i64::from(below_end) * 3);
                let r = l.read(
                    offset,
                    max_bytes,
                    ReadOptions {
                        max_offset,
                        min_one_batch: min_one,
                    },
                );
                let r = match r {
                    Ok(r) => r,
                    Err(e) => panic!("read {offset} in [{}, {}]: {e}", m.start, m.end),
                };
                let limit = max_offset.unwrap_or(m.end).min(m.end);
                // Expected: whole batches from the one holding `offset`, below `limit`, within
                // max_bytes (the first one always with min_one), from one segment only.
                let first = m.batches.iter().position(|b| b.1 >= offset);
                let mut expect = Vec::new();
                if let Some(first) = first {
                    for (i, (_, last, raw, _)) in m.batches[first..].iter().enumerate() {
                        if *last >= limit
                            || (expect.len() + raw.len() > max_bytes && !(i == 0 && min_one))
                        {
                            break;
                        }
                        expect.extend_from_slice(raw);
                    }
                }
                // The log may stop early at a segment boundary, never late, never elsewhere.
                assert!(
                    expect.starts_with(&r.bytes),
                    "read {offset} max {max_bytes} min_one {min_one} limit {limit}"
                );
                if !expect.is_empty() {
                    assert!(!r.bytes.is_empty(), "read {offset} returned nothing");
                }
                if let Ok(h) = BatchHeader::parse(&r.bytes) {
                    assert!(h.base_offset <= offset.max(h.base_offset));
                }
            }
            Op::Truncate(frac) => {
                let to = m.pick(frac);
                l.truncate_to(to).unwrap();
                if to < m.start {
                    // Below the log start: the log empties and restarts at `to`.
                    m.batches.clear();
                    m.start = to;
                    m.end = to;
                } else if to < m.end {
                    // Batches are whole: the batch holding `to` goes entirely.
                    let new_end = m
                        .batches
                        .iter()
                        .find(|b| b.1 >= to)
                        .map_or(to, |b| b.0.min(to));
                    m.batches.retain(|b| b.0 < new_end);
                    m.end = new_end;
                    m.start = m.start.min(new_end);
                }
                assert_eq!(l.log_end_offset(), m.end, "after truncate_to({to})");
            }
            Op::DeleteBefore(frac) => {
                let to = m.pick(frac);
                let start = l.delete_records_before(to).unwrap();
                m.start = m.start.max(to);
                assert_eq!(start, m.start);
                assert!(
                    matches!(
                        l.read(m.start - 1, 100, ReadOptions::default()),
                        Err(ReadError::OffsetOutOfRange { .. })
                    ) || m.start == 0
                );
            }
            Op::Reopen { clean } => {
                let l = log.take().unwrap();
                if clean {
                    l.close().unwrap();
                } else {
                    drop(l);
                }
                log = Some(Log::open(dir.path(), config()).unwrap());
            }
            Op::Maintain(past_newest) => {
                let now = n + past_newest;
                let active = *l.segment_base_offsets().last().unwrap();
                // `segment.ms` counts from the active segment's first batch.
                let due = m
                    .batches
                    .iter()
                    .find(|b| b.0 == active)
                    .is_some_and(|b| now - b.3 > SEGMENT_MS);
                let report = l.maintain(now).unwrap();
                assert_eq!(report.rolled, due, "maintain({now}), active base {active}");
                let bases = l.segment_base_offsets();
                if due {
                    assert_eq!(bases.last(), Some(&m.end), "a fresh segment at the log end");
                    // Sealed, and kept unless it lies wholly below the log start.
                    assert_eq!(bases.contains(&active), m.end > m.start);
                } else {
                    assert_eq!(bases.last(), Some(&active));
                }
            }
            Op::Timestamp(frac) => {
                let ts = ((n + 2) as f64 * frac) as i64;
                let got = l
                    .offset_for_timestamp(ts)
                    .unwrap()
                    .map(|hit| (hit.offset, hit.timestamp));
                assert_eq!(
                    got,
                    m.offset_for_timestamp(ts),
                    "offset_for_timestamp({ts})"
                );
            }
            Op::TornReopen(frac) => {
                if let Some(end) = crash_and_cut(dir.path(), log.take().unwrap(), &m, frac) {
                    m.cut_at(end);
                }
                log = Some(Log::open(dir.path(), config()).unwrap());
            }
        }
        let l = log.as_ref().unwrap();
        assert_eq!((l.log_start_offset(), l.log_end_offset()), (m.start, m.end));
    }
    // Finally every batch from the start is there, byte for byte.
    let l = log.as_ref().unwrap();
    let got = common::all_batches(l);
    let expect: Vec<Vec<u8>> = m
        .batches
        .iter()
        .filter(|b| b.1 >= m.start)
        .map(|b| b.2.clone())
        .collect();
    assert_eq!(got, expect);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]
    #[test]
    fn log_matches_model(ops in prop::collection::vec(op(), 1..60)) {
        run(ops);
    }
}
