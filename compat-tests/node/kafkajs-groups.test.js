'use strict'
// kafkajs consuming through a consumer group (kafkajs has no group-less consumer).

const { test } = require('node:test')
const assert = require('node:assert/strict')
const { Kafka, logLevel } = require('kafkajs')
const { withBroker } = require('./broker')

const CLIENT = `kafkajs ${require('kafkajs/package.json').version}`
const ctx = (scenario) => `[${CLIENT}] ${scenario}`

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
