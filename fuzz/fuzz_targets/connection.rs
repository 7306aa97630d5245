//! Feeds arbitrary byte streams to one whole broker connection over an in-memory pipe:
//! framing, header decoding, dispatch, every handler and response encoding. Whatever arrives,
//! the connection must end once the client stops sending, nothing may panic (not even a panic
//! the connection would catch), and everything sent back must be whole response frames.
//!
//! Tokio's clock is paused, so a long poll the input asks for costs no real time.
#![no_main]

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use fjord_broker::broker::Broker;
use fjord_broker::config::Config;
use fjord_broker::connection::Connection;
use fjord_broker::limits;
use libfuzzer_sys::fuzz_target;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::runtime::Runtime;
use tokio::sync::watch;

struct World {
    runtime: Runtime,
    broker: Arc<Broker>,
    /// Where the broker keeps its logs, for the life of the fuzzing process.
    _dir: tempfile::TempDir,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .expect("a runtime");
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut config = Config::for_tests(dir.path());
        // Keep a mutated partition count from creating thousands of log directories.
        config.limits.max_partitions_per_request = 64;
        config.default_partitions = 1;
        let broker = runtime.block_on(async {
            Arc::new(Broker::open(config, ("127.0.0.1".into(), 9092)).expect("a broker"))
        });
        World {
            runtime,
            broker,
            _dir: dir,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let world = world();
    let broker = world.broker.clone();
    let out = world.runtime.block_on(async move {
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        let (_stop, stopped) = watch::channel(false);
        let peer = SocketAddr::from(([127, 0, 0, 1], 40000));
        let serving = tokio::spawn(Connection::new(server, peer, broker).serve(stopped));
        let (mut rx, mut tx) = tokio::io::split(&mut client);
        let write = async {
            let _ = tx.write_all(data).await;
            let _ = tx.shutdown().await;
        };
        let mut out = Vec::new();
        let read = rx.read_to_end(&mut out);
        let exchange = async { tokio::join!(write, read) };
        // Virtual time: an hour passes instantly unless the connection is truly stuck.
        tokio::time::timeout(Duration::from_secs(3600), exchange)
            .await
            .expect("the connection ends once the client stops sending");
        serving.await.expect("the connection task does not panic");
        out
    });
    assert_eq!(limits::panics_caught(), 0, "a handler panicked");
    // Every response is a whole size-prefixed frame.
    let mut rest = &out[..];
    while !rest.is_empty() {
        assert!(rest.len() >= 4, "a partial size prefix");
        let size = i32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
        let size = usize::try_from(size).expect("a non-negative size");
        assert!(rest.len() >= 4 + size, "a partial response frame");
        rest = &rest[4 + size..];
    }
});
