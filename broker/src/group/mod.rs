//! The classic consumer group coordinator.
//!
//! - [`machine`]: the coordinator as a pure state machine, `handle(event, now) -> effects`;
//!   its request handling is split over [`membership`] (join, sync, heartbeat, leave),
//!   [`offsets`] (commit, fetch, delete, expiry) and [`admin`] (list, describe, delete).
//! - [`classic`] and [`member`]: a group's and a member's data.
//! - [`types`] and [`error`]: the coordinator's own request, reply and error types.
//! - [`record`]: the key/value records kept in `__consumer_offsets`; [`load`] replays them.
//! - [`store`]: appends to and replays `__consumer_offsets`; [`boot`] starts it all at broker
//!   start; [`runtime`]: the tokio task that owns the machine, its timers and its writes.
//! - [`lag`]: consumer lag from committed offsets and log end offsets.
//! - [`subscription`]: reads the topics out of a consumer's subscription metadata.

pub mod admin;
pub mod boot;
pub mod classic;
pub mod config;
pub mod error;
pub mod lag;
pub mod load;
pub mod machine;
pub(crate) mod member;
pub mod membership;
pub mod offsets;
pub mod record;
pub mod runtime;
pub mod store;
pub mod subscription;
pub mod types;

#[cfg(test)]
mod tests;

pub use config::GroupConfig;
pub use error::GroupError;
pub use machine::{Coordinator, Effect, Event, Reply, TimerKey, WriteId};
pub use runtime::GroupCoordinator;
