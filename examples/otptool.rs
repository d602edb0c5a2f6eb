//! An `oathtool`-compatible command line tool on otpcore: the same options, output and exit
//! status for HOTP and TOTP, plus `--uri` and `--watch`. Run `cargo run --example otptool --
//! --help`.
//!
//! Exit status, as oathtool: 0 on success, 1 on a usage or input error, 2 when an OTP given
//! to validate is not in the window. Deliberate differences from oathtool 2.6: keys shorter
//! than 80 bits are refused; base32 keys may contain `-`; `--totp=MODE` other than SHA1,
//! SHA256 or SHA512 is an error (oathtool silently uses SHA1); a negative `--window` is an
//! error (oathtool reads it as a huge window); validating accepts windows up to
//! `otpcore::MAX_WINDOW`; validation windows stop at counter 0 and `u64::MAX` instead of
//! wrapping around; dates without a zone are read as UTC (oathtool: local time); `-v` is
//! not supported.
#![allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::time::Duration;

use otpcore::{Algorithm, Hotp, HotpParams, KeyUri, OtpType, Secret, Totp, TotpParams};

const HELP: &str = "\
Usage: otptool [OPTION]... [KEY [OTP]]
Generate and validate OATH one-time passwords, compatible with oathtool.
KEY and OTP may be '-' to read from standard input or '@FILE' to read a file;
KEY is hex unless --base32 is given.

  -h, --help                    Print help and exit
  -V, --version                 Print version and exit
      --hotp                    use event-based HOTP mode (the default)
      --totp[=MODE]             use time-variant TOTP mode (MODE is SHA1, SHA256
                                  or SHA512; default SHA1)
  -b, --base32                  use base32 encoding of KEY instead of hex
  -c, --counter=COUNTER         HOTP counter value
  -s, --time-step-size=DURATION TOTP time-step duration, such as 30, 30s, 1m
                                  or 1m30s (default 30s)
  -S, --start-time=TIME         when to start counting time steps for TOTP
                                  (default 1970-01-01 00:00:00 UTC)
  -N, --now=TIME                use this time as current time for TOTP
                                  (default now); TIME is 'now', '@SECONDS' or
                                  'YYYY-MM-DD[ HH:MM[:SS]][ UTC]'
  -d, --digits=DIGITS           number of digits in one-time password (6-8)
  -w, --window=WIDTH            number of additional OTPs to generate or
                                  validate against
      --uri=URI                 take key, mode, algorithm, digits, period and
                                  counter from an otpauth:// key URI (KEY is then
                                  not given; OTP still may be)
      --watch                   show the current TOTP code with a countdown bar,
                                  a new line for each new code, until interrupted
      --watch-seconds=N         stop watching after N seconds

Exit status: 0 on success, 1 on error, 2 when OTP is not in the window.
";

/// Every long option, whether it takes a value (`Some(true)` required, `Some(false)`
/// optional via `=`, `None` never), and its short form.
const LONG: &[(&str, Option<bool>, Option<char>)] = &[
    ("help", None, Some('h')),
    ("version", None, Some('V')),
    ("hotp", None, None),
    ("totp", Some(false), None),
    ("base32", None, Some('b')),
    ("counter", Some(true), Some('c')),
    ("time-step-size", Some(true), Some('s')),
    ("start-time", Some(true), Some('S')),
    ("now", Some(true), Some('N')),
    ("digits", Some(true), Some('d')),
    ("window", Some(true), Some('w')),
    ("uri", Some(true), None),
    ("watch", None, None),
    ("watch-seconds", Some(true), None),
];

/// A failure: the message for stderr and the exit status.
struct Fail(String, u8);

fn fail<T>(message: impl Into<String>) -> Result<T, Fail> {
    Err(Fail(message.into(), 1))
}

#[derive(Default)]
struct Options {
    help: bool,
    version: bool,
    totp: Option<String>,
    base32: bool,
    counter: Option<String>,
    step: Option<String>,
    start: Option<String>,
    now: Option<String>,
    digits: Option<String>,
    window: Option<String>,
    uri: Option<String>,
    watch: bool,
    watch_seconds: Option<String>,
    inputs: Vec<String>,
}

