//! Enroll a user, verify a code, and see a replayed code refused: the whole server-side
//! flow in one page. Run it with `cargo run --example quickstart`.

use otpcore::{Error, KeyUri, Secret, Totp, TotpParams, Verification, unix_time};

fn main() -> Result<(), Error> {
    // Enroll: a fresh 160-bit secret, shown as a key URI (the QR code's content) and as base32
    // for typing in by hand.
    let secret = Secret::generate()?;
    let mut uri_buf = [0u8; 512];
    let uri = KeyUri::totp("alice@example.com")
        .with_issuer("Deploy Portal")
        .to_buf(&secret, &mut uri_buf)?;
    let mut key_buf = [0u8; otpcore::MAX_SECRET_BASE32_LEN];
    println!("key URI:  {uri}");
    println!("key:      {}", secret.to_base32(&mut key_buf)?);

    // Verify: the phone shows a code; here we compute the one it would show.
    let totp = Totp::new(&secret, TotpParams::default())?;
    let now = unix_time()?;
    let typed = totp.generate(now)?.to_string();
    println!("code:     {typed}");

    // The server keeps the last accepted step per user; None before the first login.
    let mut last_accepted = None;
    match totp.verify(&typed, now, last_accepted)? {
        Verification::Valid(m) => {
            last_accepted = Some(m.step);
            println!("verify:   accepted (step {}, drift {})", m.step, m.drift);
        }
        other => println!("verify:   refused ({other:?})"),
    }

    // The same code again is a replay, refused even though it is still in the window.
    match totp.verify(&typed, now, last_accepted)? {
        Verification::Replayed(m) => println!("replay:   refused (step {} already used)", m.step),
        other => println!("replay:   unexpected {other:?}"),
    }

    // A malformed code is an error, not a wrong code.
    match totp.verify("12a456", now, last_accepted) {
        Err(e) => println!("malformed: {e}"),
        Ok(v) => println!("malformed: unexpected {v:?}"),
    }
    Ok(())
}
