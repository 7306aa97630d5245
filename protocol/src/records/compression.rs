//! The compression codecs of record batches, with a hard cap on decompressed size.
//!
//! Decompression never trusts a size the payload claims: output grows as the decoder produces
//! it and stops with [`RecordError::DecompressedTooLarge`] one byte past the caller's limit, so a
//! few kilobytes that claim (or really hold) gigabytes cost at most the limit. [`decompress`]
//! gathers the output in one buffer; [`Decompressor`] hands it out as a stream, for callers that
//! only walk the records and need not hold them (see [`super::walk`]).
//!
//! Snappy comes in two shapes: the Java client wraps it in xerial's framing (a magic header,
//! then length-prefixed raw blocks); librdkafka and others may send one raw block. Both decode.
//! LZ4 is the LZ4 frame format with independent 64 KiB blocks, as Kafka writes it.

use std::fmt;
use std::io::{Read, Write};

use super::{CodecError, RecordError};

/// A compression codec, as numbered in the batch attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Compression {
    /// No compression (id 0).
    #[default]
    None,
    /// gzip (id 1).
    Gzip,
    /// snappy (id 2).
    Snappy,
    /// LZ4 frame format (id 3).
    Lz4,
    /// zstd (id 4).
    Zstd,
}

impl Compression {
    /// Every codec, by id.
    pub const ALL: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    /// The codec with attribute id `id`.
    pub fn from_id(id: i16) -> Result<Self, RecordError> {
        match id {
            0 => Ok(Self::None),
            1 => Ok(Self::Gzip),
            2 => Ok(Self::Snappy),
            3 => Ok(Self::Lz4),
            4 => Ok(Self::Zstd),
            other => Err(RecordError::UnsupportedCompression(other)),
        }
    }

    /// The attribute id of the codec.
    pub fn id(self) -> i16 {
        match self {
            Self::None => 0,
            Self::Gzip => 1,
            Self::Snappy => 2,
            Self::Lz4 => 3,
            Self::Zstd => 4,
        }
    }

    /// Kafka's name for the codec, as in `compression.type`.
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Gzip => "gzip",
            Self::Snappy => "snappy",
            Self::Lz4 => "lz4",
            Self::Zstd => "zstd",
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The header xerial's framing starts with.
pub const XERIAL_MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];
/// Magic, then version and minimum compatible version (both big-endian i32).
const XERIAL_HEADER_LEN: usize = 16;
/// Uncompressed bytes per xerial block, as the Java client writes them.
const XERIAL_BLOCK: usize = 32 * 1024;

/// Most bytes one batch may decompress to wherever the broker reads records: on produce, where
/// every compressed batch is checked, and in timestamp lookups. A batch past it is refused
/// (MESSAGE_TOO_LARGE), so nothing stored exceeds it.
pub const MAX_DECOMPRESSED_BYTES: usize = 64 * 1024 * 1024;

/// Decompresses `input`, failing once the output would exceed `max_len` bytes.
pub fn decompress(
    codec: Compression,
    input: &[u8],
    max_len: usize,
) -> Result<Vec<u8>, RecordError> {
    match codec {
        Compression::None => {
            if input.len() > max_len {
                return Err(RecordError::DecompressedTooLarge {
                    codec,
                    limit: max_len,
                });
            }
            Ok(input.to_vec())
        }
        Compression::Gzip => read_limited(codec, flate2::read::MultiGzDecoder::new(input), max_len),
        Compression::Snappy => decompress_snappy(input, max_len),
        Compression::Lz4 => read_limited(codec, lz4_flex::frame::FrameDecoder::new(input), max_len),
        Compression::Zstd => {
            let decoder = zstd::stream::read::Decoder::with_buffer(input)
                .map_err(|source| decompress_error(codec, source))?;
            read_limited(codec, decoder, max_len)
        }
    }
}

/// Compresses `input` the way Kafka's Java client would (xerial framing for snappy).
pub fn compress(codec: Compression, input: &[u8]) -> Result<Vec<u8>, RecordError> {
    let failed = |source: std::io::Error| RecordError::Compress {
        codec,
        source: CodecError::from(source),
    };
    match codec {
        Compression::None => Ok(input.to_vec()),
        Compression::Gzip => {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            encoder.write_all(input).map_err(failed)?;
            encoder.finish().map_err(failed)
        }
        Compression::Snappy => compress_xerial(input).map_err(failed),
        Compression::Lz4 => {
            let info = lz4_flex::frame::FrameInfo::new()
                .block_size(lz4_flex::frame::BlockSize::Max64KB)
                .block_mode(lz4_flex::frame::BlockMode::Independent);
            let mut encoder = lz4_flex::frame::FrameEncoder::with_frame_info(info, Vec::new());
            encoder.write_all(input).map_err(failed)?;
            encoder
                .finish()
                .map_err(|e| failed(std::io::Error::other(e)))
        }
        Compression::Zstd => zstd::bulk::compress(input, 3).map_err(failed),
    }
}

