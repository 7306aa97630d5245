//! The progress line of long `produce` and `consume` runs.
//!
//! It is drawn on stderr only when a person is watching and it cannot get in the way: stderr
//! is a terminal and the run's own data stream is not (records are piped in, or printed into a
//! pipe or file). Typed input, records printed to the screen, pipes and tests stay clean.

use std::io::IsTerminal as _;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// How often the line redraws while nothing moves, so rate and elapsed time stay current.
const TICK: Duration = Duration::from_millis(200);

/// What the line counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    /// Records (`consume`).
    Records,
    /// Bytes of input (`produce`, whose input size may be known when it is a file).
    Bytes,
}

/// A progress line, cleared when dropped so the final report or an error prints on a clean
/// line.
#[derive(Debug)]
pub(crate) struct RunProgress {
    bar: ProgressBar,
}

impl RunProgress {
    /// A line counting `unit` toward `total` (a bar) or open-ended (a spinner); hidden unless
    /// stderr is a terminal and `data_is_terminal` is false.
    pub(crate) fn new(unit: Unit, total: Option<u64>, data_is_terminal: bool) -> Self {
        if data_is_terminal || !std::io::stderr().is_terminal() {
            return Self {
                bar: ProgressBar::hidden(),
            };
        }
        let (bar, template) = match (total, unit) {
            (Some(len), Unit::Records) => (
                ProgressBar::new(len),
                "{bar:20} {human_pos}/{human_len} records  {per_sec}  {elapsed}  {wide_msg}",
            ),
            (Some(len), Unit::Bytes) => (
                ProgressBar::new(len),
                "{bar:20} {bytes}/{total_bytes}  {binary_bytes_per_sec}  {elapsed}  {wide_msg}",
            ),
            (None, Unit::Records) => (
                ProgressBar::new_spinner(),
                "{spinner} {human_pos} records  {per_sec}  {elapsed}  {wide_msg}",
            ),
            (None, Unit::Bytes) => (
                ProgressBar::new_spinner(),
                "{spinner} {bytes}  {binary_bytes_per_sec}  {elapsed}  {wide_msg}",
            ),
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        // Draw now: once the steady tick runs, only its thread draws, and a short run could end
        // before that thread is first scheduled.
        bar.tick();
        bar.enable_steady_tick(TICK);
        Self { bar }
    }

    /// Whether the line is drawn (callers skip building messages for a hidden one).
    pub(crate) fn is_shown(&self) -> bool {
        !self.bar.is_hidden()
    }

    /// Moves the line on by `n` units.
    pub(crate) fn advance(&self, n: u64) {
        self.bar.inc(n);
    }

    /// Sets the text after the counters.
    pub(crate) fn note(&self, text: String) {
        if self.is_shown() {
            self.bar.set_message(text);
        }
    }
}

impl Drop for RunProgress {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}
