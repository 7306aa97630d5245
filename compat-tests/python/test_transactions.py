"""Transactions against fjord with confluent-kafka: a consume-transform-produce loop
whose aborted attempts are invisible to read_committed readers (and visible to
read_uncommitted ones), zombie fencing by a newer producer with the same transactional
id, and transactions that end (commit or timeout-abort) across a broker restart."""

import time

import confluent_kafka
import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from helpers import numbered, wait_until

CLIENT = f"confluent-kafka {confluent_kafka.version()[0]} / librdkafka {confluent_kafka.libversion()[0]}"
T = 15


def ctx(scenario):
    return f"[{CLIENT}] {scenario}"


def create_topic(broker, name, partitions=1):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    for f in admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)]).values():
        f.result(timeout=T)
    wait_until(
        f"{name} in metadata",
        lambda: len(admin.list_topics(name, timeout=T).topics[name].partitions) == partitions,
    )


def txn_producer(broker, txn_id, **extra):
    conf = {
        "bootstrap.servers": broker.bootstrap,
        "transactional.id": txn_id,
        "message.timeout.ms": 20000,
    }
    conf.update(extra)
    return Producer(conf)


def reader(broker, isolation, group="reader"):
    return Consumer({
        "bootstrap.servers": broker.bootstrap,
        "group.id": group,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "isolation.level": isolation,
    })


def read_values(broker, topic, isolation, expect, timeout=20.0, settle=1.0):
    """Reads partition 0 from the start until `expect` values arrived, then a little longer
    to catch extras; returns all values read."""
    c = reader(broker, isolation)
    try:
        c.assign([TopicPartition(topic, 0, 0)])
        got = []
        deadline = time.monotonic() + timeout
        settle_until = None
        while time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is not None and not m.error():
                got.append(m.value())
            if len(got) >= expect:
                settle_until = settle_until or time.monotonic() + settle
                if time.monotonic() >= settle_until:
                    break
        return got
    finally:
        c.close()


def test_consume_transform_produce_hides_aborted_batches(broker):
    create_topic(broker, "ctp-in")
    create_topic(broker, "ctp-out")
    inputs = numbered("in", 20)
    plain = Producer({"bootstrap.servers": broker.bootstrap})
    for v in inputs:
        plain.produce("ctp-in", v, partition=0)
    assert plain.flush(T) == 0

    p = txn_producer(broker, "ctp")
    p.init_transactions(T)
    c = Consumer({
        "bootstrap.servers": broker.bootstrap,
        "group.id": "ctp-group",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "isolation.level": "read_committed",
    })
    c.assign([TopicPartition("ctp-in", 0, 0)])
    processed, aborted_once, batches = 0, False, 0
    deadline = time.monotonic() + 60
    while processed < len(inputs):
        assert time.monotonic() < deadline, ctx(f"loop stalled after {processed} records")
        msgs = [m for m in c.consume(num_messages=5, timeout=1.0) if not m.error()]
        if not msgs:
            continue
        p.begin_transaction()
        for m in msgs:
            p.produce("ctp-out", m.value().upper(), partition=0)
        batches += 1
        if batches == 2 and not aborted_once:
            # The second batch's first attempt fails after its records reached the log:
            # abort and reprocess it.
            aborted_once = True
            assert p.flush(T) == 0
            p.abort_transaction(T)
            c.seek(TopicPartition("ctp-in", 0, msgs[0].offset()))
            continue
        p.send_offsets_to_transaction(
            [TopicPartition("ctp-in", 0, msgs[-1].offset() + 1)],
            c.consumer_group_metadata(),
            T,
        )
        p.commit_transaction(T)
        processed += len(msgs)
    c.close()

    expected = [v.upper() for v in inputs]
    committed = read_values(broker, "ctp-out", "read_committed", len(expected))
    assert committed == expected, ctx("read_committed sees each transformed record once, in order")
    uncommitted = read_values(broker, "ctp-out", "read_uncommitted", len(expected) + 5)
    assert len(uncommitted) > len(expected), ctx("read_uncommitted also sees the aborted attempt")
    assert sorted(set(uncommitted)) == sorted(expected), ctx("the extras are the aborted copies")

    offsets = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "ctp-group"})
    try:
        got = offsets.committed([TopicPartition("ctp-in", 0)], timeout=T)
        assert got[0].offset == len(inputs), ctx("the group's offset moved with the commits")
    finally:
        offsets.close()


def test_a_newer_producer_fences_the_older_one(broker):
    create_topic(broker, "fenced")
    old = txn_producer(broker, "fence-me")
    old.init_transactions(T)
    old.begin_transaction()
    old.produce("fenced", b"zombie", partition=0)
    assert old.flush(T) == 0

    new = txn_producer(broker, "fence-me")
    new.init_transactions(T)  # bumps the epoch, aborting the old instance's transaction

    with pytest.raises(KafkaException) as raised:
        old.commit_transaction(T)
    err = raised.value.args[0]
    assert err.fatal() or err.txn_requires_abort(), ctx(f"the old producer is fenced: {err}")

    new.begin_transaction()
    new.produce("fenced", b"fresh", partition=0)
    new.commit_transaction(T)
    assert read_values(broker, "fenced", "read_committed", 1) == [b"fresh"], ctx(
        "only the new producer's record is committed"
    )


def test_transactions_complete_across_a_restart(broker):
    create_topic(broker, "restart-txn")
    done = txn_producer(broker, "committed-before")
    done.init_transactions(T)
    done.begin_transaction()
    done.produce("restart-txn", b"committed", partition=0)
    done.commit_transaction(T)

    # Left open at the restart; its short timeout aborts it afterwards.
    hanging = txn_producer(
        broker, "open-at-restart", **{"transaction.timeout.ms": 2000, "message.timeout.ms": 2000}
    )
    hanging.init_transactions(T)
    hanging.begin_transaction()
    hanging.produce("restart-txn", b"never-committed", partition=0)
    assert hanging.flush(T) == 0

    broker.restart()

    plain = Producer({"bootstrap.servers": broker.bootstrap})
    plain.produce("restart-txn", b"after", partition=0)
    assert plain.flush(T) == 0
    # read_committed must not stay stuck behind the open transaction.
    got = read_values(broker, "restart-txn", "read_committed", 2)
    assert got == [b"committed", b"after"], ctx("the open transaction was aborted, not left hanging")
    everything = read_values(broker, "restart-txn", "read_uncommitted", 3)
    assert everything == [b"committed", b"never-committed", b"after"]

    # The transactional id is usable again after the restart.
    again = txn_producer(broker, "open-at-restart")
    again.init_transactions(T)
    again.begin_transaction()
    again.produce("restart-txn", b"second-life", partition=0)
    again.commit_transaction(T)
    assert read_values(broker, "restart-txn", "read_committed", 3) == [
        b"committed", b"after", b"second-life",
    ]
