'use strict'
// kafkajs consuming through consumer groups (kafkajs has no group-less consumer): reading in
// order, disjoint and complete assignments, hand-over when a member disconnects or crashes,
// committed offsets across a reopen and a broker restart, and fan-out to two groups.
//
// kafkajs (2.2.4) has no static membership: its consumer takes no group instance id (the
// JoinGroup v5 encoder has the field, but nothing sets it), so the static rejoin scenario is
// covered by the Python clients only (compat-tests/python/test_groups.py). Its only assigner
// is round-robin (eager), so cooperative rebalancing is not covered here either.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const readline = require('node:readline')
const { Kafka, logLevel } = require('kafkajs')
const { withBroker, until } = require('./broker')

const CLIENT = `kafkajs ${require('kafkajs/package.json').version}`
const ctx = (scenario) => `[${CLIENT}] ${scenario}`
// No initial rebalance delay (Kafka's 3 s default would only slow the tests) and a minimum
// session timeout low enough for the 2 s sessions of the crash test.
const GROUP_ARGS = ['--group-initial-rebalance-delay-ms', '0', '--group-min-session-timeout-ms', '1000']
const SETTLE_MS = 30000

function client (bootstrap) {
  return new Kafka({
    clientId: 'fjord-compat-kafkajs',
    brokers: [bootstrap],
    logLevel: logLevel.NOTHING,
    retry: { retries: 5, initialRetryTime: 100 }
  })
}

async function withAdmin (bootstrap, fn) {
  const admin = client(bootstrap).admin()
  await admin.connect()
  try { return await fn(admin) } finally { await admin.disconnect() }
}

async function createTopic (bootstrap, topic, numPartitions) {
  await withAdmin(bootstrap, (admin) => admin.createTopics({ topics: [{ topic, numPartitions }], waitForLeaders: true }))
}

// Produces values round-robin over the first `partitions` partitions.
async function produce (bootstrap, topic, values, partitions = 1) {
  const producer = client(bootstrap).producer()
  await producer.connect()
  try {
    await producer.send({ topic, messages: values.map((value, i) => ({ value, partition: i % partitions })) })
  } finally {
    await producer.disconnect()
  }
}

// A group member that records its latest assignment (from GROUP_JOIN) and what it reads.
// Short heartbeats and fetch waits, because kafkajs heartbeats from its fetch loop: a long
// fetch wait would delay noticing a rebalance.
class Member {
  constructor (bootstrap, groupId, topic, { sessionTimeout = 6000 } = {}) {
    this.topic = topic
    this.assigned = new Set()
    this.values = []
    this.consumer = client(bootstrap).consumer({ groupId, sessionTimeout, heartbeatInterval: 200, maxWaitTimeInMs: 100 })
    this.consumer.on(this.consumer.events.GROUP_JOIN, ({ payload }) => {
      this.assigned = new Set(payload.memberAssignment[topic] || [])
    })
  }

  async start () {
    await this.consumer.connect()
    await this.consumer.subscribe({ topics: [this.topic], fromBeginning: true })
    await this.consumer.run({
      autoCommit: false,
      eachMessage: async ({ message }) => { this.values.push(message.value.toString()) }
    })
    return this
  }

  stop () { return this.consumer.disconnect() }
}

async function members (bootstrap, groupId, topic, count, options) {
  const started = []
  for (let i = 0; i < count; i++) started.push(await new Member(bootstrap, groupId, topic, options).start())
  return started
}

async function stopAll (ms) {
  await Promise.all(ms.map((m) => m.stop()))
}

// Every member holds something, no partition twice, and together all `partitions`.
function covers (ms, partitions) {
  const sets = ms.map((m) => [...m.assigned])
  const all = sets.flat()
  return sets.every((s) => s.length > 0) && new Set(all).size === all.length && all.length === partitions
}

const show = (ms) => JSON.stringify(ms.map((m) => [...m.assigned].sort()))

test('a group consumer reads keys and headers in order from the beginning', () => withBroker(['--group-initial-rebalance-delay-ms', '0'], async (broker) => {
  const scenario = 'group consumer, fromBeginning, keys and headers'
  const kafka = new Kafka({ clientId: 'fjord-compat-kafkajs', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING })
  const admin = kafka.admin()
  await admin.connect()
  await admin.createTopics({ topics: [{ topic: 'grouped', numPartitions: 1 }], waitForLeaders: true })
  await admin.disconnect()

  const messages = Array.from({ length: 20 }, (_, i) => ({ key: `k${i % 2}`, value: `v${i}`, headers: { seq: String(i) } }))
  const producer = kafka.producer()
  await producer.connect()
  await producer.send({ topic: 'grouped', messages })
  await producer.disconnect()

  const consumer = kafka.consumer({ groupId: 'fjord-compat-group' })
  await consumer.connect()
  await consumer.subscribe({ topics: ['grouped'], fromBeginning: true })
  const got = []
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(ctx(`${scenario}: got ${got.length} of 20`))), 30000)
    consumer.run({
      eachMessage: async ({ message }) => {
        got.push([message.key.toString(), message.value.toString(), message.headers.seq.toString()])
        if (got.length === messages.length) { clearTimeout(timer); resolve() }
      }
    })
  })
  await consumer.disconnect()
  assert.deepEqual(got, messages.map((m) => [m.key, m.value, m.headers.seq]), ctx(scenario))
}))

