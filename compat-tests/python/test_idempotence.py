"""Idempotent producers against fjord: confluent-kafka, aiokafka and kafka-python
(whose 3.x default is idempotent) produce without duplicates, including when the broker
appends a batch and then drops the connection instead of answering (the test-only fault
FJORD_TEST_DROP_AFTER_APPEND=N), so the client retries a batch that already landed. The
producer state behind it is read back with kafka-python's DescribeProducers, also after
restarts."""

import asyncio

import aiokafka
import confluent_kafka
import kafka
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition as CkTopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from kafka import KafkaAdminClient
from kafka import TopicPartition as KTopicPartition

from helpers import numbered, wait_until

T = 10
DROP_VAR = "FJORD_TEST_DROP_AFTER_APPEND"
# Logged by the broker (broker/src/test_faults.rs) when it drops the answer.
DROP_FIRED = "test fault fired: produce answer dropped after its append"
CLIENTS = {
    "confluent": f"confluent-kafka {confluent_kafka.version()[0]} / librdkafka {confluent_kafka.libversion()[0]}",
    "aiokafka": f"aiokafka {aiokafka.__version__}",
    "kafka-python": f"kafka-python {kafka.__version__}",
}


def ctx(client, scenario):
    return f"[{CLIENTS[client]}] {scenario}"


def create_topic(broker, name, partitions=1):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    futures = admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
    for f in futures.values():
        f.result(timeout=T)
    wait_until(
        f"{name} in metadata",
        lambda: len(admin.list_topics(name, timeout=T).topics[name].partitions) == partitions,
    )


def read_all(broker, topic, partitions=1, expect=None, timeout=15.0):
    """Every value in the topic, per partition in offset order, with offsets. Reads until
    the end offsets are reached (so extra records, were there any, are seen too)."""
    c = Consumer({
        "bootstrap.servers": broker.bootstrap,
        "group.id": "idempotence-reader",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
    })
    try:
        ends = {}
        for p in range(partitions):
            _, high = c.get_watermark_offsets(CkTopicPartition(topic, p), timeout=T)
            ends[p] = high
        c.assign([CkTopicPartition(topic, p, 0) for p in range(partitions)])
        got = {p: [] for p in range(partitions)}
        import time
        deadline = time.monotonic() + timeout
        while any(len(got[p]) < ends[p] for p in got) and time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is None or m.error():
                continue
            got[m.partition()].append((m.offset(), m.value()))
        return got, ends
    finally:
        c.close()


def describe_producers(broker, topic):
    """DescribeProducers for partition 0 (kafka-python's admin client), by producer id."""
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=T * 1000)
    try:
        tp = KTopicPartition(topic, 0)
        states = admin.describe_producers([tp])[tp].active_producers
        return {p.producer_id: p for p in states}
    finally:
        admin.close()


def only_producer(broker, topic):
    states = describe_producers(broker, topic)
    assert len(states) == 1, f"one producer expected in {topic}: {states}"
    return next(iter(states.values()))


# --- one produce call per client, each flushed on its own so it is one Produce request ---

def produce_confluent(broker, topic, values, extra=None):
    conf = {
        "bootstrap.servers": broker.bootstrap,
        "enable.idempotence": True,
        "linger.ms": 0,
        "message.timeout.ms": 20000,
        "retry.backoff.ms": 50,
    }
    conf.update(extra or {})
    p = Producer(conf)
    offsets, errors = [], []

    def report(err, msg):
        if err is not None:
            errors.append(err)
        else:
            offsets.append(msg.offset())

    for v in values:
        p.produce(topic, v, partition=0, on_delivery=report)
        assert p.flush(20) == 0, "messages left unflushed"
    return offsets, errors


def produce_kafka_python(broker, topic, values):
    producer = kafka.KafkaProducer(
        bootstrap_servers=broker.bootstrap,
        request_timeout_ms=T * 1000,
        retry_backoff_ms=50,
    )
    try:
        offsets = []
        for v in values:
            offsets.append(producer.send(topic, value=v, partition=0).get(timeout=20).offset)
        return offsets, []
    finally:
        producer.close(timeout=T)


def produce_aiokafka(broker, topic, values):
    async def run():
        p = aiokafka.AIOKafkaProducer(
            bootstrap_servers=broker.bootstrap,
            enable_idempotence=True,
            request_timeout_ms=T * 1000,
            retry_backoff_ms=50,
        )
        await p.start()
        try:
            offsets = []
            for v in values:
                md = await p.send_and_wait(topic, v, partition=0)
                offsets.append(md.offset)
            return offsets, []
        finally:
            await p.stop()

    return asyncio.run(run())


PRODUCE = {
    "confluent": produce_confluent,
    "aiokafka": produce_aiokafka,
    "kafka-python": produce_kafka_python,
}


