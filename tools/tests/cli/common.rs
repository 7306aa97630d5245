//! Running `fjordctl` against a test broker.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use fjord_compat_tests::Broker;
use serde_json::Value;

/// Runs `fjordctl -b BROKER ARGS...` with `stdin` as standard input.
pub(crate) fn run_with_stdin(broker: &Broker, args: &[&str], stdin: &[u8]) -> Output {
    run_at(&broker.bootstrap(), args, stdin)
}

/// Runs `fjordctl -b BOOTSTRAP ARGS...`.
pub(crate) fn run_at(bootstrap: &str, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fjordctl"))
        .arg("--bootstrap")
        .arg(bootstrap)
        .args(args)
        .env_remove("FJORD_BOOTSTRAP")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start fjordctl");
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
