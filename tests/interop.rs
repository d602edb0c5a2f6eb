//! Interop: otpcore's codes and key URIs against two independent implementations, oathtool
//! (OATH Toolkit, C) and pyotp (Python), on thousands of cases from a fixed seed.
//!
//! A missing tool skips its tests with a message locally and fails them when `CI` is set.
//! Each tool is started few times: pyotp answers whole batches (tests/interop/pyotp_batch.py)
//! and oathtool prints a window of codes per run.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::arithmetic_side_effects
)]

use std::io::Write;
use std::process::{Command, Stdio};

mod support;

use otpcore::{
    Algorithm, Digits, Error, Hotp, HotpParams, KeyUri, MAX_SECRET_BASE32_LEN, OtpType, Secret,
    Totp, TotpParams, Verification,
};

/// SplitMix64: a fixed seed gives the same cases on every run, without a dependency.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi` (the modulo bias is irrelevant for test cases).
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        match (hi - lo).checked_add(1) {
            Some(n) => lo + self.next() % n,
            None => self.next(),
        }
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.range(0, items.len() as u64 - 1) as usize]
    }

    fn chance(&mut self, one_in: u64) -> bool {
        self.range(1, one_in) == 1
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }

    /// 10 to 128 bytes, often right at the hash block sizes (64 for SHA-1/256, 128 for
    /// SHA-512) where keys switch to being hashed first.
    fn secret(&mut self) -> Vec<u8> {
        let len = if self.chance(3) {
            self.pick(&[10, 16, 20, 32, 63, 64, 65, 127, 128])
        } else {
            self.range(10, 128) as usize
        };
        self.bytes(len)
    }

    fn algorithm(&mut self) -> Algorithm {
        self.pick(&[Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512])
    }

    fn digits(&mut self, max: u8) -> Digits {
        Digits::new(self.range(6, u64::from(max)) as u8).unwrap()
    }

    /// Anywhere in the 64-bit range, with extra weight at both ends and around 2^63.
    fn counter(&mut self) -> u64 {
        match self.range(0, 5) {
            0 => self.range(0, 1000),
            1 => u64::MAX - self.range(0, 1000),
            2 => (1 << 63) - 500 + self.range(0, 1000),
            3 => self.pick(&[0, 1, u64::from(u32::MAX), (1 << 63) - 1, 1 << 63, u64::MAX]),
            _ => self.next(),
        }
    }

    /// A Unix time up to 2^63 - 1 (the largest time oathtool reads).
    fn time(&mut self, max: u64) -> u64 {
        match self.range(0, 3) {
            0 => self.range(1_600_000_000, 1_900_000_000).min(max),
            1 => self.pick(&[0, 59, 1_111_111_109, 2_000_000_000, 20_000_000_000, max]),
            _ => self.range(0, max),
        }
    }

    fn period(&mut self, max: u64) -> u64 {
        match self.range(0, 2) {
            0 => self.pick(&[30, 60, 1, 15, 120]).min(max),
            1 => self.range(1, 120.min(max)),
            _ => self.range(1, max),
        }
    }

    /// Account or issuer text with the characters key URIs must escape, and non-ASCII.
    /// Never a `:` (otpcore refuses it in names) nor a leading space (see INTEROP notes).
    fn name(&mut self) -> String {
        const POOL: &[&str] = &[
            "a", "b", "Z", "q", "0", "7", " ", "&", "#", "?", "+", "%", "/", "=", "@", ".", "_",
            "~", "-", "'", "\"", ",", ";", "!", "$", "*", "(", ")", "é", "✓", "日本", "%3A", "%20",
        ];
        let len = self.range(1, 12);
        let mut name = String::from(self.pick(&["alice", "Bob", "x", "7", "ACME", "é"]));
        for _ in 1..len {
            name.push_str(self.pick(POOL));
        }
        name
    }
}

fn secret(bytes: &[u8]) -> Secret {
    Secret::from_bytes(bytes).unwrap()
}

