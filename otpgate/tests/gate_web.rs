//! The enrollment and approval pages in a real browser: the real `otpgate serve` on an
//! ephemeral port, headless Chromium driven through chromedriver, `otpgate request` as a
//! runner process. Screenshots of every page at 360 and 1280 pixels go to
//! `TARGET/screenshots/`. Bad input on every form is posted by a plain HTTP client.
#![cfg(all(feature = "serve", unix))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]

mod gate_support;
mod service_support;
#[path = "../../tests/support/mod.rs"]
mod support;
mod web_support;

use std::io::{BufRead, BufReader, Read};
use std::process::Child;
use std::time::{Duration, Instant};

use fantoccini::Locator;
use otpcore::{KeyUri, Secret};
use serde_json::{Value, json};

use gate_support::{Env, Run, code, phone, step_now};
use service_support::{Backend, Service, raw_http};
use web_support::*;

/// `otpgate --json status USER` on the service's host: the user's failures and more.
fn user_status(backend: &Backend, user: &str) -> Value {
    let run: Run = backend
        .host_command()
        .args(["--json", "status", user])
        .output()
        .unwrap()
        .into();
    run.json()
}

/// Invites `user` through the API; the link.
fn invite(service: &Service, admin: &str, user: &str) -> String {
    let (status, answer) = service.post(
        "/v1/invites",
        admin,
        &json!({ "user": user, "issuer": "ACME Deploys" }),
    );
    assert_eq!(status, 200, "{answer}");
    let link = answer["link"].as_str().unwrap().to_owned();
    assert!(
        link.starts_with(&format!("{}/enroll/", service.url)),
        "{link}"
    );
    link
}

/// `otpgate --server URL request USER --action ACTION ARGS` in the background, and the
/// link it printed.
fn request(
    service: &Service,
    token: &str,
    user: &str,
    action: &str,
    args: &[&str],
) -> (Child, String) {
    let mut all = vec!["request", user, "--action", action];
    all.extend_from_slice(args);
    let mut child = service.runner(token, &all).spawn().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut printed = String::new();
    let mut line = String::new();
    while out.read_line(&mut line).unwrap() > 0 {
        printed.push_str(&line);
        if line.starts_with("http") {
            // The rest of its output is read when it ends.
            let link = line.trim().to_owned();
            child.stdout = None;
            std::thread::spawn(move || {
                let _ = out.read_to_string(&mut String::new());
            });
            return (child, link);
        }
        line.clear();
    }
    let mut err = String::new();
    let _ = child.stderr.take().unwrap().read_to_string(&mut err);
    let status = child.wait();
    panic!("request printed no link ({status:?}): {printed}{err}");
}

