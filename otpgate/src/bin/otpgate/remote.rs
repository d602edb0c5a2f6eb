//! The runner side: `otpgate --server URL check USER CODE` (and recover, send-code,
//! status) asks `otpgate serve` with a token, and prints and exits as the direct mode
//! does. One deadline (`--timeout`) covers connecting, TLS, the request and the answer;
//! whatever is not a well-formed decision of the service by then is an error (exit 2).

use std::sync::mpsc;
use std::time::Duration;

use otpcore::unix_time;
use serde_json::{Value, json};
use ureq::tls::{PemItem, RootCerts, TlsConfig};
use zeroize::Zeroizing;

use crate::cli::{Cli, Command};
use crate::commands::Failure;
use crate::output::{Answer, Exit, Out};

/// The largest answer read from the service.
const MAX_ANSWER: u64 = 64 * 1024;

/// A request to the service, prepared before the clock starts.
struct Call {
    kind: Answer,
    user: String,
    post: Option<Value>,
    path: String,
}

pub fn run(cli: &Cli, server: &str, out: &Out) -> Result<Exit, Failure> {
    if let Some(exit) = crate::approvals::run(cli, server, out)? {
        return Ok(exit);
    }
    let call = call(&cli.command)?;
    let service = Service::new(cli, server)?;
    let value = service.ask(&call.path, call.post.as_ref(), service.timeout)?;
    // Fail closed on anything but a decision about this user.
    let result = value.get("result").unwrap_or(&Value::Null).as_str();
    let accepted = matches!(result, Some("accepted"));
    let refused = matches!(result, Some("refused"))
        && value.get("reason").unwrap_or(&Value::Null).is_string();
    if value.get("user").unwrap_or(&Value::Null).as_str() != Some(call.user.as_str())
        || !(accepted || refused)
    {
        return Err("the service's answer is not a decision about this user".into());
    }
    Ok(out.answer(call.kind, &value, unix_time()?))
}

/// The service, its token and TLS roots, checked before the clock starts.
pub struct Service {
    base: String,
    token: Zeroizing<String>,
    tls: TlsConfig,
    /// `--timeout`: the deadline of one request.
    pub timeout: Duration,
}

impl Service {
    pub fn new(cli: &Cli, server: &str) -> Result<Self, Failure> {
        let base = check_server_url(server)?.trim_end_matches('/').to_owned();
        if !cli.timeout.is_finite() || cli.timeout <= 0.0 || cli.timeout > 3600.0 {
            return Err("--timeout: a number of seconds above 0, at most 3600".into());
        }
        Ok(Service {
            base,
            token: token(cli)?,
            tls: TlsConfig::builder().root_certs(roots(cli)?).build(),
            timeout: Duration::from_secs_f64(cli.timeout),
        })
    }

    /// One request (`path` with its query; a POST of `post` when given), answered within
    /// `deadline` with 200 and a JSON object; anything else is an error.
    pub fn ask(
        &self,
        path: &str,
        post: Option<&Value>,
        deadline: Duration,
    ) -> Result<Value, Failure> {
        let url = format!("{}{path}", self.base);
        let (post, token, tls) = (post.cloned(), self.token.clone(), self.tls.clone());
        // The request runs on a thread of its own and the answer is awaited for the
        // deadline at most: ureq's global timeout bounds it too, and this holds even where
        // it could not (a name lookup that hangs).
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(request(&url, post.as_ref(), &token, tls, deadline));
        });
        let (status, text) = match rx.recv_timeout(deadline) {
            Ok(answer) => answer?,
            Err(_) => {
                return Err(format!(
                    "no answer from the service within the deadline ({:.1} s): nothing was \
                     decided for this run",
                    deadline.as_secs_f64()
                )
                .into());
            }
        };
        let value: Value = serde_json::from_str(&text).map_err(|_| {
            format!("the service answered {status} with something that is not JSON")
        })?;
        if status != 200 {
            let code = value
                .pointer("/error/code")
                .and_then(Value::as_str)
                .unwrap_or("unknown");
            let message = value
                .pointer("/error/message")
                .and_then(Value::as_str)
                .unwrap_or("no message");
            return Err(format!("the service answered {status} ({code}): {message}").into());
        }
        Ok(value)
    }
}

/// The commands a runner may send, as requests.
fn call(command: &Command) -> Result<Call, Failure> {
    let at = |user: &str, what: &str| format!("/v1/users/{}/{what}", encode(user));
    Ok(match command {
        Command::Check { user, code, action } => Call {
            kind: Answer::Check,
            path: at(user, "check"),
            post: Some(json!({ "code": code, "action": action })),
            user: user.clone(),
        },
        Command::Recover { user, code, action } => Call {
            kind: Answer::Recover,
            path: at(user, "recover"),
            post: Some(json!({ "code": code, "action": action })),
            user: user.clone(),
        },
        // The service texts the code through its own delivery command.
        Command::SendCode {
            user,
            action,
            issuer,
            ..
        } => Call {
            kind: Answer::SendCode,
            path: at(user, "send-code"),
            post: Some(json!({ "action": action, "issuer": issuer })),
            user: user.clone(),
        },
        Command::Status { user } => Call {
            kind: Answer::Status,
            path: at(user, "status"),
            post: None,
            user: user.clone(),
        },
        _ => {
            return Err(
                "with --server, otpgate sends only check, recover, send-code, \
                        status, request and approval; administer users on the service's host or through its API \
                        with an admin token"
                    .into(),
            );
        }
    })
}

