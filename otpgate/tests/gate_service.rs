//! `otpgate serve` and `otpgate --server URL ...` as real processes on a real port: single
//! use under 32 concurrent runners, token scopes and revocation, bad requests, deadlines
//! against a silent server, TLS, and a clean stop on SIGTERM. On SQLite, and on
//! PostgreSQL when `OTPGATE_TEST_POSTGRES_URL` is set.
#![cfg(all(feature = "serve", unix))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod gate_support;
#[cfg(feature = "postgres")]
#[path = "gate_support/postgres.rs"]
mod pg;
mod service_support;
#[cfg(feature = "postgres")]
#[path = "../../tests/support/mod.rs"]
mod support;

use std::net::TcpListener;
use std::process::Command;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use gate_support::{Env, Run, code, step_now, within};
use serde_json::{Value, json};
use service_support::{Backend, raw_exchange, raw_http, raw_unix, runner, unfinished_body};

const RUNNERS: usize = 32;
const ROUNDS: usize = 20;

#[test]
fn thirty_two_runners_checking_one_code_through_the_service_pass_it_once() {
    for backend in Backend::all("svc-race") {
        // Rounds follow each other as fast as the machine goes: the per-token rate limit
        // (not what this test checks) must not refuse a round's checks with 429.
        let service = backend.serve(&["--token-rate", "1000000"]);
        let admin = backend.token("admin", "admin");
        let runner_token = backend.token("runner", "check");
        for round in 0..ROUNDS {
            let user = format!("user{round}");
            let phone = service.activate(&admin, &user);
            let fresh = code(&phone, step_now(&phone));
            let barrier = Barrier::new(RUNNERS);
            let runs: Vec<Run> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..RUNNERS)
                    .map(|_| {
                        s.spawn(|| {
                            // A deadline for a loaded machine: the race is under test here,
                            // not the runner's deadline (its own test below).
                            let mut cmd = service.runner(
                                &runner_token,
                                &["--timeout", "60", "--json", "check", &user, &fresh],
                            );
                            barrier.wait();
                            Run::from(cmd.output().unwrap())
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            let audit = service.audit(&admin, &user, "check");
            let outcomes: Vec<String> = audit
                .iter()
                .map(|e| e["outcome"].as_str().unwrap().to_owned())
                .collect();
            let context = format!("{} round {round}", backend.name());
            gate_support::assert_exactly_one_accepted(&runs, &outcomes, "accepted", round);
            assert!(
                audit.iter().all(|e| e["actor"] == "runner"),
                "{context}: every decision names its token: {audit:?}"
            );
            // The same JSON as the direct mode.
            let winner = runs.iter().find(|r| r.code == Some(0)).unwrap().json();
            assert_eq!(winner["result"], "accepted", "{context}");
            assert_eq!(winner["user"], user.as_str());
            assert_eq!(winner["factor"], "totp");
        }
        let log = service.log_text();
        for token in [&admin, &runner_token] {
            assert!(
                !log.contains(token.as_str()),
                "a token in the service's log"
            );
        }
    }
}

/// The admin endpoints, each with a body it would accept.
fn admin_calls(user: &str) -> Vec<(&'static str, String, Option<serde_json::Value>)> {
    vec![
        ("POST", format!("/v1/users/{user}/enroll"), Some(json!({}))),
        (
            "POST",
            format!("/v1/users/{user}/confirm"),
            Some(json!({"code": "123456"})),
        ),
        ("POST", format!("/v1/users/{user}/reset"), None),
        ("POST", format!("/v1/users/{user}/disable"), None),
        (
            "PUT",
            format!("/v1/users/{user}/phone"),
            Some(json!({"number": "+4915112345678"})),
        ),
        (
            "POST",
            format!("/v1/users/{user}/recovery-codes"),
            Some(json!({"code": "123456"})),
        ),
        ("GET", String::from("/v1/log"), None),
    ]
}

#[test]
#[allow(irrefutable_let_patterns)]
fn a_check_token_is_refused_admin_endpoints_and_revoked_or_unknown_tokens_nothing() {
    for backend in Backend::all("svc-tokens") {
        let service = backend.serve(&[]);
        let admin = backend.token("admin", "admin");
        let check = backend.token("ci-runner", "check");
        let phone = service.activate(&admin, "alice");
        let before = service.audit(&admin, "alice", "check").len();
        let body = |b: &Option<serde_json::Value>| {
            b.as_ref()
                .map(|b| ("application/json", b.to_string().into_bytes()))
        };
        for (method, path, payload) in admin_calls("alice") {
            let (status, answer) = service.call(method, &path, Some(&check), body(&payload));
            assert_eq!(status, 403, "{method} {path}: {answer}");
            assert_eq!(answer["error"]["code"], "forbidden", "{path}");
            // Which runner tried is in the access log, by its token's name.
            let line = format!("{method} {path} 403 ");
            assert!(
                service
                    .log_text()
                    .lines()
                    .any(|l| l.contains(&line) && l.ends_with("token=ci-runner")),
                "{line}"
            );
        }
        assert_eq!(service.audit(&admin, "alice", "disable").len(), 0);
        assert_eq!(
            service
                .call("GET", "/v1/users/alice/status", Some(&check), None)
                .0,
            200
        );

        // Unknown and revoked tokens: 401, the runner exits 2 and says why, never the token.
        let unknown = format!("otpgate_{}", "0".repeat(64));
        let (status, answer) = service.call("GET", "/v1/users/alice/status", Some(&unknown), None);
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (401, Some("invalid-token"))
        );
        let revoke: Run = backend
            .host_command()
            .args(["token", "revoke", "ci-runner"])
            .output()
            .unwrap()
            .into();
        assert_eq!(revoke.code, Some(0), "{revoke:?}");
        let fresh = code(&phone, step_now(&phone));
        for token in [&check, &unknown] {
            let run = Run::from(
                service
                    .runner(token, &["--json", "check", "alice", &fresh])
                    .output()
                    .unwrap(),
            );
            assert_eq!(run.code, Some(2), "{run:?}");
            assert!(run.stderr.contains("401 (invalid-token)"), "{run:?}");
            assert_eq!(run.json()["result"], "error");
            assert!(!run.stdout.contains(token.as_str()) && !run.stderr.contains(token.as_str()));
        }
        let (status, answer) = service.call("GET", "/v1/users/alice/status", None, None);
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (401, Some("missing-token"))
        );
        let run = Run::from(
            runner(&service.url, "", &["check", "alice", &fresh])
                .env_remove("OTPGATE_TOKEN")
                .output()
                .unwrap(),
        );
        assert_eq!(run.code, Some(2), "{run:?}");
        assert!(run.stderr.contains("OTPGATE_TOKEN"), "{run:?}");
        assert_eq!(
            service.audit(&admin, "alice", "check").len(),
            before,
            "nothing decided"
        );
        // The fresh code still passes, with a working token.
        let run = Run::from(
            service
                .runner(&admin, &["check", "alice", &fresh])
                .output()
                .unwrap(),
        );
        assert_eq!(run.code, Some(0), "{run:?}");

        // The list shows names and scopes, never a token; the database holds digests only.
        let list: Run = backend
            .host_command()
            .args(["--json", "token", "list"])
            .output()
            .unwrap()
            .into();
        let tokens = list.json()["tokens"].as_array().unwrap().clone();
        assert_eq!(tokens.len(), 2);
        assert_eq!(tokens[1]["name"], "ci-runner");
        assert!(tokens[1]["revoked"].is_u64());
        let log = service.log_text();
        for token in [&admin, &check, &unknown] {
            assert!(!list.stdout.contains(token.as_str()));
            assert!(
                !log.contains(token.as_str()),
                "a token in the service's log"
            );
        }
        if let Backend::Sqlite(env) = &backend {
            let bytes = std::fs::read(&env.db).unwrap();
            let wal = std::fs::read(env.db.with_extension("db-wal")).unwrap_or_default();
            for token in [&admin, &check] {
                let needle = token.as_bytes();
                for file in [&bytes, &wal] {
                    assert!(
                        !file.windows(needle.len()).any(|w| w == needle),
                        "token stored"
                    );
                }
            }
        }
    }
}

#[test]
fn bad_requests_get_a_specific_4xx_write_nothing_and_the_service_keeps_serving() {
    let backend = Backend::Sqlite(Env::new("svc-bad"));
    let service = backend.serve(&[]);
    let admin = backend.token("admin", "admin");
    let phone = service.activate(&admin, "alice");
    let check = "/v1/users/alice/check";
    let json_body = |text: &str| Some(("application/json", text.as_bytes().to_vec()));
    let huge = format!(
        "{{\"code\":\"123456\",\"action\":\"{}\"}}",
        "x".repeat(1 << 20)
    );
    let long_user = format!("/v1/users/{}/check", "u".repeat(200));
    /// What is wrong, the path, the body with its content type, the status, the error code.
    type Case<'a> = (&'a str, String, Option<(&'a str, Vec<u8>)>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (
            "malformed JSON",
            check.into(),
            json_body("{\"code\": "),
            400,
            "malformed-json",
        ),
        (
            "unknown field",
            check.into(),
            json_body(r#"{"code":"123456","admin":true}"#),
            422,
            "invalid-body",
        ),
        (
            "missing field",
            check.into(),
            json_body(r#"{"action":"x"}"#),
            422,
            "invalid-body",
        ),
        (
            "wrong content type",
            check.into(),
            Some(("text/plain", br#"{"code":"123456"}"#.to_vec())),
            415,
            "unsupported-media-type",
        ),
        (
            "letters in the code",
            check.into(),
            json_body(r#"{"code":"12a456"}"#),
            400,
            "invalid-code",
        ),
        (
            "a short code",
            check.into(),
            json_body(r#"{"code":"12345"}"#),
            400,
            "invalid-code",
        ),
        (
            "a user id too long",
            long_user,
            json_body(r#"{"code":"123456"}"#),
            400,
            "invalid-user",
        ),
        (
            "a control character in the user id",
            "/v1/users/a%01b/check".into(),
            json_body(r#"{"code":"123456"}"#),
            400,
            "invalid-user",
        ),
        (
            "a control character in the action",
            check.into(),
            json_body(r#"{"code":"123456","action":"a\nb"}"#),
            400,
            "invalid-action",
        ),
        (
            "an unknown path",
            "/v1/users/alice/approve".into(),
            json_body("{}"),
            404,
            "not-found",
        ),
    ];
    for (what, path, body, status, error) in cases {
        let (got, answer) = service.call("POST", &path, Some(&admin), body);
        assert_eq!(got, status, "{what}: {answer}");
        assert_eq!(answer["error"]["code"], error, "{what}: {answer}");
        assert!(answer["error"]["message"].is_string(), "{what}");
        assert_eq!(
            service.audit(&admin, "alice", "check").len(),
            0,
            "{what}: written"
        );
        assert_eq!(service.call("GET", "/healthz", None, None).0, 200, "{what}");
    }
    // A 1 MiB body: the service answers 413 and may close before the body is all sent,
    // which a client library reports as a broken pipe; a raw request reads the answer.
    let (status, answer) = raw_http(
        &service.url,
        &format!(
            "POST {check} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {admin}\r\n\
             Content-Type: application/json"
        ),
        huge.as_bytes(),
    );
    assert_eq!(status, 413, "1 MiB body: {answer}");
    let answer: Value = serde_json::from_str(&answer).unwrap_or(Value::Null);
    assert_eq!(answer["error"]["code"], "body-too-large", "{answer}");
    assert_eq!(
        service.audit(&admin, "alice", "check").len(),
        0,
        "1 MiB body: written"
    );
    assert_eq!(service.call("GET", "/healthz", None, None).0, 200);
    // Request headers of 64 KiB: 431 before any handler runs.
    let (status, _) = raw_http(
        &service.url,
        &format!(
            "POST {check} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {admin}\r\n\
             Content-Type: application/json\r\nX-Filler: {}",
            "a".repeat(64 * 1024)
        ),
        br#"{"code":"123456"}"#,
    );
    assert_eq!(status, 431, "64 KiB of headers");
    assert_eq!(service.audit(&admin, "alice", "check").len(), 0);
    assert_eq!(service.call("GET", "/healthz", None, None).0, 200);
    let (status, answer) =
        service.post("/v1/users/nobody/check", &admin, &json!({"code": "123456"}));
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (404, Some("unknown-user"))
    );
    // Still serving, and deciding.
    let fresh = code(&phone, step_now(&phone));
    let (status, answer) = service.post(check, &admin, &json!({"code": fresh}));
    assert_eq!(
        (status, answer["result"].as_str()),
        (200, Some("accepted")),
        "{answer}"
    );
    let (status, answer) = service.post(check, &admin, &json!({"code": fresh}));
    assert_eq!(
        (status, answer["reason"].as_str()),
        (200, Some("replayed")),
        "{answer}"
    );
    assert!(!service.log_text().contains(&fresh), "a code in the log");
    // No answer of the API is kept by a cache: some carry secrets or recovery codes.
    let answer = raw_exchange(
        &service.url,
        &format!(
            "GET /v1/users/alice/status HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {admin}"
        ),
        b"",
    );
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(
        answer.header("cache-control"),
        Some("no-store"),
        "{answer:?}"
    );
    // Metrics count the decisions.
    let metrics = ureq::get(format!("{}/metrics", service.url))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    assert!(metrics.contains("otpgate_decisions_total{endpoint=\"check\",outcome=\"accepted\"} 1"));
    assert!(metrics.contains("otpgate_decisions_total{endpoint=\"check\",outcome=\"replayed\"} 1"));
    assert!(metrics.contains("otpgate_decision_seconds_count"));
}

#[test]
fn every_path_of_the_openapi_document_is_served_and_asks_for_a_token() {
    let backend = Backend::Sqlite(Env::new("svc-openapi"));
    let service = backend.serve(&[]);
    let (status, doc) = service.call("GET", "/v1/openapi.json", None, None);
    assert_eq!(status, 200);
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item
            .as_object()
            .unwrap()
            .keys()
            .filter(|m| *m != "parameters")
        {
            let secured = item[method]["security"]
                .as_array()
                .is_none_or(|s| !s.is_empty());
            let (status, answer) = service.call(
                &method.to_uppercase(),
                &path.replace("{user}", "alice"),
                None,
                None,
            );
            let expected = if secured { 401 } else { 200 };
            assert_eq!(status, expected, "{method} {path}: {answer}");
        }
    }
}

/// A runner against a server that never answers, and a server that is not there: exit 2
/// within the deadline.
#[test]
fn a_silent_or_absent_service_gives_exit_2_within_the_deadline() {
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", silent.local_addr().unwrap());
    let accepter = std::thread::spawn(move || {
        // Accept and hold the connections, never answering.
        let mut held = Vec::new();
        for _ in 0..2 {
            held.push(silent.accept().unwrap());
        }
        std::thread::sleep(Duration::from_secs(5));
    });
    for args in [
        vec!["--timeout", "1.5", "--json", "check", "alice", "123456"],
        vec!["--timeout", "1.5", "status", "alice"],
    ] {
        let started = Instant::now();
        let run = Run::from(runner(&url, "t", &args).output().unwrap());
        let took = started.elapsed();
        assert_eq!(run.code, Some(2), "{run:?}");
        assert!(took < Duration::from_secs(4), "took {took:?}");
        assert!(took >= Duration::from_millis(1400), "took {took:?}");
    }
    accepter.join().unwrap();
    // Nothing listens on a port just released.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let run = Run::from(
        runner(
            &format!("http://{port}"),
            "t",
            &["check", "alice", "123456"],
        )
        .output()
        .unwrap(),
    );
    assert_eq!(run.code, Some(2), "{run:?}");
    // Plain http:// to another host is refused before anything is sent.
    let run = Run::from(
        runner("http://192.0.2.1:8477", "t", &["check", "alice", "123456"])
            .output()
            .unwrap(),
    );
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("loopback"), "{run:?}");
}

#[test]
fn tls_is_verified_against_the_ca_file_and_plain_http_stays_on_loopback() {
    let backend = Backend::Sqlite(Env::new("svc-tls"));
    let dir = &backend.env().dir;
    let (ca, ca_key) = (dir.join("ca.pem"), dir.join("ca-key.pem"));
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let openssl = |args: &[&str]| {
        let made = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
            ])
            .args(["-nodes", "-days", "1"])
            .args(args)
            .output()
            .expect("openssl (apt-get install openssl)");
        assert!(made.status.success(), "{made:?}");
    };
    // A CA, and the service's certificate signed by it.
    openssl(
        &[
            "-subj",
            "/CN=otpgate test CA",
            "-keyout",
            ca_key.to_str().unwrap(),
        ]
        .into_iter()
        .chain(["-out", ca.to_str().unwrap()])
        .collect::<Vec<_>>(),
    );
    openssl(&[
        "-subj",
        "/CN=localhost",
        "-CA",
        ca.to_str().unwrap(),
        "-CAkey",
        ca_key.to_str().unwrap(),
        "-addext",
        "subjectAltName=IP:127.0.0.1,DNS:localhost",
        "-addext",
        "basicConstraints=critical,CA:FALSE",
        "-keyout",
        key.to_str().unwrap(),
        "-out",
        cert.to_str().unwrap(),
    ]);
    let service = backend.serve(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ]);
    assert!(
        service.url.starts_with("https://127.0.0.1:"),
        "{}",
        service.url
    );
    let admin = backend.token("admin", "admin");
    let phone = service_tls_activate(&service.url, &admin, &ca);
    let fresh = code(&phone, step_now(&phone));
    let with_ca = |extra: &[&str]| {
        let mut args = extra.to_vec();
        args.extend(["--json", "check", "alice", &fresh]);
        Run::from(runner(&service.url, &admin, &args).output().unwrap())
    };
    // Not signed by a trusted root: refused before the code is sent.
    let run = with_ca(&[]);
    assert_eq!(run.code, Some(2), "{run:?}");
    let run = with_ca(&["--ca-file", ca.to_str().unwrap()]);
    assert_eq!(run.code, Some(0), "{run:?}");
    drop(service);

    // Plain HTTP on an address that is not loopback is refused at startup.
    let run: Run = backend
        .host_command()
        .args(["serve", "--listen", "0.0.0.0:0"])
        .output()
        .unwrap()
        .into();
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("--insecure-plain-http"), "{run:?}");
}

/// Enrolls and confirms alice over TLS with the runner's CA file, through curl-free ureq.
fn service_tls_activate(url: &str, admin: &str, ca: &std::path::Path) -> otpcore::Totp {
    let pem = std::fs::read(ca).unwrap();
    let certs: Vec<_> = ureq::tls::parse_pem(&pem)
        .filter_map(|item| match item.unwrap() {
            ureq::tls::PemItem::Certificate(c) => Some(c),
            _ => None,
        })
        .collect();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::new_with_certs(&certs))
                .build(),
        )
        .build()
        .into();
    let post = |path: &str, body: serde_json::Value| -> serde_json::Value {
        agent
            .post(format!("{url}{path}"))
            .header("Authorization", format!("Bearer {admin}"))
            .send_json(&body)
            .unwrap()
            .body_mut()
            .read_json()
            .unwrap()
    };
    let enrolled = post("/v1/users/alice/enroll", json!({}));
    let phone = gate_support::phone(enrolled["secret"].as_str().unwrap());
    let first = code(&phone, step_now(&phone).saturating_sub(1));
    let confirmed = post("/v1/users/alice/confirm", json!({ "code": first }));
    assert_eq!(confirmed["result"], "accepted", "{confirmed}");
    phone
}

