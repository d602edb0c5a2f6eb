//! otpauth key URIs: exact built strings, percent-encoding, the parser's leniencies and
//! build-then-parse round trips.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use core::fmt;

use otpcore::{Algorithm, Compatibility, Digits, HotpParams, KeyUri, OtpType, Secret, TotpParams};

const B32: &str = "JBSWY3DPEHPK3PXP";

fn secret() -> Secret {
    Secret::from_base32(B32).unwrap()
}

fn build(uri: KeyUri<'_>) -> String {
    let mut buf = [0u8; 1024];
    uri.to_buf(&secret(), &mut buf).unwrap().to_string()
}

/// Parses `uri` and returns its fields with owned strings and the secret's base32.
fn parse(
    uri: &str,
) -> (
    OtpType,
    Option<String>,
    String,
    Algorithm,
    u8,
    u64,
    u64,
    String,
) {
    let mut buf = vec![0u8; uri.len()];
    let (k, secret) = KeyUri::parse(uri, &mut buf).unwrap();
    let mut b32 = [0u8; otpcore::MAX_SECRET_BASE32_LEN];
    (
        k.otp_type,
        k.issuer.map(str::to_string),
        k.account.to_string(),
        k.algorithm,
        k.digits.get(),
        k.period,
        k.counter,
        secret.to_base32(&mut b32).unwrap().to_string(),
    )
}

fn issuer_and_account(uri: &str) -> (Option<String>, String) {
    let (_, issuer, account, ..) = parse(uri);
    (issuer, account)
}

/// A `fmt::Write` into a fixed array, as a caller without a heap would use.
struct Fixed {
    buf: [u8; 512],
    len: usize,
}