fn base32(secret: &Secret) -> String {
    let mut buf = [0u8; MAX_SECRET_BASE32_LEN];
    secret.to_base32(&mut buf).unwrap().to_owned()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn unhex_text(text: &str) -> Option<String> {
    (text != "-").then(|| String::from_utf8(unhex(text)).unwrap())
}

fn oathtool_available() -> bool {
    support::tool_available(
        "oathtool",
        Command::new("oathtool").arg("--version"),
        "apt-get install oathtool",
    )
}

fn pyotp_available() -> bool {
    support::tool_available(
        "pyotp",
        Command::new("python3").args(["-c", "import pyotp"]),
        "python3 -m pip install pyotp",
    )
}

/// Runs oathtool and returns the codes it prints, one per line.
fn oathtool(args: &[String]) -> Vec<String> {
    let out = Command::new("oathtool").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "oathtool {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Sends one batch of requests to pyotp and returns its answers, one field list per line.
fn pyotp(requests: &[String]) -> Vec<Result<Vec<String>, String>> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/pyotp_batch.py");
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = requests.join("\n");
    input.push('\n');
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "the pyotp batch script failed");
    let answers: Vec<_> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let mut fields = line.split('\t').map(str::to_owned);
            match fields.next().as_deref() {
                Some("ok") => Ok(fields.collect()),
                _ => Err(fields.collect::<Vec<_>>().join(" ")),
            }
        })
        .collect();
    assert_eq!(answers.len(), requests.len());
    answers
}

fn oathtool_totp_mode(algorithm: Algorithm) -> String {
    format!("--totp={}", algorithm.name())
}

#[test]
fn hotp_sha1_codes_match_oathtool() {
    if !oathtool_available() {
        return;
    }
    let mut rng = Rng::new(0x0a7_4001);
    let mut compared = 0;
    for _ in 0..150 {
        let key = rng.secret();
        let digits = rng.digits(8);
        let counter = rng.counter();
        // oathtool's window wraps past u64::MAX (see the test below), so stop at the end.
        let window = 19.min(u64::MAX - counter);
        let codes = oathtool(&[
            format!("--digits={digits}"),
            format!("--counter={counter}"),
            format!("--window={window}"),
            hex(&key),
        ]);
        assert_eq!(codes.len() as u64, window + 1);
        let hotp = Hotp::new(
            &secret(&key),
            HotpParams {
                digits,
                ..HotpParams::default()
            },
        )
        .unwrap();
        for (i, code) in (0..).zip(&codes) {
            let c = counter + i;
            assert_eq!(
                &hotp.generate(c).to_string(),
                code,
                "key {} counter {c} digits {digits}",
                hex(&key)
            );
            compared += 1;
        }
    }
    assert!(compared > 2000, "only {compared} codes compared");
}

/// oathtool has HOTP with SHA-1 only; its TOTP with 1-second steps from T0 = 0 is HOTP
/// with the time as counter, which reaches the SHA-256 and SHA-512 paths up to 2^63 - 1.
#[test]
fn hotp_sha256_sha512_codes_match_oathtool_one_second_steps() {
    if !oathtool_available() {
        return;
    }
    let mut rng = Rng::new(0x0a7_4002);
    for _ in 0..100 {
        let key = rng.secret();
        let algorithm = rng.pick(&[Algorithm::Sha256, Algorithm::Sha512]);
        let digits = rng.digits(8);
        let counter = rng.counter() & ((1 << 63) - 1);
        let window = 9.min((1 << 63) - 1 - counter);
        let codes = oathtool(&[
            oathtool_totp_mode(algorithm),
            format!("--digits={digits}"),
            "--time-step-size=1".to_owned(),
            "--start-time=@0".to_owned(),
            format!("--now=@{counter}"),
            format!("--window={window}"),
            hex(&key),
        ]);
        assert_eq!(codes.len() as u64, window + 1);
        let hotp = Hotp::new(
            &secret(&key),
            HotpParams {
                algorithm,
                digits,
                ..HotpParams::default()
            },
        )
        .unwrap();
        for (i, code) in (0..).zip(&codes) {
            assert_eq!(
                &hotp.generate(counter + i).to_string(),
                code,
                "{algorithm} key {} counter {}",
                hex(&key),
                counter + i
            );
        }
    }
}

