//! Partition log throughput next to this machine's raw file write and read speed, measured the
//! same way (positional writes and reads of the same sizes on the same file system).

#![allow(clippy::unwrap_used, missing_docs)]

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use fjord_storage::testing::BatchSpec;
use fjord_storage::{AppendOptions, FlushPolicy, Log, LogConfig, ReadOptions};

const RECORD: usize = 1024;
const READ_LOG_BYTES: u64 = 256 << 20;

fn opts() -> AppendOptions {
    AppendOptions {
        leader_epoch: 0,
        log_append_time: None,
        now_ms: 0,
    }
}

fn config(sync_before_ack: bool) -> LogConfig {
    LogConfig {
        segment_bytes: 128 << 20,
        // Bounded disk use while the benchmark runs: maintain() drops old segments.
        retention_bytes: 512 << 20,
        flush: FlushPolicy {
            sync_before_ack,
            ..FlushPolicy::default()
        },
        max_message_bytes: 2 << 20,
        ..LogConfig::default()
    }
}

/// A batch of `bytes / 1 KiB` records of 1 KiB values.
fn batch_of(bytes: usize) -> Vec<u8> {
    BatchSpec::new(0)
        .filler(bytes / RECORD, RECORD - 16, 0x5a)
        .build()
}

fn append(c: &mut Criterion) {
    let mut g = c.benchmark_group("append");
    for (name, size, sync) in [
        ("64KiB_batches", 64 << 10, false),
        ("1MiB_batches", 1 << 20, false),
        ("64KiB_batches_fsync_each", 64 << 10, true),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let log = Log::open(dir.path(), config(sync)).unwrap();
        let batch = batch_of(size);
        g.throughput(Throughput::Bytes(batch.len() as u64));
        let mut n = 0u64;
        g.bench_function(name, |b| {
            b.iter(|| {
                log.append(&batch, &opts()).unwrap();
                n += 1;
                if n == 256 {
                    n = 0;
                    log.maintain(0).unwrap();
                }
            });
        });
    }
    g.finish();
}

fn raw_write(c: &mut Criterion) {
    let mut g = c.benchmark_group("raw_file");
    for (name, size) in [("write_64KiB", 64usize << 10), ("write_1MiB", 1 << 20)] {
        let dir = tempfile::tempdir().unwrap();
        let file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(dir.path().join("raw"))
            .unwrap();
        let buf = vec![0x5au8; size];
        let mut pos = 0u64;
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                file.write_all_at(&buf, pos).unwrap();
                pos += size as u64;
                if pos >= 512 << 20 {
                    // Same bounded footprint as the log benchmark.
                    file.set_len(0).unwrap();
                    pos = 0;
                }
            });
        });
    }
    g.finish();
}

/// Raw writes doing the disk work a log with the append benchmark's settings must do: files
/// of one segment's size written in turn, each fdatasynced on another thread once full, the
/// oldest deleted beyond the retention size. The floor under `append`, where `raw_file` (which
/// never reaches the disk) is the ceiling.
fn raw_write_as_a_log(c: &mut Criterion) {
    const FILE_BYTES: u64 = 128 << 20;
    const KEEP_FILES: u64 = 4;
    let mut g = c.benchmark_group("raw_file_as_log");
    for (name, size) in [("write_64KiB", 64usize << 10), ("write_1MiB", 1 << 20)] {
        let dir = tempfile::tempdir().unwrap();
        let path = |n: u64| dir.path().join(format!("{n}.raw"));
        let buf = vec![0x5au8; size];
        let mut n = 0u64;
        let mut file = File::create(path(n)).unwrap();
        let mut pos = 0u64;
        let mut syncs = Vec::new();
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                file.write_all_at(&buf, pos).unwrap();
                pos += size as u64;
                if pos >= FILE_BYTES {
                    let full = std::mem::replace(&mut file, File::create(path(n + 1)).unwrap());
                    syncs.push(std::thread::spawn(move || full.sync_data().unwrap()));
                    if n >= KEEP_FILES {
                        std::fs::remove_file(path(n - KEEP_FILES)).unwrap();
                    }
                    n += 1;
                    pos = 0;
                }
            });
        });
        for s in syncs.drain(..) {
            s.join().unwrap();
        }
    }
    g.finish();
}

