//! Compatibility tests with the `rdkafka` crate (librdkafka built from its
//! bundled source) against a real `fjord` process.
//!
//! Consumers use `assign()` without a consumer group (groups are a later
//! milestone) and never commit. Every wait is a bounded poll.

mod admin;
mod admin_ops;
mod durability;
mod idempotence;
mod metrics;
mod offsets;
mod produce_consume;
mod support;