/// One request within `deadline`: the status and the body.
fn request(
    url: &str,
    post: Option<&Value>,
    token: &str,
    tls: TlsConfig,
    deadline: Duration,
) -> Result<(u16, String), String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(deadline))
        .http_status_as_error(false)
        .max_redirects(0)
        .tls_config(tls)
        .build()
        .into();
    let bearer = Zeroizing::new(format!("Bearer {token}"));
    let sent = match post {
        Some(body) => agent
            .post(url)
            .header("Authorization", bearer.as_str())
            .send_json(body),
        None => agent
            .get(url)
            .header("Authorization", bearer.as_str())
            .call(),
    };
    let mut response = sent.map_err(|e| format!("cannot reach the service: {e}"))?;
    let status = response.status().as_u16();
    let text = response
        .body_mut()
        .with_config()
        .limit(MAX_ANSWER)
        .read_to_string()
        .map_err(|e| format!("the service's answer could not be read: {e}"))?;
    Ok((status, text))
}

/// `https://...`, or `http://` to a loopback address only: a token sent in clear over a
/// network is a token given away.
fn check_server_url(url: &str) -> Result<&str, Failure> {
    if url.starts_with("https://") {
        return Ok(url);
    }
    let host = url
        .strip_prefix("http://")
        .map(|rest| rest.split(['/', '?']).next().unwrap_or_default())
        .map(|authority| match authority.rsplit_once(':') {
            Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
            _ => authority,
        });
    match host {
        Some("localhost" | "[::1]") => Ok(url),
        Some(host)
            if host
                .parse::<std::net::Ipv4Addr>()
                .is_ok_and(|ip| ip.is_loopback()) =>
        {
            Ok(url)
        }
        Some(_) => Err("--server: plain http:// only to a loopback address; use https://".into()),
        None => Err("--server: give https://HOST[:PORT] (or http:// to a loopback address)".into()),
    }
}

/// The token: `--token-file`, else OTPGATE_TOKEN.
fn token(cli: &Cli) -> Result<Zeroizing<String>, Failure> {
    let text = match &cli.token_file {
        Some(path) => read_token_file(path)?,
        None => Zeroizing::new(std::env::var("OTPGATE_TOKEN").map_err(|_| {
            "no service token: set OTPGATE_TOKEN or give --token-file PATH".to_owned()
        })?),
    };
    let token = text.trim();
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("the service token is empty or holds spaces or control characters".into());
    }
    Ok(Zeroizing::new(token.to_owned()))
}

/// The most a token file may hold: a token, with room for white space around it.
const MAX_TOKEN_FILE_LEN: u64 = 4096;

/// Reads `--token-file`: opened without blocking (a FIFO nobody writes would hold the
/// runner past its deadline, which starts later), a regular file (symbolic links are
/// followed, as secret mounts use them) that neither its group nor others may write:
/// whoever can write it chooses the token the runner asks with.
fn read_token_file(path: &std::path::Path) -> Result<Zeroizing<String>, Failure> {
    use std::io::Read;
    let unreadable =
        |e: std::io::Error| format!("cannot read the token file {}: {e}", path.display());
    let file = open_nonblocking(path).map_err(unreadable)?;
    let meta = file.metadata().map_err(unreadable)?;
    if !meta.is_file() {
        return Err(format!("the token file {} is not a regular file", path.display()).into());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let mode = meta.mode() & 0o7777;
        if mode & 0o022 != 0 {
            return Err(format!(
                "the token file {} may be written by its group or others (mode {mode:o}): \
                 chmod go-w it",
                path.display()
            )
            .into());
        }
    }
    let mut text = Zeroizing::new(String::new());
    file.take(MAX_TOKEN_FILE_LEN)
        .read_to_string(&mut text)
        .map_err(unreadable)?;
    Ok(text)
}

#[cfg(unix)]
fn open_nonblocking(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    use rustix::fs::{Mode, OFlags};
    let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC;
    Ok(std::fs::File::from(rustix::fs::open(
        path,
        flags,
        Mode::empty(),
    )?))
}

#[cfg(not(unix))]
fn open_nonblocking(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    std::fs::File::open(path)
}

/// The system's trusted roots, or the CA certificates of `--ca-file`.
fn roots(cli: &Cli) -> Result<RootCerts, Failure> {
    let Some(path) = &cli.ca_file else {
        return Ok(RootCerts::PlatformVerifier);
    };
    let pem = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        if let PemItem::Certificate(cert) =
            item.map_err(|e| format!("{}: not PEM: {e}", path.display()))?
        {
            certs.push(cert);
        }
    }
    if certs.is_empty() {
        return Err(format!("{}: no certificate in it", path.display()).into());
    }
    Ok(RootCerts::new_with_certs(&certs))
}

/// A user id as one path segment: unreserved characters as they are, the rest as %XX.
pub fn encode(user: &str) -> String {
    let mut out = String::with_capacity(user.len());
    for byte in user.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'@') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
