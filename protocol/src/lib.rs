//! Fjord's sans-io codec for the Kafka wire protocol.
//!
//! Bytes in, typed values out: nothing here touches a socket or a runtime. Framing (the 4-byte
//! size prefix) is the caller's job; every decoder here works on one complete frame.
//!
//! Module map:
//! - [`error`]: decode errors that say where they happened, and encode errors.
//! - [`primitives`]: fixed-width ints, varints, strings, bytes, arrays, UUIDs.
//! - [`records`]: record batches (magic v2) and legacy message sets.

pub mod error;
pub mod primitives;
pub mod records;

pub use error::{DecodeError, DecodeErrorKind, EncodeError};
