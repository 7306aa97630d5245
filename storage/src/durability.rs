//! Group commit: appenders that must wait for fsync share one.
//!
//! The first waiter becomes the leader and fsyncs everything written so far; waiters whose data
//! that fsync covered return when it completes; the rest elect the next leader.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::error::IoError;

/// Told the duration of each group-commit fsync, when set: the broker's metrics hook, kept a
/// plain function so this crate needs no metrics library.
static FSYNC_OBSERVER: OnceLock<fn(Duration)> = OnceLock::new();

/// Sets the function told how long each fsync made for durability (`flush.messages`,
/// `flush.ms`, fsync before acknowledging) took. Once per process; later calls are ignored.
pub fn set_fsync_observer(observe: fn(Duration)) {
    // A second observer is ignored by design: the first one set stays.
    let _ = FSYNC_OBSERVER.set(observe);
}

#[derive(Debug)]
struct State {
    /// Every offset below this is on stable storage.
    durable_end: i64,
    /// Whether a leader is fsyncing now.
    syncing: bool,
}

/// Tracks how far the log is durable and coordinates fsyncs.
#[derive(Debug)]
pub(crate) struct GroupCommit {
    state: Mutex<State>,
    done: Condvar,
}

impl GroupCommit {
    /// Starts with everything below `durable_end` durable.
    pub(crate) fn new(durable_end: i64) -> Self {
        Self {
            state: Mutex::new(State {
                durable_end,
                syncing: false,
            }),
            done: Condvar::new(),
        }
    }

    /// Returns once every offset below `target` is durable. `sync` fsyncs all data written so
    /// far and returns the offset it covered up to.
    pub(crate) fn sync_through(
        &self,
        target: i64,
        sync: impl Fn() -> Result<i64, IoError>,
    ) -> Result<(), IoError> {
        let mut st = self.state.lock();
        loop {
            if st.durable_end >= target {
                return Ok(());
            }
            if st.syncing {
                self.done.wait(&mut st);
                continue;
            }
            st.syncing = true;
            drop(st);
            let started = Instant::now();
            let result = sync();
            if let Some(observe) = FSYNC_OBSERVER.get() {
                observe(started.elapsed());
            }
            st = self.state.lock();
            st.syncing = false;
            if let Ok(end) = result {
                st.durable_end = st.durable_end.max(end);
            }
            self.done.notify_all();
            result?;
        }
    }

    /// Every offset below this is on stable storage.
    #[cfg(test)]
    pub(crate) fn durable_end(&self) -> i64 {
        self.state.lock().durable_end
    }

    /// After a truncation: nothing at or past `end` exists any more.
    pub(crate) fn truncated_to(&self, end: i64) {
        let mut st = self.state.lock();
        st.durable_end = st.durable_end.min(end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
    use std::sync::Barrier;

    #[test]
    fn concurrent_waiters_share_fsyncs() {
        let gc = GroupCommit::new(0);
        let written = AtomicI64::new(0);
        let fsyncs = AtomicUsize::new(0);
        let threads = 8;
        let barrier = Barrier::new(threads);
        std::thread::scope(|s| {
            for i in 0..threads {
                let (gc, written, fsyncs, barrier) = (&gc, &written, &fsyncs, &barrier);
                s.spawn(move || {
                    let my_end = written.fetch_add(1, Ordering::SeqCst) + 1;
                    barrier.wait();
                    gc.sync_through(my_end, || {
                        fsyncs.fetch_add(1, Ordering::SeqCst);
                        Ok(written.load(Ordering::SeqCst))
                    })
                    .unwrap();
                    let _ = i;
                });
            }
        });
        // All data was written before anyone synced, so one fsync covers everything.
        assert_eq!(fsyncs.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn failed_fsync_is_reported_and_retried() {
        let gc = GroupCommit::new(0);
        let err = gc.sync_through(5, || {
            Err(IoError::new(
                "fsync",
                "x",
                std::io::Error::other("disk gone"),
            ))
        });
        assert!(err.is_err());
        gc.sync_through(5, || Ok(5)).unwrap();
        gc.truncated_to(3);
        let calls = AtomicUsize::new(0);
        gc.sync_through(3, || {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok(3)
        })
        .unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 0, "already durable up to 3");
    }
}
