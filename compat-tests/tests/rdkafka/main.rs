//! Compatibility tests with the `rdkafka` crate (librdkafka built from its
//! bundled source) against a real `fjord` process.
//!
//! Consumers use `assign()` and never join a group; only the lag test in
//! `metrics` commits offsets (for a group with no members). Group membership
//! (subscribe, rebalances, committed offsets across restarts) is tested with
//! stock clients in `compat-tests/python/test_groups.py` (confluent-kafka,
//! which wraps librdkafka, and kafka-python) and
//! `compat-tests/node/kafkajs-groups.test.js`. Every wait is a bounded poll.

mod admin;
mod admin_ops;
mod durability;
mod idempotence;
mod metrics;
mod offsets;
mod produce_consume;
mod support;
