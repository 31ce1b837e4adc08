//! What happens to a connection once accepted: counted against the limits
//! (or refused with a 503), the TLS handshake on the RTSPS port, and, from
//! a trusted proxy, the PROXY protocol header that names the real client
//! (read before anything else, so that limits, media and logs use the
//! client's address, not the proxy's).

use super::limits::Full;
use super::{ConnectionSlot, SERVER_NAME, Shared, connection};
use crate::proxy_protocol::{self, Parsed, ProxyHeader};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// What makes an RTSPS connection's TLS (none in a build without `tls`).
#[cfg(feature = "tls")]
pub(super) type Acceptor = tokio_rustls::TlsAcceptor;
/// What makes an RTSPS connection's TLS (none in a build without `tls`).
#[cfg(not(feature = "tls"))]
pub(super) type Acceptor = std::convert::Infallible;

/// Serves a connection `admit` took: plain, or over TLS once the handshake
/// is done within the request timeout (a failed one is logged and closed).
pub(super) async fn serve(
    shared: Arc<Shared>,
    stream: TcpStream,
    (local, peer): (IpAddr, SocketAddr),
    slot: ConnectionSlot,
    tls: Option<Acceptor>,
) {
    let _ = stream.set_nodelay(true);
    let Some(acceptor) = tls else {
        return connection::serve_connection(shared, stream, (local, peer), false, slot).await;
    };
    #[cfg(feature = "tls")]
    {
        let timeout = shared.config.request_timeout;
        match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
            Ok(Ok(tls)) => {
                connection::serve_connection(shared, tls, (local, peer), true, slot).await
            }
            Ok(Err(e)) => tracing::info!(%peer, "TLS handshake failed: {e}"),
            Err(_) => tracing::info!(%peer, "TLS handshake not done within {timeout:?}"),
        }
    }
    #[cfg(not(feature = "tls"))]
    match acceptor {}
}

/// A connection from a trusted proxy: its PROXY header first (within the
/// request timeout), then it is admitted and served as the client's.
pub(super) async fn serve_proxied(
    shared: Arc<Shared>,
    mut stream: TcpStream,
    proxy: SocketAddr,
    tls: Option<Acceptor>,
) {
    let timeout = shared.config.request_timeout;
    let header = match tokio::time::timeout(timeout, read_header(&mut stream)).await {
        Ok(Ok(header)) => header,
        Ok(Err(why)) => {
            tracing::info!(%proxy, "closed: the trusted proxy sent a bad PROXY header ({why})");
            return;
        }
        Err(_) => {
            tracing::info!(%proxy, "closed: no PROXY header within {timeout:?} from a trusted proxy");
            return;
        }
    };
    let (client, local) = match header {
        ProxyHeader::Proxied {
            source,
            destination,
        } => (
            SocketAddr::new(source.ip().to_canonical(), source.port()),
            destination.ip().to_canonical(),
        ),
        // A health check, or a client the proxy cannot name: its own.
        ProxyHeader::Local => (proxy, local_ip(&stream, &shared)),
    };
    match shared.admit(client.ip()) {
        Ok(slot) => {
            tracing::debug!(%client, %proxy, "connection through a proxy");
            serve(shared, stream, (local, client), slot, tls).await;
        }
        Err(full) => {
            tracing::info!(%client, %proxy, "connection refused: {full}");
            refuse(stream, full);
        }
    }
}

/// Reads exactly the PROXY header at the start of `stream` (byte by byte
/// for a v1 line, so that nothing after it is taken).
async fn read_header(stream: &mut TcpStream) -> Result<ProxyHeader, String> {
    let mut buf = Vec::with_capacity(proxy_protocol::V1_MAX);
    loop {
        match proxy_protocol::parse(&buf) {
            Parsed::Complete(header, _) => return Ok(header),
            Parsed::Incomplete(want) => {
                let have = buf.len();
                buf.resize(want, 0);
                stream
                    .read_exact(&mut buf[have..])
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Parsed::Invalid(why) => return Err(why.to_owned()),
        }
    }
}

/// This server's address as the client reached it.
pub(super) fn local_ip(stream: &TcpStream, shared: &Shared) -> IpAddr {
    stream
        .local_addr()
        .map_or(shared.config.bind, |a| a.ip().to_canonical())
}

/// Answers a connection the server does not take with a 503, if the reply
/// fits in the socket's buffer at once, and closes it.
pub(super) fn refuse(stream: TcpStream, full: Full) {
    let why = match full {
        Full::Total { .. } => "the server is serving as many connections as it can",
        Full::Address { .. } => "your address holds as many connections as one may",
    };
    let reply = format!(
        "RTSP/1.0 503 Service Unavailable\r\nServer: {SERVER_NAME}\r\nRetry-After: 10\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\r\n{why}\r\n",
        why.len() + 2
    );
    let _ = stream.try_write(reply.as_bytes());
}
