//! Parses arbitrary bytes as a legacy (magic 0/1) message set and converts what parses to v2.
#![no_main]

use bytes::Bytes;
use fjord_protocol::records::legacy::{parse_message_set, to_v2_batch};
use fjord_protocol::records::Compression;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(messages) = parse_message_set(&Bytes::copy_from_slice(data), 64 * 1024) else {
        return;
    };
    let _ = to_v2_batch(&messages, Compression::None);
});
