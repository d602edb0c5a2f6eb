//! Listening: TCP (with TLS or, on loopback, plain) or a unix socket; hyper serves each
//! connection the limits admit, with a header read timeout; a signal stops the accepting
//! and waits for the connections' requests in progress.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use super::connections::Connections;
use super::{MAX_HEAD, READ_TIMEOUT, REQUEST_TIMEOUT};

// hyper panics on a smaller buffer than its minimum.
const _: () = assert!(MAX_HEAD >= 8192);

/// Where to listen.
pub enum Address {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

/// Who is on the other end, for the access log.
#[derive(Clone)]
pub struct Peer(pub String);

type Error = Box<dyn std::error::Error>;

impl Address {
    /// `HOST:PORT` (an IP address) or `unix:PATH`.
    pub fn parse(text: &str) -> Result<Self, Error> {
        if let Some(path) = text.strip_prefix("unix:") {
            return Ok(Address::Unix(PathBuf::from(path)));
        }
        text.parse().map(Address::Tcp).map_err(|_| {
            format!("--listen {text}: give IP:PORT (e.g. 127.0.0.1:8477, [::1]:0) or unix:PATH")
                .into()
        })
    }

    /// A loopback address or a unix socket: nothing crosses a network.
    pub fn is_local(&self) -> bool {
        match self {
            Address::Tcp(addr) => addr.ip().is_loopback(),
            Address::Unix(_) => true,
        }
    }
}

/// The TLS acceptor for the certificate chain and key in PEM files (rustls with ring).
pub fn tls_acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, Error> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    };
    let certs = rustls_pemfile::certs(&mut read(cert)?.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: not a PEM certificate chain: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate in it", cert.display()).into());
    }
    let key_pem = zeroize::Zeroizing::new(read(key)?);
    let private = rustls_pemfile::private_key(&mut key_pem.as_slice())
        .map_err(|e| format!("{}: not a PEM private key: {e}", key.display()))?
        .ok_or_else(|| format!("{}: no private key in it", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, private)
        .map_err(|e| format!("TLS: the certificate and the key do not go together: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener, PathBuf),
}

impl Listener {
    /// The next connection, and its peer's address (`None` on a unix socket).
    async fn accept(&self) -> std::io::Result<(Pin<Box<dyn Io>>, Option<SocketAddr>)> {
        match self {
            Listener::Tcp(l) => {
                let (stream, peer) = l.accept().await?;
                let _ = stream.set_nodelay(true);
                Ok((Box::pin(stream), Some(peer)))
            }
            Listener::Unix(l, _) => {
                let (stream, _) = l.accept().await?;
                Ok((Box::pin(stream), None))
            }
        }
    }
}

/// A bound listener and the URL it answers on.
pub struct Bound {
    listener: Listener,
    /// `http://127.0.0.1:PORT` (the port actually bound), or `http+unix://PATH`.
    pub url: String,
}

/// Removes the socket file a killed service left at `path`: a socket nobody listens on
/// (connecting is refused). A live one, or anything that is not a socket, stays, and
/// binding then says why.
fn remove_stale_socket(path: &std::path::Path) {
    use std::os::unix::fs::FileTypeExt;

    let is_socket = std::fs::symlink_metadata(path).is_ok_and(|meta| meta.file_type().is_socket());
    let refused = || {
        std::os::unix::net::UnixStream::connect(path)
            .is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionRefused)
    };
    if is_socket && refused() {
        let _ = std::fs::remove_file(path);
    }
}

/// Binds `address` (port 0: any free port) and prints the bound address on standard
/// output: `otpgate serve: listening on http://127.0.0.1:PORT`.
pub async fn bind(address: Address, tls: bool) -> Result<Bound, Error> {
    let scheme = if tls { "https" } else { "http" };
    let (listener, url) = match address {
        Address::Tcp(addr) => {
            let l = TcpListener::bind(addr)
                .await
                .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
            let bound = l.local_addr()?;
            (Listener::Tcp(l), format!("{scheme}://{bound}"))
        }
        Address::Unix(path) => {
            remove_stale_socket(&path);
            let l = UnixListener::bind(&path)
                .map_err(|e| format!("cannot listen on {}: {e}", path.display()))?;
            let url = format!("{scheme}+unix://{}", path.display());
            (Listener::Unix(l, path), url)
        }
    };
    say_listening(&url);
    Ok(Bound { listener, url })
}

/// Serves `router` on the bound listener until SIGTERM or SIGINT, then lets the requests
/// in progress finish (at most [`REQUEST_TIMEOUT`]). A connection past the `connections`
/// limits is closed as soon as it is accepted.
pub async fn serve(
    bound: Bound,
    tls: Option<TlsAcceptor>,
    connections: Arc<Connections>,
    router: Router,
) -> Result<(), Error> {
    let listener = bound.listener;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    let graceful = GracefulShutdown::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = term.recv() => break,
            _ = int.recv() => break,
        };
        let (stream, address) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: wait a moment, go on.
                eprintln!("otpgate serve: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(admitted) = connections.admit(address.map(|a| a.ip())) else {
            // Counted and logged by `admit`; dropping the stream closes it.
            continue;
        };
        let peer = address.map_or_else(|| String::from("unix"), |a| a.to_string());
        let service = router.clone().map_request(
            move |mut request: hyper::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(Peer(peer.clone()));
                request
            },
        );
        let watcher = graceful.watcher();
        let tls = tls.clone();
        tokio::spawn(async move {
            let io: Pin<Box<dyn Io>> = match tls {
                None => stream,
                Some(tls) => match tokio::time::timeout(READ_TIMEOUT, tls.accept(stream)).await {
                    Ok(Ok(stream)) => Box::pin(stream),
                    // A failed or slow handshake: nothing to answer.
                    _ => return,
                },
            };
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new())
                .header_read_timeout(READ_TIMEOUT)
                .max_buf_size(MAX_HEAD)
                .keep_alive(true);
            let connection =
                http.serve_connection(TokioIo::new(io), TowerToHyperService::new(service));
            let _ = watcher.watch(connection).await;
            // Counted open until here (or wherever the task ends), whatever ended it.
            drop(admitted);
        });
    }
    eprintln!("otpgate serve: stopping: no new connections, finishing the requests in progress");
    if let Listener::Unix(_, path) = &listener {
        let _ = std::fs::remove_file(path);
    }
    drop(listener);
    if tokio::time::timeout(REQUEST_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        eprintln!("otpgate serve: some connections did not finish in time");
    }
    eprintln!("otpgate serve: stopped");
    Ok(())
}

fn say_listening(url: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "otpgate serve: listening on {url}");
    let _ = out.flush();
}
