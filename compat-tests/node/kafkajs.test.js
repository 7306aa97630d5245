'use strict'
// kafkajs against fjord: admin topics and configs, auto-creation, producing with keys,
// headers and every codec, offsets by time, and consuming (kafkajs consumes through a
// consumer group only): seeks into a batch and back, compressed batches, a restart.
// What kafkajs produced is also read back with kcat, so the bytes suit another client.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const { Kafka, logLevel, CompressionTypes, ConfigResourceTypes } = require('kafkajs')
const { execFileSync } = require('node:child_process')
const { withBroker, kcatRead } = require('./broker')
const { registerCodecs } = require('./codecs')

registerCodecs()

const CLIENT = `kafkajs ${require('kafkajs/package.json').version}`
const ctx = (scenario) => `[${CLIENT}] ${scenario}`

function client (broker) {
  return new Kafka({
    clientId: 'fjord-compat-kafkajs',
    brokers: [broker.bootstrap],
    logLevel: logLevel.NOTHING,
    retry: { retries: 3, initialRetryTime: 100 }
  })
}

async function withAdmin (broker, fn) {
  const admin = client(broker).admin()
  await admin.connect()
  try { return await fn(admin) } finally { await admin.disconnect() }
}

let groups = 0

// A group consumer in a fresh group; its first rebalance does not wait (the brokers below run
// with --group-initial-rebalance-delay-ms 0).
async function withConsumer (broker, fn) {
  const consumer = client(broker).consumer({ groupId: `fjord-compat-${++groups}`, maxWaitTimeInMs: 100 })
  await consumer.connect()
  try { return await fn(consumer) } finally { await consumer.disconnect() }
}

// Runs `consumer` on partition 0 of `topic` from the beginning, calling `afterRun` once
// running (for a first seek) and `onMessage(message, got)` per message (for later seeks);
// resolves with every message once `got.length === count`; fails after 30 s.
function collect (consumer, topic, count, scenario, { afterRun = () => {}, onMessage = () => {} } = {}) {
  return new Promise((resolve, reject) => {
    const got = []
    const timer = setTimeout(() => reject(new Error(ctx(
      `${scenario}: ${got.length} of ${count} messages after 30 s, offsets ${got.map((m) => m.offset)}`))), 30000)
    consumer.subscribe({ topics: [topic], fromBeginning: true })
      .then(() => consumer.run({
        eachMessage: async ({ message }) => {
          if (got.length >= count) return
          got.push(message)
          onMessage(message, got)
          if (got.length === count) { clearTimeout(timer); resolve(got) }
        }
      }))
      .then(afterRun)
      .catch((e) => { clearTimeout(timer); reject(e) })
  })
}

const offsets = (messages) => messages.map((m) => Number(m.offset))
const range = (from, to) => Array.from({ length: to - from }, (_, i) => from + i)
const GROUP_ARGS = ['--group-initial-rebalance-delay-ms', '0']

async function withProducer (broker, fn) {
  const producer = client(broker).producer()
  await producer.connect()
  try { return await fn(producer) } finally { await producer.disconnect() }
}