#[test]
fn a_database_deleted_under_the_service_accepts_nothing_and_health_says_so() {
    let backend = Backend::Sqlite(Env::new("svc-db-deleted"));
    let admin = backend.token("admin", "admin");
    let service = backend.serve(&[]);
    let phone = service.activate(&admin, "alice");
    assert_eq!(service.call("GET", "/healthz", None, None).0, 200);
    std::fs::remove_file(&backend.env().db).unwrap();
    // The service's open connections would write into the deleted file, which no later
    // process reads: the acceptance would be lost, and the code good again.
    let fresh = code(&phone, step_now(&phone));
    let (status, answer) = service.post("/v1/users/alice/check", &admin, &json!({ "code": fresh }));
    assert_eq!(status, 503, "{answer}");
    assert_eq!(answer["error"]["code"], "store-unavailable", "{answer}");
    let (status, answer) = service.call("GET", "/healthz", None, None);
    assert_eq!(status, 503, "{answer}");
    assert!(!backend.env().db.exists());
}

#[test]
fn the_token_file_is_a_regular_file_nobody_else_may_write() {
    let backend = Backend::Sqlite(Env::new("svc-token-file"));
    let check = backend.token("runner", "check");
    let service = backend.serve(&[]);
    let file = backend.env().dir.join("token");
    std::fs::write(&file, format!("{check}\n")).unwrap();
    let status_with = |path: &std::path::Path| {
        let mut command = runner(
            &service.url,
            "",
            &["--token-file", path.to_str().unwrap(), "status", "nobody"],
        );
        command.env_remove("OTPGATE_TOKEN");
        within(command, Duration::from_secs(20))
    };
    let mode = |bits: u32| {
        std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(bits))
            .unwrap();
    };
    // Read, and the token taken: the user is unknown (a 404, exit 2), not the token.
    for bits in [0o600, 0o644] {
        mode(bits);
        let run = status_with(&file);
        assert!(run.stderr.contains("unknown-user"), "{bits:o}: {run:?}");
    }
    mode(0o666);
    let run = status_with(&file);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("chmod go-w"), "{run:?}");
    // A FIFO nobody writes: an error at once, not a runner waiting for a writer.
    let fifo = backend.env().dir.join("fifo");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let run = status_with(&fifo);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("not a regular file"), "{run:?}");
    assert!(!run.stderr.contains(&check) && !run.stdout.contains(&check));
}

