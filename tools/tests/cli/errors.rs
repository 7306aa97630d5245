//! Clear failures: unreachable brokers, unknown topics, bad arguments.

use std::net::TcpListener;

use fjord_compat_tests::Broker;

use crate::common::{create_topic, fails, run, run_at, run_with_stdin};

#[test]
fn an_unreachable_broker_is_a_one_line_error() {
    // A port that was just free: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let output = run_at(&format!("127.0.0.1:{port}"), &["topic", "list"], b"");
    let err = fails(&output);
    assert!(err.contains("cannot reach any broker"), "{err}");
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn unknown_topics_are_named() {
    let broker = Broker::start();
    for args in [
        vec!["consume", "ghost", "-e"],
        vec!["topic", "describe", "ghost"],
        vec!["topic", "delete", "ghost"],
    ] {
        let err = fails(&run(&broker, &args));
        assert!(err.contains("unknown topic \"ghost\""), "{args:?}: {err}");
    }
    let err = fails(&run_with_stdin(&broker, &["produce", "ghost"], b"x\n"));
    assert!(err.contains("unknown topic \"ghost\""), "{err}");
}

#[test]
fn bad_arguments_exit_2_with_usage() {
    let broker = Broker::start();
    for args in [
        vec!["produce", "t", "--acks", "2"],
        vec!["produce", "t", "--compression", "brotli"],
        vec!["consume", "t", "--from-timestamp", "yesterday"],
        vec!["consume", "t", "--from-beginning", "--from-offset", "3"],
        vec!["topic", "create", "t", "--config", "novalue"],
        vec!["group", "reset-offsets", "g", "--topic", "t"],
    ] {
        let output = run(&broker, &args);
        fails(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn out_of_range_starts_are_refused_not_moved() {
    let broker = Broker::start();
    create_topic(&broker, "short", 2);
    let err = fails(&run(
        &broker,
        &["consume", "short", "--from-offset", "5", "-e"],
    ));
    assert!(err.contains("past the log end"), "{err}");
    let err = fails(&run(&broker, &["consume", "short", "-p", "7", "-e"]));
    assert!(err.contains("has no partition 7"), "{err}");
}
