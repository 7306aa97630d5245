"""Transactions against fjord with confluent-kafka: a consume-transform-produce loop
whose aborted attempts are invisible to read_committed readers (and visible to
read_uncommitted ones), zombie fencing by a newer producer with the same transactional
id, transactions that end (commit or timeout-abort) across a broker restart, offsets of
aborted transactions that are never committed, and the coordinator's view of transactions
through kafka-python's describe_transactions / list_transactions."""

import time

import confluent_kafka
import pytest
from confluent_kafka import (
    OFFSET_INVALID,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, NewTopic
from kafka import KafkaAdminClient
from kafka import TopicPartition as KTopicPartition
from kafka.admin._transactions import TransactionState

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


def reader(broker, isolation, group="reader", **extra):
    conf = {
        "bootstrap.servers": broker.bootstrap,
        "group.id": group,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "isolation.level": isolation,
    }
    conf.update(extra)
    return Consumer(conf)


def high_watermark(broker, topic):
    """Partition 0's high watermark (ListOffsets at read_uncommitted: the last stable offset
    would stop short of an open transaction)."""
    c = reader(broker, "read_uncommitted")
    try:
        _, high = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=T, cached=False)
        return high
    finally:
        c.close()


def read_values(broker, topic, isolation, timeout=20.0):
    """Every value a reader at `isolation` sees in partition 0, read from the start to the
    high watermark taken first. The reader stops when librdkafka reports the partition's end
    at or past that offset: a read_committed reader gets there only once its last stable
    offset has caught up (no transaction before it is still open), so no time window guesses
    when everything has arrived."""
    end = high_watermark(broker, topic)
    c = reader(broker, isolation, **{"enable.partition.eof": True})
    try:
        c.assign([TopicPartition(topic, 0, 0)])
        got = []
        deadline = time.monotonic() + timeout
        while True:
            assert time.monotonic() < deadline, ctx(
                f"{isolation} reader of {topic} did not reach offset {end} (read {got})"
            )
            m = c.poll(0.2)
            if m is None:
                continue
            if m.error() is None:
                got.append(m.value())
            elif m.error().code() == KafkaError._PARTITION_EOF and m.offset() >= end:
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
            aborted = [m.value().upper() for m in msgs]
            aborted_after = processed
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
    committed = read_values(broker, "ctp-out", "read_committed")
    assert committed == expected, ctx("read_committed sees each transformed record once, in order")
    uncommitted = read_values(broker, "ctp-out", "read_uncommitted")
    assert uncommitted == expected[:aborted_after] + aborted + expected[aborted_after:], ctx(
        "read_uncommitted also sees the aborted attempt, where it was written"
    )

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
    assert read_values(broker, "fenced", "read_committed") == [b"fresh"], ctx(
        "only the new producer's record is committed"
    )
    assert read_values(broker, "fenced", "read_uncommitted") == [b"zombie", b"fresh"], ctx(
        "the zombie's record was written, then aborted by the fencing"
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
    got = read_values(broker, "restart-txn", "read_committed")
    assert got == [b"committed", b"after"], ctx("the open transaction was aborted, not left hanging")
    everything = read_values(broker, "restart-txn", "read_uncommitted")
    assert everything == [b"committed", b"never-committed", b"after"]

    # The transactional id is usable again after the restart.
    again = txn_producer(broker, "open-at-restart")
    again.init_transactions(T)
    again.begin_transaction()
    again.produce("restart-txn", b"second-life", partition=0)
    again.commit_transaction(T)
    assert read_values(broker, "restart-txn", "read_committed") == [
        b"committed", b"after", b"second-life",
    ]


def test_offsets_sent_in_an_aborted_transaction_are_not_committed(broker):
    create_topic(broker, "abort-offsets")
    p = txn_producer(broker, "abort-offsets")
    p.init_transactions(T)
    group = reader(broker, "read_committed", group="abort-offsets-group")
    tp = TopicPartition("abort-offsets", 0)
    try:
        p.begin_transaction()
        p.produce("abort-offsets", b"discarded", partition=0)
        p.send_offsets_to_transaction(
            [TopicPartition("abort-offsets", 0, 42)], group.consumer_group_metadata(), T
        )
        p.abort_transaction(T)
        # EndTxn answers after the coordinator finished: nothing is left to land later.
        got = group.committed([tp], timeout=T)[0].offset
        assert got == OFFSET_INVALID, ctx(f"the aborted transaction's offset was committed: {got}")

        # The control: the same call in a committed transaction does commit.
        p.begin_transaction()
        p.produce("abort-offsets", b"kept", partition=0)
        p.send_offsets_to_transaction(
            [TopicPartition("abort-offsets", 0, 7)], group.consumer_group_metadata(), T
        )
        p.commit_transaction(T)
        assert group.committed([tp], timeout=T)[0].offset == 7, ctx("the committed offset")
    finally:
        group.close()
    assert read_values(broker, "abort-offsets", "read_committed") == [b"kept"]


def test_an_open_transaction_is_described_and_listed(broker):
    """DescribeTransactions and ListTransactions through kafka-python's admin client
    (confluent-kafka's has neither)."""
    create_topic(broker, "described", partitions=2)
    idle = txn_producer(broker, "idle-txn")
    idle.init_transactions(T)
    p = txn_producer(broker, "open-txn")
    p.init_transactions(T)
    p.begin_transaction()
    p.produce("described", b"x", partition=1)
    assert p.flush(T) == 0  # the partition was added before the record was sent
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=T * 1000)

    def listed(*states):
        by_broker = admin.list_transactions(state_filters=list(states))
        return sorted((t.transactional_id, t.state) for ts in by_broker.values() for t in ts)

    try:
        open_txn = admin.describe_transactions(["open-txn"])["open-txn"]
        assert open_txn.state == TransactionState.ONGOING, ctx(f"{open_txn}")
        assert open_txn.topic_partitions == {KTopicPartition("described", 1)}, ctx(f"{open_txn}")
        assert open_txn.producer_epoch == 0 and open_txn.transaction_start_time_ms > 0, ctx(
            f"{open_txn}"
        )
        assert listed("Ongoing") == [("open-txn", TransactionState.ONGOING)]
        assert listed("Empty") == [("idle-txn", TransactionState.EMPTY)]
        assert listed() == [
            ("idle-txn", TransactionState.EMPTY),
            ("open-txn", TransactionState.ONGOING),
        ]

        p.commit_transaction(T)
        done = admin.describe_transactions(["open-txn"])["open-txn"]
        assert done.state == TransactionState.COMPLETE_COMMIT, ctx(f"{done}")
        assert done.topic_partitions == set(), ctx("a finished transaction holds no partitions")
        assert listed("Ongoing") == []
        assert listed("CompleteCommit") == [("open-txn", TransactionState.COMPLETE_COMMIT)]
    finally:
        admin.close()


