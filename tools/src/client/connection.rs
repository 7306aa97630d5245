//! One TCP connection to one broker: framing, correlation ids and ApiVersions negotiation.
//!
//! Kafka answers the requests of one connection in the order they were sent, so a connection can
//! be split into a [`RequestWriter`] and a [`ResponseReader`] that pipeline requests (the bench
//! producer does); [`Connection`] is the two halves used one request at a time.

use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use fjord_protocol::messages::{ApiKey, ApiVersionsRequest, ApiVersionsResponse};
use fjord_protocol::{Decode, Encode, ErrorCode, Request, RequestHeader, ResponseHeader};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

use super::error::ClientError;
use super::versions::Versions;

/// The largest response frame accepted: fetch responses are bounded by the `max_bytes` we ask
/// for, so this only stops a confused peer from making us allocate gigabytes.
const MAX_FRAME: usize = 256 * 1024 * 1024;

/// How long one request may take, on top of any time the request itself asks the broker to
/// wait (a fetch's `max_wait_ms`).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a TCP connect may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The ApiVersions version tried first: v3 is the first flexible one, answered by Kafka 2.4+.
const API_VERSIONS_FIRST: i16 = 3;

/// The write side of a connection: encodes requests and numbers them.
#[derive(Debug)]
pub struct RequestWriter {
    /// The broker's address, for error messages.
    addr: String,
    /// The socket's write half.
    half: OwnedWriteHalf,
    /// The `client.id` sent in every request header.
    client_id: String,
    /// The correlation id of the next request.
    next_id: i32,
}

/// The read side of a connection: reads whole frames and decodes responses.
#[derive(Debug)]
pub struct ResponseReader {
    /// The broker's address, for error messages.
    addr: String,
    /// The socket's read half, buffered so the size prefix and frame come in few reads.
    half: BufReader<OwnedReadHalf>,
}

/// A negotiated connection to one broker.
#[derive(Debug)]
pub struct Connection {
    /// Sends requests.
    writer: RequestWriter,
    /// Reads responses.
    reader: ResponseReader,
    /// The version of each API both sides speak.
    versions: Versions,
}

impl Connection {
    /// Connects to `addr` and negotiates API versions.
    pub async fn connect(addr: &str, client_id: &str) -> Result<Self, ClientError> {
        let connect = TcpStream::connect(addr);
        let stream = match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(source)) => {
                return Err(ClientError::Connect {
                    addr: addr.to_owned(),
                    source,
                })
            }
            Err(_) => {
                return Err(ClientError::Connect {
                    addr: addr.to_owned(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!("no answer within {CONNECT_TIMEOUT:?}"),
                    ),
                })
            }
        };
        // Small requests (heartbeats, acks=1 produces) should not wait for Nagle.
        stream.set_nodelay(true).map_err(|source| ClientError::Io {
            addr: addr.to_owned(),
            source,
        })?;
        let (read, write) = stream.into_split();
        let mut conn = Self {
            writer: RequestWriter {
                addr: addr.to_owned(),
                half: write,
                client_id: client_id.to_owned(),
                next_id: 0,
            },
            reader: ResponseReader {
                addr: addr.to_owned(),
                half: BufReader::new(read),
            },
            versions: Versions::default(),
        };
        conn.versions = conn.negotiate().await?;
        Ok(conn)
    }

    /// Asks the broker for its API versions. A broker that does not know the version we send
    /// answers in v0 with UNSUPPORTED_VERSION, and we ask again in v0.
    async fn negotiate(&mut self) -> Result<Versions, ClientError> {
        let request = ApiVersionsRequest {
            client_software_name: String::from("fjordctl"),
            client_software_version: String::from(env!("CARGO_PKG_VERSION")),
            ..ApiVersionsRequest::default()
        };
        let id = self.writer.write(&request, API_VERSIONS_FIRST).await?;
        let frame = self.reader.read_frame(ApiKey::ApiVersions, id, 0).await?;
        let first = ApiVersionsResponse::decode(&mut frame.clone(), API_VERSIONS_FIRST);
        let response = match first {
            Ok(r) if r.error_code != ErrorCode::UnsupportedVersion.code() => r,
            // Either an explicit UNSUPPORTED_VERSION or a v0 body that does not parse as v3.
            _ => {
                let v0 = ApiVersionsRequest::default();
                let id = self.writer.write(&v0, 0).await?;
                let frame = self.reader.read_frame(ApiKey::ApiVersions, id, 0).await?;
                ApiVersionsResponse::decode(&mut frame.clone(), 0).map_err(|source| {
                    ClientError::Decode {
                        api: ApiKey::ApiVersions.name(),
                        version: 0,
                        addr: self.writer.addr.clone(),
                        source,
                    }
                })?
            }
        };
        super::error::check(response.error_code, || {
            format!("ApiVersions from {}", self.writer.addr)
        })?;
        Ok(Versions::from_advertised(&response.api_keys))
    }

    /// The broker's address.
    pub fn addr(&self) -> &str {
        &self.writer.addr
    }

    /// The negotiated versions.
    pub fn versions(&self) -> &Versions {
        &self.versions
    }

    /// The highest version of `api` both sides speak.
    pub fn version(&self, api: ApiKey) -> Result<i16, ClientError> {
        self.versions
            .negotiate(api)
            .ok_or_else(|| ClientError::Unsupported {
                api,
                addr: self.writer.addr.clone(),
                broker: self.versions.broker_range(api),
            })
    }

    /// Sends `request` in `version` and waits for its response, for at most
    /// [`REQUEST_TIMEOUT`] plus `extra_wait`.
    pub async fn send_at<R: Request>(
        &mut self,
        request: &R,
        version: i16,
        extra_wait: Duration,
    ) -> Result<R::Response, ClientError> {
        let limit = REQUEST_TIMEOUT + extra_wait;
        let exchange = async {
            let id = self.writer.write(request, version).await?;
            self.reader.read::<R>(id, version).await
        };
        match tokio::time::timeout(limit, exchange).await {
            Ok(result) => result,
            Err(_) => Err(ClientError::Timeout {
                api: R::API_KEY.name(),
                addr: self.writer.addr.clone(),
                timeout_ms: u64::try_from(limit.as_millis()).unwrap_or(u64::MAX),
            }),
        }
    }

    /// Sends `request` in the negotiated version and waits for its response.
    pub async fn send<R: Request>(&mut self, request: &R) -> Result<R::Response, ClientError> {
        let version = self.version(R::API_KEY)?;
        self.send_at(request, version, Duration::ZERO).await
    }

    /// Sends a request that gets no response (a produce with acks=0).
    pub async fn send_no_response<R: Request>(
        &mut self,
        request: &R,
        version: i16,
    ) -> Result<(), ClientError> {
        self.writer.write(request, version).await.map(drop)
    }

    /// Splits the connection for pipelining; the versions stay with the caller.
    pub fn into_split(self) -> (RequestWriter, ResponseReader, Versions) {
        (self.writer, self.reader, self.versions)
    }
}

