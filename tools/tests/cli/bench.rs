//! `bench produce` and `bench consume`: counts and report shape (never timings).

use fjord_compat_tests::Broker;

use crate::common::{create_topic, fails, json, numbered, ok, produce, run};

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
    // Each connection sends its 1,500 messages in batches of 21 (4 KiB of 200 B values): 71
    // full and one of 9, so 144 requests, each measured once on each side.
    for part in ["send_delay", "round_trip"] {
        let split = &report["requests"][part];
        assert_eq!(split["samples"], 144, "{part}: {report}");
        assert!(
            split["p50_ms"].as_f64() <= split["max_ms"].as_f64(),
            "{report}"
        );
    }
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

/// The numbers in a line, in order (`0.2 MB in 1.03s: 0.19 MB/s` → 0.2, 1.03, 0.19).
fn numbers(line: &str) -> Vec<f64> {
    line.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .filter_map(|word| word.trim_matches('.').parse().ok())
        .collect()
}

/// Checks the human report of `messages` messages of `size` bytes taking at least `at_least`
/// seconds; returns the elapsed seconds it printed.
fn check_human_report(stdout: &str, kind: &str, messages: u64, size: u64, at_least: f64) -> f64 {
    let lines: Vec<&str> = stdout.lines().collect();
    // A produce report adds where each request's time went, a line for each side.
    let split = if kind == "produce" {
        ["send delay", "round trip"].as_slice()
    } else {
        &[]
    };
    assert_eq!(lines.len(), 2 + split.len(), "{stdout}");
    for (line, what) in lines[2..].iter().zip(split) {
        let prefix = format!("  per request, {what} ms: p50 ");
        assert!(line.starts_with(&prefix), "{stdout}");
    }
    // "produce: 200 messages, 0.2 MB in 1.00s: 0.19 MB/s, 199 msg/s"
    let prefix = format!("{kind}: {messages} messages, ");
    assert!(lines[0].starts_with(&prefix), "{stdout}");
    assert!(
        lines[0].contains(" MB/s, ") && lines[0].ends_with(" msg/s"),
        "{stdout}"
    );
    let n = numbers(&lines[0][prefix.len()..]);
    assert_eq!(n.len(), 4, "{stdout}");
    let (mb, elapsed, mb_per_s, per_s) = (n[0], n[1], n[2], n[3]);
    #[allow(clippy::cast_precision_loss)]
    let (messages, bytes) = (messages as f64, (messages * size) as f64);
    let expected_mb = bytes / (1024.0 * 1024.0);
    assert!(
        (mb - expected_mb).abs() <= 0.05 + 1e-9,
        "{mb} MB vs {expected_mb}: {stdout}"
    );
    assert!(elapsed >= at_least, "{elapsed}s < {at_least}s: {stdout}");
    // The rates are the totals over the elapsed time, which is printed rounded to 10 ms.
    let within = |rate: f64, total: f64, printed_to: f64| {
        let low = total / (elapsed + 0.005) - printed_to;
        let high = total / (elapsed - 0.005).max(1e-9) + printed_to;
        (low..=high).contains(&rate)
    };
    assert!(within(mb_per_s, expected_mb, 0.005), "MB/s: {stdout}");
    assert!(within(per_s, messages, 0.5), "msg/s: {stdout}");
    // "latency ms: p50 0.379  p99 26.200  p99.9 40.300  max 45.200"
    assert!(lines[1].starts_with("latency ms: p50 "), "{stdout}");
    for label in ["  p99 ", "  p99.9 ", "  max "] {
        assert!(lines[1].contains(label), "{stdout}");
    }
    let latency: Vec<f64> = ["p50 ", "p99 ", "p99.9 ", "max "]
        .iter()
        .map(|label| {
            let at = lines[1].find(label).expect("label") + label.len();
            let value = lines[1][at..].split_whitespace().next().expect("a value");
            value.parse().expect("a latency")
        })
        .collect();
    assert!(latency.windows(2).all(|w| w[0] <= w[1]), "{stdout}");
    assert!(latency[0] > 0.0, "{stdout}");
    elapsed
}

#[test]
fn bench_produce_for_a_duration_at_a_rate_sends_exactly_the_scheduled_messages() {
    let broker = Broker::start();
    // 200 msg/s over two producers for 1 s: messages are due at 0, 10, ... 990 ms on each,
    // and every message due before the deadline is sent however late it runs.
    let output = run(
        &broker,
        &[
            "bench",
            "produce",
            "timed",
            "-d",
            "1s",
            "--rate",
            "200",
            "--producers",
            "2",
            "-p",
            "2",
            "-s",
            "1KiB",
        ],
    );
    let stdout = ok(&output);
    check_human_report(&stdout, "produce", 200, 1024, 1.0);
    // No progress line when stderr is not a terminal.
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
    assert_eq!(log_end_total(&broker, "timed"), 200);

    let output = run(&broker, &["bench", "consume", "timed"]);
    check_human_report(&ok(&output), "consume", 200, 1024, 0.0);
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
}