def test_idle_transactional_ids_expire_after_the_configured_time(broker_factory):
    """--transactional-id-expiration-ms reaches the coordinator: a finished transactional id
    is forgotten, an open one is kept, and the forgotten one stays gone after a restart."""
    broker = broker_factory("--transactional-id-expiration-ms", 1000)
    create_topic(broker, "expiring")
    done = txn_producer(broker, "finished")
    done.init_transactions(T)
    done.begin_transaction()
    done.produce("expiring", b"committed", partition=0)
    done.commit_transaction(T)
    still_open = txn_producer(broker, "still-open")
    still_open.init_transactions(T)
    still_open.begin_transaction()
    still_open.produce("expiring", b"pending", partition=0)
    assert still_open.flush(T) == 0
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=T * 1000)

    def ids():
        by_broker = admin.list_transactions()
        return sorted(t.transactional_id for ts in by_broker.values() for t in ts)

    try:
        wait_until("the finished id expired", lambda: ids() == ["still-open"])
    finally:
        admin.close()
    still_open.commit_transaction(T)

    # Back to the default week: only the tombstone written at expiry can keep it gone now.
    broker.args = []
    broker.restart()
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=T * 1000)
    try:
        assert "finished" not in ids(), ctx("the tombstone keeps it gone after a restart")
    finally:
        admin.close()
