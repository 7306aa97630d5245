//! The background fsync of sealed segments.
//!
//! Rolling a segment used to fsync it on the append path, stalling every producer of the
//! partition for as long as the disk took to write a whole segment. Like Kafka, which schedules
//! that flush at roll, the fsync now runs on one background thread per process; the log's
//! recovery point records how far it got, and recovery after a crash checks every segment
//! past it (see `docs/storage-format.md`).
//!
//! The same thread starts the write-back of active segments every few MiB, and drops from the
//! page cache what a log wrote beyond its share of the page-cache budget (`page_cache`).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;

use crate::checkpoint;
use crate::error::IoError;
use crate::page_cache::{write_back_bytes, PageCacheBudget};
use crate::segment::Segment;

type Job = Box<dyn FnOnce() + Send>;

/// The flusher thread's queue; `None` if the thread could not be started.
static QUEUE: OnceLock<Option<Sender<Job>>> = OnceLock::new();

/// Runs `job` on the flusher thread, in submission order; here and now if there is no thread.
fn submit(job: Job) {
    let queue = QUEUE.get_or_init(|| {
        let (tx, rx) = channel::<Job>();
        let spawned = std::thread::Builder::new()
            .name("fjord-flusher".into())
            .spawn(move || {
                lower_priority();
                rx.into_iter().for_each(|job| job());
            });
        match spawned {
            Ok(_) => Some(tx),
            Err(e) => {
                tracing::warn!(error = %e, "no flusher thread; sealed segments are fsynced inline");
                None
            }
        }
    });
    let job = match queue {
        Some(tx) => match tx.send(job) {
            Ok(()) => return,
            Err(unsent) => unsent.0,
        },
        None => job,
    };
    job();
}

/// How much nicer the flusher thread is than the thread that started it.
const NICER_BY: i32 = 5;
/// The nicest value Linux has.
const NICEST: i32 = 19;

/// Gives the flusher thread a lower priority than the threads serving requests, so a request
/// woken on a core the flusher is using preempts it. At the same priority, a request waited for
/// each write-back pass to finish, up to 0.9 ms: over four alternating W3 runs (50% load,
/// 0.5 ms linger) the median p99.9 was 9.9 ms at the same priority and 4.0 ms at nice 5
/// (`docs/benchmarks.md`). Nice 5 still leaves the flusher about a quarter of a busy core,
/// more than it needs.
fn lower_priority() {
    let me = Some(rustix::thread::gettid());
    // A new thread starts with the nice value of the thread that created it.
    let lowered = rustix::process::getpriority_process(me)
        .and_then(|nice| rustix::process::setpriority_process(me, (nice + NICER_BY).min(NICEST)));
    if let Err(e) = lowered {
        tracing::warn!(error = %e, "cannot lower the flusher thread's priority");
    }
}

/// Waits until every job submitted before the call has run.
#[cfg(test)]
pub(crate) fn drain() {
    let (done, finished) = channel();
    submit(Box::new(move || {
        let _ = done.send(());
    }));
    let _ = finished.recv();
}

/// A sealed segment waiting for its fsync.
#[derive(Debug, Clone)]
struct Queued {
    segment: Arc<Segment>,
    /// The offset the segment ends before.
    end: i64,
    /// The log's page-cache budget when it was sealed.
    cache: Option<Arc<PageCacheBudget>>,
}

/// Drops the cached pages of `segment`'s first `written` bytes, which must be on disk, but for
/// the log's share of `budget`.
fn uncache(
    dir: &std::path::Path,
    segment: &Segment,
    written: u64,
    budget: Option<&PageCacheBudget>,
) {
    let Some(budget) = budget else {
        return;
    };
    if let Err(e) = segment.uncache_below(written.saturating_sub(budget.window())) {
        tracing::warn!(dir = %dir.display(), error = %e, "cannot drop written-back pages from the page cache");
    }
}

/// Sealed segments of one log whose data may still be only in the page cache, and the log's
/// recovery point: every offset below it is on stable storage.
#[derive(Debug)]
pub(crate) struct SealedSync {
    dir: PathBuf,
    /// Segments to fsync, oldest first.
    queued: Mutex<Vec<Queued>>,
    /// The recovery point, held for a whole flush pass; `None` once the log is closed or
    /// dropped, after which nothing is fsynced or written here any more.
    point: Mutex<Option<i64>>,
    /// A writeback of the active segment is queued and not started yet: at most one waits.
    writeback_queued: AtomicBool,
    /// Writebacks of the active segment done so far.
    writebacks: AtomicU64,
}

impl SealedSync {
    /// Tracking for the log in `dir`, whose recovery point is `point`.
    pub(crate) fn new(dir: PathBuf, point: i64) -> Arc<Self> {
        Arc::new(Self {
            dir,
            queued: Mutex::new(Vec::new()),
            point: Mutex::new(Some(point)),
            writeback_queued: AtomicBool::new(false),
            writebacks: AtomicU64::new(0),
        })
    }

