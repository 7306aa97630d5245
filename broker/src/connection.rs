//! One client connection: reads size-prefixed frames, answers each request in order, and
//! closes the connection on anything it cannot answer (as Kafka does).

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use fjord_protocol::codec::Decode;
use fjord_protocol::codec::Encode;
use fjord_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use futures::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_util::codec::{FramedRead, LengthDelimitedCodec};
use tracing::{debug, info_span, warn, Instrument};

use crate::broker::Broker;
use crate::dispatch::{self, Outcome, RequestContext};

/// A client connection and the broker it talks to.
#[derive(Debug)]
pub struct Connection {
    socket: TcpStream,
    peer: SocketAddr,
    broker: Arc<Broker>,
}

/// Why a connection was closed by us.
#[derive(Debug, thiserror::Error)]
enum ConnectionError {
    #[error("reading a frame: {0}")]
    Read(#[source] std::io::Error),
    #[error("writing a response: {0}")]
    Write(#[source] std::io::Error),
    #[error("frame of {0} bytes is too short for a request header")]
    ShortFrame(usize),
    #[error("closed by an injected test fault")]
    InjectedFault,
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

impl Connection {
    /// Wraps an accepted socket.
    pub fn new(socket: TcpStream, peer: SocketAddr, broker: Arc<Broker>) -> Self {
        Self {
            socket,
            peer,
            broker,
        }
    }

    /// Serves requests until the client closes, an error closes the connection, or shutdown.
    pub async fn serve(self, mut shutdown: watch::Receiver<bool>) {
        let peer = self.peer;
        let (read, mut write) = self.socket.into_split();
        let codec = LengthDelimitedCodec::builder()
            .length_field_length(4)
            .max_frame_length(self.broker.config.max_request_bytes)
            .new_codec();
        let mut frames = FramedRead::new(read, codec);
        loop {
            let frame = tokio::select! {
                frame = frames.next() => frame,
                _ = shutdown.changed() => break,
            };
            let result = match frame {
                None => break,
                Some(Err(e)) => Err(ConnectionError::Read(e)),
                Some(Ok(frame)) => serve_one(&self.broker, peer, frame.freeze(), &mut write).await,
            };
            if let Err(e) = result {
                warn!(%peer, error = %e, "closing connection");
                break;
            }
        }
        debug!(%peer, "connection closed");
    }
}

/// Decodes, handles and answers one request frame.
async fn serve_one(
    broker: &Broker,
    peer: SocketAddr,
    mut frame: Bytes,
    write: &mut OwnedWriteHalf,
) -> Result<(), ConnectionError> {
    if frame.len() < 8 {
        return Err(ConnectionError::ShortFrame(frame.len()));
    }
    // Every header version starts with api key, api version and correlation id.
    let api_key = i16::from_be_bytes([frame[0], frame[1]]);
    let api_version = i16::from_be_bytes([frame[2], frame[3]]);
    let correlation_id = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
    let span = info_span!("request", %peer, api_key, api_version, correlation_id, client_id = tracing::field::Empty);
    async move {
        let Some(api) = dispatch::supported(api_key, api_version)? else {
            // An ApiVersions request of a version we do not know: answer in v0 (KIP-511).
            let body = dispatch::unsupported_api_versions(broker);
            return send(write, correlation_id, ApiKey::ApiVersions, 0, &body.into()).await;
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
        match dispatch::handle(broker, &ctx, frame).await? {
            Outcome::Respond(body) => send(write, correlation_id, api, api_version, &body).await,
            Outcome::NoResponse => Ok(()),
            Outcome::Disconnect => Err(ConnectionError::InjectedFault),
        }
    }
    .instrument(span)
    .await
}

/// Writes one response frame: size, header, body.
async fn send(
    write: &mut OwnedWriteHalf,
    correlation_id: i32,
    api: ApiKey,
    version: i16,
    body: &fjord_protocol::messages::ResponseBody,
) -> Result<(), ConnectionError> {
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
    write.write_all(&buf).await.map_err(ConnectionError::Write)
}