fn decompress_error(codec: Compression, source: std::io::Error) -> RecordError {
    RecordError::Decompress {
        codec,
        source: CodecError::from(source),
    }
}

fn too_large(codec: Compression, limit: usize) -> RecordError {
    RecordError::DecompressedTooLarge { codec, limit }
}

/// Drains `reader` into a buffer, reading at most one byte past `max_len` so that an oversized
/// stream is detected without producing it all.
fn read_limited(
    codec: Compression,
    reader: impl Read,
    max_len: usize,
) -> Result<Vec<u8>, RecordError> {
    let cap = u64::try_from(max_len).unwrap_or(u64::MAX).saturating_add(1);
    let mut out = Vec::new();
    reader
        .take(cap)
        .read_to_end(&mut out)
        .map_err(|source| decompress_error(codec, source))?;
    if out.len() > max_len {
        return Err(too_large(codec, max_len));
    }
    Ok(out)
}

fn decompress_snappy(input: &[u8], max_len: usize) -> Result<Vec<u8>, RecordError> {
    if input.starts_with(&XERIAL_MAGIC) {
        decompress_xerial(input, max_len)
    } else {
        let mut out = Vec::new();
        snappy_block_into(input, &mut out, max_len)?;
        Ok(out)
    }
}

/// Appends one raw snappy block to `out`, checking its claimed size against what is left of
/// `max_len` before allocating for it.
fn snappy_block_into(block: &[u8], out: &mut Vec<u8>, max_len: usize) -> Result<(), RecordError> {
    let codec = Compression::Snappy;
    let snappy_error = |e: snap::Error| decompress_error(codec, std::io::Error::other(e));
    let claimed = snap::raw::decompress_len(block).map_err(snappy_error)?;
    if claimed > max_len.saturating_sub(out.len()) {
        return Err(too_large(codec, max_len));
    }
    let start = out.len();
    out.resize(start + claimed, 0);
    let written = snap::raw::Decoder::new()
        .decompress(block, &mut out[start..])
        .map_err(snappy_error)?;
    out.truncate(start + written);
    Ok(())
}

/// An error in xerial's framing (not in a snappy block).
fn xerial_framing(what: &str) -> RecordError {
    decompress_error(
        Compression::Snappy,
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("xerial framing: {what}"),
        ),
    )
}

/// The blocks of a xerial-framed payload, after its header.
fn xerial_blocks(input: &[u8]) -> Result<&[u8], RecordError> {
    input
        .get(XERIAL_HEADER_LEN..)
        .ok_or_else(|| xerial_framing("header cut short"))
}

/// Splits the next length-prefixed block off `rest` (which must not be empty).
fn next_xerial_block(rest: &[u8]) -> Result<(&[u8], &[u8]), RecordError> {
    let Some((len_bytes, after)) = rest.split_first_chunk::<4>() else {
        return Err(xerial_framing(&format!(
            "{} bytes where a block length belongs",
            rest.len()
        )));
    };
    let len = i32::from_be_bytes(*len_bytes);
    usize::try_from(len)
        .ok()
        .filter(|&n| n <= after.len())
        .map(|n| after.split_at(n))
        .ok_or_else(|| {
            xerial_framing(&format!(
                "block length {len} with {} bytes left",
                after.len()
            ))
        })
}

fn decompress_xerial(input: &[u8], max_len: usize) -> Result<Vec<u8>, RecordError> {
    let mut rest = xerial_blocks(input)?;
    let mut out = Vec::new();
    while !rest.is_empty() {
        let (block, after) = next_xerial_block(rest)?;
        snappy_block_into(block, &mut out, max_len)?;
        rest = after;
    }
    Ok(out)
}

