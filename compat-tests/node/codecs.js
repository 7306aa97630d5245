'use strict'
// kafkajs ships gzip only; snappy, lz4 and zstd need codec plugins. The published plugins for
// lz4 (kafkajs-lz4, @2l/kafkajs-lz4) and zstd (@kafkajs/zstd, @sensejs/kafkajs-zstd-support)
// depend on native addons built or downloaded at install time, which this project avoids. So:
// snappy uses the published kafkajs-snappy (pure JS, snappyjs); lz4 and zstd use the small
// adapters below over pure-JS libraries (lz4js, and zstd-codec, which is Emscripten output).

const { CompressionTypes, CompressionCodecs } = require('kafkajs')
const SnappyCodec = require('kafkajs-snappy')
const lz4 = require('lz4js')
const { ZstdCodec } = require('zstd-codec')

// Kafka's lz4 is the LZ4 frame format, which lz4js reads and writes.
const Lz4Codec = () => ({
  async compress (encoder) {
    return Buffer.from(lz4.compress(encoder.buffer))
  },
  async decompress (buffer) {
    return Buffer.from(lz4.decompress(buffer))
  }
})

// zstd-codec starts its WebAssembly module asynchronously, once.
let zstdReady = null
function zstd () {
  zstdReady ??= new Promise((resolve) => ZstdCodec.run((z) => resolve(z)))
  return zstdReady
}

const ZstdCodecPlugin = () => ({
  async compress (encoder) {
    const z = await zstd()
    return Buffer.from(new z.Simple().compress(encoder.buffer))
  },
  async decompress (buffer) {
    const z = await zstd()
    // Streaming also reads frames that do not record their content size (Simple needs it).
    const out = new z.Streaming().decompress(buffer)
    if (!out) throw new Error(`zstd: cannot decompress a ${buffer.length}-byte batch`)
    return Buffer.from(out)
  }
})

// Registers the three codecs with kafkajs (a process-wide table).
function registerCodecs () {
  CompressionCodecs[CompressionTypes.Snappy] = SnappyCodec
  CompressionCodecs[CompressionTypes.LZ4] = Lz4Codec
  CompressionCodecs[CompressionTypes.ZSTD] = ZstdCodecPlugin
}

module.exports = { registerCodecs }
