//! The background fsync of sealed segments.
//!
//! Rolling a segment used to fsync it on the append path, stalling every producer of the
//! partition for as long as the disk took to write a whole segment. Like Kafka, which schedules
//! that flush at roll, the fsync now runs in the background, on two threads per process (a calm
//! lane and a busy one, see [`Flusher`]); the log's recovery point records how far it got, and
//! recovery after a crash checks every segment past it (see `docs/storage-format.md`).
//!
//! The same threads start the write-back of active segments every few MiB, and drop from the
//! page cache what a log wrote beyond its share of the page-cache budget (`page_cache`).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;

use crate::checkpoint;
use crate::error::IoError;
use crate::page_cache::{write_back_bytes, PageCacheBudget};
use crate::segment::Segment;

type Job = Box<dyn FnOnce() + Send>;

/// How much nicer than the thread that started it the calm lane's thread is: while it keeps
/// up, a request woken on its core preempts it sooner than at nice 5. Over five alternating W3
/// pairs (50% load, 0.5 ms linger) the median p99 was 2.64 ms against 3.21 ms with one thread
/// at nice 5, and the p50 was lower in four (`docs/benchmarks.md`).
const CALM_NICER_BY: i32 = 10;
/// How much nicer the busy lane's thread is. At nice 10 alone the flusher fell behind at full
/// load and W2 lost 30%; nice 5 leaves it about a quarter of a busy core, which it keeps up
/// with. A thread without `CAP_SYS_NICE` cannot lower its nice value again, hence two threads.
const BUSY_NICER_BY: i32 = 5;
/// The nicest value Linux has.
const NICEST: i32 = 19;
/// Jobs waiting in the calm lane beyond which new jobs go to the busy lane. A log has at most
/// one write-back pass waiting, so a few waiting jobs mean the calm lane is not keeping up.
const CALM_BACKLOG: usize = 2;

/// One flusher thread and its queue.
#[derive(Debug)]
struct Lane {
    tx: Sender<Job>,
    /// Jobs sent and not started yet.
    waiting: Arc<AtomicUsize>,
}

impl Lane {
    /// Starts a thread named `name` that runs `nicer_by` nicer than the caller.
    fn spawn(name: &str, nicer_by: i32) -> std::io::Result<Self> {
        let (tx, rx) = channel::<Job>();
        let waiting = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&waiting);
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                lower_priority(nicer_by);
                for job in rx {
                    counted.fetch_sub(1, Ordering::AcqRel);
                    job();
                }
            })?;
        Ok(Self { tx, waiting })
    }

    /// Queues `job`; runs it here and now if the thread is gone.
    fn run(&self, job: Job) {
        self.waiting.fetch_add(1, Ordering::AcqRel);
        if let Err(unsent) = self.tx.send(job) {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            (unsent.0)();
        }
    }
}

/// The flusher: a calm lane that takes the jobs while it keeps up, and a busy lane, at a
/// higher priority, that takes them while the calm one has a backlog. Jobs of one lane run in
/// submission order; the two lanes run side by side, which the jobs allow: write-back passes
/// of one log move forward only (`Segment::start_write_back`), and fsync passes hold the log's
/// recovery point while they run.
#[derive(Debug)]
struct Flusher {
    /// Calm first; empty if no thread could be started.
    lanes: Vec<Lane>,
}

impl Flusher {
    fn start() -> Self {
        let lanes = [
            ("fjord-flusher", CALM_NICER_BY),
            ("fjord-flushbusy", BUSY_NICER_BY),
        ]
        .into_iter()
        .filter_map(|(name, nicer_by)| match Lane::spawn(name, nicer_by) {
            Ok(lane) => Some(lane),
            Err(e) => {
                tracing::warn!(thread = name, error = %e, "cannot start a flusher thread");
                None
            }
        })
        .collect();
        Self { lanes }
    }

