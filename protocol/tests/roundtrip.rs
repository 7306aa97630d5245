//! Every generated message in every version: a random value valid for that version encodes,
//! `encoded_len` matches the bytes written, and decoding gives the same value back.

use std::fmt::Debug;

use bytes::BytesMut;
use fjord_protocol::codec::arbitrary::Arbitrary;
use fjord_protocol::codec::Message;
use fjord_protocol::messages::*;
use proptest::prop_assert_eq;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

/// Cases per message version (about 550 versions in all): the whole file runs in about a second.
const CASES: u32 = 48;

fn round_trip<M: Message + Arbitrary + PartialEq + Debug>() {
    for version in M::VERSIONS.min..=M::VERSIONS.max {
        let mut runner = TestRunner::new(Config {
            cases: CASES,
            failure_persistence: None,
            ..Config::default()
        });
        runner
            .run(&M::arbitrary(version), |value| {
                let len = value
                    .encoded_len(version)
                    .map_err(|e| TestCaseError::fail(format!("encoded_len: {e}")))?;
                let mut buf = BytesMut::new();
                value
                    .encode(&mut buf, version)
                    .map_err(|e| TestCaseError::fail(format!("encode: {e}")))?;
                prop_assert_eq!(buf.len(), len, "encoded_len disagrees with encode");
                let mut bytes = buf.freeze();
                let back = M::decode(&mut bytes, version)
                    .map_err(|e| TestCaseError::fail(format!("decode: {e}")))?;
                prop_assert_eq!(bytes.len(), 0, "decode left bytes over");
                prop_assert_eq!(back, value);
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{} v{version}: {e}", M::NAME));
    }
}

macro_rules! round_trip_test {
    ($ty:ident, $module:ident) => {
        #[test]
        fn $module() {
            round_trip::<$ty>();
        }
    };
}

fjord_protocol::for_each_message!(round_trip_test);
