//! One client connection: reads size-prefixed frames, answers each request in order, and
//! closes the connection on anything it cannot answer (as Kafka does).
//!
//! A connection is isolated from every other: it owns its socket and buffers, reads a few
//! frames ahead (bounded in count and bytes) but handles one request at a time (so at most
//! one response is held in memory), writes its responses itself
//! without holding any shared lock, and is closed when it stays idle or does not take its
//! response for `connections.max.idle.ms`. A panic while handling a request is caught here,
//! counted ([`crate::limits::panics_caught`]) and closes only this connection.

use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use fjord_protocol::codec::Decode;
use fjord_protocol::codec::Encode;
use fjord_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use futures::future::{self, Either};
use futures::{FutureExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};
use tokio_util::codec::FramedRead;
use tracing::{debug, error, info_span, warn, Instrument};

use crate::broker::Broker;
use crate::dispatch::{self, Outcome, RequestContext};
use crate::frame::{FrameError, RequestFrames};
use crate::limits;
use crate::metrics::{self, RequestTimer};

/// A client connection and the broker it talks to.
#[derive(Debug)]
pub struct Connection<S = TcpStream> {
    /// The client's byte stream (a TCP socket, or an in-memory pipe in tests).
    stream: S,
    /// The client's address, for logs and request contexts.
    peer: SocketAddr,
    /// Shared broker state.
    broker: Arc<Broker>,
}

