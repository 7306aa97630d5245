"""Consumer groups with stock clients: assignment, hand-over, cooperative rebalancing, static
membership, committed offsets across restarts, and fan-out to several groups.

Brokers here start with no initial rebalance delay (Kafka's default of 3 s would only slow the
tests) and a short minimum session timeout, so crash hand-over is quick.
"""

import subprocess
import sys
import threading
import time

import confluent_kafka
import kafka
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from helpers import wait_until

CLIENT = f"confluent-kafka {confluent_kafka.version()[0]} / librdkafka {confluent_kafka.libversion()[0]}"
KP = f"kafka-python {kafka.__version__}"
T = 15.0
GROUP_ARGS = ("--group-initial-rebalance-delay-ms", "0", "--group-min-session-timeout-ms", "1000")


def ctx(client, scenario):
    return f"[{client}] {scenario}"


@pytest.fixture
def gbroker(broker_factory):
    return broker_factory(*GROUP_ARGS)


def create_topic(broker, name, partitions):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])[name].result(timeout=T)


def produce(broker, topic, values, partitions=1):
    """Produces values round-robin over the first `partitions` partitions; all must be acked."""
    p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5})
    for i, v in enumerate(values):
        p.produce(topic, value=v, partition=i % partitions)
    assert p.flush(T) == 0, "all records acknowledged"


class Member:
    """A confluent-kafka group member that records what it is assigned and consumes."""

    def __init__(self, broker, group, topic, **extra):
        conf = {
            "bootstrap.servers": broker.bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 200,
        }
        conf.update(extra)
        self.cooperative = conf.get("partition.assignment.strategy") == "cooperative-sticky"
        self.assigned = set()
        self.revocations = 0
        self.consumer = Consumer(conf)
        self.consumer.subscribe([topic], on_assign=self._on_assign, on_revoke=self._on_revoke)
        self.values = []

    def _on_assign(self, consumer, partitions):
        if self.cooperative:
            self.assigned |= {p.partition for p in partitions}
        else:
            self.assigned = {p.partition for p in partitions}

    def _on_revoke(self, consumer, partitions):
        self.revocations += 1
        if self.cooperative:
            self.assigned -= {p.partition for p in partitions}
        else:
            self.assigned = set()

    def poll(self):
        msg = self.consumer.poll(0.05)
        if msg is not None and msg.error() is None:
            self.values.append(msg.value())