impl Options {
    fn set(&mut self, name: &str, value: Option<String>) {
        let value_or_empty = || value.clone().unwrap_or_default();
        match name {
            "help" => self.help = true,
            "version" => self.version = true,
            "hotp" => {}
            "totp" => self.totp = Some(value.clone().unwrap_or_else(|| "SHA1".into())),
            "base32" => self.base32 = true,
            "counter" => self.counter = Some(value_or_empty()),
            "time-step-size" => self.step = Some(value_or_empty()),
            "start-time" => self.start = Some(value_or_empty()),
            "now" => self.now = Some(value_or_empty()),
            "digits" => self.digits = Some(value_or_empty()),
            "window" => self.window = Some(value_or_empty()),
            "uri" => self.uri = Some(value_or_empty()),
            "watch" => self.watch = true,
            _ => self.watch_seconds = Some(value_or_empty()),
        }
    }
}

/// Reads the command line as GNU getopt_long does: options and operands in any order,
/// `--` ends the options, long options may be abbreviated, `--name=value` or
/// `--name value`, short options may be bundled (`-bc5`).
fn parse_args(args: &[String]) -> Result<Options, Fail> {
    let mut options = Options::default();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        if arg == "--" {
            options.inputs.extend(rest.by_ref().cloned());
        } else if let Some(long) = arg.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let exact = LONG.iter().find(|(n, _, _)| *n == name);
            let candidates: Vec<_> = LONG
                .iter()
                .filter(|(n, _, _)| n.starts_with(name))
                .collect();
            let &(full, takes, _) = match (exact, candidates.as_slice()) {
                (Some(option), _) => option,
                (None, [only]) => *only,
                (None, []) => return fail(format!("unrecognized option '--{name}'")),
                (None, _) => return fail(format!("option '--{name}' is ambiguous")),
            };
            let value = match (takes, inline) {
                (None, Some(_)) => {
                    return fail(format!("option '--{full}' doesn't allow an argument"));
                }
                (Some(true), None) => match rest.next() {
                    Some(v) => Some(v.clone()),
                    None => return fail(format!("option '--{full}' requires an argument")),
                },
                (_, inline) => inline,
            };
            options.set(full, value);
        } else if arg.len() > 1 && arg.starts_with('-') {
            for (at, c) in arg.char_indices().skip(1) {
                let Some(&(full, takes, _)) = LONG.iter().find(|(_, _, s)| *s == Some(c)) else {
                    return fail(format!("invalid option -- '{c}'"));
                };
                if takes == Some(true) {
                    let attached = &arg[at + c.len_utf8()..];
                    let value = if attached.is_empty() {
                        match rest.next() {
                            Some(v) => v.clone(),
                            None => return fail(format!("option requires an argument -- '{c}'")),
                        }
                    } else {
                        attached.to_string()
                    };
                    options.set(full, Some(value));
                    break;
                }
                options.set(full, None);
            }
        } else {
            options.inputs.push(arg.clone());
        }
    }
    Ok(options)
}

