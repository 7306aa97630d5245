//! Request framing: a 4-byte big-endian size, then that many bytes.
//!
//! The size is checked against `socket.request.max.bytes` as soon as its 4 bytes are here, and
//! the buffer then grows with the bytes that actually arrive, never with the size claimed alone.
//! (`tokio_util`'s `LengthDelimitedCodec` reserves the whole claimed frame up front, so a
//! client sending only a 4-byte header that claims 100 MiB would pin 100 MiB per connection.)
//! It grows in large steps, up to [`GROW_FACTOR`] times what has arrived: every step moves the
//! bytes received so far to a new allocation, and growing 64 KiB at a time copied a 1 MiB
//! produce request about once more in user space before it was even parsed.
//!
//! The decoder also reports the bytes of a partly received frame to
//! `fjord_request_buffer_bytes`: it is the one place that sees the read buffer after each read.

use bytes::{Buf, BytesMut};
use tokio_util::codec::Decoder;

/// Bytes of the size prefix.
const SIZE_LEN: usize = 4;

/// Bytes reserved ahead of a frame that has barely started to arrive.
const GROW_STEP: usize = 64 * 1024;

/// An incomplete frame's buffer grows to at most this many times the bytes already received
/// (or [`GROW_STEP`]), so a 1 MiB request is moved at most once, 64 KiB of it.
const GROW_FACTOR: usize = 16;

/// Why a connection's byte stream is not a valid sequence of request frames.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// Reading the socket failed.
    #[error("reading the socket: {0}")]
    Io(#[from] std::io::Error),
    /// The size prefix is negative (a 2 GiB or larger claim).
    #[error("frame size {0} is negative")]
    NegativeSize(i32),
    /// The size prefix exceeds the configured maximum.
    #[error("frame of {size} bytes exceeds socket.request.max.bytes {max}")]
    TooLarge {
        /// The size claimed.
        size: usize,
        /// The configured maximum.
        max: usize,
    },
}

/// Splits a byte stream into request frames of at most `max` bytes (size prefix excluded).
#[derive(Debug)]
pub struct RequestFrames {
    /// `socket.request.max.bytes`.
    max: usize,
    /// Bytes left in the read buffer after the last decode (a frame not yet complete), as
    /// reported to the request buffer gauge; taken back when the connection drops the decoder.
    partial: usize,
}

impl RequestFrames {
    /// Frames of at most `max` bytes.
    pub fn new(max: usize) -> Self {
        Self { max, partial: 0 }
    }

    /// Reports the bytes now left in the read buffer; a complete frame leaves the buffer
    /// here and is accounted by its request from then on.
    fn report_partial(&mut self, held: usize) {
        crate::metrics::request::partial_bytes_changed(self.partial, held);
        self.partial = held;
    }

    fn split_frame(&mut self, src: &mut BytesMut) -> Result<Option<BytesMut>, FrameError> {
        let Some(&[a, b, c, d]) = src.get(..SIZE_LEN) else {
            return Ok(None);
        };
        let claimed = i32::from_be_bytes([a, b, c, d]);
        let size = usize::try_from(claimed).map_err(|_| FrameError::NegativeSize(claimed))?;
        if size > self.max {
            return Err(FrameError::TooLarge {
                size,
                max: self.max,
            });
        }
        let total = SIZE_LEN + size;
        if src.len() < total {
            // Memory follows the bytes received, not the claim.
            let room = GROW_STEP.max(src.len() * (GROW_FACTOR - 1));
            src.reserve((total - src.len()).min(room));
            return Ok(None);
        }
        src.advance(SIZE_LEN);
        Ok(Some(src.split_to(size)))
    }
}

impl Drop for RequestFrames {
    fn drop(&mut self) {
        self.report_partial(0);
    }
}

impl Decoder for RequestFrames {
    type Item = BytesMut;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<BytesMut>, FrameError> {
        let frame = self.split_frame(src);
        self.report_partial(src.len());
        frame
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(max: usize, input: &[u8]) -> (Vec<Vec<u8>>, Result<(), FrameError>, BytesMut) {
        let mut codec = RequestFrames::new(max);
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(frame)) => out.push(frame.to_vec()),
                Ok(None) => return (out, Ok(()), buf),
                Err(e) => return (out, Err(e), buf),
            }
        }
    }

    #[test]
    fn splits_consecutive_frames_and_keeps_a_partial_one() {
        let input = [0, 0, 0, 2, 7, 8, 0, 0, 0, 0, 0, 0, 0, 3, 1];
        let (out, result, rest) = frames(100, &input);
        assert!(result.is_ok());
        assert_eq!(out, vec![vec![7, 8], vec![]]);
        assert_eq!(&rest[..], &[0, 0, 0, 3, 1]);
    }

    #[test]
    fn oversized_and_negative_claims_fail_before_reserving() {
        let (_, result, buf) = frames(1024, &[0, 0, 4, 1]);
        assert!(matches!(
            result,
            Err(FrameError::TooLarge {
                size: 1025,
                max: 1024
            })
        ));
        assert!(buf.capacity() < 1024, "capacity {}", buf.capacity());
        let (_, result, _) = frames(1024, &[0x80, 0, 0, 0]);
        assert!(matches!(result, Err(FrameError::NegativeSize(i32::MIN))));
    }

    #[test]
    fn partial_frames_are_held_bytes_until_complete_or_dropped() {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        let gauge = || {
            let text = handle.render();
            text.lines()
                .find_map(|l| l.strip_prefix("fjord_request_buffer_bytes "))
                .map(str::to_owned)
                .unwrap_or_else(|| panic!("no gauge in {text}"))
        };
        metrics::with_local_recorder(&recorder, || {
            let mut codec = RequestFrames::new(100);
            let mut buf = BytesMut::from(&[0, 0, 0, 5, 1, 2][..]);
            assert!(codec.decode(&mut buf).unwrap().is_none());
            assert_eq!(gauge(), "6");
            // The rest of the frame and the start of the next one arrive together.
            buf.extend_from_slice(&[3, 4, 5, 0, 0]);
            assert_eq!(codec.decode(&mut buf).unwrap().unwrap().len(), 5);
            assert_eq!(gauge(), "2");
            drop(codec);
            assert_eq!(gauge(), "0");
        });
    }

    #[test]
    fn a_frame_that_keeps_arriving_gets_room_in_few_steps() {
        let size = 1 << 20;
        let mut codec = RequestFrames::new(2 * size);
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&(size as i32).to_be_bytes());
        buf.resize(SIZE_LEN + GROW_STEP, 0);
        assert!(codec.decode(&mut buf).unwrap().is_none());
        // One step past the first 64 KiB holds the whole 1 MiB frame, and no more than 16
        // times what arrived.
        assert!(buf.capacity() >= SIZE_LEN + size, "{}", buf.capacity());
        assert!(
            buf.capacity() <= GROW_FACTOR * buf.len(),
            "{}",
            buf.capacity()
        );
    }

    #[test]
    fn a_large_claim_reserves_only_a_step() {
        let max = 100 * 1024 * 1024;
        let mut codec = RequestFrames::new(max);
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&(max as i32).to_be_bytes());
        assert!(codec.decode(&mut buf).unwrap().is_none());
        assert!(
            buf.capacity() <= SIZE_LEN + GROW_STEP * 2,
            "reserved {} bytes for a frame that has not arrived",
            buf.capacity()
        );
    }
}