def settle(members, check, what, timeout=30.0):
    """Polls every member until check() holds."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what}: not reached within {timeout}s: " + repr(
            [sorted(m.assigned) for m in members]
        )
        for m in members:
            m.poll()


def covers(members, partitions):
    sets = [m.assigned for m in members]
    union = set().union(*sets)
    disjoint = sum(len(s) for s in sets) == len(union)
    return disjoint and union == set(range(partitions)) and all(sets)


@pytest.mark.parametrize("count", [2, 3])
def test_members_get_disjoint_assignments_covering_all_partitions(gbroker, count):
    scenario = f"{count} members of one group split 6 partitions disjointly and completely"
    create_topic(gbroker, "split", 6)
    members = [Member(gbroker, "g-split", "split") for _ in range(count)]
    try:
        settle(members, lambda: covers(members, 6), ctx(CLIENT, scenario))
    finally:
        for m in members:
            m.consumer.close()


def test_leaving_member_hands_its_partitions_over(gbroker):
    scenario = "after one of two members closes, the other owns every partition"
    create_topic(gbroker, "handover", 4)
    a, b = Member(gbroker, "g-hand", "handover"), Member(gbroker, "g-hand", "handover")
    settle([a, b], lambda: covers([a, b], 4), ctx(CLIENT, scenario))
    b.consumer.close()
    try:
        settle([a], lambda: a.assigned == {0, 1, 2, 3}, ctx(CLIENT, scenario))
    finally:
        a.consumer.close()


def test_cooperative_sticky_rebalances_incrementally(gbroker):
    scenario = "cooperative-sticky: a joining member takes partitions without the first losing all"
    create_topic(gbroker, "coop", 4)
    strategy = {"partition.assignment.strategy": "cooperative-sticky"}
    a = Member(gbroker, "g-coop", "coop", **strategy)
    settle([a], lambda: a.assigned == {0, 1, 2, 3}, ctx(CLIENT, scenario))
    before = set(a.assigned)
    b = Member(gbroker, "g-coop", "coop", **strategy)
    try:
        settle([a, b], lambda: covers([a, b], 4), ctx(CLIENT, scenario))
        # Sticky: what the first member keeps, it had before; it never held nothing.
        assert a.assigned < before, ctx(CLIENT, scenario)
    finally:
        for m in (a, b):
            m.consumer.close()


def test_static_member_rejoins_without_rebalance(gbroker):
    scenario = "a static member that restarts within its session timeout keeps its partitions, no rebalance"
    create_topic(gbroker, "static", 2)
    static = {"group.instance.id": "worker-1", "session.timeout.ms": 10000}
    a = Member(gbroker, "g-static", "static", **static)
    b = Member(gbroker, "g-static", "static", **{"group.instance.id": "worker-2", "session.timeout.ms": 10000})
    settle([a, b], lambda: covers([a, b], 2), ctx(CLIENT, scenario))
    kept = set(a.assigned)
    revocations_of_b = b.revocations
    a.consumer.close()  # static members do not send LeaveGroup
    a2 = Member(gbroker, "g-static", "static", **static)
    try:
        settle([a2, b], lambda: a2.assigned == kept, ctx(CLIENT, scenario))
        assert b.revocations == revocations_of_b, ctx(CLIENT, f"{scenario}: the other member was rebalanced")
    finally:
        for m in (a2, b):
            m.consumer.close()


def consume_values(broker, group, topic, count):
    m = Member(broker, group, topic)
    try:
        settle([m], lambda: len(m.values) >= count, f"{group} reads {count} records")
        return m, list(m.values)
    except BaseException:
        m.consumer.close()
        raise


def test_commit_close_reopen_resumes_after_last_commit(gbroker):
    scenario = "commit after 5 of 10 records, close, reopen: the next record is the 6th"
    create_topic(gbroker, "resume", 1)
    produce(gbroker, "resume", [f"r{i}".encode() for i in range(10)])
    m = Member(gbroker, "g-resume", "resume")
    try:
        settle([m], lambda: len(m.values) >= 5, ctx(CLIENT, scenario))
        m.consumer.commit(offsets=[TopicPartition("resume", 0, 5)], asynchronous=False)
    finally:
        m.consumer.close()
    again = Member(gbroker, "g-resume", "resume")
    try:
        settle([again], lambda: len(again.values) >= 5, ctx(CLIENT, scenario))
        assert again.values[:5] == [f"r{i}".encode() for i in range(5, 10)], ctx(CLIENT, scenario)
    finally:
        again.consumer.close()


def test_committed_offsets_survive_a_broker_restart(gbroker):
    scenario = "offsets committed before a restart are fetched after it"
    create_topic(gbroker, "durable-offsets", 1)
    m = Member(gbroker, "g-durable", "durable-offsets")
    try:
        settle([m], lambda: m.assigned == {0}, ctx(CLIENT, scenario))
        m.consumer.commit(offsets=[TopicPartition("durable-offsets", 0, 42)], asynchronous=False)
    finally:
        m.consumer.close()
    gbroker.restart()
    c = Consumer({"bootstrap.servers": gbroker.bootstrap, "group.id": "g-durable"})
    try:
        got = wait_until(
            ctx(CLIENT, scenario),
            lambda: c.committed([TopicPartition("durable-offsets", 0)], timeout=5),
        )
        assert got[0].offset == 42, ctx(CLIENT, scenario)
    finally:
        c.close()


def test_two_groups_each_receive_every_message(gbroker):
    scenario = "fan-out: two groups on one topic each read all 20 records"
    create_topic(gbroker, "fanout", 2)
    values = [f"f{i}".encode() for i in range(20)]
    produce(gbroker, "fanout", values, partitions=2)
    for group in ("g-fan-a", "g-fan-b"):
        m, got = consume_values(gbroker, group, "fanout", 20)
        m.consumer.close()
        assert sorted(got) == sorted(values), ctx(CLIENT, f"{scenario}: {group}")


def test_kafka_python_group_consumer_commits_and_resumes(gbroker):
    scenario = "kafka-python: a group consumer reads, commits, and a new one resumes after it"
    create_topic(gbroker, "kp-group", 1)
    produce(gbroker, "kp-group", [f"k{i}".encode() for i in range(6)])
    common = dict(
        bootstrap_servers=gbroker.bootstrap,
        group_id="g-kp",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=int(T * 1000),
    )
    first = kafka.KafkaConsumer("kp-group", **common)
    got = []
    for msg in first:
        got.append(msg.value)
        if len(got) == 3:
            break
    first.commit()
    first.close()
    assert got == [b"k0", b"k1", b"k2"], ctx(KP, scenario)
    second = kafka.KafkaConsumer("kp-group", **common)
    rest = []
    for msg in second:
        rest.append(msg.value)
        if len(rest) == 3:
            break
    second.close()
    assert rest == [b"k3", b"k4", b"k5"], ctx(KP, scenario)


CRASHING_MEMBER = """
import sys
from confluent_kafka import Consumer
c = Consumer({"bootstrap.servers": sys.argv[1], "group.id": "g-crash",
              "session.timeout.ms": 2000, "heartbeat.interval.ms": 200,
              "auto.offset.reset": "earliest"})
def assigned(consumer, partitions):
    if partitions:
        print("assigned", ",".join(str(p.partition) for p in partitions), flush=True)
c.subscribe(["crash"], on_assign=assigned)
while True:
    c.poll(0.1)
"""


def test_crashed_member_hands_over_at_session_timeout(gbroker):
    scenario = "a member killed with SIGKILL (no LeaveGroup) loses its partitions at session timeout"
    create_topic(gbroker, "crash", 4)
    survivor = Member(gbroker, "g-crash", "crash", **{"session.timeout.ms": 2000})
    child = subprocess.Popen([sys.executable, "-c", CRASHING_MEMBER, gbroker.bootstrap],
                             stdout=subprocess.PIPE, text=True)
    said = []
    # Read the child's lines on a thread: the survivor must keep polling meanwhile, or the
    # rebalance that lets the child in cannot complete.
    threading.Thread(target=lambda: said.extend(child.stdout), daemon=True).start()
    try:
        # Both members hold partitions: the child says so, the survivor's callback records it.
        settle(
            [survivor],
            lambda: any(line.startswith("assigned") for line in said) and 0 < len(survivor.assigned) < 4,
            ctx(CLIENT, scenario),
        )
        child.kill()
        child.wait()
        settle([survivor], lambda: survivor.assigned == {0, 1, 2, 3}, ctx(CLIENT, scenario))
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        survivor.consumer.close()