#[test]
fn totp_codes_match_oathtool_with_periods_start_times_and_times_to_2_pow_63() {
    if !oathtool_available() {
        return;
    }
    let mut rng = Rng::new(0x0a7_4003);
    let max_time = (1 << 63) - 1;
    let mut compared = 0;
    for _ in 0..200 {
        let key = rng.secret();
        let algorithm = rng.algorithm();
        let digits = rng.digits(8);
        // oathtool keeps the step size in 32 bits (2^32 turns into its 30 s default).
        let period = rng.period(u64::from(u32::MAX));
        let time = rng.time(max_time);
        let t0 = if rng.chance(2) { 0 } else { rng.range(0, time) };
        // oathtool steps its window through signed times, which overflow past 2^63 - 1.
        let window = if time.checked_add(9 * period).is_some_and(|t| t <= max_time) {
            9
        } else {
            0
        };
        let codes = oathtool(&[
            oathtool_totp_mode(algorithm),
            format!("--digits={digits}"),
            format!("--time-step-size={period}"),
            format!("--start-time=@{t0}"),
            format!("--now=@{time}"),
            format!("--window={window}"),
            hex(&key),
        ]);
        assert_eq!(codes.len(), window + 1);
        let params = TotpParams {
            algorithm,
            digits,
            period,
            t0,
            ..TotpParams::default()
        };
        let totp = Totp::new(&secret(&key), params).unwrap();
        let case = format!("{params:?} time {time} key {}", hex(&key));
        assert_eq!(totp.generate(time).unwrap().to_string(), codes[0], "{case}");
        let step = totp.step_at(time).unwrap();
        for (i, code) in (0..).zip(&codes) {
            assert_eq!(
                &totp.generate_at_step(step + i).to_string(),
                code,
                "{case} step +{i}"
            );
            compared += 1;
        }
    }
    assert!(compared > 1500, "only {compared} codes compared");
}

/// oathtool's window at counter 2^64 - 2 lists the codes of 2^64 - 2, 2^64 - 1 and then 0;
/// otpcore's look-ahead stops at u64::MAX - 1, so the code for counter 0 is refused there,
/// and so is the code of u64::MAX, which no later counter could keep from being replayed.
#[test]
fn hotp_window_stops_at_u64_max_where_oathtool_wraps_to_zero() {
    if !oathtool_available() {
        return;
    }
    let key = b"12345678901234567890";
    let codes = oathtool(&[
        format!("--counter={}", u64::MAX - 1),
        "--window=2".to_owned(),
        hex(key),
    ]);
    let hotp = Hotp::new(
        &secret(key),
        HotpParams {
            look_ahead: 2,
            ..HotpParams::default()
        },
    )
    .unwrap();
    assert_eq!(codes.len(), 3);
    assert_eq!(
        codes[2],
        hotp.generate(0).to_string(),
        "oathtool wraps to 0"
    );
    let first = hotp.verify(&codes[0], u64::MAX - 1).unwrap();
    assert_eq!(first.valid_match().unwrap().step, u64::MAX - 1);
    for code in &codes[1..] {
        assert_eq!(
            hotp.verify(code, u64::MAX - 1).unwrap(),
            Verification::Invalid
        );
    }
}

/// oathtool reads a time before T0 as a negative step and wraps it; otpcore refuses it.
#[test]
fn time_before_t0_is_an_error_where_oathtool_wraps_the_step() {
    if !oathtool_available() {
        return;
    }
    let key = b"12345678901234567890";
    let codes = oathtool(&[
        "--totp".to_owned(),
        "--start-time=@100".to_owned(),
        "--now=@40".to_owned(),
        hex(key),
    ]);
    let totp = Totp::new(
        &secret(key),
        TotpParams {
            t0: 100,
            ..TotpParams::default()
        },
    )
    .unwrap();
    // (40 - 100) / 30 = -2, read as the unsigned step 2^64 - 2.
    assert_eq!(codes, [totp.generate_at_step(u64::MAX - 1).to_string()]);
    assert_eq!(totp.generate(40).map(drop), Err(Error::TimeBeforeT0));
}