/// Waits for `child` at most `limit`: its exit code and standard error.
fn exit_of(mut child: Child, limit: Duration) -> (Option<i32>, String) {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            let _ = child.stderr.take().unwrap().read_to_string(&mut err);
            return (status.code(), err);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("request did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrollment_by_link_in_a_browser() {
    if !browser_available() {
        return;
    }
    let backend = Backend::Sqlite(Env::new("web-enroll"));
    let admin = backend.token("portal", "admin");
    let check = backend.token("ci", "check");
    let service = backend.serve(&[]);
    let link = invite(&service, &admin, "alice");
    let mut driver = Driver::start();
    let browser = driver.session(1280).await;

    browser.goto(&link).await.unwrap();
    assert_eq!(text_of(&browser, "user").await, "alice");
    let key = text_of(&browser, "key").await;
    let secret: String = key.split_whitespace().collect();
    let alice = phone(&secret);
    // The QR code on the page, as a phone's camera would read it from the screen.
    let wide = screenshots(&browser, "enroll").await;
    let expected = {
        let secret = Secret::from_base32(&secret).unwrap();
        let uri = KeyUri::totp("alice").with_issuer("ACME Deploys");
        let mut buf = vec![0u8; uri.encoded_len(&secret).unwrap()];
        uri.to_buf(&secret, &mut buf).unwrap().to_owned()
    };
    assert_eq!(qr_codes(&wide), vec![expected]);

    // A wrong code: said so on the page, and counted like `confirm`.
    submit_code(&browser, &wrong_code(&alice), "confirm").await;
    assert!(
        text_of(&browser, "error")
            .await
            .to_lowercase()
            .contains("code"),
        "{}",
        browser.source().await.unwrap()
    );
    assert_eq!(user_status(&backend, "alice")["failures"], 1);
    assert_eq!(user_status(&backend, "alice")["status"], "pending");
    screenshots(&browser, "enroll-wrong-code").await;

    // The right code, as the phone shows it now; once more with the next step if the
    // step changed between computing and checking.
    let step = step_now(&alice);
    submit_code(&browser, &code(&alice, step), "confirm").await;
    if !has(&browser, "recovery-codes").await {
        submit_code(&browser, &code(&alice, step + 1), "confirm").await;
    }
    let codes: Vec<String> = text_of(&browser, "recovery-codes")
        .await
        .lines()
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(codes.len(), 10, "{codes:?}");
    screenshots(&browser, "enrolled").await;
    assert_eq!(user_status(&backend, "alice")["status"], "active");

    // A recovery code from the page works at the gate, once.
    let run: Run = service
        .runner(&check, &["recover", "alice", &codes[3]])
        .output()
        .unwrap()
        .into();
    assert_eq!(run.code, Some(0), "{run:?}");

    // The link is dead now: one page for every dead link.
    browser.goto(&link).await.unwrap();
    assert_eq!(
        text_of(&browser, "problem").await,
        "This link does not work"
    );
    assert!(!has(&browser, "key").await);
    screenshots(&browser, "dead-link").await;
    browser.close().await.unwrap();
    // No link token in the access log.
    let token = link.rsplit('/').next().unwrap();
    assert!(!service.log_text().contains(token));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approvals_in_a_browser() {
    if !browser_available() {
        return;
    }
    let backend = Backend::Sqlite(Env::new("web-approve"));
    let admin = backend.token("portal", "admin");
    let check = backend.token("pipeline", "check");
    let service = backend.serve(&[]);
    // Confirmed with the previous step's code: the current step's is fresh.
    let bob = service.activate(&admin, "bob");
    let mut last = step_now(&bob).saturating_sub(1);
    let mut driver = Driver::start();
    let browser = driver.session(1280).await;

    // request in the background; its link opened, a wrong code, then the right one.
    let (runner, link) = request(&service, &check, "bob", "deploy 1.4.2", &["--wait", "2m"]);
    assert!(
        link.starts_with(&format!("{}/approve/", service.url)),
        "{link}"
    );
    browser.goto(&link).await.unwrap();
    assert_eq!(text_of(&browser, "action").await, "deploy 1.4.2");
    assert_eq!(text_of(&browser, "user").await, "bob");
    assert_eq!(text_of(&browser, "requester").await, "pipeline");
    screenshots(&browser, "approve").await;
    submit_code(&browser, &wrong_code(&bob), "approve").await;
    assert!(has(&browser, "error").await);
    screenshots(&browser, "approve-wrong-code").await;
    let step = fresh_step(&bob, last);
    submit_code(&browser, &code(&bob, step), "approve").await;
    last = step;
    if !has(&browser, "outcome").await {
        last = fresh_step(&bob, last);
        submit_code(&browser, &code(&bob, last), "approve").await;
    }
    assert_eq!(text_of(&browser, "outcome").await, "Approved");
    screenshots(&browser, "approved").await;
    let (exit, err) = exit_of(runner, Duration::from_secs(30));
    assert_eq!(exit, Some(0), "{err}");

    // An approval left alone expires: request exits 1, and so does reading it.
    let (runner, _) = request(&service, &check, "bob", "deploy 1.4.3", &["--valid", "2"]);
    let (exit, err) = exit_of(runner, Duration::from_secs(30));
    assert_eq!(exit, Some(1), "{err}");
    assert!(err.contains("expired"), "{err}");

    // Two browsers submit the right code at once: granted once.
    let (status, created) = service.post(
        "/v1/approvals",
        &check,
        &json!({ "user": "bob", "action": "deploy 1.5.0" }),
    );
    assert_eq!(status, 200, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let race_link = created["link"].as_str().unwrap().to_owned();
    let other = driver.session(1280).await;
    browser.goto(&race_link).await.unwrap();
    other.goto(&race_link).await.unwrap();
    let step = fresh_step(&bob, last);
    let right = code(&bob, step);
    for b in [&browser, &other] {
        b.find(Locator::Id("code"))
            .await
            .unwrap()
            .send_keys(&right)
            .await
            .unwrap();
    }
    let (a, b) = (
        browser.find(Locator::Id("approve")).await.unwrap(),
        other.find(Locator::Id("approve")).await.unwrap(),
    );
    let (ra, rb) = tokio::join!(a.click(), b.click());
    ra.unwrap();
    rb.unwrap();
    let mut approved = 0;
    for b in [&browser, &other] {
        if has(b, "outcome").await {
            assert_eq!(text_of(b, "outcome").await, "Approved");
            approved += 1;
        } else {
            // The other finds it decided (the one dead-link page) or its code spent.
            assert!(has(b, "problem").await || has(b, "error").await);
        }
    }
    assert_eq!(approved, 1);
    let run: Run = service
        .runner(&check, &["--json", "approval", &id])
        .output()
        .unwrap()
        .into();
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.json()["result"], "granted");
    let grants: Vec<Value> = service
        .audit(&admin, "bob", "approval")
        .into_iter()
        .filter(|e| e["action"] == "deploy 1.5.0")
        .collect();
    assert_eq!(grants.len(), 1, "{grants:?}");
    assert_eq!(grants[0]["outcome"], "granted");
    browser.close().await.unwrap();
    other.close().await.unwrap();
}

const NUMBER: &str = "+4915112345678";

/// Puts `NUMBER` on record as `user`'s phone, through the API.
fn set_phone(service: &Service, admin: &str, user: &str) {
    let (status, answer) = service.call(
        "PUT",
        &format!("/v1/users/{user}/phone"),
        Some(admin),
        Some((
            "application/json",
            json!({ "number": NUMBER }).to_string().into_bytes(),
        )),
    );
    assert_eq!(status, 200, "{answer}");
}

/// `user`'s audit entries of `event` on the service's host, oldest first.
fn audit(backend: &Backend, user: &str, event: &str) -> Vec<Value> {
    let run: Run = backend
        .host_command()
        .args(["--json", "log", user, "--limit", "1000"])
        .output()
        .unwrap()
        .into();
    run.json()["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == event)
        .cloned()
        .collect()
}

/// "Use SMS instead" on the enrollment page: a number that is not E.164 and an empty field
/// are told what to type and text nothing; a number texts a code (through the service's
/// delivery command), asking again at once is refused as `send-code` refuses it, a wrong
/// texted code is counted, and the texted code activates the user and shows the recovery
/// codes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrollment_by_texted_code_in_a_browser() {
    if !browser_available() {
        return;
    }
    let backend = Backend::Sqlite(Env::new("web-enroll-sms"));
    let admin = backend.token("portal", "admin");
    let (script, out) = delivery_script(&backend.env().dir);
    let service = backend.serve(&["--deliver-command", &script]);
    let link = invite(&service, &admin, "erin");
    let mut driver = Driver::start();
    let browser = driver.session(1280).await;
    browser.goto(&link).await.unwrap();
    let secret: String = text_of(&browser, "key").await.split_whitespace().collect();
    let erin = phone(&secret);
    let before = user_status(&backend, "erin");
    assert_eq!(before["phone"], Value::Null);

    // Bad numbers: the page says what to type, keeps the SMS form open, and nothing is
    // texted or stored.
    for (typed, says) in [
        ("0151 12345678", "international form"),
        ("+49 151 12345678", "international form"),
        ("", "Type your mobile number"),
    ] {
        if !browser
            .find(Locator::Id("phone"))
            .await
            .unwrap()
            .is_displayed()
            .await
            .unwrap()
        {
            browser
                .find(Locator::Css("#sms summary"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
        }
        fill(&browser, "phone", typed).await;
        press(&browser, "send").await;
        let error = text_of(&browser, "error").await;
        assert!(error.contains(says), "{typed:?}: {error}");
        assert!(
            browser
                .find(Locator::Id("phone"))
                .await
                .unwrap()
                .is_displayed()
                .await
                .unwrap(),
            "{typed:?}: the SMS form is closed after its error"
        );
    }
    screenshots(&browser, "enroll-sms-bad-number").await;
    assert!(texted(&out).is_none(), "a bad number texted something");
    assert_eq!(
        user_status(&backend, "erin"),
        before,
        "a bad number was stored"
    );
    assert!(audit(&backend, "erin", "phone").is_empty());
    assert!(audit(&backend, "erin", "send-code").is_empty());

    // A number in international form: texted, shown masked.
    fill(&browser, "phone", NUMBER).await;
    press(&browser, "send").await;
    assert!(
        text_of(&browser, "notice").await.contains("+491********78"),
        "{}",
        browser.source().await.unwrap()
    );
    screenshots(&browser, "enroll-sms-sent").await;
    let (to, message, texted_code) = texted(&out).unwrap();
    assert_eq!(to, NUMBER);
    assert!(message.contains("ACME Deploys"), "{message}");
    assert_eq!(user_status(&backend, "erin")["phone"], NUMBER);
    let sent = std::fs::read(&out).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // Again at once: refused by the cooldown, as send-code is, and nothing texted.
    press(&browser, "send").await;
    assert!(
        text_of(&browser, "error").await.contains("moments ago"),
        "{}",
        browser.source().await.unwrap()
    );
    assert_eq!(std::fs::read(&out).unwrap(), sent, "texted twice");

    // A wrong code is counted like any wrong first code.
    submit_code(
        &browser,
        &wrong_code_besides(&erin, &texted_code),
        "confirm",
    )
    .await;
    assert!(has(&browser, "error").await);
    assert_eq!(user_status(&backend, "erin")["failures"], 1);
    assert_eq!(user_status(&backend, "erin")["status"], "pending");

    // The texted code: active, the recovery codes shown once.
    submit_code(&browser, &texted_code, "confirm").await;
    let codes: Vec<String> = text_of(&browser, "recovery-codes")
        .await
        .lines()
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(codes.len(), 10, "{codes:?}");
    let status = user_status(&backend, "erin");
    assert_eq!(status["status"], "active");
    assert_eq!(status["recovery_codes_left"], 10);
    assert_eq!(status["texted_code"], "used");
    screenshots(&browser, "enrolled-by-sms").await;
    browser.close().await.unwrap();
}

/// "Text me a code" on the approval page: without a number on record the page says so and
/// texts nothing; with one, the texted code (named with the action) approves once, a wrong
/// one is counted first, and `otpgate request` exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approval_by_texted_code_in_a_browser() {
    if !browser_available() {
        return;
    }
    let backend = Backend::Sqlite(Env::new("web-approve-sms"));
    let admin = backend.token("portal", "admin");
    let check = backend.token("pipeline", "check");
    let (script, out) = delivery_script(&backend.env().dir);
    let service = backend.serve(&["--deliver-command", &script]);
    let frank = service.activate(&admin, "frank");
    let mut driver = Driver::start();
    let browser = driver.session(1280).await;

    let (runner, link) = request(&service, &check, "frank", "deploy 3.0", &["--wait", "2m"]);
    browser.goto(&link).await.unwrap();
    // No number on record: told so, nothing texted.
    press(&browser, "send").await;
    assert!(
        text_of(&browser, "error")
            .await
            .contains("No phone number is on record"),
        "{}",
        browser.source().await.unwrap()
    );
    assert!(texted(&out).is_none());
    assert!(audit(&backend, "frank", "send-code").is_empty());

    set_phone(&service, &admin, "frank");
    press(&browser, "send").await;
    assert!(
        text_of(&browser, "notice").await.contains("+491********78"),
        "{}",
        browser.source().await.unwrap()
    );
    screenshots(&browser, "approve-sms-sent").await;
    let (to, message, texted_code) = texted(&out).unwrap();
    assert_eq!(to, NUMBER);
    assert!(message.contains("deploy 3.0"), "{message}");

    // A wrong code is counted; the approval stays pending.
    let failures = user_status(&backend, "frank")["failures"].as_u64().unwrap();
    submit_code(
        &browser,
        &wrong_code_besides(&frank, &texted_code),
        "approve",
    )
    .await;
    assert!(has(&browser, "error").await);
    assert_eq!(
        user_status(&backend, "frank")["failures"].as_u64().unwrap(),
        failures + 1
    );
    assert!(audit(&backend, "frank", "approval").is_empty());

    // The texted code approves, and the waiting request exits 0.
    let csrf = csrf_of(&browser.source().await.unwrap());
    submit_code(&browser, &texted_code, "approve").await;
    assert_eq!(text_of(&browser, "outcome").await, "Approved");
    let (exit, err) = exit_of(runner, Duration::from_secs(30));
    assert_eq!(exit, Some(0), "{err}");
    let checks = audit(&backend, "frank", "check");
    let accepted = checks.last().unwrap();
    assert_eq!(accepted["action"], "deploy 3.0");
    // Taken as the texted code, unless it happens to be a code the app shows now too.
    let app_codes: Vec<String> = (step_now(&frank) - 3..=step_now(&frank) + 3)
        .map(|s| code(&frank, s))
        .collect();
    assert!(
        accepted["outcome"] == "accepted-sms" || app_codes.contains(&texted_code),
        "{accepted}"
    );
    assert_eq!(user_status(&backend, "frank")["texted_code"], "used");

    // Granted once: the same form posted again finds the link dead.
    let (status, html) = page(
        "POST",
        &format!("{link}/code"),
        Some(&format!("csrf={csrf}&code={texted_code}")),
    );
    assert_eq!(status, 404, "{html}");
    let grants = audit(&backend, "frank", "approval");
    assert_eq!(grants.len(), 1, "{grants:?}");
    assert_eq!(grants[0]["outcome"], "granted");
    browser.close().await.unwrap();
}

/// `otpgate --json request ...` to its end: the link it showed on standard error (if any),
/// its exit code and its standard output. `grant` gets the link and may decide it.
fn json_request(
    service: &Service,
    token: &str,
    args: &[&str],
    grant: impl FnOnce(&str),
) -> (Option<String>, Option<i32>, String) {
    let mut all = vec!["--json", "request"];
    all.extend_from_slice(args);
    let mut child = service.runner(token, &all).spawn().unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut link = None;
    let mut line = String::new();
    while err.read_line(&mut line).unwrap() > 0 {
        if line.starts_with("http") {
            link = Some(line.trim().to_owned());
            break;
        }
        line.clear();
    }
    let rest = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = err.read_to_string(&mut text);
        text
    });
    if let Some(link) = &link {
        grant(link);
    }
    let output = child.wait_with_output().unwrap();
    let stderr = rest.join().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(!stdout.contains("Waiting for"), "{stdout}\n{stderr}");
    (link, output.status.code(), stdout)
}

/// The one JSON object `stdout` holds, on one line.
fn one_object(stdout: &str) -> Value {
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "not one line: {stdout}");
    let value: Value = serde_json::from_str(lines[0]).unwrap();
    assert!(value.is_object(), "{value}");
    value
}