#[test]
fn serve_refuses_a_missing_database_beside_its_key_file() {
    let env = Env::new("svc-no-db");
    let key = env.dir.join("service.key");
    let with_key = |args: &[&str]| {
        let mut command = env.command();
        command.arg("--key-file").arg(&key).args(args);
        command
    };
    let run = Run::from(with_key(&["enroll", "alice"]).output().unwrap());
    assert_eq!(run.code, Some(0), "{run:?}");
    // The database gone, its key file still there (a volume not mounted, say).
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", env.db.display()));
    }
    let run = within(
        with_key(&["serve", "--listen", "127.0.0.1:0"]),
        Duration::from_secs(20),
    );
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("no gate database"), "{run:?}");
    assert!(!env.db.exists());
}

/// A PostgreSQL restart closes the service's idle connections, which only the next
/// request on each finds out: those requests are read again on new connections, not
/// answered 503 once per connection.
#[cfg(feature = "postgres")]
#[test]
fn requests_after_a_postgresql_restart_are_answered_on_new_connections() {
    if !pg::Cluster::available() {
        return;
    }
    let (cluster, admin) = pg::Cluster::new("otpgate-svc-restart", false);
    postgres::Client::connect(&admin, postgres::NoTls)
        .unwrap()
        .batch_execute("CREATE SCHEMA svc_restart")
        .unwrap();
    let backend = Backend::Postgres {
        env: Env::new("svc-restart"),
        admin,
        schema: String::from("svc_restart"),
    };
    let token = backend.token("admin", "admin");
    let service = backend.serve(&["--connections", "4"]);
    let status = || service.call("GET", "/v1/users/nobody/status", Some(&token), None);
    service.activate(&token, "alice");
    let (code, approval) = service.post(
        "/v1/approvals",
        &token,
        &json!({ "user": "alice", "action": "deploy 1", "valid_secs": 3600 }),
    );
    assert_eq!(code, 200, "{approval}");
    let page = approval["link"]
        .as_str()
        .unwrap()
        .strip_prefix(&service.url)
        .unwrap()
        .to_owned();
    let load = || {
        raw_exchange(
            &service.url,
            &format!("GET {page} HTTP/1.1\r\nHost: localhost"),
            b"",
        )
        .status
    };
    // Connections opened by requests at once, then idle.
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| assert_eq!(status().0, 404));
        }
    });
    cluster.stop("fast");
    pg::Cluster::start(&cluster.dir, false);
    for _ in 0..8 {
        let (code, answer) = status();
        assert_eq!(code, 404, "{answer}");
        assert_eq!(answer["error"]["code"], "unknown-user", "{answer}");
        assert_eq!(service.call("GET", "/healthz", None, None).0, 200);
    }
    // A page's read on a dead connection is a problem page, and the connection is closed,
    // not lent out again: after a second restart, at most one failure per connection.
    cluster.stop("fast");
    pg::Cluster::start(&cluster.dir, false);
    let loads: Vec<u16> = (0..12).map(|_| load()).collect();
    assert!(loads[4..].iter().all(|&code| code == 200), "{loads:?}");
}