#[test]
fn bench_produce_leaves_the_warm_up_out_of_the_latency_percentiles() {
    let broker = Broker::start();
    // 100 msg/s for 1 s: messages are due at 0, 10, ... 990 ms; the 59 due from 410 ms on are
    // past the 405 ms warm-up.
    let report = json(&run(
        &broker,
        &[
            "bench", "produce", "warm", "-d", "1s", "--rate", "100", "--warmup", "405ms", "--json",
        ],
    ));
    assert_eq!(report["messages"], 100, "{report}");
    assert_eq!(report["latency"]["samples"], 59, "{report}");
    // Each message is a request of its own (its batch closes 5 ms after it, before the next is
    // due), so the per-request figures leave out the same 41.
    assert_eq!(report["requests"]["send_delay"]["samples"], 59, "{report}");
    assert_eq!(report["requests"]["round_trip"]["samples"], 59, "{report}");
    let refused = run(
        &broker,
        &["bench", "produce", "warm", "-d", "1s", "--warmup", "1s"],
    );
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("--warmup must be shorter"),
        "{refused:?}"
    );
}

#[test]
fn bench_produce_for_a_duration_without_a_rate_reports_what_the_broker_holds() {
    let broker = Broker::start();
    let report = json(&run(
        &broker,
        &[
            "bench", "produce", "flat-out", "-d", "300ms", "-s", "64", "--json",
        ],
    ));
    let messages = report["messages"].as_i64().expect("messages");
    assert!(messages > 0, "{report}");
    assert_eq!(report["bytes"].as_i64(), Some(messages * 64));
    assert_eq!(report["errors"], 0);
    assert!(
        report["elapsed_s"].as_f64().expect("elapsed") >= 0.3,
        "{report}"
    );
    assert_eq!(log_end_total(&broker, "flat-out"), messages);
}

/// The log end offset of each partition of `topic`.
fn log_ends(broker: &Broker, topic: &str) -> Vec<i64> {
    json(&run(broker, &["topic", "describe", topic, "--json"]))["partitions"]
        .as_array()
        .expect("partitions")
        .iter()
        .map(|p| p["log_end_offset"].as_i64().expect("end"))
        .collect()
}

#[test]
fn bench_consume_reads_chosen_partitions_over_several_consumers_exactly() {
    let broker = Broker::start();
    create_topic(&broker, "spread", 3);
    // Different sizes per partition, so a miscounted partition shows.
    for (p, n) in [("0", 30), ("1", 50), ("2", 70)] {
        produce(&broker, "spread", &numbered("v", n), &["-p", p]);
    }
    assert_eq!(log_ends(&broker, "spread"), [30, 50, 70]);
    let consume = |args: &[&str]| {
        let mut all = vec!["bench", "consume", "spread", "--json"];
        all.extend_from_slice(args);
        json(&run(&broker, &all))
    };
    // "v0".."v69": 2 bytes for the first ten of each partition, 3 for the rest.
    let bytes = |n: i64| 2 * n.min(10) + 3 * (n - 10).max(0);

    let all = consume(&["--consumers", "3"]);
    assert_eq!(all["messages"], 150, "{all}");
    assert_eq!(all["bytes"], bytes(30) + bytes(50) + bytes(70), "{all}");
    let chosen = consume(&["-p", "2", "-p", "0", "-c", "2"]);
    assert_eq!(chosen["messages"], 100, "{chosen}");
    assert_eq!(chosen["bytes"], bytes(30) + bytes(70), "{chosen}");
    let one = consume(&["--partition", "1"]);
    assert_eq!(one["messages"], 50, "{one}");
    // A count is exact over all consumers together.
    let counted = consume(&["-c", "3", "-n", "101"]);
    assert_eq!(counted["messages"], 101, "{counted}");

    let err = fails(&run(
        &broker,
        &["bench", "consume", "spread", "-p", "1", "--consumers", "2"],
    ));
    assert!(
        err.contains("--consumers 2 is more than the 1 partition(s) read"),
        "{err}"
    );
    let err = fails(&run(&broker, &["bench", "consume", "spread", "-p", "9"]));
    assert!(err.contains("has no partition 9"), "{err}");
}
