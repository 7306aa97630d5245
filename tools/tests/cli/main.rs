//! End-to-end tests of `fjordctl` against a real `fjord` broker (one per test, via the
//! compat-tests harness), and against librdkafka's kcat for interoperability.

mod active_group;
mod bench;
mod common;
mod errors;
mod groups;
mod kcat;
mod produce_consume;
mod progress;
mod topics;
