//! Runs the produce-path validator over arbitrary bytes, then the content check on every batch
//! it accepts.
//!
//! Each input runs twice: as given, and with every batch's CRC repaired, so the fuzzer gets
//! past the checksum to the count, codec and content checks.
#![no_main]

use bytes::Bytes;
use fjord_protocol::records::header::{batch_len, compute_crc};
use fjord_protocol::records::{
    check_record_contents, validate_batches, ContentRules, ValidationLimits,
};
use libfuzzer_sys::fuzz_target;

fn check(data: &[u8]) {
    let limits = ValidationLimits {
        max_batch_bytes: 1 << 20,
        max_batches: 8,
        allow_control: true,
    };
    let Ok(validated) = validate_batches(data, &limits) else {
        return;
    };
    let bytes = Bytes::copy_from_slice(data);
    let rules = ContentRules {
        max_decompressed: 64 * 1024,
        require_keys: true,
    };
    for summary in &validated.batches {
        assert!(summary.range.end <= data.len());
        assert!(summary.record_count > 0);
        let _ = check_record_contents(&bytes.slice(summary.range.clone()), &rules);
    }
}

/// Rewrites the CRC of every complete batch, walking by the claimed lengths.
fn repair_crcs(data: &mut [u8]) {
    let mut at = 0;
    while let Some(len) = batch_len(&data[at..]) {
        let Some(batch) = data.get_mut(at..at + len) else {
            return;
        };
        if batch.len() < 61 {
            return;
        }
        let crc = compute_crc(batch);
        batch[17..21].copy_from_slice(&crc.to_be_bytes());
        at += len;
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    let mut repaired = data.to_vec();
    repair_crcs(&mut repaired);
    check(&repaired);
});
