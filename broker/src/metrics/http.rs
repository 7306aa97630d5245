//! The metrics endpoint: a minimal HTTP/1.1 responder for `GET /metrics` (Prometheus text
//! format) and `GET /health`, one request per connection. It is bound only once the logs are
//! loaded, so `/health` answering at all means the broker is ready.

use std::sync::Arc;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusHandle;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tracing::{debug, warn};

use crate::broker::Broker;

/// Largest request head read; a scraper's is a few hundred bytes.
const MAX_HEAD: usize = 8 * 1024;

/// How long a client may take to send its request and take the answer.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// How often histogram samples are folded into their buckets when nobody scrapes, so memory
/// stays bounded.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The Prometheus text exposition format.
const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Serves the endpoint on `listener` until `shutdown` becomes true.
pub async fn serve(
    listener: TcpListener,
    broker: Arc<Broker>,
    handle: PrometheusHandle,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut upkeep = tokio::time::interval(UPKEEP_EVERY);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let broker = broker.clone();
                    let handle = handle.clone();
                    tokio::spawn(async move {
                        let answered =
                            tokio::time::timeout(CLIENT_TIMEOUT, answer(stream, &broker, &handle))
                                .await;
                        match answered {
                            Ok(Ok(())) => {}
                            Ok(Err(e)) => debug!(%peer, error = %e, "metrics client failed"),
                            Err(_) => debug!(%peer, "metrics client timed out"),
                        }
                    });
                }
                Err(e) => warn!(error = %e, "metrics accept failed"),
            },
            _ = upkeep.tick() => handle.run_upkeep(),
            _ = shutdown.changed() => break,
        }
    }
}

/// What a request asks for.
#[derive(Debug, PartialEq, Eq)]
enum Route {
    Metrics,
    Health,
    NotFound,
    MethodNotAllowed,
    BadRequest,
}

/// Routes a request head by its request line.
fn route(head: &[u8]) -> Route {
    let Some(line) = head
        .split(|&b| b == b'\n')
        .next()
        .and_then(|l| std::str::from_utf8(l).ok())
    else {
        return Route::BadRequest;
    };
    let mut parts = line.trim_end().split(' ');
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Route::BadRequest;
    };
    if !version.starts_with("HTTP/1.") {
        return Route::BadRequest;
    }
    if method != "GET" {
        return Route::MethodNotAllowed;
    }
    // A query string (`?name[]=...`) is allowed and ignored.
    match target.split('?').next().unwrap_or_default() {
        "/metrics" => Route::Metrics,
        "/health" => Route::Health,
        _ => Route::NotFound,
    }
}

/// Reads one request head and writes the answer.
async fn answer(
    mut stream: TcpStream,
    broker: &Broker,
    handle: &PrometheusHandle,
) -> std::io::Result<()> {
    let head = read_head(&mut stream).await?;
    let (status, content_type, body) = match route(&head) {
        Route::Metrics => {
            let mut body = handle.render();
            super::scrape::render(broker, &mut body).await;
            ("200 OK", METRICS_CONTENT_TYPE, body)
        }
        Route::Health => ("200 OK", "text/plain", "ok\n".to_string()),
        Route::NotFound => ("404 Not Found", "text/plain", "not found\n".to_string()),
        Route::MethodNotAllowed => (
            "405 Method Not Allowed",
            "text/plain",
            "only GET\n".to_string(),
        ),
        Route::BadRequest => ("400 Bad Request", "text/plain", "bad request\n".to_string()),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

/// Reads until the blank line that ends a request head, or `MAX_HEAD` bytes.
async fn read_head(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    while head.len() < MAX_HEAD && !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(chunk.get(..n).unwrap_or_default());
    }
    Ok(head)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_routed_by_method_and_path() {
        assert_eq!(
            route(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
            Route::Metrics
        );
        assert_eq!(route(b"GET /metrics?x=1 HTTP/1.0\r\n\r\n"), Route::Metrics);
        assert_eq!(route(b"GET /health HTTP/1.1\r\n\r\n"), Route::Health);
        assert_eq!(route(b"GET / HTTP/1.1\r\n\r\n"), Route::NotFound);
        assert_eq!(
            route(b"POST /metrics HTTP/1.1\r\n\r\n"),
            Route::MethodNotAllowed
        );
        assert_eq!(route(b"garbage"), Route::BadRequest);
        assert_eq!(route(b"GET /metrics SPDY\r\n\r\n"), Route::BadRequest);
        assert_eq!(route(b""), Route::BadRequest);
    }
}