#[test]
fn hotp_and_totp_codes_match_pyotp_with_6_to_10_digits() {
    if !pyotp_available() {
        return;
    }
    let mut rng = Rng::new(0x0a7_4004);
    // pyotp reads times from the epoch to the end of year 9999, periods up to 120 s, and
    // has no T0; oathtool covers the rest of the time range.
    let max_time = 253_402_300_799;
    let mut requests = Vec::new();
    let mut expected = Vec::new();
    for i in 0..4000 {
        let key = rng.secret();
        let algorithm = rng.algorithm();
        let digits = rng.digits(10);
        let b32 = base32(&secret(&key));
        if i % 8 < 5 {
            let counter = rng.counter();
            let params = HotpParams {
                algorithm,
                digits,
                ..HotpParams::default()
            };
            let hotp = Hotp::new(&secret(&key), params).unwrap();
            requests.push(format!("hotp\t{b32}\t{algorithm}\t{digits}\t{counter}"));
            expected.push((
                hotp.generate(counter).to_string(),
                format!("{params:?} {counter}"),
            ));
        } else {
            let period = rng.period(120);
            let time = rng.time(max_time);
            let params = TotpParams {
                algorithm,
                digits,
                period,
                ..TotpParams::default()
            };
            let totp = Totp::new(&secret(&key), params).unwrap();
            requests.push(format!(
                "totp\t{b32}\t{algorithm}\t{digits}\t{period}\t{time}"
            ));
            expected.push((
                totp.generate(time).unwrap().to_string(),
                format!("{params:?} {time}"),
            ));
        }
    }
    for ((answer, (code, case)), request) in
        pyotp(&requests).into_iter().zip(expected).zip(&requests)
    {
        let answer = answer.unwrap_or_else(|e| panic!("pyotp refused {request}: {e}"));
        assert_eq!(answer, [code], "{case} secret {request}");
    }
}

/// The fields both sides compare: type, issuer, account, algorithm, digits, and the period
/// (TOTP) or counter (HOTP).
#[derive(Debug, PartialEq)]
struct Fields {
    otp_type: OtpType,
    issuer: Option<String>,
    account: String,
    algorithm: Algorithm,
    digits: u8,
    period_or_counter: u64,
}

impl Fields {
    fn of(uri: &KeyUri<'_>) -> Self {
        Fields {
            otp_type: uri.otp_type,
            issuer: uri.issuer.map(str::to_owned),
            account: uri.account.to_owned(),
            algorithm: uri.algorithm,
            digits: uri.digits.get(),
            period_or_counter: match uri.otp_type {
                OtpType::Totp => uri.period,
                OtpType::Hotp => uri.counter,
            },
        }
    }
}

/// A random key URI within what both libraries accept: digits up to `max_digits`, periods
/// up to 120 s (pyotp's limit).
struct UriCase {
    key: Vec<u8>,
    otp_type: OtpType,
    issuer: Option<String>,
    account: String,
    algorithm: Algorithm,
    digits: Digits,
    period: u64,
    counter: u64,
}

impl UriCase {
    fn random(rng: &mut Rng, max_digits: u8) -> Self {
        UriCase {
            key: rng.secret(),
            otp_type: rng.pick(&[OtpType::Totp, OtpType::Hotp]),
            issuer: (!rng.chance(3)).then(|| rng.name()),
            account: rng.name(),
            algorithm: rng.algorithm(),
            digits: rng.digits(max_digits),
            period: rng.period(120),
            counter: rng.counter(),
        }
    }

    fn key_uri(&self) -> KeyUri<'_> {
        let base = match self.otp_type {
            OtpType::Totp => KeyUri::totp(&self.account),
            OtpType::Hotp => KeyUri::hotp(&self.account, self.counter),
        };
        let uri = KeyUri {
            algorithm: self.algorithm,
            digits: self.digits,
            period: self.period,
            ..base
        };
        match &self.issuer {
            Some(issuer) => uri.with_issuer(issuer),
            None => uri,
        }
    }
}

