//! Faults injected by tests, switched on by environment variables read once at first use.
//! Never set these in production: they make the broker misbehave on purpose.
//!
//! - `FJORD_TEST_DROP_AFTER_APPEND=N`: the N-th Produce request (counting from 1, over the
//!   broker's lifetime, only requests that appended something) is appended but not answered:
//!   its connection is closed instead. The client sees a network error and retries the same
//!   batch, which is how the compatibility tests prove a retry is not written twice. The
//!   broker logs [`DROP_FIRED_LOG`] at WARN when it drops the answer, so a test can tell the
//!   fault fired rather than merely being armed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// The environment variable of the drop-after-append fault.
pub const DROP_AFTER_APPEND_VAR: &str = "FJORD_TEST_DROP_AFTER_APPEND";

/// The message logged when the drop-after-append fault fires; tests look for it in stderr.
pub const DROP_FIRED_LOG: &str = "test fault fired: produce answer dropped after its append";

static DROP_AT: OnceLock<Option<u64>> = OnceLock::new();
static APPENDED_PRODUCES: AtomicU64 = AtomicU64::new(0);

/// Counts a Produce request that appended something; true when its answer must be dropped
/// and its connection closed.
pub fn drop_produce_answer() -> bool {
    let Some(at) = *DROP_AT.get_or_init(|| {
        let value = std::env::var(DROP_AFTER_APPEND_VAR).ok()?;
        let at = value.trim().parse::<u64>().ok()?;
        tracing::warn!(
            var = DROP_AFTER_APPEND_VAR,
            at,
            "test fault armed: a produce answer will be dropped"
        );
        Some(at)
    }) else {
        return false;
    };
    let fires = APPENDED_PRODUCES.fetch_add(1, Ordering::Relaxed) + 1 == at;
    if fires {
        tracing::warn!(var = DROP_AFTER_APPEND_VAR, at, "{DROP_FIRED_LOG}");
    }
    fires
}