    /// On the flusher thread, off the append path: starts writing the active segment's new
    /// data back to disk, without waiting, and drops from the page cache what earlier
    /// write-backs wrote, but for the log's share of `cache`. Only latency and memory change:
    /// the recovery point does not move, so what recovery checks and what an ack promises
    /// stay as they were.
    pub(crate) fn write_back(
        self: &Arc<Self>,
        active: Arc<Segment>,
        cache: Option<Arc<PageCacheBudget>>,
    ) {
        if self.writeback_queued.swap(true, Ordering::AcqRel) {
            return;
        }
        let this = Arc::clone(self);
        submit(Box::new(move || {
            this.writeback_queued.store(false, Ordering::Release);
            if this.point.lock().is_none() {
                return;
            }
            let written = active.size();
            match active.start_write_back(written, write_back_bytes(cache.as_deref())) {
                Ok(()) => {
                    this.writebacks.fetch_add(1, Ordering::Relaxed);
                    // Pages out of the share were sent to disk at least two steps ago
                    // (`page_cache::write_back_bytes`); one still being written stays cached
                    // until a later pass.
                    uncache(&this.dir, &active, written, cache.as_deref());
                }
                Err(e) => {
                    tracing::warn!(dir = %this.dir.display(), error = %e, "background writeback of the active segment failed");
                }
            }
        }));
    }

    /// Writebacks of the active segment done so far.
    #[cfg(test)]
    pub(crate) fn writebacks(&self) -> u64 {
        self.writebacks.load(Ordering::Relaxed)
    }

    /// Queues a sealed segment ending before offset `end` and schedules its fsync, after which
    /// its pages but for the log's share of `cache` are dropped from the page cache.
    pub(crate) fn seal(
        self: &Arc<Self>,
        segment: Arc<Segment>,
        end: i64,
        cache: Option<Arc<PageCacheBudget>>,
    ) {
        self.queued.lock().push(Queued {
            segment,
            end,
            cache,
        });
        let this = Arc::clone(self);
        submit(Box::new(move || {
            if let Err(e) = this.flush() {
                tracing::warn!(dir = %this.dir.display(), error = %e, "background fsync of a sealed segment failed");
            }
        }));
    }

    /// Fsyncs every queued segment and persists the recovery point past them. Waits for a pass
    /// already running, so on return everything queued before the call is durable.
    pub(crate) fn flush(&self) -> Result<(), IoError> {
        let mut point = self.point.lock();
        let Some(current) = *point else {
            return Ok(());
        };
        let batch: Vec<Queued> = self.queued.lock().clone();
        let Some(end) = batch.last().map(|q| q.end) else {
            return Ok(());
        };
        for q in &batch {
            q.segment.sync()?;
            uncache(&self.dir, &q.segment, q.segment.size(), q.cache.as_deref());
        }
        // Only `seal` adds, and only at the back: the first `batch.len()` are these.
        self.queued.lock().drain(..batch.len());
        if end > current {
            checkpoint::write_recovery_point(&self.dir, end)?;
            *point = Some(end);
        }
        Ok(())
    }

    /// The log now ends at `end` (truncation): the recovery point may not stay past it, and
    /// queued segments past it are gone or were fsynced by the truncation.
    pub(crate) fn truncated_to(&self, end: i64) -> Result<(), IoError> {
        let mut point = self.point.lock();
        self.queued.lock().retain(|q| q.end <= end);
        if let Some(current) = *point {
            if current > end {
                checkpoint::write_recovery_point(&self.dir, end)?;
                *point = Some(end);
            }
        }
        Ok(())
    }

    /// Records that everything below `end` is on disk (a clean close), then stops for good.
    pub(crate) fn close(&self, end: i64) -> Result<(), IoError> {
        let mut point = self.point.lock();
        if point.is_some_and(|current| current < end) {
            checkpoint::write_recovery_point(&self.dir, end)?;
        }
        *point = None;
        Ok(())
    }

    /// Stops for good without writing anything, waiting for a running pass.
    pub(crate) fn stop(&self) {
        *self.point.lock() = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flusher_runs_below_the_priority_of_request_threads() {
        let (tx, rx) = channel();
        submit(Box::new(move || {
            let nice = rustix::process::getpriority_process(Some(rustix::thread::gettid()));
            let _ = tx.send(nice.map_err(|e| e.to_string()));
        }));
        let flusher = rx.recv().unwrap().unwrap();
        // The thread that started the flusher ran tests, as this one does.
        let here = rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap();
        assert_eq!(flusher, (here + NICER_BY).min(NICEST));
        assert!(flusher > here || here == NICEST, "{flusher} vs {here}");
    }
}