@pytest.mark.parametrize("client", list(PRODUCE))
def test_idempotent_produce_has_no_duplicates(broker, client):
    topic = f"idem-{client}"
    create_topic(broker, topic)
    values = numbered("v", 20)
    offsets, errors = PRODUCE[client](broker, topic, values)
    assert errors == [], ctx(client, f"delivery errors: {errors}")
    assert offsets == list(range(20)), ctx(client, "offsets acknowledged in order")
    got, ends = read_all(broker, topic)
    assert ends[0] == 20, ctx(client, "exactly the produced records are in the log")
    assert [v for _, v in got[0]] == values, ctx(client, "values in order")
    state = only_producer(broker, topic)
    assert (state.producer_epoch, state.last_sequence, state.current_transaction_start_offset) == (
        0, 19, -1,
    ), ctx(client, f"DescribeProducers shows the producer's last sequence: {state}")


@pytest.mark.parametrize("client", list(PRODUCE))
def test_retry_after_a_lost_answer_is_not_written_twice(broker_factory, monkeypatch, client):
    # The second Produce request is appended, then its connection is closed unanswered.
    monkeypatch.setenv(DROP_VAR, "2")
    broker = broker_factory()
    topic = f"idem-drop-{client}"
    create_topic(broker, topic)
    values = numbered("r", 4)
    offsets, errors = PRODUCE[client](broker, topic, values)
    assert errors == [], ctx(client, f"delivery errors: {errors}")
    # Logged before the connection is closed, so it is in stderr once the client has its
    # acknowledgements.
    assert broker.stderr_log().count(DROP_FIRED) == 1, ctx(client, "the answer was dropped once")
    # The retried record reports the offset it got the first time.
    assert offsets == [0, 1, 2, 3], ctx(client, "acknowledged offsets")
    got, ends = read_all(broker, topic)
    assert ends[0] == 4, ctx(client, f"log end after a retried append (got {got[0]})")
    assert [v for _, v in got[0]] == values, ctx(client, "each value exactly once, in order")
    assert only_producer(broker, topic).last_sequence == 3, ctx(client, "the retry added no sequence")


def test_without_idempotence_the_same_fault_duplicates(broker_factory, monkeypatch):
    """The control experiment: the fault really makes clients resend an appended batch."""
    monkeypatch.setenv(DROP_VAR, "2")
    broker = broker_factory()
    topic = "not-idempotent"
    create_topic(broker, topic)
    values = numbered("d", 3)
    _, errors = produce_confluent(
        broker, topic, values, {"enable.idempotence": False, "acks": "all", "retries": 5}
    )
    assert errors == [], ctx("confluent", f"delivery errors: {errors}")
    assert broker.stderr_log().count(DROP_FIRED) == 1, ctx("confluent", "the answer was dropped once")
    got, ends = read_all(broker, topic)
    assert ends[0] == 4, ctx("confluent", f"the resent batch is appended twice: {got[0]}")
    assert [v for _, v in got[0]] == [values[0], values[1], values[1], values[2]]


def test_producers_survive_a_restart(broker):
    """After a restart the partition still knows the producer: DescribeProducers shows the
    same id, epoch, last sequence and timestamp as before. Checked after a kill -9 (state
    rebuilt by replaying the log) and after a graceful restart (state loaded from the
    snapshot written at shutdown)."""
    topic = "idem-restart"
    create_topic(broker, topic)
    offsets, errors = produce_confluent(broker, topic, numbered("a", 5))
    assert (offsets, errors) == ([0, 1, 2, 3, 4], [])
    before = only_producer(broker, topic)
    assert (before.producer_epoch, before.last_sequence) == (0, 4), before

    # Killed, so no shutdown snapshot: the state comes from the log.
    broker.kill9()
    broker.start()
    assert describe_producers(broker, topic) == {before.producer_id: before}, "rebuilt from the log"

    broker.restart()
    assert describe_producers(broker, topic) == {before.producer_id: before}, "loaded from a snapshot"

    # A new producer (librdkafka finds the new port only through a new bootstrap list) gets
    # its own id; the old producer's state sits beside it.
    offsets, errors = produce_confluent(broker, topic, numbered("b", 5))
    assert (offsets, errors) == ([5, 6, 7, 8, 9], [])
    after = describe_producers(broker, topic)
    assert after[before.producer_id] == before
    assert len(after) == 2 and all(p.last_sequence == 4 for p in after.values()), after
    got, ends = read_all(broker, topic)
    assert ends[0] == 10
    assert [v for _, v in got[0]] == numbered("a", 5) + numbered("b", 5)


def test_idle_producers_expire_after_the_configured_time(broker_factory):
    """--producer-id-expiration-ms reaches the maintenance task, which prunes partitions
    nobody writes to any more."""
    broker = broker_factory(
        "--producer-id-expiration-ms", 1000, "--log-retention-check-interval-ms", 100,
    )
    topic = "idem-expiry"
    create_topic(broker, topic)
    offsets, errors = produce_confluent(broker, topic, numbered("e", 2))
    assert (offsets, errors) == ([0, 1], [])
    wait_until(
        "the idle producer's state expired",
        lambda: describe_producers(broker, topic) == {},
        timeout=15.0,
    )