/// Why a connection was closed by us.
#[derive(Debug, thiserror::Error)]
enum ConnectionError {
    #[error("reading a frame: {0}")]
    Frame(#[source] FrameError),
    #[error("no complete request for {0:?} (connections.max.idle.ms)")]
    Idle(Duration),
    #[error("writing a response: {0}")]
    Write(#[source] std::io::Error),
    #[error("the client did not take its response within {0:?} (connections.max.idle.ms)")]
    WriteStalled(Duration),
    #[error("frame of {0} bytes is too short for a request header")]
    ShortFrame(usize),
    #[error("closed by an injected test fault")]
    InjectedFault,
    #[error("a panic while handling {api_key} v{api_version} (correlation id {correlation_id}): {message}")]
    Panicked {
        api_key: i16,
        api_version: i16,
        correlation_id: i32,
        message: String,
    },
    #[error(transparent)]
    Dispatch(#[from] dispatch::DispatchError),
    #[error("encoding the response to {api:?} v{version}: {source}")]
    Encode {
        api: ApiKey,
        version: i16,
        #[source]
        source: fjord_protocol::EncodeError,
    },
}

/// The first fields of every request header, read before anything else is decoded.
#[derive(Debug, Clone, Copy)]
struct Preamble {
    api_key: i16,
    api_version: i16,
    correlation_id: i32,
}

impl Preamble {
    /// Reads the api key, version and correlation id every header version starts with.
    fn read(frame: &[u8]) -> Result<Self, ConnectionError> {
        let Some(&[k0, k1, v0, v1, c0, c1, c2, c3]) = frame.get(..8) else {
            return Err(ConnectionError::ShortFrame(frame.len()));
        };
        Ok(Self {
            api_key: i16::from_be_bytes([k0, k1]),
            api_version: i16::from_be_bytes([v0, v1]),
            correlation_id: i32::from_be_bytes([c0, c1, c2, c3]),
        })
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    /// Wraps an accepted socket (or any byte stream).
    pub fn new(stream: S, peer: SocketAddr, broker: Arc<Broker>) -> Self {
        Self {
            stream,
            peer,
            broker,
        }
    }

    /// Serves requests until the client closes, an error closes the connection, or shutdown.
    ///
    /// A reader takes frames off the socket while the previous request is being handled, so a
    /// pipelined request's wait is measured from the moment its frame was complete (the
    /// `queue` phase); requests are still handled and answered one at a time, in order.
    pub async fn serve(self, shutdown: watch::Receiver<bool>) {
        let Self {
            stream,
            peer,
            broker,
        } = self;
        let _open = metrics::OpenConnection::new();
        let (read, write) = tokio::io::split(stream);
        let (queue, queued) = mpsc::channel(QUEUE_DEPTH);
        // Bytes of frames read ahead and not yet answered; a frame takes its share before it
        // is queued, so reading ahead never holds more than one more frame's worth than
        // `socket.request.max.bytes` (plus the partial frame being received).
        let budget = Arc::new(Semaphore::new(broker.config.max_request_bytes));
        let reading = read_frames(
            FramedRead::new(read, RequestFrames::new(broker.config.max_request_bytes)),
            queue,
            budget,
            broker.config.slow_request_ms,
        );
        let handling = handle_frames(&broker, peer, queued, write, shutdown);
        futures::pin_mut!(reading, handling);
        match future::select(reading, handling).await {
            // The client stopped sending (or sent something invalid): answer what was queued.
            Either::Left(((), handling)) => handling.await,
            // The handler closed the connection: anything read ahead is dropped.
            Either::Right(((), _)) => {}
        }
        debug!(%peer, "connection closed");
    }
}

/// Frames most read ahead of the request being handled.
const QUEUE_DEPTH: usize = 8;

/// A frame read off the socket and waiting for its turn.
#[derive(Debug)]
struct Queued {
    /// The request's bytes after the size prefix.
    frame: BytesMut,
    /// Started when the frame was complete; counts the frame's bytes as held.
    timer: RequestTimer,
    /// The frame's share of the read-ahead budget, given back once it is answered.
    _budget: OwnedSemaphorePermit,
}

/// Reads frames and queues them, stamped, until the stream ends, a frame is invalid (the
/// error is queued after the frames before it), or the handler stops taking them.
async fn read_frames<R: AsyncRead + Unpin>(
    mut frames: FramedRead<R, RequestFrames>,
    queue: mpsc::Sender<Result<Queued, FrameError>>,
    budget: Arc<Semaphore>,
    slow_request_ms: u64,
) {
    while let Some(next) = frames.next().await {
        let item = match next {
            Ok(frame) => {
                // Counts and times the request when dropped, after the response is written.
                let timer = RequestTimer::start(&frame, slow_request_ms);
                // A frame is at most socket.request.max.bytes, the whole budget.
                let share = u32::try_from(frame.len()).unwrap_or(u32::MAX);
                let Ok(permit) = budget.clone().acquire_many_owned(share).await else {
                    return;
                };
                Ok(Queued {
                    frame,
                    timer,
                    _budget: permit,
                })
            }
            Err(e) => Err(e),
        };
        let stop = item.is_err();
        if queue.send(item).await.is_err() || stop {
            return;
        }
    }
}

/// Answers queued frames in order until the queue ends, one closes the connection, the
/// connection stays idle, or shutdown.
async fn handle_frames<W: AsyncWrite + Unpin>(
    broker: &Broker,
    peer: SocketAddr,
    mut queued: mpsc::Receiver<Result<Queued, FrameError>>,
    mut write: W,
    mut shutdown: watch::Receiver<bool>,
) {
    let idle = broker.config.limits.idle_timeout();
    loop {
        let next = tokio::select! {
            next = tokio::time::timeout(idle, queued.recv()) => next,
            _ = shutdown.changed() => return,
        };
        let result = match next {
            Err(_) => Err(ConnectionError::Idle(idle)),
            Ok(None) => return,
            Ok(Some(Err(e))) => Err(ConnectionError::Frame(e)),
            Ok(Some(Ok(Queued {
                frame,
                mut timer,
                _budget,
            }))) => {
                timer.started();
                let result = match answer(broker, peer, frame.freeze(), &mut timer).await {
                    Ok(Some(response)) => write_response(&mut write, &response, idle).await,
                    Ok(None) => Ok(()),
                    Err(e) => Err(e),
                };
                if result.is_ok() {
                    timer.answered();
                }
                result
            }
        };
        if let Err(e) = result {
            match e {
                ConnectionError::Panicked { .. } => {
                    error!(%peer, error = %e, "closing connection");
                }
                _ => warn!(%peer, error = %e, "closing connection"),
            }
            return;
        }
    }
}

/// Handles one request frame and returns the encoded response frame, if the request gets one.
/// A panic in a handler is caught here and becomes an error that closes this connection only.
async fn answer(
    broker: &Broker,
    peer: SocketAddr,
    frame: Bytes,
    timer: &mut RequestTimer,
) -> Result<Option<Bytes>, ConnectionError> {
    let preamble = Preamble::read(&frame)?;
    let span = info_span!(
        "request",
        %peer,
        api_key = preamble.api_key,
        api_version = preamble.api_version,
        correlation_id = preamble.correlation_id,
        client_id = tracing::field::Empty
    );
    guarded(
        preamble,
        serve_one(broker, peer, preamble, frame, timer).instrument(span),
    )
    .await
}

/// Runs one request's handling; a panic inside it is counted and becomes
/// [`ConnectionError::Panicked`]. Broker state is safe to keep using afterwards: shared state
/// sits behind locks that do not poison or whose holders finish each change in one step, and
/// the request that panicked gets no answer (its client sees the connection close and retries).
async fn guarded<F>(preamble: Preamble, handling: F) -> Result<Option<Bytes>, ConnectionError>
where
    F: std::future::Future<Output = Result<Option<Bytes>, ConnectionError>>,
{
    AssertUnwindSafe(handling)
        .catch_unwind()
        .await
        .unwrap_or_else(|panic| {
            limits::count_panic();
            Err(ConnectionError::Panicked {
                api_key: preamble.api_key,
                api_version: preamble.api_version,
                correlation_id: preamble.correlation_id,
                message: panic_message(panic.as_ref()),
            })
        })
}

/// Decodes and handles one request; returns its encoded response frame, if it gets one.
async fn serve_one(
    broker: &Broker,
    peer: SocketAddr,
    preamble: Preamble,
    mut frame: Bytes,
    timer: &mut RequestTimer,
) -> Result<Option<Bytes>, ConnectionError> {
    let Preamble {
        api_key,
        api_version,
        correlation_id,
    } = preamble;
    let Some(api) = dispatch::supported(api_key, api_version)? else {
        // An ApiVersions request of a version we do not know: answer in v0 (KIP-511).
        let body = dispatch::unsupported_api_versions(broker);
        return encode_response(correlation_id, ApiKey::ApiVersions, 0, &body.into()).map(Some);
    };
    let header = RequestHeader::decode(&mut frame, api.request_header_version(api_version))
        .map_err(|source| dispatch::DispatchError::Decode {
            api,
            version: api_version,
            source,
        })?;
    let client_id = header.client_id.unwrap_or_default();
    tracing::Span::current().record("client_id", client_id.as_str());
    let ctx = RequestContext {
        api,
        api_version,
        correlation_id,
        client_id,
        peer,
    };
    let request = dispatch::decode(&ctx, frame)?;
    timer.decoded();
    let outcome = dispatch::route(broker, &ctx, request).await?;
    timer.processed(&outcome);
    match outcome {
        Outcome::Respond(body) => {
            encode_response(correlation_id, api, api_version, &body).map(Some)
        }
        Outcome::NoResponse => Ok(None),
        Outcome::Disconnect => Err(ConnectionError::InjectedFault),
    }
}

/// Encodes one response frame: size, header, body.
fn encode_response(
    correlation_id: i32,
    api: ApiKey,
    version: i16,
    body: &fjord_protocol::messages::ResponseBody,
) -> Result<Bytes, ConnectionError> {
    let header = ResponseHeader {
        correlation_id,
        ..Default::default()
    };
    let header_version = api.response_header_version(version);
    let encode_err = |source| ConnectionError::Encode {
        api,
        version,
        source,
    };
    let len = header.encoded_len(header_version).map_err(encode_err)?
        + body.encoded_len(version).map_err(encode_err)?;
    let mut buf = BytesMut::with_capacity(4 + len);
    // The length was computed from the same values; a frame over i32::MAX cannot be built
    // from a request under our size limit.
    buf.put_i32(i32::try_from(len).unwrap_or(i32::MAX));
    header
        .encode(&mut buf, header_version)
        .map_err(encode_err)?;
    body.encode(&mut buf, version).map_err(encode_err)?;
    Ok(buf.freeze())
}

/// Writes one response frame; a client that does not take it within `limit` is dropped, so a
/// reader that never reads costs one response's memory for a bounded time.
async fn write_response<W: AsyncWrite + Unpin>(
    write: &mut W,
    response: &[u8],
    limit: Duration,
) -> Result<(), ConnectionError> {
    match tokio::time::timeout(limit, write.write_all(response)).await {
        Ok(result) => result.map_err(ConnectionError::Write),
        Err(_) => Err(ConnectionError::WriteStalled(limit)),
    }
}

/// The text of a panic payload (`panic!` gives a `&str` or a `String`).
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(ToString::to_string)
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-text panic payload".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_frames_are_refused_by_length() {
        assert!(matches!(
            Preamble::read(&[0, 18, 0, 3, 0, 0, 0]),
            Err(ConnectionError::ShortFrame(7))
        ));
        let p = Preamble::read(&[0, 18, 0, 3, 0, 0, 1, 2]).unwrap();
        assert_eq!((p.api_key, p.api_version, p.correlation_id), (18, 3, 258));
    }

    #[tokio::test]
    async fn a_panicking_handler_becomes_an_error_and_is_counted() {
        let preamble = Preamble::read(&[0, 3, 0, 12, 0, 0, 0, 9]).unwrap();
        let before = limits::panics_caught();
        let result = guarded(preamble, async {
            let empty: &[u8] = &[];
            // An out-of-bounds index, the kind of bug this guard is the last line against.
            let at = std::hint::black_box(3);
            Ok(Some(Bytes::from(vec![empty[at]])))
        })
        .await;
        match result {
            Err(ConnectionError::Panicked {
                api_key: 3,
                api_version: 12,
                correlation_id: 9,
                message,
            }) => assert!(message.contains("out of bounds"), "{message}"),
            other => panic!("expected a caught panic, got {other:?}"),
        }
        assert!(limits::panics_caught() > before);
    }

    #[test]
    fn panic_messages_are_recovered() {
        let text: Box<dyn std::any::Any + Send> = Box::new("boom");
        assert_eq!(panic_message(text.as_ref()), "boom");
        let owned: Box<dyn std::any::Any + Send> = Box::new(String::from("bang 7"));
        assert_eq!(panic_message(owned.as_ref()), "bang 7");
    }
}
