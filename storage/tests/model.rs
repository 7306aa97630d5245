//! Property test: random appends, reads, truncations, `DeleteRecords` and reopens agree with a
//! simple in-memory model of the log.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns may unwrap too

mod common;

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
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => prop::collection::vec((1usize..6, 0usize..120), 1..4).prop_map(Op::Append),
        6 => (0.0..1.0f64, 1usize..1500, any::<bool>(), 0u8..3)
            .prop_map(|(at, max_bytes, min_one, below_end)| Op::Read { at, max_bytes, min_one, below_end }),
        1 => (0.0..1.0f64).prop_map(Op::Truncate),
        1 => (0.0..1.0f64).prop_map(Op::DeleteBefore),
        1 => any::<bool>().prop_map(|clean| Op::Reopen { clean }),
    ]
}

fn config() -> LogConfig {
    LogConfig {
        segment_bytes: 700,
        index_interval_bytes: 90,
        // Room for a handful of entries: exercises rolls on a full index too.
        segment_index_bytes: 64,
        ..LogConfig::default()
    }
}

/// The model: stored batches in order, and the log start offset.
#[derive(Debug, Default)]
struct Model {
    batches: Vec<(i64, i64, Vec<u8>)>,
    start: i64,
    end: i64,
}

impl Model {
    fn pick(&self, frac: f64) -> i64 {
        self.start + ((self.end - self.start) as f64 * frac) as i64
    }
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
                let info = l.append(&mut input, &opts(0)).unwrap();
                assert_eq!(info.base_offset, m.end);
                for b in Batches::new(&input) {
                    let (h, raw) = b.unwrap();
                    m.batches
                        .push((h.base_offset, h.last_offset(), raw.to_vec()));
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
                let first = m.batches.iter().position(|(_, last, _)| *last >= offset);
                let mut expect = Vec::new();
                if let Some(first) = first {
                    for (i, (_, last, raw)) in m.batches[first..].iter().enumerate() {
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
                        .find(|(_, last, _)| *last >= to)
                        .map_or(to, |(base, _, _)| (*base).min(to));
                    m.batches.retain(|(base, _, _)| *base < new_end);
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
        .filter(|(_, last, _)| *last >= m.start)
        .map(|(_, _, raw)| raw.clone())
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
