'use strict'
// Starts one fjord process per test on a free loopback port with a fresh data
// directory. The broker prints `listening on HOST:PORT` on stdout when ready;
// its stderr is kept in a file and printed when a test fails.

const { spawn, execFileSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const readline = require('node:readline')

const ROOT = path.resolve(__dirname, '..', '..')
const START_TIMEOUT_MS = 30000
const STOP_TIMEOUT_MS = 30000
const READY_PREFIX = 'listening on '

function fjordBin () {
  return process.env.FJORD_BIN || path.join(ROOT, 'target', 'debug', 'fjord')
}

class Broker {
  constructor (args = []) {
    this.bin = fjordBin()
    this.args = args
    this.root = fs.mkdtempSync(path.join(os.tmpdir(), 'fjord-node-'))
    this.dataDir = path.join(this.root, 'data')
    fs.mkdirSync(this.dataDir)
    this.stderrPath = path.join(this.root, 'stderr.log')
    this.proc = null
    this.bootstrap = null
  }

  async start () {
    if (!fs.existsSync(this.bin)) {
      throw new Error(`fjord binary not found at ${this.bin}: build it with \`cargo build -p fjord-broker\` or set FJORD_BIN`)
    }
    const err = fs.openSync(this.stderrPath, 'a')
    const proc = spawn(this.bin, ['--listen', '127.0.0.1:0', '--data-dir', this.dataDir, ...this.args], {
      stdio: ['ignore', 'pipe', err]
    })
    fs.closeSync(err)
    this.proc = proc
    const lines = readline.createInterface({ input: proc.stdout })
    this.bootstrap = await new Promise((resolve, reject) => {
      const fail = (why) => reject(new Error(
        `${this.bin} ${JSON.stringify(this.args)} did not print \`${READY_PREFIX}HOST:PORT\` (${why}); stderr:\n${this.stderrLog()}`))
      const timer = setTimeout(() => fail(`waited ${START_TIMEOUT_MS} ms`), START_TIMEOUT_MS)
      lines.on('line', (line) => {
        if (line.startsWith(READY_PREFIX)) {
          clearTimeout(timer)
          resolve(line.slice(READY_PREFIX.length).trim())
        }
      })
      proc.on('exit', (code, signal) => {
        clearTimeout(timer)
        fail(`exited with ${code ?? signal}`)
      })
    })
    return this
  }

  // Graceful stop (SIGTERM; must exit 0 within STOP_TIMEOUT_MS), then a start on the same
  // data directory. The port changes: clients must use the new `bootstrap`.
  async restart () {
    const proc = this.proc
    const code = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`fjord did not exit within ${STOP_TIMEOUT_MS} ms of SIGTERM`)), STOP_TIMEOUT_MS)
      proc.once('exit', (code, signal) => { clearTimeout(timer); resolve(code ?? signal) })
      proc.kill('SIGTERM')
    })
    if (code !== 0) throw new Error(`graceful shutdown exited ${code}; stderr:\n${this.stderrLog()}`)
    return this.start()
  }

  stderrLog () {
    try { return fs.readFileSync(this.stderrPath, 'utf8') } catch { return '' }
  }

  close () {
    if (this.proc && this.proc.exitCode === null) this.proc.kill('SIGKILL')
    fs.rmSync(this.root, { recursive: true, force: true })
  }
}

// Runs fn(broker) with a fresh broker; on failure appends the broker's stderr.
async function withBroker (args, fn) {
  const broker = new Broker(args)
  try {
    await broker.start()
    await fn(broker)
  } catch (e) {
    e.message += `\n---- fjord stderr ----\n${broker.stderrLog()}---- end ----`
    throw e
  } finally {
    broker.close()
  }
}

// Reads a partition with kcat (librdkafka) as JSON lines, to check what
// another client produced.
function kcatRead (bootstrap, topic, partition, count) {
  const out = execFileSync('kcat', [
    '-b', bootstrap, '-C', '-t', topic, '-p', String(partition), '-o', 'beginning',
    '-c', String(count), '-e', '-J', '-q'
  ], { encoding: 'utf8', timeout: 30000 })
  return out.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l))
}

// Polls fn() every 50 ms until it returns a truthy value, which it returns; past the deadline
// throws naming `what` (a string, or a function giving one then, to show the state at the end)
// and the last value (or error) seen.
async function until (what, fn, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs
  let last
  for (;;) {
    try {
      last = await fn()
      if (last) return last
    } catch (e) {
      last = e
    }
    if (Date.now() >= deadline) {
      throw new Error(`${typeof what === 'function' ? what() : what}: not true after ${timeoutMs} ms (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`)
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

module.exports = { Broker, withBroker, kcatRead, fjordBin, until }