impl fmt::Write for Fixed {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len.checked_add(s.len()).ok_or(fmt::Error)?;
        self.buf
            .get_mut(self.len..end)
            .ok_or(fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[test]
fn builds_default_totp_uri_without_optional_parameters() {
    assert_eq!(
        build(KeyUri::totp("alice@example.com")),
        "otpauth://totp/alice@example.com?secret=JBSWY3DPEHPK3PXP"
    );
}

#[test]
fn builds_issuer_into_label_prefix_and_parameter() {
    assert_eq!(
        build(KeyUri::totp("alice@example.com").with_issuer("ACME Co")),
        "otpauth://totp/ACME%20Co:alice@example.com?secret=JBSWY3DPEHPK3PXP&issuer=ACME%20Co"
    );
}

#[test]
fn builds_non_default_algorithm_digits_and_period() {
    let params = TotpParams {
        algorithm: Algorithm::Sha256,
        digits: Digits::EIGHT,
        period: 60,
        ..TotpParams::default()
    };
    assert_eq!(
        build(
            KeyUri::totp("alice")
                .with_issuer("ACME")
                .with_totp_params(&params)
        ),
        "otpauth://totp/ACME:alice?secret=JBSWY3DPEHPK3PXP&issuer=ACME\
         &algorithm=SHA256&digits=8&period=60"
    );
    let sha512 = KeyUri {
        algorithm: Algorithm::Sha512,
        ..KeyUri::totp("alice")
    };
    assert_eq!(
        build(sha512),
        "otpauth://totp/alice?secret=JBSWY3DPEHPK3PXP&algorithm=SHA512"
    );
}

#[test]
fn builds_hotp_with_counter_always_and_without_period() {
    assert_eq!(
        build(KeyUri::hotp("alice", 0)),
        "otpauth://hotp/alice?secret=JBSWY3DPEHPK3PXP&counter=0"
    );
    let uri = KeyUri {
        algorithm: Algorithm::Sha512,
        digits: Digits::new(10).unwrap(),
        period: 60,
        ..KeyUri::hotp("alice", u64::MAX).with_issuer("ACME")
    };
    assert_eq!(
        build(uri),
        "otpauth://hotp/ACME:alice?secret=JBSWY3DPEHPK3PXP&issuer=ACME\
         &algorithm=SHA512&digits=10&counter=18446744073709551615"
    );
}

#[test]
fn percent_encodes_reserved_characters_and_space_as_percent_20() {
    assert_eq!(
        build(KeyUri::totp("a b&c#d?e+f%g/h=i").with_issuer("x y+z")),
        "otpauth://totp/x%20y%2Bz:a%20b%26c%23d%3Fe%2Bf%25g%2Fh%3Di\
         ?secret=JBSWY3DPEHPK3PXP&issuer=x%20y%2Bz"
    );
}

#[test]
fn keeps_unreserved_characters_and_at_sign_literal() {
    assert_eq!(
        build(KeyUri::totp("A-z.0_9~@x")),
        "otpauth://totp/A-z.0_9~@x?secret=JBSWY3DPEHPK3PXP"
    );
}

#[test]
fn percent_encodes_unicode_as_utf8_bytes() {
    assert_eq!(
        build(KeyUri::totp("Zoë").with_issuer("東京")),
        "otpauth://totp/%E6%9D%B1%E4%BA%AC:Zo%C3%AB\
         ?secret=JBSWY3DPEHPK3PXP&issuer=%E6%9D%B1%E4%BA%AC"
    );
}

#[test]
fn write_into_fixed_buffer_and_encoded_len_match_to_buf() {
    let uri = KeyUri::hotp("bob smith", 7).with_issuer("Ex & Co");
    let mut w = Fixed {
        buf: [0u8; 512],
        len: 0,
    };
    uri.write(&secret(), &mut w).unwrap();
    let written = core::str::from_utf8(&w.buf[..w.len]).unwrap();
    assert_eq!(written, build(uri));
    assert_eq!(uri.encoded_len(&secret()), Ok(w.len));
    // A buffer of exactly the needed length suffices.
    let mut exact = vec![0u8; w.len];
    assert_eq!(uri.to_buf(&secret(), &mut exact), Ok(written));
}

#[test]
fn parses_every_field() {
    let parsed = parse(
        "otpauth://hotp/ACME:alice?secret=JBSWY3DPEHPK3PXP&issuer=ACME\
         &algorithm=SHA512&digits=10&period=45&counter=18446744073709551615",
    );
    assert_eq!(
        parsed,
        (
            OtpType::Hotp,
            Some("ACME".to_string()),
            "alice".to_string(),
            Algorithm::Sha512,
            10,
            // A period is checked but belongs to TOTP keys only: HOTP keeps the default.
            30,
            u64::MAX,
            B32.to_string()
        )
    );
}

#[test]
fn parses_defaults_when_optional_parameters_are_absent() {
    let parsed = parse("otpauth://totp/alice?secret=JBSWY3DPEHPK3PXP");
    assert_eq!(
        parsed,
        (
            OtpType::Totp,
            None,
            "alice".to_string(),
            Algorithm::Sha1,
            6,
            30,
            0,
            B32.to_string()
        )
    );
}

#[test]
fn parses_encoded_colon_as_label_separator() {
    for uri in [
        "otpauth://totp/ACME%3Aalice?secret=JBSWY3DPEHPK3PXP",
        "otpauth://totp/ACME%3aalice?secret=JBSWY3DPEHPK3PXP&issuer=ACME",
        "otpauth://totp/ACME:alice?secret=JBSWY3DPEHPK3PXP",
    ] {
        assert_eq!(
            issuer_and_account(uri),
            (Some("ACME".to_string()), "alice".to_string()),
            "{uri}"
        );
    }
}

#[test]
fn parses_spaces_before_the_account_name() {
    for uri in [
        "otpauth://totp/ACME:%20alice?secret=JBSWY3DPEHPK3PXP",
        "otpauth://totp/ACME:%20%20alice?secret=JBSWY3DPEHPK3PXP",
        "otpauth://totp/ACME: alice?secret=JBSWY3DPEHPK3PXP",
        "otpauth://totp/ACME%3A%20alice?secret=JBSWY3DPEHPK3PXP",
    ] {
        assert_eq!(
            issuer_and_account(uri),
            (Some("ACME".to_string()), "alice".to_string()),
            "{uri}"
        );
    }
    // Spaces inside the account name are kept.
    assert_eq!(
        issuer_and_account("otpauth://totp/ACME:%20bob%20smith?secret=JBSWY3DPEHPK3PXP"),
        (Some("ACME".to_string()), "bob smith".to_string())
    );
}

#[test]
fn ignores_unknown_parameters() {
    let uri = "otpauth://totp/ACME:alice?image=https%3A%2F%2Fexample.com%2Fa.png\
               &secret=JBSWY3DPEHPK3PXP&color=red&empty=&issuer=ACME&image=again";
    assert_eq!(
        issuer_and_account(uri),
        (Some("ACME".to_string()), "alice".to_string())
    );
}

#[test]
fn ignores_unknown_parameters_without_a_value() {
    let (.., digits, _, _, secret) = parse("otpauth://totp/alice?image&secret=JBSWY3DPEHPK3PXP&x");
    assert_eq!((digits, secret.as_str()), (6, B32));
}

#[test]
fn percent_decodes_parameter_names_and_values() {
    let (_, _, _, algorithm, digits, period, _, secret) = parse(
        "otpauth://totp/alice?%73ecret=JBSWY3DPEHPK3PXP&algorithm=SHA%32%35%36&digits=%38\
         &period=%36%30",
    );
    assert_eq!(
        (algorithm, digits, period, secret.as_str()),
        (Algorithm::Sha256, 8, 60, B32)
    );
    let (.., counter, _) = parse("otpauth://hotp/alice?secret=JBSWY3DPEHPK3PXP&c%6Funter=%35");
    assert_eq!(counter, 5);
}

#[test]
fn a_slash_in_the_query_does_not_end_the_type() {
    let (otp_type, _, account, ..) =
        parse("otpauth://totp/alice?secret=JBSWY3DPEHPK3PXP&image=a/b");
    assert_eq!((otp_type, account.as_str()), (OtpType::Totp, "alice"));
}

#[test]
fn secret_errors_match_secret_from_base32_at_any_length() {
    for text in [
        "1".repeat(420),
        "=".repeat(420),
        format!("{B32}{}", " ".repeat(400)),
        "A".repeat(208),
        format!("{}9", "A".repeat(300)),
    ] {
        let uri = format!("otpauth://totp/a?secret={}", text.replace(' ', "%20"));
        let mut buf = vec![0u8; uri.len()];
        assert_eq!(
            KeyUri::parse(&uri, &mut buf).map(|(_, s)| s.as_bytes().to_vec()),
            Secret::from_base32(&text).map(|s| s.as_bytes().to_vec()),
            "{text}"
        );
    }
}

#[test]
fn faults_that_need_no_buffer_come_before_buffer_too_small() {
    let mut empty = [0u8; 0];
    assert_eq!(
        KeyUri::parse("otpauth://totp/alice?issuer=ACME", &mut empty).map(drop),
        Err(otpcore::Error::UriMissingSecret)
    );
    assert_eq!(
        KeyUri::parse("otpauth://hotp/alice?secret=JBSWY3DPEHPK3PXP", &mut empty).map(drop),
        Err(otpcore::Error::UriMissingCounter)
    );
    assert_eq!(
        KeyUri::parse("otpauth://totp/alice?secret=JBSWY3DP", &mut empty).map(drop),
        Err(otpcore::Error::SecretTooShort { min_bits: 80 })
    );
    assert_eq!(
        KeyUri::parse("otpauth://totp/alice?secret=JBSWY3DPEHPK3PXP", &mut empty).map(drop),
        Err(otpcore::Error::BufferTooSmall { needed: 5 })
    );
}

#[test]
fn ignores_empty_pairs_and_the_fragment() {
    let uri = "otpauth://totp/alice?&secret=JBSWY3DPEHPK3PXP&&digits=8#digits=7";
    let (.., digits, _, _, secret) = parse(uri);
    assert_eq!((digits, secret.as_str()), (8, B32));
}

#[test]
fn keeps_plus_literal() {
    assert_eq!(
        issuer_and_account("otpauth://totp/A+B:alice+tag@x.com?secret=JBSWY3DPEHPK3PXP&issuer=A+B"),
        (Some("A+B".to_string()), "alice+tag@x.com".to_string())
    );
}

#[test]
fn label_and_parameter_issuer_compare_after_decoding() {
    assert_eq!(
        issuer_and_account("otpauth://totp/A%2bB:alice?secret=JBSWY3DPEHPK3PXP&issuer=A+B"),
        (Some("A+B".to_string()), "alice".to_string())
    );
}

#[test]
fn issuer_comes_from_the_label_or_the_parameter_alone() {
    assert_eq!(
        issuer_and_account("otpauth://totp/alice?secret=JBSWY3DPEHPK3PXP&issuer=ACME%20Co"),
        (Some("ACME Co".to_string()), "alice".to_string())
    );
    assert_eq!(
        issuer_and_account("otpauth://totp/ACME%20Co:alice?secret=JBSWY3DPEHPK3PXP"),
        (Some("ACME Co".to_string()), "alice".to_string())
    );
}

#[test]
fn parses_algorithm_names_in_any_case() {
    for (name, algorithm) in [
        ("sha1", Algorithm::Sha1),
        ("Sha256", Algorithm::Sha256),
        ("sHa512", Algorithm::Sha512),
        ("SHA512", Algorithm::Sha512),
    ] {
        let uri = format!("otpauth://totp/alice?secret=JBSWY3DPEHPK3PXP&algorithm={name}");
        let (_, _, _, parsed, ..) = parse(&uri);
        assert_eq!(parsed, algorithm, "{name}");
    }
}

#[test]
fn parses_scheme_and_type_in_any_case() {
    let (otp_type, ..) = parse("OTPAUTH://HOTP/alice?secret=JBSWY3DPEHPK3PXP&counter=3");
    assert_eq!(otp_type, OtpType::Hotp);
}

#[test]
fn parses_secret_leniently_like_secret_from_base32() {
    let (.., secret) = parse("otpauth://totp/alice?secret=jbsw%20y3dp-ehpk%203pxp&issuer=ACME");
    assert_eq!(secret, B32);
    // Eleven bytes: 18 symbols, padded with six `=`.
    let mut b32 = [0u8; 32];
    let canonical = Secret::from_bytes(b"hello world")
        .unwrap()
        .to_base32(&mut b32)
        .unwrap()
        .to_string();
    assert_eq!(canonical, "NBSWY3DPEB3W64TMMQ");
    let (.., secret) = parse(&format!(
        "otpauth://totp/alice?secret={canonical}%3D%3D%3D%3D%3D%3D"
    ));
    assert_eq!(secret, canonical);
    let (.., secret) = parse(&format!("otpauth://totp/alice?secret={canonical}======"));
    assert_eq!(secret, canonical);
}

#[test]
fn parses_unicode_raw_or_percent_encoded() {
    for uri in [
        "otpauth://totp/%E6%9D%B1%E4%BA%AC:Zo%C3%AB?secret=JBSWY3DPEHPK3PXP",
        "otpauth://totp/東京:Zoë?secret=JBSWY3DPEHPK3PXP&issuer=東京",
    ] {
        assert_eq!(
            issuer_and_account(uri),
            (Some("東京".to_string()), "Zoë".to_string()),
            "{uri}"
        );
    }
}

#[test]
fn parses_into_a_buffer_of_exactly_the_decoded_length() {
    // "A B" and "alé" decode to 3 + 4 bytes.
    let uri = "otpauth://totp/A%20B:al%C3%A9?secret=JBSWY3DPEHPK3PXP&issuer=A%20B";
    let mut buf = [0u8; 7];
    let (parsed, _) = KeyUri::parse(uri, &mut buf).unwrap();
    assert_eq!((parsed.issuer, parsed.account), (Some("A B"), "alé"));
}

#[test]
fn round_trips_every_setting_and_the_secret() {
    let secret = Secret::from_bytes(&[0xA5; 64]).unwrap();
    for uri in [
        KeyUri::totp("alice"),
        KeyUri::totp("a b&c#d?e+f%g/h=i").with_issuer("Ex & Co / 東京"),
        KeyUri {
            algorithm: Algorithm::Sha256,
            digits: Digits::new(7).unwrap(),
            period: 1,
            ..KeyUri::totp("bob").with_issuer("ACME")
        },
        KeyUri {
            algorithm: Algorithm::Sha512,
            digits: Digits::new(9).unwrap(),
            ..KeyUri::hotp("carol", 123_456_789)
        },
    ] {
        let mut out = [0u8; 1024];
        let text = uri.to_buf(&secret, &mut out).unwrap();
        let mut fields = [0u8; 1024];
        let (parsed, parsed_secret) = KeyUri::parse(text, &mut fields).unwrap();
        assert_eq!(parsed, uri, "{text}");
        assert_eq!(parsed_secret.as_bytes(), secret.as_bytes());
    }
}

#[test]
fn params_carry_over_to_totp_and_hotp_settings() {
    let uri = KeyUri {
        algorithm: Algorithm::Sha256,
        digits: Digits::EIGHT,
        period: 60,
        ..KeyUri::totp("alice")
    };
    assert_eq!(
        uri.totp_params(),
        TotpParams {
            algorithm: Algorithm::Sha256,
            digits: Digits::EIGHT,
            period: 60,
            ..TotpParams::default()
        }
    );
    assert_eq!(
        uri.hotp_params(),
        HotpParams {
            algorithm: Algorithm::Sha256,
            digits: Digits::EIGHT,
            ..HotpParams::default()
        }
    );
}

#[test]
fn compatibility_flags_settings_authenticator_apps_ignore() {
    assert!(KeyUri::totp("a").compatibility().is_compatible());
    assert!(KeyUri::hotp("a", 5).compatibility().is_compatible());
    let uri = KeyUri {
        algorithm: Algorithm::Sha256,
        digits: Digits::EIGHT,
        period: 60,
        ..KeyUri::totp("a")
    };
    assert_eq!(
        uri.compatibility(),
        Compatibility {
            algorithm_ignored: true,
            digits_ignored: true,
            period_ignored: true,
        }
    );
    assert!(!uri.compatibility().is_compatible());
    // The period means nothing to HOTP.
    let hotp = KeyUri {
        period: 60,
        ..KeyUri::hotp("a", 0)
    };
    assert!(hotp.compatibility().is_compatible());
    let digits_only = KeyUri {
        digits: Digits::new(7).unwrap(),
        ..KeyUri::totp("a")
    };
    assert_eq!(
        digits_only.compatibility(),
        Compatibility {
            digits_ignored: true,
            ..Compatibility::default()
        }
    );
}

#[test]
fn a_failing_parse_leaves_the_buffer_untouched() {
    const SENTINEL: u8 = 0xA5;
    for uri in [
        // Faults found only once account or issuer is decoded.
        "otpauth://totp/Iss:al%3Aice?secret=JBSWY3DPEHPK3PXP",
        "otpauth://totp/Iss:al%0Aice?secret=JBSWY3DPEHPK3PXP",
        "otpauth://totp/Iss:al%FFice?secret=JBSWY3DPEHPK3PXP",
        "otpauth://totp/Iss:alice%C3?secret=JBSWY3DPEHPK3PXP",
        "otpauth://totp/Iss:alice?secret=JBSWY3DPEHPK3PXP&issuer=Iss%FF",
        "otpauth://totp/I%FFss:alice?secret=JBSWY3DPEHPK3PXP&issuer=I%FFss",
        "otpauth://totp/Iss:alice%2?secret=JBSWY3DPEHPK3PXP",
        "otpauth://totp/Iss:%20?secret=JBSWY3DPEHPK3PXP",
        // A character cut at the edge of the decoder's window, then broken.
        "otpauth://totp/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa%C3%A9%C3?secret=JBSWY3DPEHPK3PXP",
        // Faults in the rest of the URI.
        "otpauth://totp/Iss:alice?secret=JBSWY3DP",
        "otpauth://totp/Iss:alice?secret=JBSWY3DPEHPK3PXP&issuer=Other",
        "otpauth://hotp/Iss:alice?secret=JBSWY3DPEHPK3PXP",
        "otpauth://totp/Iss:alice?secret=JBSWY3DPEHPK3PXP&digits=5",
    ] {
        for len in [0, 3, 8, uri.len()] {
            let mut buf = vec![SENTINEL; len];
            assert!(KeyUri::parse(uri, &mut buf).is_err(), "{uri}");
            assert!(buf.iter().all(|&b| b == SENTINEL), "{uri} into {len} bytes");
        }
    }
}

#[test]
fn utf8_is_checked_across_the_decoder_window() {
    // 31 ASCII bytes, then a two-byte character split across the 32-byte window.
    let account = format!("{}%C3%A9{}", "a".repeat(31), "b".repeat(40));
    let uri = format!("otpauth://totp/{account}?secret={B32}");
    let (_, account) = issuer_and_account(&uri);
    assert_eq!(account, format!("{}é{}", "a".repeat(31), "b".repeat(40)));
}

#[test]
fn an_empty_issuer_is_no_issuer() {
    // What pyotp writes for issuer='': an empty label prefix and an empty parameter.
    for uri in [
        "otpauth://totp/:alice?secret=JBSWY3DPEHPK3PXP&issuer=",
        "otpauth://totp/%3Aalice?secret=JBSWY3DPEHPK3PXP&issuer=",
        "otpauth://totp/:alice?secret=JBSWY3DPEHPK3PXP",
        "otpauth://totp/alice?secret=JBSWY3DPEHPK3PXP&issuer=",
        "otpauth://totp/alice?secret=JBSWY3DPEHPK3PXP&issuer",
    ] {
        assert_eq!(
            issuer_and_account(uri),
            (None, "alice".to_string()),
            "{uri}"
        );
    }
    // Empty in one place, not in the other: apps reading one place would show different
    // issuers.
    for uri in [
        "otpauth://totp/:alice?secret=JBSWY3DPEHPK3PXP&issuer=ACME",
        "otpauth://totp/ACME:alice?secret=JBSWY3DPEHPK3PXP&issuer=",
    ] {
        assert_eq!(
            KeyUri::parse(uri, &mut [0u8; 64]).map(drop),
            Err(otpcore::Error::UriIssuerMismatch),
            "{uri}"
        );
    }
    // Building stays strict.
    assert_eq!(
        KeyUri::totp("alice")
            .with_issuer("")
            .to_buf(&secret(), &mut [0u8; 128])
            .map(drop),
        Err(otpcore::Error::InvalidIssuer)
    );
}