test('two members of one group get disjoint assignments covering all partitions', () => withBroker(GROUP_ARGS, async (broker) => {
  const scenario = '2 members of one group split 4 partitions disjointly and completely'
  await createTopic(broker.bootstrap, 'split', 4)
  const ms = await members(broker.bootstrap, 'g-split', 'split', 2)
  try {
    await until(() => ctx(`${scenario}: ${show(ms)}`), () => covers(ms, 4), SETTLE_MS)
  } finally {
    await stopAll(ms)
  }
}))

test('a member that disconnects hands its partitions over', () => withBroker(GROUP_ARGS, async (broker) => {
  const scenario = 'after one of two members disconnects (LeaveGroup), the other owns every partition'
  await createTopic(broker.bootstrap, 'handover', 4)
  const [a, b] = await members(broker.bootstrap, 'g-hand', 'handover', 2)
  try {
    await until(() => ctx(`${scenario}: both hold partitions: ${show([a, b])}`), () => covers([a, b], 4), SETTLE_MS)
    await b.stop()
    await until(() => ctx(`${scenario}: ${show([a])}`), () => a.assigned.size === 4, SETTLE_MS)
  } finally {
    await stopAll([a])
  }
}))

// A member in its own process, so SIGKILL stops it without a LeaveGroup or a last heartbeat.
const CRASHING_MEMBER = `
const { Kafka, logLevel } = require(process.argv[1])
const kafka = new Kafka({ clientId: 'fjord-compat-crash', brokers: [process.argv[2]], logLevel: logLevel.NOTHING })
const consumer = kafka.consumer({ groupId: 'g-crash', sessionTimeout: 2000, heartbeatInterval: 200, maxWaitTimeInMs: 100 })
consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
  const mine = payload.memberAssignment.crash || []
  if (mine.length) console.log('assigned ' + mine.join(','))
})
;(async () => {
  await consumer.connect()
  await consumer.subscribe({ topics: ['crash'], fromBeginning: true })
  await consumer.run({ eachMessage: async () => {} })
})()
`

test('a crashed member hands its partitions over at session timeout', () => withBroker(GROUP_ARGS, async (broker) => {
  const scenario = 'a member killed with SIGKILL (no LeaveGroup) loses its partitions at session timeout'
  await createTopic(broker.bootstrap, 'crash', 4)
  const survivor = await new Member(broker.bootstrap, 'g-crash', 'crash', { sessionTimeout: 2000 }).start()
  const child = spawn(process.execPath, ['-e', CRASHING_MEMBER, require.resolve('kafkajs'), broker.bootstrap], { stdio: ['ignore', 'pipe', 'inherit'] })
  const said = []
  readline.createInterface({ input: child.stdout }).on('line', (line) => said.push(line))
  const exited = new Promise((resolve) => child.once('exit', resolve))
  try {
    await until(() => ctx(`${scenario}: both hold partitions: survivor ${show([survivor])}, child ${JSON.stringify(said)}`),
      () => said.some((l) => l.startsWith('assigned')) && survivor.assigned.size > 0 && survivor.assigned.size < 4, SETTLE_MS)
    child.kill('SIGKILL')
    await exited
    const killed = Date.now()
    await until(() => ctx(`${scenario}: ${show([survivor])}`), () => survivor.assigned.size === 4, SETTLE_MS)
    // Hand-over waits for the 2 s session timeout; the bound leaves room for the rejoin.
    const took = Date.now() - killed
    assert.ok(took < 10000, ctx(`${scenario}: took ${took} ms`))
  } finally {
    if (child.exitCode === null && child.signalCode === null) { child.kill('SIGKILL'); await exited }
    await survivor.stop()
  }
}))

