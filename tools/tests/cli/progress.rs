//! Progress lines: drawn on a terminal's stderr while records are piped in or printed into a
//! file, never when the records themselves are on the terminal. `script` (util-linux) gives
//! `fjordctl` a pseudo-terminal and prints what was drawn on it.

use std::process::{Command, Stdio};

use fjord_compat_tests::Broker;

use crate::common::{create_topic, numbered, ok, produce};

/// Runs `shell_command` (where `FJORDCTL` stands for the binary and its `--bootstrap`) on a
/// pseudo-terminal; returns everything written to that terminal.
fn on_a_terminal(broker: &Broker, shell_command: &str) -> String {
    let fjordctl = format!(
        "{} --bootstrap {}",
        env!("CARGO_BIN_EXE_fjordctl"),
        broker.bootstrap()
    );
    let output = Command::new("script")
        .args(["--quiet", "--return", "--flush", "--command"])
        .arg(shell_command.replace("FJORDCTL", &fjordctl))
        .arg("/dev/null")
        .env_remove("FJORD_BOOTSTRAP")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run script ({e}); install util-linux"));
    ok(&output)
}

#[test]
fn a_replay_into_a_file_shows_progress_on_the_terminal_and_only_there() {
    let broker = Broker::start();
    create_topic(&broker, "replay", 1);
    produce(&broker, "replay", &numbered("v", 20), &[]);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let out = dir.path().join("records");
    let screen = on_a_terminal(
        &broker,
        &format!(
            "FJORDCTL consume replay --from-beginning -e > {}",
            out.display()
        ),
    );
    assert!(screen.contains("/20 records"), "{screen:?}");
    let expected: String = numbered("v", 20).iter().map(|v| format!("{v}\n")).collect();
    assert_eq!(
        std::fs::read_to_string(&out).expect("the replay file"),
        expected
    );
}

#[test]
fn records_printed_on_the_terminal_get_no_progress_line() {
    let broker = Broker::start();
    create_topic(&broker, "shown", 1);
    produce(&broker, "shown", &numbered("v", 3), &[]);
    let screen = on_a_terminal(&broker, "FJORDCTL consume shown --from-beginning -e");
    // The terminal turns each newline into CR LF; nothing else is drawn.
    assert_eq!(screen, "v0\r\nv1\r\nv2\r\n");
}

#[test]
fn produce_from_a_file_shows_its_progress_in_bytes_then_the_report() {
    let broker = Broker::start();
    create_topic(&broker, "loaded", 1);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let input = dir.path().join("input");
    let lines: String = numbered("line-", 100)
        .iter()
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&input, &lines).expect("write the input");
    let screen = on_a_terminal(
        &broker,
        &format!("FJORDCTL produce loaded < {}", input.display()),
    );
    // The bar's total is the file's size; the line is cleared before the report.
    assert!(
        screen.contains(&format!("/{} B", lines.len())),
        "{screen:?}"
    );
    assert!(
        screen.ends_with("wrote 100 records to loaded: partition 0 offsets 0-99\r\n"),
        "{screen:?}"
    );
}
