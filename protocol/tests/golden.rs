//! Golden request frames captured from real clients (librdkafka via kcat, kafka-python,
//! kafkajs) by `scripts/capture-fixtures`: each decodes completely, and encoding what was
//! decoded gives back the client's exact bytes.

use std::path::Path;

use bytes::{Bytes, BytesMut};
use fjord_protocol::{ApiKey, Decode, Encode, RequestBody, RequestHeader};

fn fixtures() -> Vec<(String, Bytes)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut out = Vec::new();
    for client in std::fs::read_dir(&root).expect("fixtures directory") {
        let client = client.expect("entry").path();
        for file in std::fs::read_dir(&client).expect("client directory") {
            let path = file.expect("entry").path();
            let name = path
                .strip_prefix(&root)
                .expect("under root")
                .display()
                .to_string();
            out.push((name, Bytes::from(std::fs::read(&path).expect("readable"))));
        }
    }
    out.sort();
    out
}

#[test]
fn captured_frames_decode_and_re_encode_exactly() {
    let frames = fixtures();
    assert!(
        frames.len() >= 25,
        "expected the captured fixtures, found {}",
        frames.len()
    );
    for (name, frame) in frames {
        let key = i16::from_be_bytes([frame[0], frame[1]]);
        let version = i16::from_be_bytes([frame[2], frame[3]]);
        let api = ApiKey::try_from(key).unwrap_or_else(|_| panic!("{name}: unknown key {key}"));
        let header_version = api.request_header_version(version);
        let mut input = frame.clone();
        let header = RequestHeader::decode(&mut input, header_version)
            .unwrap_or_else(|e| panic!("{name}: header: {e}"));
        let body = RequestBody::decode(api, version, &mut input)
            .unwrap_or_else(|e| panic!("{name}: body: {e}"));
        assert!(input.is_empty(), "{name}: {} bytes left over", input.len());
        let mut again = BytesMut::new();
        header
            .encode(&mut again, header_version)
            .expect("header encodes");
        body.encode(&mut again, version).expect("body encodes");
        assert_eq!(&again[..], &frame[..], "{name}: re-encoding differs");
    }
}