fn read(c: &mut Criterion) {
    let mut g = c.benchmark_group("sequential_read_1MiB");
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path(), config(false)).unwrap();
    let batch = batch_of(64 << 10);
    while log.size_bytes() < READ_LOG_BYTES {
        log.append(&batch, &opts()).unwrap();
    }
    let mut at = 0;
    g.throughput(Throughput::Bytes(1 << 20));
    g.bench_function("log_read", |b| {
        b.iter(|| {
            let r = log.read(at, 1 << 20, ReadOptions::default()).unwrap();
            at = if r.next_offset >= log.log_end_offset() {
                0
            } else {
                r.next_offset
            };
            r.bytes.len()
        });
    });

    let raw_path = dir.path().join("raw");
    let file = File::create(&raw_path).unwrap();
    let chunk = vec![0x5au8; 1 << 20];
    for i in 0..(READ_LOG_BYTES >> 20) {
        file.write_all_at(&chunk, i << 20).unwrap();
    }
    let file = File::open(&raw_path).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    let mut pos = 0u64;
    g.bench_function("raw_pread", |b| {
        b.iter(|| {
            // A fresh buffer per read, as the log allocates one per fetch.
            buf = vec![0u8; 1 << 20];
            file.read_exact_at(&mut buf, pos).unwrap();
            pos = (pos + (1 << 20)) % READ_LOG_BYTES;
        });
    });
    g.finish();
}

/// The same sealed segment read 1 MiB at a time through positional reads (what the log does)
/// and through a long-lived memory map, to choose between them by measurement.
fn segment_read(c: &mut Criterion) {
    const SEGMENT: u64 = 64 << 20;
    const READ: usize = 1 << 20;
    let mut g = c.benchmark_group("segment_read_1MiB");
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path(), config(false)).unwrap();
    let batch = batch_of(1 << 20);
    while log.size_bytes() + batch.len() as u64 <= SEGMENT {
        log.append(&batch, &opts()).unwrap();
    }
    assert_eq!(log.segment_count(), 1);
    let path = dir.path().join(format!("{:020}.log", 0));
    let file = File::open(&path).unwrap();
    let len = file.metadata().unwrap().len();
    let next = |pos: &mut u64| {
        *pos = (*pos + READ as u64) % (len - READ as u64);
        *pos
    };
    g.throughput(Throughput::Bytes(READ as u64));

    let mut pos = 0u64;
    g.bench_function("pread_fresh_buffer", |b| {
        b.iter(|| {
            // A zeroed buffer per read, as `Segment::read` allocates one per fetch.
            let mut buf = vec![0u8; READ];
            file.read_exact_at(&mut buf, next(&mut pos)).unwrap();
            buf
        });
    });
    let mut buf = vec![0u8; READ];
    g.bench_function("pread_reused_buffer", |b| {
        b.iter(|| file.read_exact_at(&mut buf, next(&mut pos)).unwrap());
    });

    let map = map_read_only(&file);
    g.bench_function("mmap_copy", |b| {
        b.iter(|| {
            // What a fetch needs: bytes it owns, which the map cannot give once the segment may
            // be truncated or deleted under it.
            let at = next(&mut pos) as usize;
            map[at..at + READ].to_vec()
        });
    });
    g.bench_function("mmap_touch_pages", |b| {
        b.iter(|| {
            // A zero-copy view: only the page-table work, the copy happens later in the send.
            let at = next(&mut pos) as usize;
            map[at..at + READ]
                .iter()
                .step_by(4096)
                .fold(0u8, |acc, &x| acc ^ x)
        });
    });
    g.finish();
}

/// Maps `file` read-only for [`segment_read`].
#[allow(unsafe_code)]
fn map_read_only(file: &File) -> memmap2::Mmap {
    // SAFETY: the file lives in this benchmark's private temporary directory and nothing
    // writes, truncates or deletes it while the map exists.
    unsafe { memmap2::Mmap::map(file) }.unwrap()
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = append, raw_write, raw_write_as_a_log, read, segment_read
}
criterion_main!(benches);
