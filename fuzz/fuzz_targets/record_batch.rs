//! Decodes arbitrary bytes as one v2 record batch with a small decompression limit.
//!
//! The CRC is checked once as given and then repaired, so the fuzzer also reaches the record
//! parser and the decompressors instead of stopping at the checksum. Whatever decodes must
//! survive a rebuild: same records back after encoding them uncompressed.
#![no_main]

use bytes::Bytes;
use fjord_protocol::records::header::compute_crc;
use fjord_protocol::records::{RecordBatch, RecordBatchBuilder};
use libfuzzer_sys::fuzz_target;

const MAX_DECOMPRESSED: usize = 64 * 1024;

fuzz_target!(|data: &[u8]| {
    let _ = RecordBatch::decode(&Bytes::copy_from_slice(data), MAX_DECOMPRESSED);

    if data.len() < 61 {
        return;
    }
    let mut repaired = data.to_vec();
    let crc = compute_crc(&repaired);
    repaired[17..21].copy_from_slice(&crc.to_be_bytes());
    let Ok(batch) = RecordBatch::decode(&Bytes::from(repaired), MAX_DECOMPRESSED) else {
        return;
    };
    let mut builder = RecordBatchBuilder::new()
        .base_offset(batch.header.base_offset)
        .base_timestamp(batch.header.base_timestamp);
    for record in &batch.records {
        builder.push_record(record.clone());
    }
    let rebuilt = builder.build().expect("decoded records re-encode");
    let again = RecordBatch::decode(&rebuilt, usize::MAX).expect("rebuilt batch decodes");
    assert_eq!(again.records, batch.records);
});