test('commit, disconnect, and a new consumer in the group resumes after the last commit', () => withBroker(GROUP_ARGS, async (broker) => {
  const scenario = 'commit after 5 of 10 records, disconnect, reopen: the next record is the 6th'
  await createTopic(broker.bootstrap, 'resume', 1)
  await produce(broker.bootstrap, 'resume', Array.from({ length: 10 }, (_, i) => `r${i}`))
  const first = await new Member(broker.bootstrap, 'g-resume', 'resume').start()
  try {
    await until(() => ctx(`${scenario}: first reads 5`), () => first.values.length >= 5, SETTLE_MS)
    await first.consumer.commitOffsets([{ topic: 'resume', partition: 0, offset: '5' }])
  } finally {
    await first.stop()
  }
  const again = await new Member(broker.bootstrap, 'g-resume', 'resume').start()
  try {
    await until(() => ctx(`${scenario}: reopened reads 5`), () => again.values.length >= 5, SETTLE_MS)
    assert.deepEqual(again.values.slice(0, 5), ['r5', 'r6', 'r7', 'r8', 'r9'], ctx(scenario))
  } finally {
    await again.stop()
  }
}))

test('committed offsets and the group survive a broker restart', () => withBroker(GROUP_ARGS, async (broker) => {
  const scenario = "a group's committed offsets survive a restart; members rejoin, reach Stable, resume there"
  await createTopic(broker.bootstrap, 'durable', 2)
  // Partition 0 holds d0, d2, ..., d98 and partition 1 holds d1, d3, ..., d99.
  await produce(broker.bootstrap, 'durable', Array.from({ length: 100 }, (_, i) => `d${i}`), 2)
  const m = await new Member(broker.bootstrap, 'g-durable', 'durable').start()
  try {
    await until(() => ctx(`${scenario}: one member holds both partitions`), () => m.assigned.size === 2, SETTLE_MS)
    await m.consumer.commitOffsets([
      { topic: 'durable', partition: 0, offset: '42' },
      { topic: 'durable', partition: 1, offset: '7' }
    ])
  } finally {
    await m.stop()
  }

  await broker.restart()
  const group = await withAdmin(broker.bootstrap, async (admin) => {
    const offsets = await until(() => ctx(`${scenario}: fetchOffsets after restart`),
      () => admin.fetchOffsets({ groupId: 'g-durable', topics: ['durable'] }))
    const committed = offsets[0].partitions.map((p) => [p.partition, p.offset]).sort()
    assert.deepEqual(committed, [[0, '42'], [1, '7']], ctx(`${scenario}: committed offsets after restart`))
    return (await admin.describeGroups(['g-durable'])).groups[0]
  })
  assert.deepEqual([group.state, group.members], ['Empty', []], ctx(`${scenario}: described after restart`))

  const ms = await members(broker.bootstrap, 'g-durable', 'durable', 2)
  try {
    const expected = new Set([
      ...Array.from({ length: 8 }, (_, k) => `d${2 * (42 + k)}`),
      ...Array.from({ length: 43 }, (_, k) => `d${2 * (7 + k) + 1}`)
    ])
    const read = () => new Set(ms.flatMap((x) => x.values))
    // A member may read a partition before the second member joins and takes it over, so a
    // record can be read twice (at least once); none may come from before the commit.
    await until(() => ctx(`${scenario}: rejoin and read on from the committed offsets: ${show(ms)}`),
      () => covers(ms, 2) && [...expected].every((v) => read().has(v)), SETTLE_MS)
    assert.deepEqual([...read()].filter((v) => !expected.has(v)), [], ctx(`${scenario}: read before the committed offsets`))
    const stable = await withAdmin(broker.bootstrap, async (admin) => (await admin.describeGroups(['g-durable'])).groups[0])
    assert.deepEqual([stable.state, stable.members.length], ['Stable', 2], ctx(`${scenario}: described after rejoin`))
  } finally {
    await stopAll(ms)
  }
}))

test('two groups on one topic each receive every message', () => withBroker(GROUP_ARGS, async (broker) => {
  const scenario = 'fan-out: two groups on one topic each read all 20 records'
  await createTopic(broker.bootstrap, 'fanout', 2)
  const values = Array.from({ length: 20 }, (_, i) => `f${i}`)
  await produce(broker.bootstrap, 'fanout', values, 2)
  const [a, b] = [await new Member(broker.bootstrap, 'g-fan-a', 'fanout').start(), await new Member(broker.bootstrap, 'g-fan-b', 'fanout').start()]
  try {
    await until(() => ctx(`${scenario}: read ${a.values.length} and ${b.values.length}`),
      () => a.values.length >= 20 && b.values.length >= 20, SETTLE_MS)
    assert.deepEqual([...a.values].sort(), [...values].sort(), ctx(`${scenario}: g-fan-a`))
    assert.deepEqual([...b.values].sort(), [...values].sort(), ctx(`${scenario}: g-fan-b`))
  } finally {
    await stopAll([a, b])
  }
}))