    /// Runs `job` on the calm lane, or on the busy lane while the calm one has a backlog; here
    /// and now if there is no thread.
    fn submit(&self, job: Job) {
        let lane = self
            .lanes
            .iter()
            .find(|lane| lane.waiting.load(Ordering::Acquire) <= CALM_BACKLOG)
            .or(self.lanes.last());
        match lane {
            Some(lane) => lane.run(job),
            None => job(),
        }
    }

    /// Waits until every job submitted before the call has run, in every lane.
    #[cfg(test)]
    fn drain(&self) {
        let (done, finished) = channel();
        for lane in &self.lanes {
            let done = done.clone();
            lane.run(Box::new(move || {
                let _ = done.send(());
            }));
        }
        drop(done);
        while finished.recv().is_ok() {}
    }
}

/// The process's flusher, started on first use.
static FLUSHER: OnceLock<Flusher> = OnceLock::new();

/// Runs `job` on a flusher thread (see [`Flusher::submit`]).
fn submit(job: Job) {
    FLUSHER.get_or_init(Flusher::start).submit(job);
}

/// Gives the calling thread a priority `nicer_by` lower than it had, so a request woken on a
/// core a flusher thread is using preempts it. At the same priority, a request waited for each
/// write-back pass to finish, up to 0.9 ms: over four alternating W3 runs (50% load, 0.5 ms
/// linger) the median p99.9 was 9.9 ms at the same priority and 4.0 ms at nice 5
/// (`docs/benchmarks.md`).
fn lower_priority(nicer_by: i32) {
    let me = Some(rustix::thread::gettid());
    // A new thread starts with the nice value of the thread that created it.
    let lowered = rustix::process::getpriority_process(me)
        .and_then(|nice| rustix::process::setpriority_process(me, (nice + nicer_by).min(NICEST)));
    if let Err(e) = lowered {
        tracing::warn!(error = %e, "cannot lower a flusher thread's priority");
    }
}

/// Waits until every job submitted before the call has run.
#[cfg(test)]
pub(crate) fn drain() {
    FLUSHER.get_or_init(Flusher::start).drain();
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

    /// The nice value of the thread that runs a job submitted to `flusher` now.
    fn nice_of_next_job(flusher: &Flusher) -> i32 {
        let (tx, rx) = channel();
        flusher.submit(Box::new(move || {
            let nice = rustix::process::getpriority_process(Some(rustix::thread::gettid()));
            let _ = tx.send(nice.map_err(|e| e.to_string()));
        }));
        rx.recv().unwrap().unwrap()
    }

    #[test]
    fn jobs_run_on_the_calm_lane_until_it_has_a_backlog_then_on_the_busy_one() {
        let flusher = Flusher::start();
        // The lanes were started by this thread, which runs tests, as request threads do.
        let here = rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap();
        let calm = (here + CALM_NICER_BY).min(NICEST);
        let busy = (here + BUSY_NICER_BY).min(NICEST);
        assert!(busy > here || here == NICEST, "{busy} vs {here}");
        assert_eq!(nice_of_next_job(&flusher), calm);

        // Hold the calm lane on a job, then queue jobs behind it up to its backlog.
        let (release, held) = channel::<()>();
        let (started, running) = channel();
        flusher.submit(Box::new(move || {
            let _ = started.send(());
            let _ = held.recv();
        }));
        running.recv().unwrap();
        let (ran, order) = channel();
        for i in 0..=CALM_BACKLOG {
            let ran = ran.clone();
            flusher.submit(Box::new(move || {
                let _ = ran.send(i);
            }));
        }
        assert_eq!(
            flusher.lanes[0].waiting.load(Ordering::Acquire),
            CALM_BACKLOG + 1
        );
        assert_eq!(nice_of_next_job(&flusher), busy);

        release.send(()).unwrap();
        flusher.drain();
        drop(ran);
        let ran: Vec<usize> = order.iter().collect();
        assert_eq!(
            ran,
            (0..=CALM_BACKLOG).collect::<Vec<_>>(),
            "in submission order"
        );
        assert_eq!(
            nice_of_next_job(&flusher),
            calm,
            "calm again once caught up"
        );
    }
}