#[test]
fn sigterm_stops_accepting_and_exits_0() {
    for backend in Backend::all("svc-term") {
        sigterm_stops_accepting_and_exits_0_on(&backend);
    }
}

fn sigterm_stops_accepting_and_exits_0_on(backend: &Backend) {
    let mut service = backend.serve(&[]);
    assert_eq!(service.call("GET", "/healthz", None, None).0, 200);
    let pid = service.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let started = Instant::now();
    let status = loop {
        if let Some(status) = service.child.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "still running");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0), "{}", service.log_text());
    assert!(service.log_text().contains("otpgate serve: stopped"));
    assert!(!service.log_text().contains("panicked"));
}

/// The soft and hard "Max open files" of `/proc/PID/limits`.
fn open_files_limits(pid: &str) -> (u64, u64) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let numbers: Vec<u64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    (numbers[0], numbers[1])
}

/// Every connection, waiting long poll and database connection is a file: the service
/// raises its soft limit of open files (1,024 under systemd) to the hard one at start.
#[test]
fn the_service_raises_its_open_files_limit_to_the_hard_one() {
    let backend = Backend::Sqlite(Env::new("svc-nofile"));
    let (_, hard) = open_files_limits("self");
    let mut command = Command::new("prlimit");
    command
        .arg(format!("--nofile=256:{hard}"))
        .arg("--")
        .arg(gate_support::BIN)
        .args(backend.db_args())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    let mut child = command.spawn().unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let limits = open_files_limits(&child.id().to_string());
    let _ = child.kill();
    let _ = child.wait();
    assert!(line.contains("listening on"), "{line:?}");
    assert_eq!(limits, (hard, hard));
}

