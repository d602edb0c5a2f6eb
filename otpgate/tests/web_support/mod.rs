//! Shared by the pages' tests: headless Chromium driven through chromedriver (fantoccini),
//! screenshots under the target directory, QR codes read from screenshots, the pages'
//! forms posted by a plain HTTP client, and codes a phone would show.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use otpcore::Totp;
use serde_json::json;

use crate::gate_support::{BIN, code, step_now};

/// chromedriver with headless Chromium behind it, stopped when dropped.
pub struct Driver {
    child: Child,
    pub url: String,
    profiles: Vec<PathBuf>,
}

/// Whether chromium and chromedriver are here: under CI their absence fails the test,
/// elsewhere the test prints SKIPPED and passes without checking anything.
pub fn browser_available() -> bool {
    let install = "apt-get install chromium chromium-driver";
    crate::support::tool_available(
        "chromium",
        Command::new("chromium").arg("--version"),
        install,
    ) && crate::support::tool_available(
        "chromedriver",
        Command::new("chromedriver").arg("--version"),
        install,
    )
}

impl Driver {
    /// Starts chromedriver on a free loopback port: a port the kernel handed out and then
    /// released, retried with another when chromedriver cannot take it (someone else did).
    pub fn start() -> Driver {
        for _ in 0..5 {
            let port = {
                let probe = TcpListener::bind("127.0.0.1:0").unwrap();
                probe.local_addr().unwrap().port()
            };
            let mut child = Command::new("chromedriver")
                .arg(format!("--port={port}"))
                .arg("--allowed-ips=127.0.0.1")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let mut out = BufReader::new(child.stdout.take().unwrap());
            let mut started = false;
            let mut line = String::new();
            while out.read_line(&mut line).unwrap_or(0) > 0 {
                if line.contains("started successfully") {
                    started = true;
                    break;
                }
                line.clear();
            }
            // Its later output must not block it on a full pipe.
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut out, &mut std::io::sink());
            });
            if started && TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Driver {
                    child,
                    url: format!("http://127.0.0.1:{port}"),
                    profiles: Vec::new(),
                };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("chromedriver did not start on any of five free ports");
    }

    /// A new browser session: headless Chromium with an empty profile of its own, its
    /// window `width` pixels wide.
    pub async fn session(&mut self, width: u32) -> Client {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let profile = std::env::temp_dir().join(format!(
            "otpgate-chromium-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&profile);
        self.profiles.push(profile.clone());
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            &format!("--user-data-dir={}", profile.display()),
            &format!("--window-size={width},900"),
        ];
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": "/usr/bin/chromium", "args": args },
        });
        let serde_json::Value::Object(caps) = caps else {
            unreachable!()
        };
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url)
            .await
            .unwrap();
        client.set_window_size(width, 900).await.unwrap();
        client
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for profile in &self.profiles {
            let _ = std::fs::remove_dir_all(profile);
        }
    }
}

/// The text of the element with `id`.
pub async fn text_of(browser: &Client, id: &str) -> String {
    browser
        .find(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("no #{id}: {e}"))
        .text()
        .await
        .unwrap()
}

/// Whether the page has an element with `id`.
pub async fn has(browser: &Client, id: &str) -> bool {
    browser.find(Locator::Id(id)).await.is_ok()
}

/// Types `code` in the page's code field and presses the button `button`, then waits until
/// the browser has left the page (a loaded machine may answer the click before the next
/// page replaces this one, and a find would then look at the old page).
pub async fn submit_code(browser: &Client, code: &str, button: &str) {
    fill(browser, "code", code).await;
    press(browser, button).await;
}

/// Types `text` in the field `id`, replacing what was there.
pub async fn fill(browser: &Client, id: &str, text: &str) {
    let field = browser
        .wait()
        .at_most(PAGE_WAIT)
        .for_element(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("no #{id} field: {e}"));
    field.clear().await.unwrap();
    if !text.is_empty() {
        field.send_keys(text).await.unwrap();
    }
}

