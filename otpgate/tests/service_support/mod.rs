//! Shared by the tests of `otpgate serve`: a database (SQLite, and PostgreSQL when
//! `OTPGATE_TEST_POSTGRES_URL` is set), the service as a real process on an ephemeral
//! port it reports, runner processes, and API calls.
#![allow(dead_code)]

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use otpcore::Totp;
use serde_json::Value;

use crate::gate_support::{BIN, Env, Run, code, phone, step_now};

/// Where the service keeps its gate.
pub enum Backend {
    Sqlite(Env),
    #[cfg(feature = "postgres")]
    Postgres {
        env: Env,
        admin: String,
        schema: String,
    },
}

static N: AtomicUsize = AtomicUsize::new(0);

impl Backend {
    /// SQLite always; PostgreSQL too when its URL is set (required under CI).
    pub fn all(name: &str) -> Vec<Backend> {
        #[cfg_attr(not(feature = "postgres"), allow(unused_mut))]
        let mut backends = vec![Backend::Sqlite(Env::new(name))];
        #[cfg(feature = "postgres")]
        if let Some(admin) = crate::support::service_url(
            "OTPGATE_TEST_POSTGRES_URL",
            "a PostgreSQL server",
            "export OTPGATE_TEST_POSTGRES_URL=$(otpgate/tests/postgres/server.sh start \"$(mktemp -d)\")",
        ) {
            let schema = format!(
                "svc_{}_{}_{}",
                name.replace('-', "_"),
                std::process::id(),
                N.fetch_add(1, Ordering::SeqCst)
            );
            let mut client = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
            client
                .batch_execute(&format!("CREATE SCHEMA {schema}"))
                .unwrap();
            backends.push(Backend::Postgres {
                env: Env::new(name),
                admin,
                schema,
            });
        }
        backends
    }

    pub fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite(_) => "sqlite",
            #[cfg(feature = "postgres")]
            Backend::Postgres { .. } => "postgres",
        }
    }

    pub fn env(&self) -> &Env {
        match self {
            Backend::Sqlite(env) => env,
            #[cfg(feature = "postgres")]
            Backend::Postgres { env, .. } => env,
        }
    }

    /// `--db ...` (and `--key-file` for a URL), as the service's host names its gate.
    pub fn db_args(&self) -> Vec<OsString> {
        match self {
            Backend::Sqlite(env) => vec!["--db".into(), env.db.clone().into()],
            #[cfg(feature = "postgres")]
            Backend::Postgres { env, admin, schema } => {
                let sep = if admin.contains('?') { '&' } else { '?' };
                vec![
                    "--db".into(),
                    format!("{admin}{sep}options=-c%20search_path%3D{schema}").into(),
                    "--key-file".into(),
                    env.dir.join("service.key").into(),
                ]
            }
        }
    }

    /// `otpgate` on the service's host (token management), without any OTPGATE_* variable.
    pub fn host_command(&self) -> Command {
        let mut cmd = Command::new(BIN);
        for var in [
            "OTPGATE_DB",
            "OTPGATE_KEY_FILE",
            "OTPGATE_TOKEN",
            "OTPGATE_SERVER",
        ] {
            cmd.env_remove(var);
        }
        cmd.args(self.db_args()).stdin(Stdio::null());
        cmd
    }

    /// Creates token `name` of `scope` and returns it.
    pub fn token(&self, name: &str, scope: &str) -> String {
        let run: Run = self
            .host_command()
            .args(["--json", "token", "create", name, "--scope", scope])
            .output()
            .unwrap()
            .into();
        assert_eq!(run.code, Some(0), "{run:?}");
        run.json()["token"].as_str().unwrap().to_owned()
    }

    /// Starts `otpgate serve` on an ephemeral port of the loopback interface.
    pub fn serve(&self, extra: &[&str]) -> Service {
        self.serve_on("127.0.0.1:0", extra)
    }

    /// Starts `otpgate serve --listen LISTEN`; its URL is the one it says it listens on.
    pub fn serve_on(&self, listen: &str, extra: &[&str]) -> Service {
        let log = self
            .env()
            .dir
            .join(format!("serve-{}.log", N.fetch_add(1, Ordering::SeqCst)));
        let mut child = self
            .host_command()
            .args(["serve", "--listen", listen])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("otpgate serve: listening on ")
            .unwrap_or_else(|| {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "the service did not start: {line:?}\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                )
            })
            .to_owned();
        Service { child, url, log }
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        #[cfg(feature = "postgres")]
        if let Backend::Postgres { admin, schema, .. } = self
            && let Ok(mut client) = postgres::Client::connect(admin, postgres::NoTls)
        {
            let _ = client.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"));
        }
    }
}

/// A running `otpgate serve`, killed (SIGKILL) when dropped.
pub struct Service {
    pub child: Child,
    pub url: String,
    pub log: PathBuf,
}

