//! A small Kafka client built on `fjord-protocol`'s codec.
//!
//! - [`connection`]: one broker connection: framing, correlation ids, ApiVersions negotiation,
//!   and a split into writer and reader halves for pipelining.
//! - [`versions`]: the versions this tool speaks, and the choice of the highest version both
//!   sides support.
//! - [`cluster`]: metadata, and routing each request to the broker that must answer it.
//! - [`groups`]: consumer group describe, committed offsets, commits, consumer protocol.
//! - [`offsets`]: ListOffsets (log bounds, offsets for timestamps).
//! - [`partitioner`]: Kafka's murmur2 key partitioner and round-robin for keyless records.
//! - [`error`]: what can go wrong.

pub mod cluster;
pub mod connection;
pub mod error;
pub mod groups;
pub mod offsets;
pub mod partitioner;
pub mod versions;

pub use cluster::{Client, PartitionInfo, TopicInfo};
pub use connection::Connection;
pub use error::ClientError;
