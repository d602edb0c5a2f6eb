//! Key URI parser: arbitrary text never panics and a failed parse writes nothing; whatever
//! parses builds back into a URI that parses to the same fields and secret, and building is
//! a fixed point after one round.
#![no_main]

use libfuzzer_sys::fuzz_target;
use otpcore::{Error, KeyUri, OtpType};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    // A buffer as long as the URI always suffices for its decoded fields.
    let mut fields = vec![0xA5u8; text.len()];
    let Ok((parsed, secret)) = KeyUri::parse(text, &mut fields) else {
        assert!(fields.iter().all(|&b| b == 0xA5), "buffer written on error");
        return;
    };

    // A buffer one byte short of the decoded fields is refused with the exact size.
    let needed = parsed.account.len() + parsed.issuer.map_or(0, str::len);
    if needed > 0 {
        let mut short = vec![0u8; needed - 1];
        assert_eq!(
            KeyUri::parse(text, &mut short).map(|_| ()),
            Err(Error::BufferTooSmall { needed })
        );
    }

    let len = parsed
        .encoded_len(&secret)
        .expect("a parsed URI has valid fields");
    let mut built = vec![0u8; len];
    let built = parsed
        .to_buf(&secret, &mut built)
        .expect("a parsed URI builds");
    assert_eq!(built.len(), len);

    // Too small an output buffer: an error with the size, and nothing written.
    let mut small = vec![0xA5u8; len - 1];
    assert_eq!(
        parsed.to_buf(&secret, &mut small),
        Err(Error::BufferTooSmall { needed: len })
    );
    assert!(small.iter().all(|&b| b == 0xA5));

    let mut fields2 = vec![0u8; built.len()];
    let (reparsed, resecret) = KeyUri::parse(built, &mut fields2).expect("a built URI parses");
    assert_eq!(reparsed.otp_type, parsed.otp_type);
    assert_eq!(reparsed.issuer, parsed.issuer);
    assert_eq!(reparsed.account, parsed.account);
    assert_eq!(reparsed.algorithm, parsed.algorithm);
    assert_eq!(reparsed.digits, parsed.digits);
    // The period means nothing to HOTP and the counter nothing to TOTP, so only the one
    // that applies is written.
    match parsed.otp_type {
        OtpType::Totp => assert_eq!(reparsed.period, parsed.period),
        OtpType::Hotp => assert_eq!(reparsed.counter, parsed.counter),
    }
    assert_eq!(resecret.as_bytes(), secret.as_bytes());

    let mut rebuilt = vec![0u8; len];
    let rebuilt = reparsed
        .to_buf(&resecret, &mut rebuilt)
        .expect("a reparsed URI builds");
    assert_eq!(rebuilt, built);
});
