//! Running `fjordctl` against a test broker.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Child, Command, Output, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use fjord_compat_tests::Broker;
use serde_json::Value;

/// Runs `fjordctl -b BROKER ARGS...` with `stdin` as standard input.
pub(crate) fn run_with_stdin(broker: &Broker, args: &[&str], stdin: &[u8]) -> Output {
    run_at(&broker.bootstrap(), args, stdin)
}

/// Runs `fjordctl -b BOOTSTRAP ARGS...`.
pub(crate) fn run_at(bootstrap: &str, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = fjordctl(bootstrap, args);
    let mut input = child.stdin.take().expect("stdin is piped");
    input.write_all(stdin).expect("write fjordctl's stdin");
    drop(input);
    child.wait_with_output().expect("wait for fjordctl")
}

/// Runs `fjordctl` with empty standard input.
pub(crate) fn run(broker: &Broker, args: &[&str]) -> Output {
    run_with_stdin(broker, args, b"")
}

/// Asserts the command succeeded; returns its stdout (lossily decoded: callers that need the
/// bytes read `output.stdout`).
pub(crate) fn ok(output: &Output) -> String {
    assert!(
        output.status.success(),
        "fjordctl failed with {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Asserts the command failed cleanly (exit code 1 or 2, an `error:` line, no panic); returns
/// its stderr.
pub(crate) fn fails(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        !output.status.success(),
        "fjordctl unexpectedly succeeded; stdout:\n{}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert!(
        matches!(output.status.code(), Some(1 | 2)),
        "exit status {} (a crash?); stderr:\n{stderr}",
        output.status
    );
    assert!(
        stderr.contains("error"),
        "no error message; stderr:\n{stderr}"
    );
    assert!(
        !stderr.contains("panicked") && !stderr.contains("stack backtrace"),
        "fjordctl panicked:\n{stderr}"
    );
    stderr
}

/// Creates a topic with `partitions` partitions.
pub(crate) fn create_topic(broker: &Broker, name: &str, partitions: u32) {
    ok(&run(
        broker,
        &[
            "topic",
            "create",
            name,
            "--partitions",
            &partitions.to_string(),
        ],
    ));
}

/// Produces `lines` (one record each) with extra `args`.
pub(crate) fn produce(broker: &Broker, topic: &str, lines: &[String], args: &[&str]) -> String {
    let mut input = lines.join("\n");
    input.push('\n');
    let mut all = vec!["produce", topic];
    all.extend_from_slice(args);
    let output = run_with_stdin(broker, &all, input.as_bytes());
    ok(&output);
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Consumes with `--format json` and extra `args`; returns the parsed records.
pub(crate) fn consume_json(broker: &Broker, topic: &str, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["consume", topic, "--format", "json"];
    all.extend_from_slice(args);
    ok(&run(broker, &all))
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect()
}

/// Parses a command's JSON stdout.
pub(crate) fn json(output: &Output) -> Value {
    serde_json::from_str(&ok(output)).expect("JSON output")
}

/// `v0`, `v1`, ... `v{n-1}`.
pub(crate) fn numbered(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

/// Starts `fjordctl -b BROKER ARGS...` with piped stdin and stdout, for tests that talk to it
/// while it runs.
pub(crate) fn spawn(broker: &Broker, args: &[&str]) -> Child {
    fjordctl(&broker.bootstrap(), args)
}

/// Starts `fjordctl --bootstrap BOOTSTRAP ARGS...` with every stream piped and no bootstrap from
/// the environment.
fn fjordctl(bootstrap: &str, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_fjordctl"))
        .arg("--bootstrap")
        .arg(bootstrap)
        .args(args)
        .env_remove("FJORD_BOOTSTRAP")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start fjordctl")
}

/// The wall clock in epoch milliseconds, the clock `fjordctl` stamps records with.
pub(crate) fn now_ms() -> i64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock");
    i64::try_from(since.as_millis()).expect("ms fit")
}

/// Produces `n` records `{prefix}{i}` with one `produce` process, handing it a line only after
/// the clock has moved on by two milliseconds, so the records of its (single, lingering) batch
/// carry different timestamps. Returns when every record is acknowledged.
pub(crate) fn produce_spread_in_time(
    broker: &Broker,
    topic: &str,
    prefix: &str,
    n: usize,
    args: &[&str],
) {
    // A linger far longer than the run: everything goes out as one batch per partition at EOF.
    let mut all = vec!["produce", topic, "--linger", "60s"];
    all.extend_from_slice(args);
    let mut child = spawn(broker, &all);
    let mut input = child.stdin.take().expect("stdin is piped");
    for i in 0..n {
        let written_at = now_ms();
        writeln!(input, "{prefix}{i}").expect("write a line");
        input.flush().expect("flush a line");
        // Spacing timestamps, not synchronising: the clock only has to advance.
        while now_ms() < written_at + 2 {
            std::thread::yield_now();
        }
    }
    drop(input);
    ok(&child.wait_with_output().expect("wait for fjordctl produce"));
}

/// `ms` as an RFC 3339 time in the zone `offset_minutes` east of UTC (`Z` for 0).
pub(crate) fn rfc3339(ms: i64, offset_minutes: i16) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    let offset = time::UtcOffset::from_whole_seconds(i32::from(offset_minutes) * 60)
        .expect("a valid offset");
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .expect("a valid time")
        .to_offset(offset)
        .format(&time::format_description::well_known::Rfc3339)
        .expect("formats")
}

/// The offsets of `records`.
pub(crate) fn offsets(records: &[Value]) -> Vec<i64> {
    records
        .iter()
        .map(|r| r["offset"].as_i64().expect("offset"))
        .collect()
}

/// Per partition, the offset of the first record whose timestamp is at or after `cut` (the log
/// end when there is none), from `records` read from the beginning.
pub(crate) fn first_at_or_after(records: &[Value], cut: i64) -> BTreeMap<i64, i64> {
    let mut ends = BTreeMap::new();
    let mut firsts = BTreeMap::new();
    for r in records {
        let partition = r["partition"].as_i64().expect("partition");
        let offset = r["offset"].as_i64().expect("offset");
        ends.insert(partition, offset + 1);
        if r["timestamp"].as_i64().expect("timestamp") >= cut {
            firsts.entry(partition).or_insert(offset);
        }
    }
    ends.into_iter()
        .map(|(p, end)| (p, firsts.get(&p).copied().unwrap_or(end)))
        .collect()
}