impl Service {
    /// What the service wrote to standard error so far (the access log and its errors).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap()
    }

    /// SIGKILL, and the process reaped.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// An API call: the status and the JSON answer (`Null` for a body that is not JSON).
    pub fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, Vec<u8>)>,
    ) -> (u16, Value) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        let mut request = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.url));
        if let Some(token) = token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        let (content_type, bytes) = body.unwrap_or(("application/json", Vec::new()));
        if !bytes.is_empty() {
            request = request.header("Content-Type", content_type);
        }
        let mut response = agent.run(request.body(bytes).unwrap()).unwrap();
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// A POST of `body` as JSON.
    pub fn post(&self, path: &str, token: &str, body: &Value) -> (u16, Value) {
        self.call(
            "POST",
            path,
            Some(token),
            Some(("application/json", body.to_string().into_bytes())),
        )
    }

    /// Enrolls and confirms `user` through the API; returns the phone. The first code is
    /// the previous step's, so the current step's code is fresh for a check; a step
    /// boundary between computing and confirming (a refused code) is retried.
    pub fn activate(&self, admin: &str, user: &str) -> Totp {
        let (status, answer) = self.post(
            &format!("/v1/users/{user}/enroll"),
            admin,
            &serde_json::json!({}),
        );
        assert_eq!(status, 200, "{answer}");
        let phone = phone(answer["secret"].as_str().unwrap());
        for _ in 0..3 {
            let first = code(&phone, step_now(&phone).saturating_sub(1));
            let (status, answer) = self.post(
                &format!("/v1/users/{user}/confirm"),
                admin,
                &serde_json::json!({ "code": first }),
            );
            assert_eq!(status, 200, "{answer}");
            if answer["result"] == "accepted" {
                return phone;
            }
        }
        panic!("{user} could not be confirmed");
    }

    /// `user`'s audit entries of `event`, oldest first, through the API.
    pub fn audit(&self, admin: &str, user: &str, event: &str) -> Vec<Value> {
        let (status, answer) = self.call(
            "GET",
            &format!("/v1/log?user={user}&limit=10000"),
            Some(admin),
            None,
        );
        assert_eq!(status, 200, "{answer}");
        answer["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["event"] == event)
            .cloned()
            .collect()
    }

    /// `otpgate --server URL ARGS` with the token in OTPGATE_TOKEN.
    pub fn runner(&self, token: &str, args: &[&str]) -> Command {
        runner(&self.url, token, args)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `otpgate --server URL ARGS` with the token in OTPGATE_TOKEN, and no other OTPGATE_*.
pub fn runner(url: &str, token: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    for var in ["OTPGATE_DB", "OTPGATE_KEY_FILE", "OTPGATE_SERVER"] {
        cmd.env_remove(var);
    }
    cmd.env("OTPGATE_TOKEN", token)
        .arg("--server")
        .arg(url)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// A raw HTTP/1.1 request (`Connection: close`), for what a client library would not
/// send (another Host header) or would fail on (a body the server refuses and closes on
/// before it is all sent): the status and the body.
pub fn raw_http(url: &str, request_head: &str, body: &[u8]) -> (u16, String) {
    let answer = raw_exchange(url, request_head, body);
    (answer.status, answer.body)
}

/// An answer read off the wire.
#[derive(Debug)]
pub struct RawAnswer {
    pub status: u16,
    /// The header lines, names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl RawAnswer {
    /// The value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (`Null` when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// [`raw_http`] with the answer's headers, over TCP to the `http://` URL.
pub fn raw_exchange(url: &str, request_head: &str, body: &[u8]) -> RawAnswer {
    let addr = url.strip_prefix("http://").unwrap();
    exchange(TcpStream::connect(addr).unwrap(), request_head, body)
}

/// [`raw_exchange`] over the unix socket at `path`.
pub fn raw_unix(path: &std::path::Path, request_head: &str, body: &[u8]) -> RawAnswer {
    exchange(
        std::os::unix::net::UnixStream::connect(path).unwrap(),
        request_head,
        body,
    )
}

/// Sends the head with `Content-Length` and `Connection: close`, then the body, and reads
/// the answer to its end.
fn exchange(
    mut stream: impl Read + Write + SetReadTimeout,
    request_head: &str,
    body: &[u8],
) -> RawAnswer {
    stream.read_timeout(Duration::from_secs(60));
    stream
        .write_all(
            format!(
                "{request_head}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        )
        .unwrap();
    // A server may answer (413) and close before a large body is all sent.
    let _ = stream.write_all(body);
    read_answer(&mut stream)
}

/// Sends the head of a request whose body is `declared` bytes long but only the first
/// `sent` of them, then waits for the answer without ever sending the rest.
pub fn unfinished_body(url: &str, request_head: &str, declared: usize, sent: usize) -> RawAnswer {
    let addr = url.strip_prefix("http://").unwrap();
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    stream
        .write_all(format!("{request_head}\r\nContent-Length: {declared}\r\n\r\n").as_bytes())
        .unwrap();
    stream.write_all(&vec![b'{'; sent]).unwrap();
    read_answer(&mut stream)
}

/// Streams whose reads can be given a deadline.
pub trait SetReadTimeout {
    fn read_timeout(&self, limit: Duration);
}

impl SetReadTimeout for TcpStream {
    fn read_timeout(&self, limit: Duration) {
        self.set_read_timeout(Some(limit)).unwrap();
    }
}

impl SetReadTimeout for std::os::unix::net::UnixStream {
    fn read_timeout(&self, limit: Duration) {
        self.set_read_timeout(Some(limit)).unwrap();
    }
}

fn read_answer(stream: &mut impl Read) -> RawAnswer {
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_lowercase(), v.trim().to_owned()))
        .collect();
    RawAnswer {
        status,
        headers,
        body: body.to_owned(),
    }
}
