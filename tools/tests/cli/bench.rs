//! `bench produce` and `bench consume`: counts and report shape (never timings).

use fjord_compat_tests::Broker;

use crate::common::{json, run};

fn log_end_total(broker: &Broker, topic: &str) -> i64 {
    json(&run(broker, &["topic", "describe", topic, "--json"]))["partitions"]
        .as_array()
        .expect("partitions")
        .iter()
        .map(|p| p["log_end_offset"].as_i64().expect("end"))
        .sum()
}

#[test]
fn bench_produce_writes_and_reports_every_message() {
    let broker = Broker::start();
    let report = json(&run(
        &broker,
        &[
            "bench",
            "produce",
            "load",
            "-n",
            "3000",
            "-s",
            "200",
            "-p",
            "3",
            "-c",
            "2",
            "--batch-size",
            "4KiB",
            "--json",
        ],
    ));
    assert_eq!(report["kind"], "produce");
    assert_eq!(report["messages"], 3000);
    assert_eq!(report["bytes"], 3000 * 200);
    assert_eq!(report["errors"], 0);
    let latency = &report["latency"];
    for field in ["p50_ms", "p99_ms", "p999_ms", "max_ms"] {
        assert!(latency[field].as_f64().expect(field) >= 0.0, "{report}");
    }
    assert!(
        latency["p50_ms"].as_f64() <= latency["max_ms"].as_f64(),
        "{report}"
    );
    assert!(report["messages_per_s"].as_f64().expect("rate") > 0.0);
    assert_eq!(log_end_total(&broker, "load"), 3000);

    let consumed = json(&run(&broker, &["bench", "consume", "load", "--json"]));
    assert_eq!(consumed["kind"], "consume");
    assert_eq!(consumed["messages"], 3000);
    assert_eq!(consumed["bytes"], 3000 * 200);
}

#[test]
fn bench_produce_with_a_rate_compression_and_acks_one_writes_the_count() {
    let broker = Broker::start();
    let report = json(&run(
        &broker,
        &[
            "bench", "produce", "paced", "-n", "500", "--rate", "5000", "-z", "lz4", "--acks", "1",
            "--json",
        ],
    ));
    assert_eq!(report["messages"], 500);
    assert_eq!(report["errors"], 0);
    assert_eq!(log_end_total(&broker, "paced"), 500);
    let limited = json(&run(
        &broker,
        &["bench", "consume", "paced", "-n", "100", "--json"],
    ));
    assert_eq!(limited["messages"], 100);
}
