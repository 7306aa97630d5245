//! Every strict prefix of an encoded message (every message, every version, one random sample
//! each) fails to decode with an error instead of panicking or succeeding.

use std::fmt::Debug;

use bytes::BytesMut;
use fjord_protocol::codec::arbitrary::Arbitrary;
use fjord_protocol::codec::Message;
use fjord_protocol::messages::*;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;

fn every_prefix_fails<M: Message + Arbitrary + Debug>() {
    let mut runner = TestRunner::deterministic();
    for version in M::VERSIONS.min..=M::VERSIONS.max {
        let value = M::arbitrary(version)
            .new_tree(&mut runner)
            .unwrap_or_else(|e| panic!("{} v{version}: no sample: {e}", M::NAME))
            .current();
        let mut buf = BytesMut::new();
        if let Err(e) = value.encode(&mut buf, version) {
            panic!("{} v{version}: encode failed: {e}", M::NAME);
        }
        let full = buf.freeze();
        for cut in 0..full.len() {
            let mut prefix = full.slice(..cut);
            let result = M::decode(&mut prefix, version);
            assert!(
                result.is_err(),
                "{} v{version}: {cut} of {} bytes decoded to {result:?}",
                M::NAME,
                full.len()
            );
        }
    }
}

macro_rules! truncation_test {
    ($ty:ident, $module:ident) => {
        #[test]
        fn $module() {
            every_prefix_fails::<$ty>();
        }
    };
}

fjord_protocol::for_each_message!(truncation_test);
