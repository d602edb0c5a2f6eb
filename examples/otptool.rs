//! An `oathtool`-compatible command line tool on otpcore: the same options, output (`-v`
//! included) and exit status for HOTP and TOTP, plus `--uri` and `--watch`. Run `cargo run
//! --example otptool -- --help`.
//!
//! Exit status, as oathtool: 0 on success, 1 on a usage or input error, 2 when an OTP given
//! to validate is not in the window. A superset of oathtool 2.6: 9 and 10 digits, and `-N
//! @SECONDS` up to 2^64 - 1 (oathtool stops at 2^63 - 1). Deliberate differences: keys
//! shorter than 80 bits are refused; base32 keys may contain `-`; `--totp=MODE` other than
//! SHA1, SHA256 or SHA512 is an error (oathtool silently uses SHA1); a negative `--window`
//! is an error (oathtool reads it as a huge window); validating accepts windows up to
//! `otpcore::MAX_WINDOW`; validation windows stop at counter 0 and `u64::MAX` instead of
//! wrapping around; `-d` outside 6 to 10 says so. Dates without a zone are local time, as
//! in oathtool (a wall-clock time that occurs twice takes the earlier offset, where
//! oathtool leaves it to `mktime`). Options that `--uri` or `--watch` would override or not
//! use are errors.
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
  -v, --verbose                 explain what is being done
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
                                  (default now); TIME is 'now', '@SECONDS'
                                  (up to 18446744073709551615) or
                                  'YYYY-MM-DD[ HH:MM[:SS]][ UTC]', local time
                                  unless UTC or Z is given
  -d, --digits=DIGITS           number of digits in one-time password (6-10)
  -w, --window=WIDTH            number of additional OTPs to generate or
                                  validate against
      --uri=URI                 take key, mode, algorithm, digits, period and
                                  counter from an otpauth:// key URI (KEY is then
                                  not given; OTP still may be); -b, --hotp,
                                  --totp, -d and -s are then errors, and so are
                                  -c for a TOTP URI and -S, -N for an HOTP URI
                                  (-c with an HOTP URI is the current counter)
      --watch                   show the current TOTP code with a countdown bar,
                                  a new line for each new code, until interrupted
                                  (with -w, -c, -N, -v, --hotp or an OTP: error)
      --watch-seconds=N         stop watching after N seconds

Exit status: 0 on success, 1 on error, 2 when OTP is not in the window.
";

