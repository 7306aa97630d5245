'use strict'
// kafkajs against fjord: admin topics and configs, producing with keys,
// headers and compression, offsets by time. kafkajs consumers need consumer
// groups, so reading back here uses kcat; group-based consuming is in
// kafkajs-groups.test.js (run once the broker has consumer groups).

const { test } = require('node:test')
const assert = require('node:assert/strict')
const { Kafka, logLevel, CompressionTypes, ConfigResourceTypes } = require('kafkajs')
const { withBroker, kcatRead } = require('./broker')

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

for (const [name, codec] of [['none', CompressionTypes.None], ['gzip', CompressionTypes.GZIP]]) {
  test(`produce with compression ${name}; kcat reads it back`, () => withBroker([], async (broker) => {
    const scenario = `compression ${name}: 200 records from kafkajs read by librdkafka`
    const values = Array.from({ length: 200 }, (_, i) => `record ${i} ${'fjord '.repeat(i % 30)}`)
    await withProducer(broker, (p) => p.send({ topic: `codec-${name}`, compression: codec, messages: values.map((value) => ({ value })) }))
    const read = kcatRead(broker.bootstrap, `codec-${name}`, 0, 200)
    assert.deepEqual(read.map((r) => r.payload), values, ctx(scenario))
  }))
}

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