/// Presses the button `button` and waits until the browser has left the page (see
/// [`submit_code`]).
pub async fn press(browser: &Client, button: &str) {
    let page = browser.find(Locator::Css("html")).await.unwrap();
    browser
        .find(Locator::Id(button))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + PAGE_WAIT;
    while page.tag_name().await.is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "the page stayed after pressing #{button}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// How long a page may take to load on a loaded machine.
const PAGE_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Where screenshots go: `screenshots/` in the target directory (beside the binary's
/// `debug/`, wherever CARGO_TARGET_DIR puts it).
pub fn screenshot_dir() -> PathBuf {
    let dir = std::path::Path::new(BIN)
        .parent()
        .and_then(|d| d.parent())
        .unwrap()
        .join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Screenshots of the page at 360 and 1280 pixels wide, `NAME-360.png` and `NAME-1280.png`;
/// the window is 1280 wide afterwards. Returns the wide one.
pub async fn screenshots(browser: &Client, name: &str) -> Vec<u8> {
    let mut wide = Vec::new();
    for width in [360, 1280] {
        browser.set_window_size(width, 900).await.unwrap();
        let png = browser.screenshot().await.unwrap();
        std::fs::write(screenshot_dir().join(format!("{name}-{width}.png")), &png).unwrap();
        wide = png;
    }
    wide
}

/// The QR codes in a PNG screenshot, decoded.
pub fn qr_codes(png_bytes: &[u8]) -> Vec<String> {
    let decoder = png::Decoder::new(png_bytes);
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    assert_eq!(info.bit_depth, png::BitDepth::Eight, "{info:?}");
    let (w, h) = (info.width as usize, info.height as usize);
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| {
        let at = (y * w + x) * channels;
        let px = &buf[at..at + channels.min(3)];
        let sum: u32 = px.iter().map(|&v| u32::from(v)).sum();
        (sum / px.len() as u32) as u8
    });
    image
        .detect_grids()
        .into_iter()
        .filter_map(|grid| grid.decode().ok().map(|(_, text)| text))
        .collect()
}

/// A six-digit code the phone shows at none of the steps the gate could accept now.
pub fn wrong_code(phone: &Totp) -> String {
    wrong_code_besides(phone, "")
}

/// The step of a code not used yet: after `last` and no later than the next step (the
/// gate takes one step of drift), waiting for the clock when it must.
pub fn fresh_step(phone: &Totp, last: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let now = step_now(phone);
        let step = (last + 1).max(now);
        if step <= now + 1 {
            return step;
        }
        assert!(Instant::now() < deadline, "the clock did not move");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// A page's answer to a GET or a form POST: the status and the HTML.
pub fn page(method: &str, url: &str, form: Option<&str>) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let mut request = ureq::http::Request::builder().method(method).uri(url);
    let body = form.unwrap_or("").as_bytes().to_vec();
    if form.is_some() {
        request = request.header("Content-Type", "application/x-www-form-urlencoded");
    }
    let mut response = agent.run(request.body(body).unwrap()).unwrap();
    let status = response.status().as_u16();
    let text = response
        .body_mut()
        .with_config()
        .limit(1 << 22)
        .read_to_string()
        .unwrap();
    (status, text)
}

/// A delivery command for `otpgate serve --deliver-command`: a script that writes
/// `OTPGATE_TO` and `OTPGATE_MESSAGE` to `texted.out` in `dir` (mode 0600, for it holds a
/// code; written whole and renamed, so a reader never sees half of it). Returns the
/// script's path and the file's.
pub fn delivery_script(dir: &std::path::Path) -> (String, PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let script = dir.join("deliver.sh");
    let out = dir.join("texted.out");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\numask 077\nprintf '%s\\n%s\\n' \"$OTPGATE_TO\" \"$OTPGATE_MESSAGE\" > '{out}.new' && mv '{out}.new' '{out}'\n",
            out = out.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o700)).unwrap();
    (script.to_str().unwrap().to_owned(), out)
}

/// What the delivery command of [`delivery_script`] was last given: the number, the
/// message and the code it starts with; `None` when nothing was texted.
pub fn texted(out: &std::path::Path) -> Option<(String, String, String)> {
    let text = std::fs::read_to_string(out).ok()?;
    let mut lines = text.lines();
    let to = lines.next().unwrap().to_owned();
    let message = lines.next().unwrap().to_owned();
    let code = message[..6].to_owned();
    assert!(code.bytes().all(|b| b.is_ascii_digit()), "{message}");
    Some((to, message, code))
}

/// A six-digit code that is neither `texted` nor one the phone shows at any step the gate
/// could accept now: a wrong code however it is read.
pub fn wrong_code_besides(phone: &Totp, texted: &str) -> String {
    let now = step_now(phone);
    let near: Vec<String> = (now.saturating_sub(3)..=now + 3)
        .map(|s| code(phone, s))
        .collect();
    (0..10u32)
        .map(|d| format!("{}", d).repeat(6))
        .find(|c| !near.contains(c) && c != texted)
        .unwrap()
}

/// The CSRF token in a page's forms.
pub fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").unwrap() + "name=\"csrf\" value=\"".len();
    html[at..].split('"').next().unwrap().to_owned()
}
