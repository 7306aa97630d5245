//! The page-cache budget: how much of the data they wrote the logs of one process keep cached.
//!
//! Linux keeps every page a process writes in its page cache until memory runs short. A broker
//! writing for hours fills RAM with pages nobody reads again, and from then on every page it
//! writes costs an eviction; on a virtual machine whose host takes back the guest's free memory,
//! a page the guest has not used lately costs a fault on the host as well. So once a log's data
//! is on disk, pages older than the log's share of the budget are dropped
//! (`posix_fadvise(DONTNEED)`, see `flusher`) and written pages are recycled. Consumers that
//! follow the log read from its cached share; older data comes from disk.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The smallest share of one log, however many logs there are.
const MIN_WINDOW: u64 = 1 << 20;
/// The largest share of one log: seconds of a busy partition's data.
const MAX_WINDOW: u64 = 64 << 20;
/// Write-back steps, a quarter of the share: write-back stops at a step boundary, so it lags
/// the end by up to a step, and pages out of the share were sent to disk at least two steps
/// earlier; their writes have most likely finished (a page still being written stays cached
/// until a later pass).
const MIN_WRITE_BACK: u64 = 256 << 10;
/// At most 2 MiB a step: each step queues its bytes on the disk at once, and a bigger burst
/// makes the reads the file system needs meanwhile (block bitmaps, while it holds the lock an
/// append waits for) queue behind it. 8 MiB steps gave W3 a p99 of 3.5-7.9 ms where 2 MiB gave
/// 1.5-2.4 ms (`docs/benchmarks.md`).
const MAX_WRITE_BACK: u64 = 2 << 20;
/// Without a budget, the active segment is still written back every 2 MiB (see
/// `log::append`), for latency: the kernel would otherwise let gigabytes of dirty pages pile up
/// and write them in bursts that stall appends.
const DEFAULT_WRITE_BACK: u64 = MAX_WRITE_BACK;

/// Bytes of written data that the logs sharing this budget keep cached, in equal shares.
/// Compared by identity, so two configs are equal only if they share one budget.
#[derive(Debug)]
pub struct PageCacheBudget {
    bytes: u64,
    logs: AtomicU64,
}

impl PartialEq for PageCacheBudget {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}

impl Eq for PageCacheBudget {}

impl PageCacheBudget {
    /// A budget of `bytes` for all the logs that will share it.
    pub fn new(bytes: u64) -> Arc<Self> {
        Arc::new(Self {
            bytes,
            logs: AtomicU64::new(0),
        })
    }

    /// The newest bytes of each log that stay cached: an equal share of the budget.
    pub fn window(&self) -> u64 {
        (self.bytes / self.logs.load(Ordering::Relaxed).max(1)).clamp(MIN_WINDOW, MAX_WINDOW)
    }

    /// Counts one more log sharing the budget until the returned share is dropped.
    pub(crate) fn join(self: &Arc<Self>) -> Share {
        self.logs.fetch_add(1, Ordering::Relaxed);
        Share(Arc::clone(self))
    }
}

/// One log's membership of a budget.
#[derive(Debug)]
pub(crate) struct Share(Arc<PageCacheBudget>);

impl Drop for Share {
    fn drop(&mut self) {
        self.0.logs.fetch_sub(1, Ordering::Relaxed);
    }
}

/// How many bytes a log's active segment takes in between two write-backs.
pub(crate) fn write_back_bytes(budget: Option<&PageCacheBudget>) -> u64 {
    budget.map_or(DEFAULT_WRITE_BACK, |b| {
        (b.window() / 4).clamp(MIN_WRITE_BACK, MAX_WRITE_BACK)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_split_the_budget_within_bounds() {
        let budget = PageCacheBudget::new(1 << 30);
        let shares: Vec<Share> = (0..16).map(|_| budget.join()).collect();
        assert_eq!(budget.window(), 64 << 20);
        assert_eq!(write_back_bytes(Some(&budget)), 2 << 20);
        let more: Vec<Share> = (0..1100).map(|_| budget.join()).collect();
        assert_eq!(
            budget.window(),
            1 << 20,
            "1 GiB over 1116 logs, at least 1 MiB"
        );
        assert_eq!(write_back_bytes(Some(&budget)), 256 << 10);
        drop(more);
        assert_eq!(budget.window(), 64 << 20);
        drop(shares);
        assert_eq!(write_back_bytes(None), 2 << 20);
        assert_ne!(
            *budget,
            *PageCacheBudget::new(1 << 30),
            "budgets compare by identity"
        );
    }
}