test('admin creates, describes, lists and deletes topics', () => withBroker([], async (broker) => {
  const scenario = 'admin create with configs, metadata, describeConfigs, delete'
  await withAdmin(broker, async (admin) => {
    const created = await admin.createTopics({
      topics: [{ topic: 'admin-t', numPartitions: 3, replicationFactor: 1, configEntries: [{ name: 'retention.ms', value: '3600000' }] }],
      waitForLeaders: true
    })
    assert.equal(created, true, ctx(`${scenario}: created`))
    assert.ok((await admin.listTopics()).includes('admin-t'), ctx(`${scenario}: listed`))

    const { topics } = await admin.fetchTopicMetadata({ topics: ['admin-t'] })
    const partitions = topics[0].partitions.map((p) => [p.partitionId, p.leader, p.replicas, p.isr])
      .sort((a, b) => a[0] - b[0])
    assert.deepEqual(partitions, [[0, 1, [1], [1]], [1, 1, [1], [1]], [2, 1, [1], [1]]], ctx(`${scenario}: partitions`))

    const { resources } = await admin.describeConfigs({
      resources: [{ type: ConfigResourceTypes.TOPIC, name: 'admin-t', configNames: ['retention.ms', 'cleanup.policy'] }],
      includeSynonyms: false
    })
    const entries = Object.fromEntries(resources[0].configEntries.map((e) => [e.configName, e]))
    assert.equal(entries['retention.ms'].configValue, '3600000', ctx(`${scenario}: override`))
    assert.equal(entries['retention.ms'].isDefault, false, ctx(`${scenario}: override is not default`))
    assert.equal(entries['cleanup.policy'].configValue, 'delete', ctx(`${scenario}: default`))
    assert.equal(entries['cleanup.policy'].isDefault, true, ctx(`${scenario}: default is default`))

    // kafkajs answers false when the topic already exists.
    assert.equal(await admin.createTopics({ topics: [{ topic: 'admin-t', numPartitions: 1 }] }), false, ctx(`${scenario}: exists`))

    await admin.deleteTopics({ topics: ['admin-t'], timeout: 10000 })
    const deadline = Date.now() + 15000
    while ((await admin.listTopics()).includes('admin-t')) {
      assert.ok(Date.now() < deadline, ctx(`${scenario}: still listed after delete`))
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  })
}))

test('produce keys and headers; kcat reads them back', () => withBroker([], async (broker) => {
  const scenario = 'keyed records with headers from kafkajs, read by librdkafka'
  await withAdmin(broker, (admin) => admin.createTopics({ topics: [{ topic: 'keyed', numPartitions: 1 }], waitForLeaders: true }))
  const messages = Array.from({ length: 30 }, (_, i) => ({
    key: `k${i % 3}`, value: `v${i}`, headers: { seq: String(i), origin: 'kafkajs' }
  }))
  const meta = await withProducer(broker, (p) => p.send({ topic: 'keyed', messages, acks: -1 }))
  assert.deepEqual(meta.map((m) => [m.partition, m.errorCode, m.baseOffset]), [[0, 0, '0']], ctx(`${scenario}: ack`))

  const offsets = await withAdmin(broker, (admin) => admin.fetchTopicOffsets('keyed'))
  assert.deepEqual(offsets.map((o) => [o.partition, o.low, o.high]), [[0, '0', '30']], ctx(`${scenario}: watermarks`))

  const read = kcatRead(broker.bootstrap, 'keyed', 0, 30)
  assert.deepEqual(read.map((r) => [r.offset, r.key, r.payload, r.headers]),
    messages.map((m, i) => [i, m.key, m.value, ['seq', String(i), 'origin', 'kafkajs']]), ctx(scenario))
}))

const CODECS = [
  ['none', CompressionTypes.None],
  ['gzip', CompressionTypes.GZIP],
  ['snappy', CompressionTypes.Snappy],
  ['lz4', CompressionTypes.LZ4],
  ['zstd', CompressionTypes.ZSTD]
]
const codecValues = Array.from({ length: 200 }, (_, i) => `record ${i} ${'fjord '.repeat(i % 30)}`)

for (const [name, codec] of CODECS) {
  test(`compression ${name}: kafkajs produces, kcat and kafkajs read back`, () => withBroker(GROUP_ARGS, async (broker) => {
    const scenario = `compression ${name}: 200 records from kafkajs read by librdkafka and kafkajs`
    const topic = `codec-${name}`
    await withProducer(broker, (p) => p.send({ topic, compression: codec, messages: codecValues.map((value) => ({ value })) }))
    const read = kcatRead(broker.bootstrap, topic, 0, 200)
    assert.deepEqual(read.map((r) => r.payload), codecValues, ctx(`${scenario}: kcat`))
    const got = await withConsumer(broker, (c) => collect(c, topic, 200, scenario))
    assert.deepEqual(got.map((m) => m.value.toString()), codecValues, ctx(`${scenario}: kafkajs`))
  }))

  test(`compression ${name}: kcat produces, kafkajs consumes`, () => withBroker(GROUP_ARGS, async (broker) => {
    const scenario = `compression ${name}: 200 records from librdkafka read by kafkajs`
    const topic = `kcat-${name}`
    execFileSync('kcat', ['-b', broker.bootstrap, '-P', '-t', topic, '-p', '0',
      '-X', `compression.codec=${name}`, '-X', 'linger.ms=50'], { input: codecValues.join('\n') + '\n', timeout: 30000 })
    const got = await withConsumer(broker, (c) => collect(c, topic, 200, scenario))
    assert.deepEqual(got.map((m) => m.value.toString()), codecValues, ctx(scenario))
    assert.deepEqual(offsets(got), range(0, 200), ctx(`${scenario}: offsets`))
  }))
}

test('seek into the middle of a batch, then replay from an earlier offset', () => withBroker(GROUP_ARGS, async (broker) => {
  const scenario = 'seek to offset 4 of a 10-record batch delivers 4..9; a seek back to 2 replays 2..9'
  const values = range(0, 10).map((i) => `mid-${i}`)
  const [meta] = await withProducer(broker, (p) => p.send({ topic: 'mid', messages: values.map((value) => ({ value })) }))
  assert.equal(meta.baseOffset, '0', ctx(`${scenario}: one batch`))
  const got = await withConsumer(broker, (c) => collect(c, 'mid', 6 + 8, scenario, {
    afterRun: () => c.seek({ topic: 'mid', partition: 0, offset: '4' }),
    onMessage: (m) => { if (m.offset === '9') c.seek({ topic: 'mid', partition: 0, offset: '2' }) }
  }))
  assert.deepEqual(offsets(got), [...range(4, 10), ...range(2, 10)], ctx(scenario))
  assert.deepEqual(got.map((m) => m.value.toString()), [...values.slice(4), ...values.slice(2)], ctx(scenario))
}))

test('data survives a graceful restart', () => withBroker(GROUP_ARGS, async (broker) => {
  const scenario = 'records acknowledged before a restart are read after it; the next offset follows them'
  const messages = range(0, 20).map((i) => ({ key: `k${i % 3}`, value: `d${i}` }))
  await withProducer(broker, (p) => p.send({ topic: 'durable', messages }))
  await broker.restart()
  const got = await withConsumer(broker, (c) => collect(c, 'durable', 20, scenario))
  assert.deepEqual(got.map((m) => [m.key.toString(), m.value.toString()]), messages.map((m) => [m.key, m.value]), ctx(scenario))
  assert.deepEqual(offsets(got), range(0, 20), ctx(scenario))
  const [meta] = await withProducer(broker, (p) => p.send({ topic: 'durable', messages: [{ value: 'after' }] }))
  assert.equal(meta.baseOffset, '20', ctx(`${scenario}: next offset`))
}))

test('Metadata creates an unknown topic only when the client allows it', () => withBroker([], async (broker) => {
  const scenario = 'auto-create on Metadata: the admin client (allowAutoTopicCreation false) does not create; a consumer subscribing does'
  await withAdmin(broker, async (admin) => {
    await assert.rejects(admin.fetchTopicMetadata({ topics: ['auto-no'] }),
      (e) => /UNKNOWN_TOPIC_OR_PARTITION|does not host this topic-partition/.test(`${e.type} ${e.message}`),
      ctx(`${scenario}: admin metadata of an unknown topic`))
    assert.ok(!(await admin.listTopics()).includes('auto-no'), ctx(`${scenario}: admin created it`))
  })
  const consumer = client(broker).consumer({ groupId: 'fjord-compat-auto', allowAutoTopicCreation: true })
  await consumer.connect()
  try {
    await consumer.subscribe({ topics: ['auto-m'] })
  } finally {
    await consumer.disconnect()
  }
  const { topics } = await withAdmin(broker, (admin) => admin.fetchTopicMetadata({ topics: ['auto-m'] }))
  assert.deepEqual(topics.map((t) => [t.name, t.partitions.length]), [['auto-m', 1]], ctx(scenario))
}))

test('fetchTopicOffsetsByTimestamp finds the first record at or after a time', () => withBroker([], async (broker) => {
  const scenario = 'offsets by timestamp: first CreateTime >= target; past the end gives the high watermark'
  const base = Math.floor((Date.now() - 3600000) / 1000) * 1000
  await withAdmin(broker, (admin) => admin.createTopics({ topics: [{ topic: 'times', numPartitions: 1 }], waitForLeaders: true }))
  await withProducer(broker, (p) => p.send({
    topic: 'times',
    messages: Array.from({ length: 10 }, (_, i) => ({ value: `t${i}`, timestamp: String(base + i * 1000) }))
  }))
  await withAdmin(broker, async (admin) => {
    assert.deepEqual(await admin.fetchTopicOffsetsByTimestamp('times', base + 2500), [{ partition: 0, offset: '3' }], ctx(scenario))
    assert.deepEqual(await admin.fetchTopicOffsetsByTimestamp('times', base), [{ partition: 0, offset: '0' }], ctx(scenario))
    assert.deepEqual(await admin.fetchTopicOffsetsByTimestamp('times', base + 60000), [{ partition: 0, offset: '10' }], ctx(scenario))
  })
}))

test('max.message.bytes rejects a large record', () => withBroker([], async (broker) => {
  const scenario = 'topic max.message.bytes=1024: a 4000-byte record fails with MESSAGE_TOO_LARGE'
  await withAdmin(broker, (admin) => admin.createTopics({
    topics: [{ topic: 'small', numPartitions: 1, configEntries: [{ name: 'max.message.bytes', value: '1024' }] }],
    waitForLeaders: true
  }))
  const big = Buffer.from(Array.from({ length: 4000 }, (_, i) => Number((BigInt(i) * 2654435761n >> 24n) & 0xffn)))
  await withProducer(broker, async (p) => {
    await assert.rejects(p.send({ topic: 'small', messages: [{ value: big }] }),
      (e) => e.type === 'MESSAGE_TOO_LARGE' || /MESSAGE_TOO_LARGE|too large/i.test(`${e.type} ${e.message}`),
      ctx(scenario))
    const [meta] = await p.send({ topic: 'small', messages: [{ value: 'small' }] })
    assert.equal(meta.baseOffset, '0', ctx(`${scenario}: rejected record took no offset`))
  })
}))

test('producing to an unknown topic auto-creates it', () => withBroker([], async (broker) => {
  const scenario = 'auto-create on produce: 1 partition, offset 0'
  const [meta] = await withProducer(broker, (p) => p.send({ topic: 'auto-p', messages: [{ key: 'k', value: 'v' }] }))
  assert.deepEqual([meta.topicName, meta.partition, meta.baseOffset], ['auto-p', 0, '0'], ctx(scenario))
  const { topics } = await withAdmin(broker, (admin) => admin.fetchTopicMetadata({ topics: ['auto-p'] }))
  assert.equal(topics[0].partitions.length, 1, ctx(scenario))
}))
