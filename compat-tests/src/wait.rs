//! Deadline-bounded polling.
//!
//! Some facts reach a client only through a later request (a topic created
//! by one request shows up in the next Metadata answer). Tests poll such
//! facts until a deadline instead of sleeping for a guessed time.

use std::thread;
use std::time::{Duration, Instant};

/// Pause between two attempts: short enough to keep tests fast, long enough
/// not to flood the broker with requests.
const BACKOFF: Duration = Duration::from_millis(50);

/// Calls `attempt` until it returns `Ok`, or panics once `timeout` has passed,
/// naming `what` and the last error.
pub fn retry_until<T, E: std::fmt::Display>(
    what: &str,
    timeout: Duration,
    mut attempt: impl FnMut() -> Result<T, E>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match attempt() {
            Ok(value) => return value,
            Err(err) if Instant::now() >= deadline => {
                panic!("{what}: still failing after {timeout:?}; last error: {err}")
            }
            Err(_) => thread::sleep(BACKOFF),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_first_success() {
        let mut calls = 0;
        let value = retry_until("count to three", Duration::from_secs(5), || {
            calls += 1;
            if calls < 3 {
                Err(format!("only {calls}"))
            } else {
                Ok(calls)
            }
        });
        assert_eq!(value, 3);
    }

    #[test]
    #[should_panic(expected = "never: still failing")]
    fn panics_after_deadline_with_last_error() {
        retry_until::<(), _>("never", Duration::from_millis(120), || Err("nope"));
    }
}
