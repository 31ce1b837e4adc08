//! The HTTP port (`--http-port`): an index page, a page that plays a mount
//! in an `<img>`, MJPEG over HTTP (`multipart/x-mixed-replace`, paced by the
//! same media engine and counted as sessions like RTSP viewers), snapshots,
//! Prometheus metrics and a JSON status API. One task per connection reads
//! HTTP/1.1 requests with [`crate::rtsp::Parser`] (the syntax RTSP shares)
//! and answers them through the same bounded queue as an RTSP connection;
//! [`routes`] says what each path is.

mod metrics;
mod pages;
mod routes;
mod status;
mod stream;

use super::config::{ServerConfig, StartError};
use super::limits::Full;
use super::queue::{self, Outgoing};
use super::stats::Port;
use super::{ConnectionSlot, SERVER_NAME, Shared};
use crate::rtsp::{Item, Parsed, Parser, Request, Response, StatusCode, Version, http_date, names};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};

/// Binds the HTTP port, if one is asked for. A default port that is taken
/// leaves the server without HTTP (said in the log); a port asked for
/// that cannot be bound stops the start.
pub(super) async fn bind(config: &ServerConfig) -> Result<Option<TcpListener>, StartError> {
    let Some(http) = config.http else {
        return Ok(None);
    };
    let addr = SocketAddr::new(config.bind, http.port);
    match TcpListener::bind(addr).await {
        Ok(listener) => Ok(Some(listener)),
        Err(e) if http.optional => {
            tracing::warn!(
                "no HTTP side: cannot listen on {addr} ({e}); --http-port PORT chooses another, \
                 --http-port 0 turns it off"
            );
            Ok(None)
        }
        Err(source) => Err(StartError::Listen { addr, source }),
    }
}

/// Takes a connection on the HTTP port if the connection limits allow it;
/// else answers 503 (if the reply fits the socket at once) and closes it.
pub(super) fn take(shared: &Arc<Shared>, stream: TcpStream, peer: SocketAddr) -> Result<(), Full> {
    match shared.admit(peer.ip()) {
        Ok(slot) => {
            tokio::spawn(serve(shared.clone(), stream, peer, slot));
            Ok(())
        }
        Err(full) => {
            let why = "the server is serving as many connections as it may";
            let reply = text(StatusCode::SERVICE_UNAVAILABLE, why).with_header("Retry-After", "10");
            let _ = stream.try_write(&finish(reply, false).to_bytes());
            Err(full)
        }
    }
}

/// What a request gets.
enum Handled {
    /// A reply; the connection may go on.
    Reply(Response),
    /// The head of an MJPEG stream: the connection then carries it.
    Stream(Response, stream::Viewer),
}

/// Serves one HTTP connection: requests one after another (keep-alive),
/// until the client closes, a timeout passes, or a stream ends.
async fn serve(shared: Arc<Shared>, stream: TcpStream, peer: SocketAddr, _slot: ConnectionSlot) {
    let _ = stream.set_nodelay(true);
    let _open = shared.stats.connection_opened(Port::Http);
    let (mut reader, writer) = stream.into_split();
    let (tx, rx) = queue::queue();
    let mut writer_task = queue::spawn_writer(writer, rx);
    let parser = Parser::new();
    let mut buf: Vec<u8> = Vec::with_capacity(2048);
    let mut chunk = vec![0u8; 8192];
    let mut request_began: Option<Instant> = None;
    let mut last_request = Instant::now();
    loop {
        match parser.parse(&buf, true) {
            Parsed::Complete(Item::Request(request), used) => {
                buf.drain(..used);
                request_began = None;
                last_request = Instant::now();
                let head_only = request.method.as_str() == "HEAD";
                let keep_alive = keeps_alive(&request);
                // A stream's viewer: its engine id (its media thread)
                // chosen now, and as for an RTSP PLAY, no room on that
                // thread, wait a moment for some.
                let viewer_id = request
                    .uri
                    .starts_with("/stream/")
                    .then(|| shared.new_engine_id());
                if let Some(id) = viewer_id {
                    shared.engine.until_room(id).await;
                }
                let (response, viewer) =
                    match routes::handle(&shared, &request, peer, &tx, viewer_id) {
                        Handled::Reply(response) => (response, None),
                        Handled::Stream(head, viewer) => (head, Some(viewer)),
                    };
                // A stream's connection carries it, and ends with it.
                let keep_alive = keep_alive && viewer.is_none();
                let response = finish(response, keep_alive);
                let method = request.method.as_str();
                shared
                    .stats
                    .request(Port::Http, method, response.status.as_u16());
                let sent = tx.send_reply(wire(&response, head_only)).await;
                match viewer {
                    Some(viewer) if sent && !head_only => {
                        viewer
                            .run(&shared, &mut reader, &mut writer_task, &tx)
                            .await;
                    }
                    Some(viewer) => viewer.end(&shared, "HEAD, or the viewer left"),
                    None if sent && keep_alive => continue,
                    None => {}
                }
                break;
            }
            Parsed::Complete(_, _) => {
                refuse(&tx, StatusCode::BAD_REQUEST, "not an HTTP request").await;
                break;
            }
            Parsed::Error(e) => {
                tracing::debug!(%peer, "bad HTTP request: {e}");
                refuse(&tx, e.status(), &e.to_string()).await;
                break;
            }
            Parsed::Incomplete(_) => {}
        }
        let deadline = shared
            .config
            .read_deadline(&buf, &mut request_began, last_request);
        match tokio::time::timeout_at(deadline.into(), reader.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    drop(tx);
    let _ = writer_task.await;
}

/// HTTP/1.1 keeps the connection unless told to close; 1.0 closes it.
fn keeps_alive(request: &Request) -> bool {
    let connection = request
        .headers
        .get("Connection")
        .unwrap_or_default()
        .to_ascii_lowercase();
    match (request.version.major, request.version.minor) {
        (1, 1) => !connection.contains("close"),
        _ => connection.contains("keep-alive"),
    }
}

/// The headers every reply carries: version, `Server`, `Date`, and
/// `Connection: close` when the connection ends after it.
fn finish(mut response: Response, keep_alive: bool) -> Response {
    response.version = Version::HTTP_1_1;
    response = response
        .with_header(names::SERVER, SERVER_NAME)
        .with_header("Date", http_date(SystemTime::now()));
    if !keep_alive {
        response = response.with_header("Connection", "close");
    }
    response
}

/// The reply's bytes; for HEAD, its head only (with the `Content-Length`
/// GET would have had).
fn wire(response: &Response, head_only: bool) -> Vec<u8> {
    let mut bytes = response.to_bytes();
    if head_only && let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
        bytes.truncate(end + 4);
    }
    bytes
}

/// A plain-text reply saying `why`.
fn text(status: StatusCode, why: &str) -> Response {
    Response::new(status).with_body("text/plain; charset=utf-8", format!("{why}\n"))
}

/// Answers a request that cannot be read, and the connection closes.
async fn refuse(tx: &Outgoing, status: StatusCode, why: &str) {
    let _ = tx
        .send_reply(finish(text(status, why), false).to_bytes())
        .await;
}