/// `strtoull(text, _, 0)` as gengetopt uses it: decimal, `0x` hex or `0` octal, an optional
/// sign (a negative value wraps), overflow saturating; anything left over is an error.
fn parse_c_number(text: &str) -> Result<u64, Fail> {
    let invalid = || Fail(format!("invalid numeric value: {text}"), 1);
    let trimmed = text.trim_start();
    let (negative, unsigned) = match trimmed.as_bytes().first() {
        Some(b'-') => (true, &trimmed[1..]),
        Some(b'+') => (false, &trimmed[1..]),
        _ => (false, trimmed),
    };
    let (radix, digits) = if let Some(hex) = unsigned
        .strip_prefix("0x")
        .or_else(|| unsigned.strip_prefix("0X"))
    {
        (16, hex)
    } else if unsigned.len() > 1 && unsigned.starts_with('0') {
        (8, &unsigned[1..])
    } else {
        (10, unsigned)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(invalid());
    }
    let value = u64::from_str_radix(digits, radix).unwrap_or(u64::MAX);
    Ok(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

/// A signed number of the same form, for the digits and the window.
fn parse_c_signed(text: &str) -> Result<i64, Fail> {
    let negative = text.trim_start().starts_with('-');
    let magnitude = parse_c_number(text.trim_start().trim_start_matches(['-', '+']))?;
    let value = i64::try_from(magnitude).unwrap_or(i64::MAX);
    Ok(if negative { -value } else { value })
}

/// A duration as oathtool reads `--time-step-size`: seconds, or numbers with the units
/// `d`, `h`, `m` and `s` in that order (`1m30s`).
fn parse_duration(text: &str) -> Result<u64, Fail> {
    let bad = || Fail(format!("cannot parse time `{text}'"), 1);
    let body = text.trim_start();
    if !body.is_empty() && body.chars().all(|c| c.is_ascii_digit()) {
        return body.parse().map_err(|_| bad());
    }
    let mut total: u64 = 0;
    let mut number = String::new();
    let mut last_unit = usize::MAX;
    for c in body.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = ['d', 'h', 'm', 's']
            .iter()
            .position(|&u| u == c)
            .ok_or_else(bad)?;
        if number.is_empty() || (last_unit != usize::MAX && unit <= last_unit) {
            return Err(bad());
        }
        let scale = [86_400, 3_600, 60, 1][unit];
        let n: u64 = number.parse().map_err(|_| bad())?;
        total = n
            .checked_mul(scale)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
        number.clear();
        last_unit = unit;
    }
    if !number.is_empty() || last_unit == usize::MAX {
        return Err(bad());
    }
    Ok(total)
}

/// Days from 1970-01-01 to a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A time as `--now` and `--start-time` take it: `now`, `@SECONDS` (fraction ignored) or
/// `YYYY-MM-DD[( |T)HH:MM[:SS]][ ](UTC|Z)`.
fn parse_time(text: &str, now: i64) -> Result<i64, Fail> {
    let bad = || Fail(format!("cannot parse time `{text}'"), 1);
    let t = text.trim();
    if t.eq_ignore_ascii_case("now") {
        return Ok(now);
    }
    if let Some(seconds) = t.strip_prefix('@') {
        let whole = seconds.split_once('.').map_or(seconds, |(w, f)| {
            if f.chars().all(|c| c.is_ascii_digit()) {
                w
            } else {
                "x"
            }
        });
        return whole.parse().map_err(|_| bad());
    }
    let lower = t.to_ascii_lowercase();
    let body = lower
        .strip_suffix("utc")
        .or_else(|| lower.strip_suffix('z'))
        .unwrap_or(&lower)
        .trim_end();
    let (date, clock) = match body.split_once([' ', 't']) {
        Some((d, c)) => (d, Some(c.trim())),
        None => (body, None),
    };
    let number = |s: &str, len: usize| -> Result<i64, Fail> {
        if s.len() == len && s.chars().all(|c| c.is_ascii_digit()) {
            s.parse().map_err(|_| bad())
        } else {
            Err(bad())
        }
    };
    let [y, m, d] = match date.split('-').collect::<Vec<_>>()[..] {
        [y, m, d] => [number(y, 4)?, number(m, 2)?, number(d, 2)?],
        _ => return Err(bad()),
    };
    let (hh, mm, ss) = match clock.map(|c| c.split(':').collect::<Vec<_>>()) {
        None => (0, 0, 0),
        Some(parts) => match parts[..] {
            [h, m] => (number(h, 2)?, number(m, 2)?, 0),
            [h, m, s] => (number(h, 2)?, number(m, 2)?, number(s, 2)?),
            _ => return Err(bad()),
        },
    };
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return Err(bad());
    }
    Ok(days_from_civil(y, m, d) * 86_400 + hh * 3_600 + mm * 60 + ss)
}

/// KEY or OTP as given: `-` reads a line from standard input, `@FILE` reads a file;
/// surrounding whitespace is dropped from what is read.
fn read_input(arg: &str) -> Result<String, Fail> {
    let read = if arg == "-" {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map(|_| line)
    } else if let Some(path) = arg.strip_prefix('@') {
        std::fs::read_to_string(path)
    } else {
        return Ok(arg.to_string());
    };
    read.map(|s| s.trim().to_string())
        .map_err(|e| Fail(format!("open file for KEY/OTP: {e}"), 1))
}