/// A compressed payload read as a stream of its decompressed bytes, at most `limit` of them:
/// the caller sees the records a window at a time and never holds the whole of them. The codec
/// state is allocated once per payload (per batch), never per read.
pub struct Decompressor<'a> {
    /// The codec, for errors.
    codec: Compression,
    /// The decoder of that codec.
    inner: Inner<'a>,
    /// Most bytes the stream may produce; one more is an error.
    limit: usize,
    /// Bytes produced so far.
    produced: usize,
}

/// The streaming decoder of each codec over the borrowed payload.
enum Inner<'a> {
    Plain(&'a [u8]),
    Gzip(flate2::read::MultiGzDecoder<&'a [u8]>),
    Snappy(SnappyBlocks<'a>),
    Lz4(lz4_flex::frame::FrameDecoder<&'a [u8]>),
    Zstd(zstd::stream::read::Decoder<'static, &'a [u8]>),
}

impl fmt::Debug for Decompressor<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decompressor")
            .field("codec", &self.codec)
            .field("limit", &self.limit)
            .field("produced", &self.produced)
            .finish_non_exhaustive()
    }
}

impl<'a> Decompressor<'a> {
    /// A stream of `input` decompressed with `codec`, failing once it would pass `limit` bytes.
    pub fn new(codec: Compression, input: &'a [u8], limit: usize) -> Result<Self, RecordError> {
        let inner = match codec {
            Compression::None => Inner::Plain(input),
            Compression::Gzip => Inner::Gzip(flate2::read::MultiGzDecoder::new(input)),
            Compression::Snappy => Inner::Snappy(SnappyBlocks::new(input)?),
            Compression::Lz4 => Inner::Lz4(lz4_flex::frame::FrameDecoder::new(input)),
            Compression::Zstd => Inner::Zstd(
                zstd::stream::read::Decoder::with_buffer(input)
                    .map_err(|source| decompress_error(codec, source))?,
            ),
        };
        Ok(Self {
            codec,
            inner,
            limit,
            produced: 0,
        })
    }

    /// Decompresses the next bytes into `buf`; 0 means the stream has ended (or `buf` is empty).
    /// Past the limit it fails with [`RecordError::DecompressedTooLarge`], having produced at
    /// most one byte more than the limit.
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize, RecordError> {
        // Never ask for more than one byte past the limit: that byte is enough to know.
        let room = self.limit.saturating_sub(self.produced).saturating_add(1);
        let len = buf.len().min(room);
        let buf = &mut buf[..len];
        let read = loop {
            let result = match &mut self.inner {
                Inner::Plain(input) => input.read(buf),
                Inner::Gzip(decoder) => decoder.read(buf),
                Inner::Lz4(decoder) => decoder.read(buf),
                Inner::Zstd(decoder) => decoder.read(buf),
                Inner::Snappy(blocks) => {
                    let read = blocks.read(buf, self.limit);
                    return self.finish(read);
                }
            };
            match result {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                other => break other,
            }
        };
        let read = read.map_err(|source| decompress_error(self.codec, source));
        self.finish(read)
    }

    /// The error for a payload that passes the limit.
    pub(crate) fn too_large(&self) -> RecordError {
        too_large(self.codec, self.limit)
    }

    /// Counts what a read produced against the limit.
    fn finish(&mut self, read: Result<usize, RecordError>) -> Result<usize, RecordError> {
        let n = read?;
        self.produced = self.produced.saturating_add(n);
        if self.produced > self.limit {
            return Err(too_large(self.codec, self.limit));
        }
        Ok(n)
    }
}

/// Snappy as a stream: one block decompressed at a time (xerial framing), or the single raw
/// block. A block's claimed size is checked against the limit before it is allocated.
struct SnappyBlocks<'a> {
    /// Compressed bytes not yet decompressed: xerial blocks, or the raw block.
    rest: &'a [u8],
    /// Whether `rest` holds xerial-framed blocks rather than one raw block.
    framed: bool,
    /// The current block, decompressed; reused from block to block.
    block: Vec<u8>,
    /// How much of `block` was read.
    pos: usize,
    /// Decompressed bytes of the blocks before the current one.
    before: usize,
}

impl<'a> SnappyBlocks<'a> {
    fn new(input: &'a [u8]) -> Result<Self, RecordError> {
        let framed = input.starts_with(&XERIAL_MAGIC);
        Ok(Self {
            rest: if framed { xerial_blocks(input)? } else { input },
            framed,
            block: Vec::new(),
            pos: 0,
            before: 0,
        })
    }

