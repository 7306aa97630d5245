//! The bound on open segment files: only the most recently read sealed segments of a log keep
//! their `.log` open (and their indexes mapped); reading another one closes the least recently
//! read beyond `max.open.sealed.segments`.

use std::collections::VecDeque;
use std::sync::{Arc, Weak};

use parking_lot::Mutex;

use crate::segment::Segment;

/// Sealed segments holding open files, least recently used first.
#[derive(Debug, Default)]
pub(super) struct OpenFiles {
    lru: Mutex<VecDeque<Weak<Segment>>>,
}

impl OpenFiles {
    /// Records a use of `seg`: a sealed segment keeps its files open, and the least recently
    /// used beyond `cap` close theirs. The active segment is not counted: it is always open.
    pub(super) fn used(&self, seg: &Arc<Segment>, cap: usize) {
        if !seg.is_sealed() {
            return;
        }
        let is_seg = |w: &Weak<Segment>| std::ptr::eq(w.as_ptr(), Arc::as_ptr(seg));
        let mut lru = self.lru.lock();
        if lru.back().is_some_and(is_seg) {
            return;
        }
        // Linear, but over at most `cap + 1` entries; dropped segments leave too.
        lru.retain(|w| w.strong_count() > 0 && !is_seg(w));
        seg.keep_file_open();
        lru.push_back(Arc::downgrade(seg));
        while lru.len() > cap {
            // Released under the lock, so a segment used again meanwhile cannot be closed after
            // it was put back.
            if let Some(old) = lru.pop_front().and_then(|w| w.upgrade()) {
                old.release_files();
            }
        }
    }
}