impl RequestWriter {
    /// Encodes and writes one request; returns its correlation id.
    pub async fn write<R: Request>(
        &mut self,
        request: &R,
        version: i16,
    ) -> Result<i32, ClientError> {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        let frame = encode_request(request, version, id, &self.client_id)?;
        self.half
            .write_all(&frame)
            .await
            .map_err(|source| ClientError::Io {
                addr: self.addr.clone(),
                source,
            })?;
        Ok(id)
    }

    /// The broker's address.
    pub fn addr(&self) -> &str {
        &self.addr
    }
}

impl ResponseReader {
    /// Reads the response to request `id` of type `R`, sent in `version`.
    pub async fn read<R: Request>(
        &mut self,
        id: i32,
        version: i16,
    ) -> Result<R::Response, ClientError> {
        let header_version = R::API_KEY.response_header_version(version);
        let mut body = self.read_frame(R::API_KEY, id, header_version).await?;
        <R::Response as Decode>::decode(&mut body, version).map_err(|source| ClientError::Decode {
            api: R::API_KEY.name(),
            version,
            addr: self.addr.clone(),
            source,
        })
    }

    /// Reads one frame, checks its correlation id and returns the body after the header.
    async fn read_frame(
        &mut self,
        api: ApiKey,
        id: i32,
        header_version: i16,
    ) -> Result<Bytes, ClientError> {
        let io_error = |source| ClientError::Io {
            addr: self.addr.clone(),
            source,
        };
        let size = self.half.read_i32().await.map_err(io_error)?;
        let len = usize::try_from(size)
            .ok()
            .filter(|&n| n <= MAX_FRAME)
            .ok_or_else(|| ClientError::FrameTooLarge {
                addr: self.addr.clone(),
                size: i64::from(size),
                max: MAX_FRAME,
            })?;
        let mut frame = vec![0; len];
        self.half.read_exact(&mut frame).await.map_err(io_error)?;
        let mut frame = Bytes::from(frame);
        let header = ResponseHeader::decode(&mut frame, header_version).map_err(|source| {
            ClientError::Decode {
                api: api.name(),
                version: header_version,
                addr: self.addr.clone(),
                source,
            }
        })?;
        if header.correlation_id != id {
            return Err(ClientError::CorrelationMismatch {
                addr: self.addr.clone(),
                expected: id,
                got: header.correlation_id,
            });
        }
        Ok(frame)
    }
}

/// The size-prefixed frame of one request.
fn encode_request<R: Request>(
    request: &R,
    version: i16,
    correlation_id: i32,
    client_id: &str,
) -> Result<Bytes, ClientError> {
    let api = R::API_KEY;
    let encode_error = |source| ClientError::Encode {
        api: api.name(),
        version,
        source,
    };
    let header = RequestHeader {
        request_api_key: api as i16,
        request_api_version: version,
        correlation_id,
        client_id: Some(client_id.to_owned()),
        ..RequestHeader::default()
    };
    let header_version = api.request_header_version(version);
    let len = header.encoded_len(header_version).map_err(encode_error)?
        + Encode::encoded_len(request, version).map_err(encode_error)?;
    let size = i32::try_from(len).map_err(|_| {
        encode_error(fjord_protocol::EncodeError::TooLong {
            what: "request",
            len,
        })
    })?;
    let mut buf = BytesMut::with_capacity(len + 4);
    buf.put_i32(size);
    header
        .encode(&mut buf, header_version)
        .map_err(encode_error)?;
    request.encode(&mut buf, version).map_err(encode_error)?;
    Ok(buf.freeze())
}
