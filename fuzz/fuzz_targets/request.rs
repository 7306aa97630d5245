//! Decodes arbitrary bytes as one request frame, the way the broker's connection does: the
//! API key and version from the first four bytes, then the header of that version, then the
//! body. Whatever decodes must encode again and decode to the same value.
#![no_main]

use bytes::{Bytes, BytesMut};
use fjord_protocol::{ApiKey, Decode, RequestBody, RequestHeader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let Ok(api) = ApiKey::try_from(i16::from_be_bytes([data[0], data[1]])) else {
        return;
    };
    let version = i16::from_be_bytes([data[2], data[3]]);
    if !api.versions().contains(version) {
        return;
    }
    let mut frame = Bytes::copy_from_slice(data);
    if RequestHeader::decode(&mut frame, api.request_header_version(version)).is_err() {
        return;
    }
    let Ok(body) = RequestBody::decode(api, version, &mut frame) else {
        return;
    };
    let mut out = BytesMut::new();
    body.encode(&mut out, version).expect("a decoded request encodes");
    assert_eq!(body.encoded_len(version).expect("length"), out.len());
    let again = RequestBody::decode(api, version, &mut out.freeze()).expect("re-decodes");
    assert_eq!(again, body);
});
