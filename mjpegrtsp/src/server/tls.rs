//! RTSPS: the server's TLS port (cargo feature `tls`). A certificate chain
//! and its private key (PEM) make a rustls acceptor; each connection on the
//! TLS port is served as a plain one once its handshake is done (which must
//! finish within the request timeout).

use std::io::BufReader;
use std::path::Path;

use super::TlsConfig;
use std::sync::Arc;

use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;

fn read(path: &Path, what: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read the TLS {what} {}: {e}", path.display()))
}

/// The acceptor for `config`'s certificate and key; why not, in words.
pub fn acceptor(config: &TlsConfig) -> Result<TlsAcceptor, String> {
    let cert_pem = read(&config.cert, "certificate")?;
    let key_pem = read(&config.key, "key")?;
    let certs: Vec<_> = rustls_pemfile::certs(&mut BufReader::new(&cert_pem[..]))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", config.cert.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "{}: no PEM certificate in it",
            config.cert.display()
        ));
    }
    let key = rustls_pemfile::private_key(&mut BufReader::new(&key_pem[..]))
        .map_err(|e| format!("{}: {e}", config.key.display()))?
        .ok_or_else(|| format!("{}: no PEM private key in it", config.key.display()))?;
    // ring rather than rustls's default aws-lc-rs, which needs cmake and a
    // C toolchain's assembler to build; ring lacks only the post-quantum key
    // exchange, which rustls 0.23.48 marks this constructor deprecated for.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("the TLS certificate and key do not go together: {e}"))?;
    Ok(TlsAcceptor::from(Arc::new(server)))
}