/// Every long option, whether it takes a value (`Some(true)` required, `Some(false)`
/// optional via `=`, `None` never), and its short form.
const LONG: &[(&str, Option<bool>, Option<char>)] = &[
    ("help", None, Some('h')),
    ("version", None, Some('V')),
    ("verbose", None, Some('v')),
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
    verbose: bool,
    hotp: bool,
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
            "verbose" => self.verbose = true,
            "hotp" => self.hotp = true,
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

/// The proleptic Gregorian date of a day count from 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A time as oathtool's `-v` shows it: `YYYY-MM-DD HH:MM:SS UTC`.
fn utc_text(when: i128) -> String {
    let days = i64::try_from(when.div_euclid(86_400)).unwrap_or(i64::MAX);
    let secs = when.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        secs / 3_600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Seconds since the epoch of a wall-clock time in the system's time zone (`TZ`, else
/// /etc/localtime), as oathtool reads a date without a zone: a time that a change of
/// offset skips does not exist (`None`), one it repeats is the earlier.
fn local_seconds(date: (i64, i64, i64), clock: (i64, i64, i64)) -> Option<i64> {
    let ((y, m, d), (hh, mm, ss)) = (date, clock);
    let civil = jiff::civil::DateTime::new(
        i16::try_from(y).ok()?,
        i8::try_from(m).ok()?,
        i8::try_from(d).ok()?,
        i8::try_from(hh).ok()?,
        i8::try_from(mm).ok()?,
        i8::try_from(ss).ok()?,
        0,
    )
    .ok()?;
    let ambiguous = jiff::tz::TimeZone::system().to_ambiguous_timestamp(civil);
    if matches!(ambiguous.offset(), jiff::tz::AmbiguousOffset::Gap { .. }) {
        return None;
    }
    Some(ambiguous.earlier().ok()?.as_second())
}

/// A time as `--now` and `--start-time` take it: `now`, `@SECONDS` (a fraction is
/// ignored; from -2^63 to 2^64 - 1) or `YYYY-MM-DD[( |T)HH:MM[:SS]][ ](UTC|Z)`, in local
/// time without `UTC` or `Z`.
fn parse_time(text: &str, now: i128) -> Result<i128, Fail> {
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
        return whole
            .parse::<i128>()
            .ok()
            .filter(|s| (i128::from(i64::MIN)..=i128::from(u64::MAX)).contains(s))
            .ok_or_else(bad);
    }
    let lower = t.to_ascii_lowercase();
    let zoned = lower
        .strip_suffix("utc")
        .or_else(|| lower.strip_suffix('z'));
    let body = zoned.unwrap_or(&lower).trim_end();
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
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 59 {
        return Err(bad());
    }
    // The day must exist in its month (no 2023-02-29), as oathtool checks.
    let valid_day = i16::try_from(y)
        .ok()
        .and_then(|y| jiff::civil::Date::new(y, m as i8, d as i8).ok());
    if valid_day.is_none() {
        return Err(bad());
    }
    if zoned.is_some() {
        return Ok(i128::from(
            days_from_civil(y, m, d) * 86_400 + hh * 3_600 + mm * 60 + ss,
        ));
    }
    local_seconds((y, m, d), (hh, mm, ss))
        .map(i128::from)
        .ok_or_else(bad)
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
/// truncation toward zero (exact here, for times past 2^63 too).
fn oath_step_signed(when: i128, t0: i128, period: u64) -> i128 {
    (when - t0) / i128::from(period.max(1))
}

/// The same step as the counter it selects: read as unsigned, as oathtool does.
fn oath_step(when: i128, t0: i128, period: u64) -> u64 {
    oath_step_signed(when, t0, period) as u64
}

/// The TOTP part of a job: the times and step size, read only in TOTP mode (in HOTP mode
/// oathtool does not look at `-N`, `-S` or `-s`).
struct TotpTimes {
    algorithm: Algorithm,
    /// The step size as given (0 included); codes use 30 in its place, as oathtool does.
    step_raw: u64,
    t0: i128,
    when: i128,
}

impl TotpTimes {
    fn period(&self) -> u64 {
        if self.step_raw == 0 {
            30
        } else {
            self.step_raw
        }
    }
}

struct Job {
    secret: Secret,
    digits: u8,
    counter: u64,
    window: u64,
    otp: Option<String>,
}

impl Job {
    /// The first lines of oathtool's `-v` output, printed before any time is read.
    fn verbose_key(&self) -> String {
        let mut base32 = [0u8; otpcore::MAX_SECRET_BASE32_LEN];
        let mut b32 = self
            .secret
            .to_base32(&mut base32)
            .unwrap_or_default()
            .to_string();
        // oathtool writes the padding.
        while !b32.len().is_multiple_of(8) {
            b32.push('=');
        }
        let hex: String = self
            .secret
            .as_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let mut out = format!("Hex secret: {hex}\nBase32 secret: {b32}\n");
        if let Some(otp) = &self.otp {
            out.push_str(&format!("OTP: {otp}\n"));
        }
        out.push_str(&format!(
            "Digits: {}\nWindow size: {}\n",
            self.digits, self.window
        ));
        out
    }

    /// The rest of oathtool's `-v` output, before the codes.
    fn verbose_mode(&self, totp: Option<&TotpTimes>) -> String {
        let mut out = match totp {
            None => format!("Start counter: 0x{:X} ({})\n", self.counter, self.counter),
            Some(t) => {
                let step = oath_step_signed(t.when, t.t0, t.period());
                format!(
                    "TOTP mode: {}\nStep size (seconds): {}\nStart time: {} ({})\n\
                     Current time: {} ({})\nCounter: 0x{:X} ({step})\n",
                    t.algorithm.name(),
                    t.step_raw,
                    utc_text(t.t0),
                    t.t0,
                    utc_text(t.when),
                    t.when,
                    step as u64,
                )
            }
        };
        out.push('\n');
        out
    }
}

/// Refuses an option that `--uri` or `--watch` would not use or would override.
fn refuse(given: bool, message: &str) -> Result<(), Fail> {
    if given { fail(message) } else { Ok(()) }
}

/// The options `--uri` and `--watch` have no use for, refused rather than dropped.
fn check_uri_and_watch(options: &Options, uri: Option<&KeyUri<'_>>) -> Result<(), Fail> {
    refuse(
        options.watch_seconds.is_some() && !options.watch,
        "--watch-seconds needs --watch",
    )?;
    if options.watch {
        let with = |option: &str| format!("{option} cannot be used with --watch");
        refuse(options.window.is_some(), &with("--window"))?;
        refuse(options.counter.is_some(), &with("--counter"))?;
        refuse(options.now.is_some(), &with("--now"))?;
        refuse(options.verbose, &with("--verbose"))?;
        refuse(options.hotp, &with("--hotp"))?;
        refuse(
            options.inputs.len() > usize::from(uri.is_none()),
            &with("an OTP to validate"),
        )?;
    }
    let Some(uri) = uri else {
        return Ok(());
    };
    let with = |option: &str, what: &str| {
        format!("{option} cannot be used with --uri: the key URI sets {what}")
    };
    refuse(options.base32, &with("--base32", "the key"))?;
    refuse(options.hotp, &with("--hotp", "the mode"))?;
    refuse(
        options.totp.is_some(),
        &with("--totp", "the mode and algorithm"),
    )?;
    refuse(options.digits.is_some(), &with("--digits", "the digits"))?;
    refuse(
        options.step.is_some(),
        &with("--time-step-size", "the period"),
    )?;
    match uri.otp_type {
        OtpType::Totp => refuse(
            options.counter.is_some(),
            "--counter only applies to an HOTP key URI",
        ),
        OtpType::Hotp => {
            let totp_only = "only applies to a TOTP key URI";
            refuse(options.now.is_some(), &format!("--now {totp_only}"))?;
            refuse(
                options.start.is_some(),
                &format!("--start-time {totp_only}"),
            )?;
            refuse(options.watch, &format!("--watch {totp_only}"))
        }
    }
}

fn read_key(options: &Options, key: &str) -> Result<Secret, Fail> {
    let key = read_input(key)?;
    if options.base32 {
        Secret::from_base32(&key).map_err(|e| match e {
            otpcore::Error::SecretEmpty | otpcore::Error::SecretTooShort { .. } => {
                Fail(format!("unusable secret key: {e}"), 1)
            }
            _ => Fail(format!("base32 decoding failed: {e}"), 1),
        })
    } else {
        hex_secret(&key)
    }
}

/// Runs otptool, appending what it prints to `out` (also when it then fails, as
/// oathtool's `-v` lines come before its errors). Faults are found in oathtool's order.
fn run(args: &[String], out: &mut String) -> Result<(), Fail> {
    let options = parse_args(args)?;
    if options.help {
        out.push_str(HELP);
        return Ok(());
    }
    if options.version {
        out.push_str(&format!(
            "otptool (otpcore) {}\n",
            env!("CARGO_PKG_VERSION")
        ));
        return Ok(());
    }
    if options.inputs.is_empty() && options.uri.is_none() {
        out.push_str(HELP);
        return Ok(());
    }
    // Numbers are read with the options, before anything else.
    let counter = options.counter.as_deref().map(parse_c_number).transpose()?;
    let window = options.window.as_deref().map(parse_c_signed).transpose()?;
    let digits_given = options.digits.as_deref().map(parse_c_signed).transpose()?;

    let mut inputs = options.inputs.iter();
    let mut uri_fields = Vec::new();
    let (secret, uri) = match &options.uri {
        Some(text) => {
            // The decoded fields are never longer than the URI.
            uri_fields.resize(text.len(), 0);
            let (uri, secret) = KeyUri::parse(text, &mut uri_fields)
                .map_err(|e| Fail(format!("invalid key URI: {e}"), 1))?;
            (secret, Some(uri))
        }
        None => (
            read_key(&options, inputs.next().map_or("", String::as_str))?,
            None,
        ),
    };
    check_uri_and_watch(&options, uri.as_ref())?;
    let algorithm = match (&options.totp, &uri) {
        (Some(mode), _) => Some(
            Algorithm::from_name(mode)
                .map_err(|_| Fail(format!("unknown TOTP mode '{mode}'"), 1))?,
        ),
        (None, Some(u)) if u.otp_type == OtpType::Totp => Some(u.algorithm),
        (None, _) if options.watch => Some(Algorithm::Sha1),
        _ => None,
    };
    let algorithm_hotp = uri.as_ref().map_or(Algorithm::Sha1, |u| u.algorithm);
    let digits_set = match (digits_given, &uri) {
        (Some(d), _) if !(6..=10).contains(&d) => {
            return fail("only digits 6 to 10 are supported");
        }
        (Some(d), _) => Some(d as u8),
        (None, Some(u)) => Some(u.digits.get()),
        (None, None) => None,
    };
    let otp = inputs.next().map(|o| read_input(o)).transpose()?;
    if inputs.next().is_some() {
        return fail("too many parameters");
    }
    let digits = match (&otp, digits_set) {
        (Some(otp), Some(d)) if digits_given.is_some() && usize::from(d) != otp.len() => {
            return fail(format!(
                "given one-time password has bad length {d} != {}",
                otp.len()
            ));
        }
        // As oathtool, the OTP's length sets the digits (checked when validating).
        (Some(otp), _) => u8::try_from(otp.len()).unwrap_or(u8::MAX),
        (None, d) => d.unwrap_or(6),
    };
    let window = match window {
        Some(w) => {
            u64::try_from(w).map_err(|_| Fail("the window must not be negative".into(), 1))?
        }
        None => 0,
    };
    let job = Job {
        secret,
        digits,
        counter: counter.or(uri.as_ref().map(|u| u.counter)).unwrap_or(0),
        window,
        otp,
    };
    if options.verbose {
        out.push_str(&job.verbose_key());
    }
    let totp = match algorithm {
        Some(algorithm) => {
            let now = i128::from(otpcore::unix_time().map_err(|e| Fail(e.to_string(), 1))?);
            let when = parse_time(options.now.as_deref().unwrap_or("now"), now)?;
            let t0 = parse_time(options.start.as_deref().unwrap_or("@0"), now)?;
            let step_raw = match (&options.step, &uri) {
                (Some(s), _) => parse_duration(s)?,
                (None, Some(u)) => u.period,
                (None, None) => 30,
            };
            Some(TotpTimes {
                algorithm,
                step_raw,
                t0,
                when,
            })
        }
        None => None,
    };
    if options.verbose {
        out.push_str(&job.verbose_mode(totp.as_ref()));
    }
    // An OTP whose length is no supported number of digits cannot validate: oathtool's
    // liboath error (-2 is OATH_INVALID_DIGITS).
    let digits = otpcore::Digits::new(job.digits)
        .map_err(|_| Fail("validating one-time password failed (-2)".into(), 1))?;
    match &totp {
        Some(times) if options.watch => {
            let limit = options
                .watch_seconds
                .as_deref()
                .map(parse_c_number)
                .transpose()?;
            watch(&job, times, digits, limit)
        }
        Some(times) => {
            out.push_str(&run_totp(&job, times, digits)?);
            Ok(())
        }
        None => {
            out.push_str(&run_hotp(&job, algorithm_hotp, digits)?);
            Ok(())
        }
    }
}

fn not_found(otp: &str, from: impl std::fmt::Display, to: impl std::fmt::Display) -> Fail {
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

fn run_totp(job: &Job, times: &TotpTimes, digits: otpcore::Digits) -> Result<String, Fail> {
    // Steps are computed here, as oathtool does, and handed to a TOTP of period 1 and T0 0,
    // whose step at "time" s is s.
    let period = times.period();
    let params = |window: u32| TotpParams {
        algorithm: times.algorithm,
        digits,
        period: 1,
        t0: 0,
        look_back: window,
        look_ahead: window,
    };
    let Some(otp) = &job.otp else {
        let totp = Totp::new(&job.secret, params(0)).map_err(|e| Fail(e.to_string(), 1))?;
        let mut out = String::new();
        for iter in 0..=job.window {
            let when = times.when + i128::from(iter) * i128::from(times.step_raw);
            let code = totp.generate_at_step(oath_step(when, times.t0, period));
            out.push_str(&format!("{code}\n"));
        }
        return Ok(out);
    };
    let window = window_u32(job.window)?;
    let totp = Totp::new(&job.secret, params(window)).map_err(|e| Fail(e.to_string(), 1))?;
    let half = i128::from(job.window / 2);
    let step = oath_step_signed(times.when, times.t0, period);
    match totp.verify(otp, step as u64, None) {
        Ok(otpcore::Verification::Valid(m)) => Ok(format!("{}\n", m.drift.unsigned_abs())),
        _ => Err(not_found(otp, step - half, step + half)),
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
    times: &TotpTimes,
    digits: otpcore::Digits,
    limit: Option<u64>,
) -> Result<(), Fail> {
    const WIDTH: u64 = 30;
    let params = TotpParams {
        algorithm: times.algorithm,
        digits,
        period: 1,
        t0: 0,
        ..TotpParams::default()
    };
    let totp = Totp::new(&job.secret, params).map_err(|e| Fail(e.to_string(), 1))?;
    let period = times.period();
    let start = otpcore::unix_time().map_err(|e| Fail(e.to_string(), 1))?;
    let mut shown_step = None;
    let mut out = std::io::stdout().lock();
    loop {
        let now = otpcore::unix_time().map_err(|e| Fail(e.to_string(), 1))?;
        let when = i128::from(now);
        let step = oath_step(when, times.t0, period);
        if shown_step.is_some_and(|s| s != step) {
            let _ = writeln!(out);
        }
        shown_step = Some(step);
        let into = (when - times.t0).rem_euclid(i128::from(period)) as u64;
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
            return Ok(());
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
    let mut out = String::new();
    let result = run(&args, &mut out);
    // What was printed before a failure (the `-v` header) is shown, as oathtool shows it.
    print!("{out}");
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Fail(message, status)) => {
            eprintln!("otptool: {message}");
            ExitCode::from(status)
        }
    }
}
