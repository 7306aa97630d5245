//! Harness for compatibility tests that drive the real `fjord` binary with
//! stock Kafka clients.
//!
//! Every test starts its own broker on a free loopback port with a fresh data
//! directory, so tests never share state and can run in parallel. The broker's
//! contract with the harness is small: given `--listen 127.0.0.1:0` it prints
//! exactly one line `listening on HOST:PORT` on stdout once it is ready, logs
//! to stderr, and exits 0 on SIGTERM.
//!
//! Modules:
//! - [`broker`]: spawning, restarting and killing a broker process.
//! - [`wait`]: deadline-bounded retry loops for conditions that settle over
//!   the network (never fixed sleeps).
//! - [`wire`]: raw request frames, for what stock clients do not send.

pub mod broker;
pub mod wait;
pub mod wire;

pub use broker::{fjord_bin, Broker};
pub use wait::retry_until;
