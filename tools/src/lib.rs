//! The library half of `fjordctl`: a small Kafka client on top of `fjord-protocol`, and the
//! pieces of the command line that are worth testing on their own.
//!
//! `fjordctl` speaks the Kafka protocol only through `fjord-protocol`'s generated messages and
//! record batches, so it works against Fjord or any Kafka-compatible broker. It never links the
//! broker.
//!
//! Module map:
//! - [`client`]: connections, version negotiation, metadata routing, ListOffsets, partitioners.
//! - [`format`]: how `consume` prints records (templates, JSON lines).
//! - [`parse`]: command-line value parsers (`k=v`, timestamps, sizes, durations).
//!
//! The commands themselves live in the binary (`src/commands/`).

pub mod client;
pub mod format;
pub mod parse;