#[test]
fn key_uris_built_by_otpcore_parse_in_pyotp_with_the_same_fields() {
    if !pyotp_available() {
        return;
    }
    let mut rng = Rng::new(0x0a7_4005);
    // pyotp's parse_uri accepts 6 to 8 digits only.
    let cases: Vec<UriCase> = (0..600).map(|_| UriCase::random(&mut rng, 8)).collect();
    let mut uris = Vec::new();
    for case in &cases {
        let mut buf = [0u8; 2048];
        let uri = case.key_uri().to_buf(&secret(&case.key), &mut buf).unwrap();
        uris.push(uri.to_owned());
    }
    let requests: Vec<String> = uris
        .iter()
        .map(|uri| format!("parse\t{}", hex(uri.as_bytes())))
        .collect();
    for ((answer, case), uri) in pyotp(&requests).into_iter().zip(&cases).zip(&uris) {
        let answer = answer.unwrap_or_else(|e| panic!("pyotp refused {uri}: {e}"));
        let [
            otp_type,
            issuer,
            account,
            b32,
            algorithm,
            digits,
            period,
            counter,
        ] = &answer[..]
        else {
            panic!("unexpected pyotp answer {answer:?}");
        };
        let parsed = Fields {
            otp_type: if otp_type == "hotp" {
                OtpType::Hotp
            } else {
                OtpType::Totp
            },
            issuer: unhex_text(issuer),
            account: unhex_text(account).unwrap(),
            algorithm: Algorithm::from_name(algorithm).unwrap(),
            digits: digits.parse().unwrap(),
            period_or_counter: if otp_type == "hotp" {
                counter.parse().unwrap()
            } else {
                period.parse().unwrap()
            },
        };
        assert_eq!(parsed, Fields::of(&case.key_uri()), "{uri}");
        assert_eq!(
            Secret::from_base32(b32).unwrap().as_bytes(),
            &case.key[..],
            "{uri}"
        );
    }
}

#[test]
fn key_uris_built_by_pyotp_parse_in_otpcore_with_the_same_fields() {
    if !pyotp_available() {
        return;
    }
    let mut rng = Rng::new(0x0a7_4006);
    // pyotp builds URIs with 9 and 10 digits even though its own parser refuses them.
    let cases: Vec<UriCase> = (0..600).map(|_| UriCase::random(&mut rng, 10)).collect();
    let requests: Vec<String> = cases
        .iter()
        .map(|c| {
            format!(
                "build\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                match c.otp_type {
                    OtpType::Totp => "totp",
                    OtpType::Hotp => "hotp",
                },
                base32(&secret(&c.key)),
                c.algorithm,
                c.digits,
                c.period,
                c.counter,
                hex(c.account.as_bytes()),
                c.issuer
                    .as_deref()
                    .map_or("-".to_owned(), |i| hex(i.as_bytes())),
            )
        })
        .collect();
    for (answer, case) in pyotp(&requests).into_iter().zip(&cases) {
        let answer = answer.unwrap_or_else(|e| panic!("pyotp could not build: {e}"));
        let uri = String::from_utf8(unhex(&answer[0])).unwrap();
        let mut buf = vec![0u8; uri.len()];
        let (parsed, parsed_secret) =
            KeyUri::parse(&uri, &mut buf).unwrap_or_else(|e| panic!("{uri}: {e}"));
        assert_eq!(Fields::of(&parsed), Fields::of(&case.key_uri()), "{uri}");
        assert_eq!(parsed_secret.as_bytes(), &case.key[..], "{uri}");
    }
}