    fn read(&mut self, buf: &mut [u8], limit: usize) -> Result<usize, RecordError> {
        while self.pos == self.block.len() {
            if self.rest.is_empty() || buf.is_empty() {
                return Ok(0);
            }
            let block = if self.framed {
                let (block, after) = next_xerial_block(self.rest)?;
                self.rest = after;
                block
            } else {
                std::mem::take(&mut self.rest)
            };
            self.before = self.before.saturating_add(self.block.len());
            self.block.clear();
            self.pos = 0;
            // The block is checked against what is left of the limit; the error names the limit.
            snappy_block_into(block, &mut self.block, limit.saturating_sub(self.before)).map_err(
                |e| match e {
                    RecordError::DecompressedTooLarge { codec, .. } => too_large(codec, limit),
                    other => other,
                },
            )?;
        }
        let available = &self.block[self.pos..];
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.pos += n;
        Ok(n)
    }
}

fn compress_xerial(input: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(XERIAL_HEADER_LEN + input.len() / 2);
    out.extend_from_slice(&XERIAL_MAGIC);
    out.extend_from_slice(&1i32.to_be_bytes());
    out.extend_from_slice(&1i32.to_be_bytes());
    let mut encoder = snap::raw::Encoder::new();
    for chunk in input.chunks(XERIAL_BLOCK) {
        let block = encoder.compress_vec(chunk).map_err(std::io::Error::other)?;
        let len = i32::try_from(block.len()).map_err(std::io::Error::other)?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&block);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_codec_round_trips() {
        let input: Vec<u8> = (0..100_000u32)
            .flat_map(|i| (i % 251).to_be_bytes())
            .collect();
        for codec in Compression::ALL {
            let packed = compress(codec, &input).unwrap();
            assert_eq!(
                decompress(codec, &packed, input.len()).unwrap(),
                input,
                "{codec}"
            );
        }
    }

    #[test]
    fn limit_is_exact() {
        let input = vec![7u8; 5000];
        for codec in Compression::ALL {
            let packed = compress(codec, &input).unwrap();
            assert!(decompress(codec, &packed, 5000).is_ok(), "{codec}");
            assert_eq!(
                decompress(codec, &packed, 4999),
                Err(RecordError::DecompressedTooLarge { codec, limit: 4999 }),
                "{codec}"
            );
        }
    }

    /// Everything `input` decompresses to through a [`Decompressor`], read in small pieces so
    /// that reads straddle snappy blocks and codec buffers.
    fn stream(codec: Compression, input: &[u8], limit: usize) -> Result<Vec<u8>, RecordError> {
        let mut decompressor = Decompressor::new(codec, input, limit)?;
        let mut out = Vec::new();
        let mut piece = [0u8; 4093];
        loop {
            let n = decompressor.read(&mut piece)?;
            if n == 0 {
                return Ok(out);
            }
            out.extend_from_slice(&piece[..n]);
        }
    }

    #[test]
    fn streams_give_what_decompress_gives_with_the_same_exact_limit() {
        let input: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        for codec in Compression::ALL {
            let packed = compress(codec, &input).unwrap();
            assert_eq!(
                stream(codec, &packed, input.len()).unwrap(),
                input,
                "{codec}"
            );
            assert_eq!(
                stream(codec, &packed, input.len() - 1),
                Err(RecordError::DecompressedTooLarge {
                    codec,
                    limit: input.len() - 1
                }),
                "{codec}"
            );
        }
        let raw = snap::raw::Encoder::new().compress_vec(&input).unwrap();
        assert_eq!(
            stream(Compression::Snappy, &raw, input.len()).unwrap(),
            input
        );
        assert!(stream(Compression::Snappy, &raw, 1000).is_err());
    }

    #[test]
    fn ids_round_trip_and_unknown_ids_fail() {
        for codec in Compression::ALL {
            assert_eq!(Compression::from_id(codec.id()), Ok(codec));
        }
        assert_eq!(
            Compression::from_id(5),
            Err(RecordError::UnsupportedCompression(5))
        );
    }

    #[test]
    fn xerial_framing_is_used_for_snappy() {
        let packed = compress(Compression::Snappy, b"hello").unwrap();
        assert!(packed.starts_with(&XERIAL_MAGIC));
    }

    #[test]
    fn raw_snappy_decodes() {
        let raw = snap::raw::Encoder::new()
            .compress_vec(b"raw block")
            .unwrap();
        assert_eq!(
            decompress(Compression::Snappy, &raw, 100).unwrap(),
            b"raw block"
        );
    }
}
