//! Idempotent producers: librdkafka with `enable.idempotence=true` gets a producer id from
//! InitProducerId and produces every record exactly once, in order, with five requests in
//! flight per partition, also across a broker restart.

use fjord_compat_tests::Broker;
use rdkafka::Offset;

use crate::support::{
    consume, consumer, create_topic, ctx, numbered, produce_ok, producer, watermarks, Got, Rec,
};

/// Records per partition, with per-message batching to keep several requests in flight.
const PER_PARTITION: usize = 200;

fn records(prefix: &str, partitions: i32) -> Vec<Rec> {
    (0..partitions)
        .flat_map(|p| {
            numbered(&format!("{prefix}-{p}"), PER_PARTITION)
                .into_iter()
                .map(move |value| Rec {
                    value: Some(value),
                    partition: Some(p),
                    ..Rec::default()
                })
        })
        .collect()
}

fn idempotent(broker: &Broker) -> rdkafka::producer::FutureProducer {
    producer(
        broker,
        &[
            ("enable.idempotence", "true"),
            ("max.in.flight.requests.per.connection", "5"),
            // Small batches, so one partition has several requests in flight at once.
            ("batch.num.messages", "10"),
            ("linger.ms", "1"),
        ],
    )
}

fn values_of(
    broker: &Broker,
    topic: &str,
    partition: i32,
    count: usize,
    scenario: &str,
) -> Vec<Vec<u8>> {
    consume(
        &consumer(broker, &[]),
        &[(topic, partition, Offset::Beginning)],
        count,
        scenario,
    )
    .into_iter()
    .map(Got::value_bytes)
    .collect()
}

#[test]
fn idempotent_produce_writes_each_record_once_in_order() {
    let scenario = "idempotent producer, 3 partitions, 5 requests in flight";
    let broker = Broker::start();
    create_topic(&broker, "idem", 3, &[]);
    let deliveries = produce_ok(&idempotent(&broker), "idem", &records("a", 3), scenario);
    for (p, chunk) in deliveries.chunks(PER_PARTITION).enumerate() {
        let offsets: Vec<i64> = chunk.iter().map(|d| d.offset).collect();
        let expected: Vec<i64> = (0..PER_PARTITION as i64).collect();
        assert_eq!(
            offsets,
            expected,
            "{}: partition {p} offsets",
            ctx(scenario)
        );
    }
    for p in 0..3 {
        assert_eq!(
            watermarks(&broker, "idem", p),
            (0, PER_PARTITION as i64),
            "{}: partition {p} holds each record once",
            ctx(scenario)
        );
        assert_eq!(
            values_of(&broker, "idem", p, PER_PARTITION, scenario),
            numbered(&format!("a-{p}"), PER_PARTITION),
            "{}: partition {p} values in order",
            ctx(scenario)
        );
    }
}

#[test]
fn idempotent_producers_continue_after_a_crash() {
    let scenario = "idempotent produce, kill -9, recover, produce again with a new producer";
    let mut broker = Broker::start();
    create_topic(&broker, "idem-crash", 1, &[]);
    produce_ok(
        &idempotent(&broker),
        "idem-crash",
        &records("before", 1),
        scenario,
    );
    broker.kill9();
    broker.start_again();
    produce_ok(
        &idempotent(&broker),
        "idem-crash",
        &records("after", 1),
        scenario,
    );
    let mut expected = numbered("before-0", PER_PARTITION);
    expected.extend(numbered("after-0", PER_PARTITION));
    assert_eq!(
        watermarks(&broker, "idem-crash", 0),
        (0, 2 * PER_PARTITION as i64),
        "{}",
        ctx(scenario)
    );
    assert_eq!(
        values_of(&broker, "idem-crash", 0, 2 * PER_PARTITION, scenario),
        expected,
        "{}",
        ctx(scenario)
    );
}