/// Where pyotp and otpcore read or write key URIs differently, each on purpose (see the
/// interop section of SECURITY.md).
#[test]
fn key_uri_differences_with_pyotp_are_the_documented_ones() {
    if !pyotp_available() {
        return;
    }
    const B32: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
    let parse_in_pyotp = |uri: &str| pyotp(&[format!("parse\t{}", hex(uri.as_bytes()))]).remove(0);
    let parse_in_otpcore = |uri: &str| {
        let mut buf = vec![0u8; uri.len()];
        KeyUri::parse(uri, &mut buf)
            .map(|(k, _)| (k.issuer.map(str::to_owned), k.account.to_owned()))
    };

    // `%3A` in the label: the Key Uri Format allows it as the issuer separator, and otpcore
    // reads it so; pyotp takes it as a colon inside the account name.
    let encoded_colon = format!("otpauth://totp/ACME%3Aalice?secret={B32}");
    assert_eq!(
        parse_in_otpcore(&encoded_colon),
        Ok((Some("ACME".to_owned()), "alice".to_owned()))
    );
    let pyotp_fields = parse_in_pyotp(&encoded_colon).unwrap();
    assert_eq!(
        (&pyotp_fields[1], &pyotp_fields[2]),
        (&"-".to_owned(), &hex(b"ACME:alice"))
    );

    // A colon in the account name: pyotp writes it as `%3A`; otpcore refuses the name when
    // building and parsing, since apps split labels at it.
    let built = pyotp(&[format!(
        "build\ttotp\t{B32}\tSHA1\t6\t30\t0\t{}\t{}",
        hex(b"a:b"),
        hex(b"ACME")
    )])
    .remove(0)
    .unwrap();
    let built = String::from_utf8(unhex(&built[0])).unwrap();
    assert_eq!(parse_in_otpcore(&built), Err(Error::AccountNameHasColon));

    // Spaces after the separator: the format allows them and otpcore drops them; pyotp
    // keeps them in the account name.
    let spaced = format!("otpauth://totp/ACME:%20%20alice?secret={B32}&issuer=ACME");
    assert_eq!(
        parse_in_otpcore(&spaced),
        Ok((Some("ACME".to_owned()), "alice".to_owned()))
    );
    assert_eq!(parse_in_pyotp(&spaced).unwrap()[2], hex(b"  alice"));

    // `+` is a literal plus to otpcore (apps show it as such); pyotp's query parser reads
    // it as a space. otpcore always writes `%2B` and `%20`, so its own URIs are unambiguous.
    let plus = format!("otpauth://totp/alice?secret={B32}&issuer=AC+ME");
    assert_eq!(
        parse_in_otpcore(&plus),
        Ok((Some("AC+ME".to_owned()), "alice".to_owned()))
    );
    assert_eq!(parse_in_pyotp(&plus).unwrap()[1], hex(b"AC ME"));

    // 9 and 10 digits: otpcore writes and reads them, pyotp's parser refuses them.
    let mut buf = [0u8; 256];
    let ten = KeyUri {
        digits: Digits::new(10).unwrap(),
        ..KeyUri::totp("alice")
    }
    .to_buf(&Secret::from_base32(B32).unwrap(), &mut buf)
    .unwrap()
    .to_owned();
    assert!(parse_in_otpcore(&ten).is_ok());
    assert!(parse_in_pyotp(&ten).unwrap_err().contains("Digits"));

    // 80-bit secrets: otpcore's default policy takes them (services still issue them);
    // pyotp 2.12 needs 112 bits unless its limit is lowered, as the batch script does.
    let short = KeyUri::totp("alice")
        .to_buf(&Secret::from_base32("JBSWY3DPEHPK3PXP").unwrap(), &mut buf)
        .unwrap()
        .to_owned();
    let strict = Command::new("python3")
        .args(["-c", &format!("import pyotp; pyotp.parse_uri('{short}')")])
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(!strict.success(), "pyotp now accepts 80-bit secrets");
    assert!(parse_in_otpcore(&short).is_ok());
}

/// pyotp writes `otpauth://totp/:alice?…&issuer=` for a key made with `issuer=''`;
/// otpcore reads it as no issuer.
#[test]
fn an_empty_pyotp_issuer_parses_as_no_issuer() {
    if !pyotp_available() {
        return;
    }
    let script = "import pyotp; print(pyotp.TOTP('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ', \
                  issuer='').provisioning_uri(name='alice'), end='')";
    let out = Command::new("python3")
        .args(["-c", script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let uri = String::from_utf8(out.stdout).unwrap();
    assert!(uri.starts_with("otpauth://totp/:alice?"), "{uri}");
    assert!(uri.ends_with("&issuer="), "{uri}");
    let mut buf = vec![0u8; uri.len()];
    let (parsed, secret) = KeyUri::parse(&uri, &mut buf).unwrap();
    assert_eq!((parsed.issuer, parsed.account), (None, "alice"));
    assert_eq!(secret.as_bytes(), b"12345678901234567890");
}
