//! Interoperability with librdkafka's kcat: what `fjordctl` writes kcat reads, and the reverse,
//! and both place keyed records on the same partitions.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Output, Stdio};

use fjord_compat_tests::Broker;

use crate::common::{consume_json, create_topic, numbered, ok, produce, run};

fn kcat(broker: &Broker, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new("kcat")
        .arg("-b")
        .arg(broker.bootstrap())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run kcat ({e}); install it: apt-get install kcat"));
    let mut input = child.stdin.take().expect("stdin is piped");
    input.write_all(stdin).expect("write kcat's stdin");
    drop(input);
    let output = child.wait_with_output().expect("wait for kcat");
    assert!(
        output.status.success(),
        "kcat {args:?} failed with {}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[test]
fn kcat_reads_what_fjordctl_produces() {
    let broker = Broker::start();
    create_topic(&broker, "to-kcat", 1);
    let lines: Vec<String> = (0..20).map(|i| format!("k{i}:value {i}")).collect();
    produce(
        &broker,
        "to-kcat",
        &lines,
        &["-K", ":", "-z", "snappy", "-H", "origin=fjordctl"],
    );
    let output = kcat(
        &broker,
        &[
            "-C",
            "-t",
            "to-kcat",
            "-e",
            "-o",
            "beginning",
            "-q",
            "-f",
            "%o %k=%s %h\n",
        ],
        b"",
    );
    let expected: String = (0..20)
        .map(|i| format!("{i} k{i}=value {i} origin=fjordctl\n"))
        .collect();
    assert_eq!(String::from_utf8_lossy(&output.stdout), expected);
}

#[test]
fn fjordctl_reads_what_kcat_produces() {
    let broker = Broker::start();
    create_topic(&broker, "from-kcat", 1);
    let input: String = (0..20).map(|i| format!("k{i}:value {i}\n")).collect();
    kcat(
        &broker,
        &[
            "-P",
            "-t",
            "from-kcat",
            "-K",
            ":",
            "-z",
            "gzip",
            "-H",
            "origin=kcat",
        ],
        input.as_bytes(),
    );
    let text = ok(&run(
        &broker,
        &[
            "consume",
            "from-kcat",
            "--from-beginning",
            "-e",
            "-f",
            "{offset} {key}={value} {headers}",
        ],
    ));
    let expected: String = (0..20)
        .map(|i| format!("{i} k{i}=value {i} origin=kcat\n"))
        .collect();
    assert_eq!(text, expected);
}

/// Key → partition of every record in `topic`.
fn placements(broker: &Broker, topic: &str) -> BTreeMap<String, i64> {
    consume_json(broker, topic, &["--from-beginning", "-e"])
        .iter()
        .map(|r| {
            (
                r["key"].as_str().expect("key").to_owned(),
                r["partition"].as_i64().expect("partition"),
            )
        })
        .collect()
}

#[test]
fn keyed_records_land_where_librdkafka_murmur2_puts_them() {
    let broker = Broker::start();
    create_topic(&broker, "by-kcat", 6);
    create_topic(&broker, "by-fjordctl", 6);
    let keys = numbered("customer-", 60);
    let input: String = keys.iter().map(|k| format!("{k}:x\n")).collect();
    kcat(
        &broker,
        &[
            "-P",
            "-t",
            "by-kcat",
            "-K",
            ":",
            "-X",
            "topic.partitioner=murmur2_random",
        ],
        input.as_bytes(),
    );
    let lines: Vec<String> = keys.iter().map(|k| format!("{k}:x")).collect();
    produce(&broker, "by-fjordctl", &lines, &["-K", ":"]);
    let theirs = placements(&broker, "by-kcat");
    let ours = placements(&broker, "by-fjordctl");
    assert_eq!(theirs.len(), 60);
    assert_eq!(ours, theirs);
    // And the keys really spread: not everything on one partition.
    let used: std::collections::BTreeSet<i64> = ours.values().copied().collect();
    assert!(used.len() > 1, "{used:?}");
}
