//! Waiting until a send time with microsecond precision, without keeping a core busy.
//!
//! tokio's timer ends a sleep on its first 1 ms tick at or after the deadline; in an open-loop
//! run that delay would count as latency, the load generator's and not the broker's. Spinning
//! until the deadline instead kept the generator's core 100% busy whatever the rate, so its
//! CPU time said nothing and anything else that had to run on that core waited. A `timerfd`
//! fires on the kernel's high-resolution timer and wakes the runtime's event loop like any
//! socket.

use std::io;
use std::os::fd::OwnedFd;
use std::time::Duration;

use rustix::time::{
    timerfd_create, timerfd_settime, Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags,
    Timespec,
};
use tokio::io::unix::AsyncFd;
use tokio::time::Instant;

/// A one-shot timer of one task.
#[derive(Debug)]
pub(crate) struct Pacer {
    timer: AsyncFd<OwnedFd>,
}

impl Pacer {
    /// A timer on the monotonic clock, the one `Instant` reads.
    pub(crate) fn new() -> io::Result<Self> {
        let fd = timerfd_create(
            TimerfdClockId::Monotonic,
            TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
        )?;
        // SAFETY: an `OwnedFd` is open and names the same timer until it is dropped, and the
        // `AsyncFd` owns it from here on.
        #[allow(unsafe_code)]
        let timer = unsafe { AsyncFd::register(fd) }.map_err(io::Error::from)?;
        Ok(Self { timer })
    }

    /// Returns at `at` or just after; at once if `at` has passed.
    pub(crate) async fn until(&self, at: Instant) -> io::Result<()> {
        let Some(wait) = at
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
        else {
            return Ok(());
        };
        // Relative, because `Instant` does not expose its clock reading; arming again also
        // discards an expiry nobody read.
        timerfd_settime(
            self.timer.get_ref(),
            TimerfdTimerFlags::empty(),
            &Itimerspec {
                it_interval: timespec(Duration::ZERO),
                it_value: timespec(wait),
            },
        )?;
        loop {
            let mut ready = self.timer.readable().await?;
            let mut expirations = [0u8; 8];
            match rustix::io::read(self.timer.get_ref(), &mut expirations) {
                Ok(_) => return Ok(()),
                // Readiness left over from an earlier expiry that was already read.
                Err(rustix::io::Errno::AGAIN) => ready.clear_ready(),
                Err(e) => return Err(e.into()),
            }
        }
    }
}

fn timespec(d: Duration) -> Timespec {
    Timespec {
        tv_sec: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        tv_nsec: i64::from(d.subsec_nanos()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waits_until_the_deadline_and_not_for_a_past_one() {
        let pacer = Pacer::new().unwrap();
        let at = Instant::now() + Duration::from_micros(300);
        pacer.until(at).await.unwrap();
        assert!(Instant::now() >= at);
        // Twice in a row: the second arming is not confused by the first expiry.
        let again = Instant::now() + Duration::from_micros(300);
        pacer.until(again).await.unwrap();
        assert!(Instant::now() >= again);
        let past = Instant::now();
        pacer.until(past).await.unwrap();
    }
}