/// `request --text-link` (`text_link` in the API) texts the approval's link to the user's
/// phone, at most once a minute per user; without a phone on record or a delivery command
/// nothing is asked, and a delivery that fails is an error.
#[test]
fn an_approval_link_is_texted_when_asked_and_nothing_is_asked_when_it_cannot_be() {
    let backend = Backend::Sqlite(Env::new("web-text-link"));
    let admin = backend.token("portal", "admin");
    let check = backend.token("pipeline", "check");
    let (script, out) = delivery_script(&backend.env().dir);
    let service = backend.serve(&["--deliver-command", &script]);
    let silent = backend.serve(&[]);
    service.activate(&admin, "grace");
    service.activate(&admin, "hana");
    service.activate(&admin, "ines");
    let approvals = || -> i64 {
        backend
            .env()
            .sql()
            .query_row("SELECT COUNT(*) FROM approvals", [], |row| row.get(0))
            .unwrap()
    };
    let ask_for = |service: &Service, user: &str| {
        service.post(
            "/v1/approvals",
            &check,
            &json!({ "user": user, "action": "deploy 4.0", "text_link": true }),
        )
    };
    let ask = |service: &Service| ask_for(service, "grace");

    let request = |user: &str, args: &[&str]| -> Run {
        let mut all = vec!["request", user, "--text-link"];
        all.extend_from_slice(args);
        service.runner(&check, &all).output().unwrap().into()
    };
    // No number on record: the runner is told so and nothing is asked.
    let run = request("grace", &["--action", "deploy 4.0"]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("phone"), "{run:?}");
    assert_eq!(approvals(), 0);

    set_phone(&service, &admin, "grace");
    // A status through the API shows the number masked.
    let (status, answer) = service.call("GET", "/v1/users/grace/status", Some(&check), None);
    assert_eq!((status, &answer["phone"]), (200, &json!("+491********78")));
    // No delivery command: 503, nothing asked.
    let (status, answer) = ask(&silent);
    assert_eq!(status, 503, "{answer}");
    assert_eq!(answer["error"]["code"], "no-delivery-command", "{answer}");
    // ... but a request that could not be made anyway is told why first.
    for (body, status, code) in [
        (
            json!({ "user": "grace", "action": "deploy\n4.0", "text_link": true }),
            400,
            "invalid-action",
        ),
        (
            json!({ "user": "grace", "action": "deploy 4.0", "valid_secs": 0, "text_link": true }),
            400,
            "invalid-validity",
        ),
        (
            json!({ "user": "nobody", "action": "deploy 4.0", "text_link": true }),
            404,
            "unknown-user",
        ),
    ] {
        let (got, answer) = silent.post("/v1/approvals", &check, &body);
        assert_eq!(
            (got, &answer["error"]["code"]),
            (status, &json!(code)),
            "{body}: {answer}"
        );
    }
    assert_eq!(approvals(), 0);

    // Texted: the link, the action and who is asked, to the number on record.
    let (status, answer) = ask(&service);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["texted_to"], "+491********78", "{answer}");
    let link = answer["link"].as_str().unwrap();
    let text = std::fs::read_to_string(&out).unwrap();
    let (to, message) = text.split_once('\n').unwrap();
    assert_eq!(to, NUMBER);
    assert!(message.contains(link), "{message}");
    assert!(
        message.contains("grace") && message.contains("deploy 4.0"),
        "{message}"
    );
    assert_eq!(approvals(), 1);
    // Not again within a minute: no text, no approval, and when to try again.
    let (status, answer) = ask(&service);
    assert_eq!(status, 429, "{answer}");
    assert_eq!(answer["error"]["code"], "sms-too-soon", "{answer}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), text);
    assert_eq!(approvals(), 1);
    // The runner says where the link went.
    set_phone(&service, &admin, "hana");
    let run = request("hana", &["--action", "deploy 4.1", "--wait", "1"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stdout.contains("texted to +491********78"), "{run:?}");
    assert_eq!(approvals(), 2);
    let run = request("hana", &["--action", "deploy 4.1", "--wait", "1"]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("retry in"), "{run:?}");
    assert_eq!(approvals(), 2);

    // A delivery that fails is an error, and the approval it made is withdrawn: the
    // gateway may have sent the link before it failed. The caller is not told the
    // command's path.
    set_phone(&service, &admin, "ines");
    std::fs::write(&script, "#!/bin/sh\nexit 3\n").unwrap();
    let (status, answer) = ask_for(&service, "ines");
    assert_eq!(status, 502, "{answer}");
    assert_eq!(answer["error"]["code"], "delivery-failed", "{answer}");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(message.contains("withdrawn"), "{answer}");
    assert!(!message.contains(&script), "{answer}");
    let declined: i64 = backend
        .env()
        .sql()
        .query_row(
            "SELECT COUNT(*) FROM approvals WHERE state = 'declined'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!((approvals(), declined), (3, 1));
}

/// `--json request` prints exactly one object whatever the outcome (granted, expired,
/// still pending when `--wait` ends, an error), so its output goes straight into `jq`;
/// the link is on standard error, and in the object.
#[test]
fn request_with_json_prints_one_object_per_run() {
    let backend = Backend::Sqlite(Env::new("web-request-json"));
    let admin = backend.token("portal", "admin");
    let check = backend.token("pipeline", "check");
    let service = backend.serve(&[]);
    let gail = service.activate(&admin, "gail");
    let last = step_now(&gail).saturating_sub(1);

    // Granted, waited for with --wait.
    let (link, exit, stdout) = json_request(
        &service,
        &check,
        &["gail", "--action", "deploy 4.0", "--wait", "2m"],
        |link| {
            let csrf = csrf_of(&page("GET", link, None).1);
            let step = fresh_step(&gail, last);
            let (status, html) = page(
                "POST",
                &format!("{link}/code"),
                Some(&format!("csrf={csrf}&code={}", code(&gail, step))),
            );
            assert_eq!(status, 200, "{html}");
        },
    );
    assert_eq!(exit, Some(0), "{stdout}");
    let granted = one_object(&stdout);
    assert_eq!(granted["result"], "granted");
    assert_eq!(granted["user"], "gail");
    assert_eq!(granted["action"], "deploy 4.0");
    assert_eq!(granted["requester"], "pipeline");
    assert_eq!(granted["link"].as_str(), link.as_deref());
    assert!(granted["decided_at"].is_u64(), "{granted}");
    // The same id as `approval` reads.
    let run: Run = service
        .runner(
            &check,
            &["--json", "approval", granted["id"].as_str().unwrap()],
        )
        .output()
        .unwrap()
        .into();
    assert_eq!(run.json()["result"], "granted");

    // Without --wait: until the approval expires.
    let (link, exit, stdout) = json_request(
        &service,
        &check,
        &["gail", "--action", "deploy 4.1", "--valid", "2"],
        |_| {},
    );
    assert_eq!(exit, Some(1), "{stdout}");
    let expired = one_object(&stdout);
    assert_eq!(expired["result"], "expired");
    assert_eq!(expired["link"].as_str(), link.as_deref());

    // --wait ends first: still pending.
    let (_, exit, stdout) = json_request(
        &service,
        &check,
        &["gail", "--action", "deploy 4.2", "--wait", "1"],
        |_| {},
    );
    assert_eq!(exit, Some(1), "{stdout}");
    assert_eq!(one_object(&stdout)["result"], "pending");

    // An error: the one error object, as every command prints it.
    let (link, exit, stdout) = json_request(
        &service,
        &check,
        &["nobody", "--action", "deploy 4.3"],
        |_| {},
    );
    assert_eq!((link, exit), (None, Some(2)), "{stdout}");
    let error = one_object(&stdout);
    assert_eq!(error["result"], "error");
    assert!(
        error["error"].as_str().unwrap().contains("unknown-user"),
        "{error}"
    );
}

/// Bad input on every form: a clear message or a 4xx, and nothing written.
#[test]
fn bad_input_on_every_form_changes_nothing() {
    let backend = Backend::Sqlite(Env::new("web-bad"));
    let admin = backend.token("portal", "admin");
    let check = backend.token("pipeline", "check");
    let service = backend.serve(&[]);
    let enroll = invite(&service, &admin, "carol");
    let dave = service.activate(&admin, "dave");
    let (_, approval) = service.post(
        "/v1/approvals",
        &check,
        &json!({ "user": "dave", "action": "deploy 2.0" }),
    );
    let approve = approval["link"].as_str().unwrap().to_owned();
    let other_csrf = csrf_of(&page("GET", &approve, None).1);
    let csrf = csrf_of(&page("GET", &enroll, None).1);
    let approve_csrf = other_csrf.clone();
    let before = (
        user_status(&backend, "carol"),
        user_status(&backend, "dave"),
        service.audit(&admin, "dave", "check").len(),
    );
    let big = format!("csrf={csrf}&code={}", "1".repeat(1 << 20));
    for (form_url, csrf) in [
        (format!("{enroll}/confirm"), &csrf),
        (format!("{approve}/code"), &approve_csrf),
    ] {
        for (body, want, says) in [
            (format!("csrf={csrf}&code="), 422, "Type the 6-digit code"),
            (format!("csrf={csrf}&code=abcdef"), 422, "6 digits"),
            (format!("csrf={csrf}&code=12345"), 422, "6 digits"),
            (
                String::from("code=123456"),
                403,
                "This form was not accepted",
            ),
            (
                format!("csrf={}&code=123456", "0".repeat(64)),
                403,
                "This form was not accepted",
            ),
            (String::from("%%%"), 403, "This form was not accepted"),
            (big.clone(), 413, "This form was not accepted"),
        ] {
            let (status, html) = if body.len() > 4096 {
                let path = form_url.strip_prefix(&service.url).unwrap();
                raw_http(
                    &service.url,
                    &format!(
                        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded"
                    ),
                    body.as_bytes(),
                )
            } else {
                page("POST", &form_url, Some(&body))
            };
            assert_eq!(
                status,
                want,
                "{form_url} {}: {html}",
                &body[..body.len().min(40)]
            );
            assert!(html.contains(says), "{html}");
        }
    }
    // Another link's CSRF token is not this link's.
    let (status, _) = page(
        "POST",
        &format!("{enroll}/confirm"),
        Some(&format!("csrf={other_csrf}&code=123456")),
    );
    assert_eq!(status, 403);
    for path in ["sms", "decline"] {
        let (status, _) = page("POST", &format!("{approve}/{path}"), Some("csrf=x"));
        assert_eq!(status, 403, "{path}");
    }
    let (status, _) = page(
        "POST",
        &format!("{enroll}/sms"),
        Some("phone=%2B4915112345678"),
    );
    assert_eq!(status, 403);
    // A malformed or unknown link: the one dead-link page.
    for url in [
        format!("{}/enroll/zz", service.url),
        format!("{}/approve/{}", service.url, "ab".repeat(32)),
    ] {
        let (status, html) = page("GET", &url, None);
        assert_eq!(status, 404);
        assert!(html.contains("This link does not work"));
    }
    assert_eq!(
        (
            user_status(&backend, "carol"),
            user_status(&backend, "dave"),
            service.audit(&admin, "dave", "check").len(),
        ),
        before,
        "bad input wrote something"
    );

    // A replayed POST: the declining form sent twice declines once, then finds the link dead.
    let decline = format!("csrf={approve_csrf}");
    let (status, html) = page("POST", &format!("{approve}/decline"), Some(&decline));
    assert_eq!(status, 200, "{html}");
    let (status, html) = page("POST", &format!("{approve}/decline"), Some(&decline));
    assert_eq!(status, 404, "{html}");
    let step = step_now(&dave);
    let (status, _) = page(
        "POST",
        &format!("{approve}/code"),
        Some(&format!("csrf={approve_csrf}&code={}", code(&dave, step))),
    );
    assert_eq!(status, 404);
    let declines = service.audit(&admin, "dave", "approval");
    assert_eq!(declines.len(), 1, "{declines:?}");
    assert_eq!(declines[0]["outcome"], "declined");

    // Links name the service's own address, whatever Host a request claims.
    let body = json!({ "user": "erin" }).to_string();
    let (status, answer) = raw_http(
        &service.url,
        &format!(
            "POST /v1/invites HTTP/1.1\r\nHost: evil.example\r\nAuthorization: Bearer {admin}\r\nContent-Type: application/json"
        ),
        body.as_bytes(),
    );
    assert_eq!(status, 200, "{answer}");
    let answer: Value = serde_json::from_str(&answer).unwrap();
    assert!(
        answer["link"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}/enroll/", service.url)),
        "{answer}"
    );
    // The API's own bad input for the link endpoints: 4xx with a specific code.
    for (body, want, code) in [
        (
            json!({ "user": "dave", "action": "" }),
            400,
            "invalid-action",
        ),
        (
            json!({ "user": "dave", "action": "x", "valid_secs": 3601 }),
            400,
            "invalid-validity",
        ),
        (
            json!({ "user": "nobody", "action": "x" }),
            404,
            "unknown-user",
        ),
        (json!({ "user": "dave" }), 422, "invalid-body"),
    ] {
        let (status, answer) = service.post("/v1/approvals", &check, &body);
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (want, Some(code)),
            "{answer}"
        );
    }
    let (status, answer) = service.call("GET", "/v1/approvals/00ff?wait=21", Some(&check), None);
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (400, Some("invalid-wait"))
    );
    let (status, answer) = service.call("GET", "/v1/approvals/00ff", Some(&check), None);
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (404, Some("unknown-approval"))
    );
    let (status, _) = service.post("/v1/invites", &check, &json!({ "user": "frank" }));
    assert_eq!(status, 403);
}
