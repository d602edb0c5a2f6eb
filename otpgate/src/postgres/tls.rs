//! TLS for the PostgreSQL store: when it is used (`sslmode`), what it trusts
//! (`sslrootcert`, the system's store, `SSL_CERT_FILE`), and the handshake (rustls with the
//! `ring` provider, through tokio-postgres-rustls, which also hands the server's
//! certificate to SCRAM for channel binding).

use core::future::Future;
use core::pin::Pin;
use std::boxed::Box;
use std::format;
use std::io;
use std::path::PathBuf;
use std::string::{String, ToString};
use std::sync::Arc;
use std::vec::Vec;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio_postgres::Socket;
use tokio_postgres::config::{Config, Host, SslMode};
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres_rustls::MakeRustlsConnect;

/// The TLS stream of a connection.
type Stream = <MakeRustlsConnect as MakeTlsConnect<Socket>>::Stream;

/// What a connection trusts, and its connector, built only once the server agreed to TLS:
/// loading the system's trusted certificates costs milliseconds that a connection over a
/// unix socket (where the server declines TLS) would pay for nothing.
pub(super) struct LazyTls {
    /// `sslrootcert=` from the URL: the only certificates trusted when given.
    root_cert: Option<PathBuf>,
}

/// [`LazyTls`] for one host.
pub(super) struct LazyTlsConnect {
    root_cert: Option<PathBuf>,
    domain: String,
}

impl MakeTlsConnect<Socket> for LazyTls {
    type Stream = Stream;
    type TlsConnect = LazyTlsConnect;
    type Error = io::Error;

    fn make_tls_connect(&mut self, domain: &str) -> Result<LazyTlsConnect, io::Error> {
        Ok(LazyTlsConnect {
            root_cert: self.root_cert.clone(),
            domain: String::from(domain),
        })
    }
}

impl TlsConnect<Socket> for LazyTlsConnect {
    type Stream = Stream;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Stream, io::Error>> + Send>>;

    fn connect(self, stream: Socket) -> Self::Future {
        let config = client_config(self.root_cert.as_ref());
        match config.map(|config| {
            MakeTlsConnect::<Socket>::make_tls_connect(
                &mut MakeRustlsConnect::new(config),
                &self.domain,
            )
        }) {
            Ok(Ok(connect)) => Box::pin(connect.connect(stream)),
            Ok(Err(never)) => match never {},
            Err(e) => Box::pin(core::future::ready(Err(e))),
        }
    }
}

/// rustls with the `ring` provider, trusting `root_cert` alone when given, else the
/// system's store (`SSL_CERT_FILE`/`SSL_CERT_DIR` replace it, as for OpenSSL). The server's
/// certificate and host name are always verified, as libpq's `verify-full` does.
fn client_config(root_cert: Option<&PathBuf>) -> Result<rustls::ClientConfig, io::Error> {
    let certs: Vec<CertificateDer<'static>> = match root_cert {
        Some(path) => CertificateDer::pem_file_iter(path)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| {
                io::Error::other(format!("cannot read sslrootcert {}: {e}", path.display()))
            })?,
        None => rustls_native_certs::load_native_certs().certs,
    };
    let mut roots = rustls::RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(io::Error::other(match root_cert {
            Some(path) => format!("sslrootcert {} holds no usable certificate", path.display()),
            None => {
                String::from("no trusted certificates found in the system's store or SSL_CERT_FILE")
            }
        }));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// Reads the URL's TLS settings that the client library does not know, and returns the
/// URL without them: `sslrootcert=PATH` (a private CA), and `sslmode=verify-ca` or
/// `verify-full`, taken as `require`, which verifies the certificate and host name here
/// already.
pub(super) fn tls_settings(url: &str) -> (String, LazyTls) {
    let url = url
        .replace("sslmode=verify-full", "sslmode=require")
        .replace("sslmode=verify-ca", "sslmode=require");
    let Some((base, query)) = url.split_once('?') else {
        return (url, LazyTls { root_cert: None });
    };
    let mut root_cert = None;
    let kept: Vec<&str> = query
        .split('&')
        .filter(|param| match param.strip_prefix("sslrootcert=") {
            Some(path) => {
                root_cert = Some(PathBuf::from(percent_decode(path)));
                false
            }
            None => true,
        })
        .collect();
    let url = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    (url, LazyTls { root_cert })
}

/// `%XX` escapes decoded (a path in a URL: `%2F` for `/`); anything else kept as it is.
fn percent_decode(text: &str) -> String {
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hex: Vec<u8> = bytes.clone().take(2).collect();
            if let Some(v) = core::str::from_utf8(&hex)
                .ok()
                .filter(|h| h.len() == 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                bytes.nth(1);
                continue;
            }
        }
        out.push(b);
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// No plain text unless asked for: a TCP host gets `sslmode=require` unless the URL says
/// `sslmode=disable` (the client library's default, `prefer`, would send the password in
/// clear to anyone on the path who answers "no TLS"; an explicit `prefer` is taken as
/// `require` too). A connection over unix sockets only keeps its mode: the server never
/// offers TLS there, and the socket does not leave the machine.
pub(super) fn require_tls_over_tcp(config: &mut Config) {
    let tcp = !config.get_hostaddrs().is_empty()
        || config
            .get_hosts()
            .iter()
            .any(|host| matches!(host, Host::Tcp(_)));
    if tcp && config.get_ssl_mode() == SslMode::Prefer {
        config.ssl_mode(SslMode::Require);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use core::str::FromStr;

    #[test]
    fn sslrootcert_is_taken_out_of_the_url_and_decoded() {
        let (url, tls) =
            tls_settings("postgresql://u@h/db?sslrootcert=%2Fetc%2Fca.pem&sslmode=verify-full");
        assert_eq!(url, "postgresql://u@h/db?sslmode=require");
        assert_eq!(tls.root_cert, Some(PathBuf::from("/etc/ca.pem")));
        let (url, tls) = tls_settings("postgresql://u@h/db?sslrootcert=ca.pem");
        assert_eq!(url, "postgresql://u@h/db");
        assert_eq!(tls.root_cert, Some(PathBuf::from("ca.pem")));
    }

    #[test]
    fn tcp_hosts_require_tls_unless_disabled_and_sockets_keep_their_mode() {
        let mode = |url: &str| {
            let mut config = Config::from_str(url).unwrap();
            require_tls_over_tcp(&mut config);
            config.get_ssl_mode()
        };
        assert_eq!(mode("postgresql://u@db.internal/x"), SslMode::Require);
        assert_eq!(
            mode("postgresql://u@10.0.0.1/x?sslmode=prefer"),
            SslMode::Require
        );
        assert_eq!(
            mode("postgresql://u@db/x?sslmode=disable"),
            SslMode::Disable
        );
        assert_eq!(
            mode("postgresql://u@%2Frun%2Fpostgresql/x"),
            SslMode::Prefer
        );
        assert_eq!(mode("host=/run/postgresql user=u"), SslMode::Prefer);
        assert_eq!(mode("host=db user=u"), SslMode::Require);
    }
}
