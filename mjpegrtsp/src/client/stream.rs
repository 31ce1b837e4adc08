//! The control connection: plain TCP for `rtsp://`, TLS over TCP for
//! `rtsps://` (cargo feature `tls`, rustls). [`Connector`] makes it from a
//! TCP connection; the driver reads and writes it as one byte stream.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::TlsOptions;

/// A control connection, plain or TLS.
pub enum Stream {
    /// `rtsp://`
    Plain(TcpStream),
    /// `rtsps://`
    #[cfg(feature = "tls")]
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Makes control connections to one server: plain, or TLS with its
/// settings.
#[derive(Clone)]
pub struct Connector {
    #[cfg(feature = "tls")]
    tls: Option<(
        tokio_rustls::TlsConnector,
        tokio_rustls::rustls::pki_types::ServerName<'static>,
    )>,
}

impl Connector {
    /// Plain TCP.
    pub fn plain() -> Connector {
        Connector {
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// TLS to `host` (checked against its certificate unless
    /// `options.verify` is off).
    #[cfg(feature = "tls")]
    pub fn tls(host: &str, options: &TlsOptions) -> Result<Connector, String> {
        let name = tokio_rustls::rustls::pki_types::ServerName::try_from(host.to_owned())
            .map_err(|e| format!("{host:?} cannot be checked against a certificate: {e}"))?;
        let config = tls_config::client_config(options)?;
        Ok(Connector {
            tls: Some((tokio_rustls::TlsConnector::from(config), name)),
        })
    }

    /// TLS is not in this build.
    #[cfg(not(feature = "tls"))]
    pub fn tls(_host: &str, _options: &TlsOptions) -> Result<Connector, String> {
        Err("this build has no TLS: rtsps:// needs the `tls` feature".into())
    }

    /// The control connection over `tcp` (a TLS handshake first, for TLS).
    pub async fn connect(&self, tcp: TcpStream) -> io::Result<Stream> {
        let _ = tcp.set_nodelay(true);
        #[cfg(feature = "tls")]
        if let Some((connector, name)) = &self.tls {
            let tls = connector
                .connect(name.clone(), tcp)
                .await
                .map_err(|e| io::Error::new(e.kind(), format!("TLS handshake: {e}")))?;
            return Ok(Stream::Tls(Box::new(tls)));
        }
        Ok(Stream::Plain(tcp))
    }
}

#[cfg(feature = "tls")]
mod tls_config;