/// Every limit is answered like every other error, with its status: a body that never
/// finishes is a 408 after the body's 10 s (the JSON error object on the API, the problem
/// page on a page), without taking a place; a request that finds every place taken is a
/// 503 `overloaded` with Retry-After after waiting 5 s for one.
#[test]
fn limits_answer_the_json_error_object_with_their_status() {
    // One place: long polls wait without it, 16 of them; the 17th holds it for its 20 s.
    // The backend bound first, so dropped last (`..` would drop it, and with it the
    // database, at once).
    let OnePlace {
        _backend,
        service,
        admin,
        check,
        id,
        ..
    } = OnePlace::new("svc-limits");
    let (api, page, overloaded) = std::thread::scope(|s| {
        let api = s.spawn(|| {
            unfinished_body(
                &service.url,
                &format!(
                    "POST /v1/users/alice/check HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {check}\r\nContent-Type: application/json"
                ),
                100,
                10,
            )
        });
        let page = s.spawn(|| {
            unfinished_body(
                &service.url,
                &format!(
                    "POST /approve/{}/code HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded",
                    "ab".repeat(32)
                ),
                100,
                10,
            )
        });
        let polls = long_polls(s, &service, &check, (&id, 20), 1 + WAITING_PER_PLACE);
        // Until a long poll holds the one place, a request passes at once: ask again.
        let mut overloaded = None;
        for _ in 0..50 {
            let answer = raw_exchange(
                &service.url,
                &format!(
                    "GET /v1/users/alice/status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {check}"
                ),
                b"",
            );
            if answer.status != 200 {
                overloaded = Some(answer);
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        all_pending(polls);
        (
            api.join().unwrap(),
            page.join().unwrap(),
            overloaded.expect("no request was ever kept waiting"),
        )
    });
    assert_eq!(api.status, 408, "{api:?}");
    assert_eq!(api.json()["error"]["code"], "request-timeout", "{api:?}");
    assert_eq!(api.header("connection"), Some("close"));
    assert_eq!(page.status, 408, "{page:?}");
    assert!(
        page.body.contains("This form took too long to arrive"),
        "{page:?}"
    );
    assert_eq!(overloaded.status, 503, "{overloaded:?}");
    assert_eq!(
        overloaded.json()["error"]["code"],
        "overloaded",
        "{overloaded:?}"
    );
    assert_eq!(overloaded.header("retry-after"), Some("5"));
    // Nothing was decided by the cut requests, and the service goes on.
    assert_eq!(service.audit(&admin, "alice", "check").len(), 0);
    assert_eq!(service.call("GET", "/healthz", None, None).0, 200);
}

/// `otpgate serve --max-concurrent 1` with alice active and an approval of hers pending.
struct OnePlace {
    service: service_support::Service,
    admin: String,
    check: String,
    phone: otpcore::Totp,
    /// The pending approval's id.
    id: String,
    /// Last: the service stops before its database goes.
    _backend: Backend,
}

impl OnePlace {
    fn new(name: &str) -> Self {
        let backend = Backend::Sqlite(Env::new(name));
        let admin = backend.token("admin", "admin");
        let check = backend.token("runner", "check");
        let service = backend.serve(&["--max-concurrent", "1"]);
        let phone = service.activate(&admin, "alice");
        let (status, created) = service.post(
            "/v1/approvals",
            &check,
            &json!({ "user": "alice", "action": "deploy 9", "valid_secs": 3600 }),
        );
        assert_eq!(status, 200, "{created}");
        let id = created["id"].as_str().unwrap().to_owned();
        OnePlace {
            service,
            admin,
            check,
            phone,
            id,
            _backend: backend,
        }
    }
}

/// Waits for `polls` and asserts that each was answered "pending".
fn all_pending(polls: Vec<std::thread::ScopedJoinHandle<'_, (u16, Value)>>) {
    for poll in polls {
        let (status, polled) = poll.join().unwrap();
        assert_eq!(
            (status, &polled["result"]),
            (200, &json!("pending")),
            "{polled}"
        );
    }
}

/// `n` long polls on the approval `id` (`?wait=SECS`), started at once.
fn long_polls<'scope>(
    s: &'scope std::thread::Scope<'scope, '_>,
    service: &'scope service_support::Service,
    check: &'scope str,
    (id, secs): (&'scope str, u64),
    n: usize,
) -> Vec<std::thread::ScopedJoinHandle<'scope, (u16, Value)>> {
    (0..n)
        .map(|_| {
            s.spawn(move || {
                service.call(
                    "GET",
                    &format!("/v1/approvals/{id}?wait={secs}"),
                    Some(check),
                    None,
                )
            })
        })
        .collect()
}

/// How many long polls wait per `--max-concurrent` place without holding it (the
/// service's `WAITING_PER_PLACE`).
const WAITING_PER_PLACE: usize = 16;

/// Pipelines waiting for approvals do not keep the checks out: with one place, 16 long
/// polls wait (each has made its first read) and a check still passes at once; the
/// waiting places of 16 earlier polls came back when those ended.
#[test]
fn long_polls_wait_without_holding_a_place_and_checks_go_on() {
    // The backend bound first, so dropped last (`..` would drop it, and with it the
    // database, at once).
    let OnePlace {
        _backend,
        service,
        check,
        phone,
        id,
        ..
    } = OnePlace::new("svc-long-polls");
    std::thread::scope(|s| {
        all_pending(long_polls(s, &service, &check, (&id, 1), WAITING_PER_PLACE));
        let polls = long_polls(s, &service, &check, (&id, 20), WAITING_PER_PLACE);
        // Each poll counts its first read; after it, the poll only waits. Reading the
        // count needs the one place too: a poll that kept it would make this a 503.
        let first_reads = || {
            let (status, text) = raw_http(&service.url, "GET /metrics HTTP/1.1\r\nHost: x", b"");
            assert_eq!(status, 200, "a request was kept out: {text}");
            text.lines()
                .find(|l| l.contains("endpoint=\"approval-read\""))
                .and_then(|l| l.rsplit(' ').next())
                .map_or(0, |n| n.parse::<usize>().unwrap())
        };
        let started = Instant::now();
        while first_reads() < 2 * WAITING_PER_PLACE {
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "the polls never read"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let fresh = code(&phone, step_now(&phone));
        let (status, answer) = service.post(
            "/v1/users/alice/check",
            &check,
            &json!({ "code": fresh, "action": "deploy 9" }),
        );
        assert_eq!(
            (status, &answer["result"]),
            (200, &json!("accepted")),
            "{answer}"
        );
        all_pending(polls);
    });
}

/// The per-token rate against the running service: past its burst a token is answered 429
/// `rate-limited` with Retry-After, another token is not, and after Retry-After seconds
/// the first is served again.
#[test]
fn a_token_past_its_rate_gets_429_with_retry_after_and_others_do_not() {
    let backend = Backend::Sqlite(Env::new("svc-rate"));
    let admin = backend.token("admin", "admin");
    let busy = backend.token("busy", "check");
    let other = backend.token("other", "check");
    // One request a second, bursts of two.
    let service = backend.serve(&["--token-rate", "1"]);
    service.activate(&admin, "alice");
    let status_of = |token: &str| {
        raw_exchange(
            &service.url,
            &format!(
                "GET /v1/users/alice/status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}"
            ),
            b"",
        )
    };
    // A 429 comes unless every request took a second (the refill): ask until it does.
    let limited = (0..30)
        .map(|_| status_of(&busy))
        .find(|a| a.status != 200)
        .expect("never limited");
    assert_eq!(limited.status, 429, "{limited:?}");
    assert_eq!(
        limited.json()["error"]["code"],
        "rate-limited",
        "{limited:?}"
    );
    let retry: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "{limited:?}");
    assert_eq!(status_of(&other).status, 200);
    std::thread::sleep(Duration::from_secs(retry));
    let again = status_of(&busy);
    assert_eq!(again.status, 200, "{again:?}");
    assert!(
        service
            .log_text()
            .contains("GET /v1/users/alice/status 429")
    );
}

/// `--listen unix:PATH`: a check through the socket decides as over TCP (accepted once,
/// then a replay), links cannot be made without --public-url, and SIGTERM removes the
/// socket file.
#[test]
fn the_unix_socket_listener_decides_checks() {
    let backend = Backend::Sqlite(Env::new("svc-unix"));
    let check = backend.token("runner", "check");
    let admin = backend.token("admin", "admin");
    let (alice, _) = backend.env().activate("alice");
    let socket = backend.env().dir.join("gate.sock");
    let mut service = backend.serve_on(&format!("unix:{}", socket.display()), &[]);
    assert_eq!(service.url, format!("http+unix://{}", socket.display()));
    let fresh = code(&alice, step_now(&alice));
    let check_once = || {
        let body = json!({ "code": fresh, "action": "deploy via socket" }).to_string();
        raw_unix(
            &socket,
            &format!(
                "POST /v1/users/alice/check HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {check}\r\nContent-Type: application/json"
            ),
            body.as_bytes(),
        )
    };
    let first = check_once();
    assert_eq!(first.status, 200, "{first:?}");
    assert_eq!(first.json()["result"], "accepted", "{first:?}");
    let replay = check_once();
    assert_eq!(replay.json()["reason"], "replayed", "{replay:?}");
    let invite = raw_unix(
        &socket,
        &format!(
            "POST /v1/invites HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {admin}\r\nContent-Type: application/json"
        ),
        json!({ "user": "bob" }).to_string().as_bytes(),
    );
    assert_eq!(invite.status, 400, "{invite:?}");
    assert_eq!(invite.json()["error"]["code"], "no-public-url");
    assert!(
        service
            .log_text()
            .contains("access: unix POST /v1/users/alice/check 200")
    );
    assert_eq!(
        backend.env().outcomes("alice", "check"),
        ["accepted", "replayed"]
    );

    let pid = service.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let started = Instant::now();
    while service.child.try_wait().unwrap().is_none() {
        assert!(started.elapsed() < Duration::from_secs(10), "still running");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!socket.exists(), "the socket file was left behind");
}

#[test]
fn a_socket_left_by_a_killed_service_is_taken_over_and_a_live_one_is_not() {
    let backend = Backend::Sqlite(Env::new("svc-unix-stale"));
    let socket = backend.env().dir.join("gate.sock");
    let listen = format!("unix:{}", socket.display());
    let mut killed = backend.serve_on(&listen, &[]);
    killed.child.kill().unwrap();
    killed.child.wait().unwrap();
    assert!(socket.exists(), "SIGKILL leaves the socket file");

    let live = backend.serve_on(&listen, &[]);
    let health = raw_unix(&socket, "GET /healthz HTTP/1.1\r\nHost: localhost", b"");
    assert_eq!(health.status, 200, "{health:?}");
    // A second service on the same path would steal the live one's socket: refused.
    let second = backend
        .host_command()
        .args(["serve", "--listen", &listen])
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(2), "{second:?}");
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("cannot listen on"),
        "{second:?}"
    );
    let again = raw_unix(&socket, "GET /healthz HTTP/1.1\r\nHost: localhost", b"");
    assert_eq!(again.status, 200, "{again:?}");
    drop(live);
}