fn hex_secret(text: &str) -> Result<Secret, Fail> {
    let bad = || Fail("hex decoding of secret key failed".into(), 1);
    if !text.len().is_multiple_of(2) {
        return Err(bad());
    }
    let bytes = (0..text.len())
        .step_by(2)
        .map(|i| {
            text.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(bad)?;
    Secret::from_bytes(&bytes).map_err(|e| Fail(format!("unusable secret key: {e}"), 1))
}

/// The TOTP step of `when` as oathtool computes it: signed seconds since T0 divided with
/// truncation toward zero, then read as unsigned.
fn oath_step(when: i64, t0: i64, period: u64) -> u64 {
    let period = i64::try_from(period).unwrap_or(i64::MAX);
    (when.wrapping_sub(t0) / period) as u64
}

struct Job {
    secret: Secret,
    totp: Option<Algorithm>,
    digits: Option<u8>,
    counter: u64,
    /// The step size as given (0 included); codes use 30 in its place, as oathtool does.
    step_raw: u64,
    t0: i64,
    when: i64,
    window: u64,
    otp: Option<String>,
}

impl Job {
    fn period(&self) -> u64 {
        if self.step_raw == 0 {
            30
        } else {
            self.step_raw
        }
    }
}

fn run(args: &[String]) -> Result<String, Fail> {
    let options = parse_args(args)?;
    if options.help {
        return Ok(HELP.to_string());
    }
    if options.version {
        return Ok(format!("otptool (otpcore) {}\n", env!("CARGO_PKG_VERSION")));
    }
    if options.inputs.is_empty() && options.uri.is_none() {
        return Ok(HELP.to_string());
    }
    let mut inputs = options.inputs.iter();
    let mut uri_fields = [0u8; 512];
    let (secret, uri) = match &options.uri {
        Some(text) => {
            let (uri, secret) = KeyUri::parse(text, &mut uri_fields)
                .map_err(|e| Fail(format!("invalid key URI: {e}"), 1))?;
            (secret, Some(uri))
        }
        None => {
            let key = read_input(inputs.next().map_or("", String::as_str))?;
            let secret = if options.base32 {
                Secret::from_base32(&key).map_err(|e| match e {
                    otpcore::Error::SecretEmpty | otpcore::Error::SecretTooShort { .. } => {
                        Fail(format!("unusable secret key: {e}"), 1)
                    }
                    _ => Fail(format!("base32 decoding failed: {e}"), 1),
                })?
            } else {
                hex_secret(&key)?
            };
            (secret, None)
        }
    };
    let otp = inputs.next().map(|o| read_input(o)).transpose()?;
    if inputs.next().is_some() {
        return fail("too many parameters");
    }

    let totp = match (&options.totp, &uri) {
        (Some(mode), _) => Some(
            Algorithm::from_name(mode)
                .map_err(|_| Fail(format!("unknown TOTP mode '{mode}'"), 1))?,
        ),
        (None, Some(u)) if u.otp_type == OtpType::Totp => Some(u.algorithm),
        _ => None,
    };
    let algorithm_hotp = uri.as_ref().map_or(Algorithm::Sha1, |u| u.algorithm);
    let mut digits = match (&options.digits, &uri) {
        (Some(d), _) => Some(u8::try_from(parse_c_signed(d)?).unwrap_or(0)),
        (None, Some(u)) => Some(u.digits.get()),
        (None, None) => None,
    };
    if let Some(otp) = &otp {
        match digits {
            Some(d) if options.digits.is_some() && usize::from(d) != otp.len() => {
                return fail(format!(
                    "given one-time password has bad length {d} != {}",
                    otp.len()
                ));
            }
            _ => digits = Some(u8::try_from(otp.len()).unwrap_or(0)),
        }
    }
    let counter = match (&options.counter, &uri) {
        (Some(c), _) => parse_c_number(c)?,
        (None, Some(u)) => u.counter,
        (None, None) => 0,
    };
    let window = match &options.window {
        Some(w) => u64::try_from(parse_c_signed(w)?)
            .map_err(|_| Fail("the window must not be negative".into(), 1))?,
        None => 0,
    };
    let now = otpcore::unix_time().map_err(|e| Fail(e.to_string(), 1))?;
    let now = i64::try_from(now).unwrap_or(i64::MAX);
    let step_raw = match (&options.step, &uri) {
        (Some(s), _) => parse_duration(s)?,
        (None, Some(u)) => u.period,
        (None, None) => 30,
    };
    let job = Job {
        secret,
        totp,
        digits,
        counter,
        step_raw,
        t0: parse_time(options.start.as_deref().unwrap_or("@0"), now)?,
        when: parse_time(options.now.as_deref().unwrap_or("now"), now)?,
        window,
        otp,
    };
    let digits = match job.digits.unwrap_or(6) {
        d @ 6..=8 => otpcore::Digits::new(d).map_err(|e| Fail(e.to_string(), 1))?,
        _ => return fail("only digits 6, 7 and 8 are supported"),
    };
    if options.watch {
        let limit = options
            .watch_seconds
            .as_deref()
            .map(parse_c_number)
            .transpose()?;
        return watch(&job, job.totp.unwrap_or(algorithm_hotp), digits, limit);
    }
    match job.totp {
        Some(algorithm) => run_totp(&job, algorithm, digits),
        None => run_hotp(&job, algorithm_hotp, digits),
    }
}

fn not_found(otp: &str, from: i64, to: i64) -> Fail {
    Fail(
        format!("password \"{otp}\" not found in range {from} .. {to}"),
        2,
    )
}

fn window_u32(window: u64) -> Result<u32, Fail> {
    u32::try_from(window)
        .ok()
        .filter(|&w| w <= otpcore::MAX_WINDOW)
        .ok_or_else(|| {
            Fail(
                format!("a validation window may be at most {}", otpcore::MAX_WINDOW),
                1,
            )
        })
}

fn run_totp(job: &Job, algorithm: Algorithm, digits: otpcore::Digits) -> Result<String, Fail> {
    // Steps are computed here, as oathtool does, and handed to a TOTP of period 1 and T0 0,
    // whose step at "time" s is s.
    let period = job.period();
    let params = |window: u32| TotpParams {
        algorithm,
        digits,
        period: 1,
        t0: 0,
        look_back: window,
        look_ahead: window,
    };
    let step = oath_step(job.when, job.t0, period);
    let Some(otp) = &job.otp else {
        let totp = Totp::new(&job.secret, params(0)).map_err(|e| Fail(e.to_string(), 1))?;
        let mut out = String::new();
        for iter in 0..=job.window {
            let when = job
                .when
                .wrapping_add((iter as i64).wrapping_mul(job.step_raw as i64));
            let code = totp.generate_at_step(oath_step(when, job.t0, period));
            out.push_str(&format!("{code}\n"));
        }
        return Ok(out);
    };
    let window = window_u32(job.window)?;
    let totp = Totp::new(&job.secret, params(window)).map_err(|e| Fail(e.to_string(), 1))?;
    let half = i64::try_from(job.window / 2).unwrap_or(i64::MAX);
    let signed = step as i64;
    match totp.verify(otp, step, None) {
        Ok(otpcore::Verification::Valid(m)) => Ok(format!("{}\n", m.drift.unsigned_abs())),
        _ => Err(not_found(
            otp,
            signed.wrapping_sub(half),
            signed.wrapping_add(half),
        )),
    }
}

fn run_hotp(job: &Job, algorithm: Algorithm, digits: otpcore::Digits) -> Result<String, Fail> {
    let Some(otp) = &job.otp else {
        let params = HotpParams {
            algorithm,
            digits,
            look_ahead: 0,
        };
        let hotp = Hotp::new(&job.secret, params).map_err(|e| Fail(e.to_string(), 1))?;
        let mut out = String::new();
        for iter in 0..=job.window {
            let code = hotp.generate(job.counter.wrapping_add(iter));
            out.push_str(&format!("{code}\n"));
        }
        return Ok(out);
    };
    let params = HotpParams {
        algorithm,
        digits,
        look_ahead: window_u32(job.window)?,
    };
    let hotp = Hotp::new(&job.secret, params).map_err(|e| Fail(e.to_string(), 1))?;
    let from = job.counter as i64;
    match hotp.verify(otp, job.counter) {
        Ok(otpcore::Verification::Valid(m)) => Ok(format!("{}\n", m.drift)),
        _ => Err(not_found(otp, from, from.wrapping_add(job.window as i64))),
    }
}

/// Shows the current code and a bar of the seconds left, redrawn every second; each new
/// code starts a new line.
fn watch(
    job: &Job,
    algorithm: Algorithm,
    digits: otpcore::Digits,
    limit: Option<u64>,
) -> Result<String, Fail> {
    const WIDTH: u64 = 30;
    let params = TotpParams {
        algorithm,
        digits,
        period: 1,
        t0: 0,
        ..TotpParams::default()
    };
    let totp = Totp::new(&job.secret, params).map_err(|e| Fail(e.to_string(), 1))?;
    let period = job.period();
    let start = otpcore::unix_time().map_err(|e| Fail(e.to_string(), 1))?;
    let mut shown_step = None;
    let mut out = std::io::stdout().lock();
    loop {
        let now = otpcore::unix_time().map_err(|e| Fail(e.to_string(), 1))?;
        let when = i64::try_from(now).unwrap_or(i64::MAX);
        let step = oath_step(when, job.t0, period);
        if shown_step.is_some_and(|s| s != step) {
            let _ = writeln!(out);
        }
        shown_step = Some(step);
        let into = (when.wrapping_sub(job.t0)).rem_euclid(period as i64) as u64;
        let left = period - into;
        let filled = (left * WIDTH).div_ceil(period) as usize;
        let bar = format!(
            "{}{}",
            "█".repeat(filled),
            "·".repeat(WIDTH as usize - filled)
        );
        let _ = write!(out, "\r{}  {bar} {left:>3}s ", totp.generate_at_step(step));
        let _ = out.flush();
        if limit.is_some_and(|l| now.saturating_sub(start) >= l) {
            let _ = writeln!(out);
            return Ok(String::new());
        }
        std::thread::sleep(Duration::from_millis(
            1000 - u64::from(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.subsec_millis()),
            ),
        ));
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(Fail(message, status)) => {
            eprintln!("otptool: {message}");
            ExitCode::from(status)
        }
    }
}
