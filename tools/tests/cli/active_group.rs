//! `group describe` while a consumer is a member: its assignment, and lag that is exact while
//! the member holds still.

use std::io::{BufRead, BufReader};
use std::process::Child;
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use fjord_compat_tests::{retry_until, Broker};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;

use crate::common::{create_topic, json, numbered, ok, produce, run, spawn};

/// How long a running consumer may take to print a record that is already written.
const PRINT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the group may take to settle (join, sync, first commit).
const SETTLE_TIMEOUT: Duration = Duration::from_secs(30);

/// A `fjordctl consume --group` process; killed on drop.
struct Member {
    child: Child,
    lines: Receiver<String>,
}

impl Member {
    fn start(broker: &Broker, topic: &str, group: &str) -> Self {
        let mut child = spawn(
            broker,
            &[
                "consume",
                topic,
                "-g",
                group,
                "--from-beginning",
                "-f",
                "json",
            ],
        );
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, lines }
    }

    /// The next `n` printed records, waiting at most [`PRINT_TIMEOUT`] in all.
    fn records(&self, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + PRINT_TIMEOUT;
        (0..n)
            .map(|i| {
                let left = deadline.saturating_duration_since(Instant::now());
                let line = self
                    .lines
                    .recv_timeout(left)
                    .unwrap_or_else(|e| panic!("record {i} of {n} not printed: {e}"));
                serde_json::from_str(&line).expect("a JSON line")
            })
            .collect()
    }

    fn signal(&self, signal: Signal) {
        let pid = Pid::from_raw(i32::try_from(self.child.id()).expect("a pid"));
        kill(pid, signal).expect("signal the consumer");
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `(committed, log end, lag, member id)` of each partition, in partition order.
fn rows(described: &Value) -> Vec<(i64, i64, i64, String)> {
    let mut rows: Vec<(i64, (i64, i64, i64, String))> = described["offsets"]
        .as_array()
        .expect("offsets")
        .iter()
        .map(|o| {
            (
                o["partition"].as_i64().expect("partition"),
                (
                    o["committed_offset"].as_i64().unwrap_or(-1),
                    o["log_end_offset"].as_i64().expect("log end"),
                    o["lag"].as_i64().unwrap_or(-1),
                    o["member_id"].as_str().unwrap_or("-").to_owned(),
                ),
            )
        })
        .collect();
    rows.sort_by_key(|(p, _)| *p);
    rows.into_iter().map(|(_, row)| row).collect()
}

/// Describes `group` until it is Stable with one member and `check` accepts it.
fn describe_until(
    broker: &Broker,
    group: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    describe_members_until(broker, group, 1, what, check)
}

/// Describes `group` until it is Stable with `members` members and `check` accepts it.
fn describe_members_until(
    broker: &Broker,
    group: &str,
    members: usize,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    retry_until(what, SETTLE_TIMEOUT, || {
        let described = json(&run(broker, &["group", "describe", group, "--json"]));
        let settled = described["state"] == "Stable"
            && described["members"].as_array().map(Vec::len) == Some(members);
        if settled && check(&described) {
            Ok(described)
        } else {
            Err(described.to_string())
        }
    })
}

#[test]
fn describe_shows_an_active_member_its_partitions_and_exact_lag() {
    let broker = Broker::start();
    create_topic(&broker, "live", 2);
    produce(&broker, "live", &numbered("a", 3), &["-p", "0"]);
    produce(&broker, "live", &numbered("b", 3), &["-p", "1"]);

    let member = Member::start(&broker, "live", "watchers");
    assert_eq!(member.records(6).len(), 6);
    // It commits right after printing; wait for that commit to land.
    let described = describe_until(&broker, "watchers", "caught up and committed", |d| {
        rows(d).iter().map(|r| r.0).collect::<Vec<_>>() == [3, 3]
    });
    let members = described["members"].as_array().expect("members");
    let member_id = members[0]["member_id"]
        .as_str()
        .expect("member id")
        .to_owned();
    assert!(!member_id.is_empty(), "{described}");
    assert_eq!(members[0]["client_id"], "fjordctl");
    assert_eq!(described["protocol_type"], "consumer");
    assert_eq!(described["protocol"], "range");
    assert_eq!(
        rows(&described),
        vec![(3, 3, 0, member_id.clone()), (3, 3, 0, member_id.clone()),]
    );

    // Paused, the member neither fetches nor commits, but stays in the group until its session
    // times out (10 s): new records are lag, partition by partition.
    member.signal(Signal::SIGSTOP);
    produce(&broker, "live", &numbered("c", 5), &["-p", "0"]);
    produce(&broker, "live", &numbered("d", 2), &["-p", "1"]);
    let described = describe_until(&broker, "watchers", "still a member", |_| true);
    assert_eq!(
        described["members"][0]["member_id"], member_id,
        "{described}"
    );
    assert_eq!(
        rows(&described),
        vec![(3, 8, 5, member_id.clone()), (3, 5, 2, member_id.clone()),]
    );
    // The table says the same.
    let text = ok(&run(&broker, &["group", "describe", "watchers"]));
    assert!(text.contains("state: Stable"), "{text}");
    assert!(text.contains("members: 1"), "{text}");
    let table: Vec<Vec<&str>> = text
        .lines()
        .filter(|l| l.starts_with("live "))
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(table.len(), 2, "{text}");
    assert_eq!(
        table[0][..6],
        ["live", "0", "3", "8", "5", member_id.as_str()]
    );
    assert_eq!(
        table[1][..6],
        ["live", "1", "3", "5", "2", member_id.as_str()]
    );
    assert_eq!(table[0][6], "fjordctl");

    // Resumed, it reads exactly the new records and its lag drains to zero.
    member.signal(Signal::SIGCONT);
    let mut resumed: Vec<(i64, i64)> = member
        .records(7)
        .iter()
        .map(|r| {
            (
                r["partition"].as_i64().expect("partition"),
                r["offset"].as_i64().expect("offset"),
            )
        })
        .collect();
    resumed.sort_unstable();
    assert_eq!(
        resumed,
        [(0, 3), (0, 4), (0, 5), (0, 6), (0, 7), (1, 3), (1, 4)]
    );
    let described = describe_until(&broker, "watchers", "lag drained", |d| {
        rows(d).iter().all(|r| r.2 == 0)
    });
    assert_eq!(
        rows(&described),
        vec![(8, 8, 0, member_id.clone()), (5, 5, 0, member_id)]
    );
}

#[test]
fn describe_shows_how_the_range_assignor_shared_partitions_between_two_members() {
    let broker = Broker::start();
    create_topic(&broker, "shared", 2);
    produce(&broker, "shared", &numbered("a", 3), &["-p", "0"]);
    produce(&broker, "shared", &numbered("b", 3), &["-p", "1"]);
    let first = Member::start(&broker, "shared", "pair");
    assert_eq!(first.records(6).len(), 6);
    describe_until(&broker, "pair", "the first member committed", |d| {
        rows(d).iter().map(|r| r.0).collect::<Vec<_>>() == [3, 3]
    });

    // The second member's join makes the first rejoin (at its next heartbeat); then each owns
    // one partition, the lower member id the first, as the range assignor orders them.
    let second = Member::start(&broker, "shared", "pair");
    let described = describe_members_until(&broker, "pair", 2, "two members share", |d| {
        let owners: Vec<String> = rows(d).into_iter().map(|r| r.3).collect();
        owners.len() == 2 && owners[0] != owners[1] && !owners.contains(&"-".to_owned())
    });
    let mut ids: Vec<String> = described["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| m["member_id"].as_str().expect("member id").to_owned())
        .collect();
    ids.sort();
    assert_eq!(
        rows(&described),
        vec![(3, 3, 0, ids[0].clone()), (3, 3, 0, ids[1].clone())]
    );

    // New records on partition 1 reach exactly one of the two, and its lag drains.
    produce(&broker, "shared", &numbered("c", 2), &["-p", "1"]);
    let (owner, other) = whichever_prints(&first, &second);
    let printed: Vec<(Option<i64>, Option<i64>)> = std::iter::once(owner.0)
        .chain(owner.1.records(1))
        .map(|r| (r["partition"].as_i64(), r["offset"].as_i64()))
        .collect();
    assert_eq!(printed, [(Some(1), Some(3)), (Some(1), Some(4))]);
    describe_members_until(&broker, "pair", 2, "partition 1 drained", |d| {
        rows(d)[1].0 == 5
    });
    assert!(
        other.lines.try_recv().is_err(),
        "both members printed partition 1"
    );
}

/// The first record either member prints, with the member that printed it and the other one.
fn whichever_prints<'a>(a: &'a Member, b: &'a Member) -> ((Value, &'a Member), &'a Member) {
    let deadline = Instant::now() + PRINT_TIMEOUT;
    while Instant::now() < deadline {
        // Bounded waits on each in turn; whichever has a line first owns the partition.
        for (this, that) in [(a, b), (b, a)] {
            if let Ok(line) = this.lines.recv_timeout(Duration::from_millis(20)) {
                let record = serde_json::from_str(&line).expect("a JSON line");
                return ((record, this), that);
            }
        }
    }
    panic!("neither member printed a record within {PRINT_TIMEOUT:?}");
}
