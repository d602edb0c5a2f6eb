//! A counting global allocator proves that generating, verifying, base32, secret import and
//! key URI building and parsing, the deploy gate's throttle, recovery codes and user state,
//! and out-of-band codes never touch the heap.
//!
//! The test harness allocates on its own threads, so only allocations made by the current
//! thread inside [`allocations`] are counted (the counters are thread-local).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use core::fmt::{self, Write};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use otpcore::{
    Algorithm, Digits, Error, Hotp, HotpParams, KeyUri, MAX_SECRET_BASE32_LEN, RecoveryCodes,
    Secret, SecretPolicy, Throttle, Totp, TotpParams, USER_STATE_LEN, UserState, Verification,
    base32,
};

struct Counting;

thread_local! {
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

fn record() {
    // `try_with` because the allocator also runs while thread-locals are torn down.
    let active = ACTIVE.try_with(Cell::get).unwrap_or(false);
    if active {
        let _ = COUNT.try_with(|c| c.set(c.get().saturating_add(1)));
    }
}

// SAFETY: every method forwards to the system allocator unchanged; counting touches only
// const-initialised thread-locals, which never allocate.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record();
        // SAFETY: forwarded with the caller's layout, which meets `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        record();
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record();
        // SAFETY: `ptr` came from this allocator, i.e. from `System`, with `layout`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f` and returns how many heap allocations this thread made meanwhile.
fn allocations<R>(f: impl FnOnce() -> R) -> (usize, R) {
    COUNT.with(|c| c.set(0));
    ACTIVE.with(|a| a.set(true));
    let result = f();
    ACTIVE.with(|a| a.set(false));
    (COUNT.with(Cell::get), result)
}

/// Asserts that `f` allocates nothing and returns its result.
fn no_alloc<R>(what: &str, f: impl FnOnce() -> R) -> R {
    let (count, result) = allocations(f);
    assert_eq!(count, 0, "{what} allocated {count} times");
    result
}

/// A `fmt::Write` into a fixed stack array that fails when full.
struct Fixed {
    buf: [u8; 512],
    len: usize,
}

impl Fixed {
    fn new() -> Self {
        Fixed {
            buf: [0u8; 512],
            len: 0,
        }
    }

    fn as_str(&self) -> &str {
        core::str::from_utf8(&self.buf[..self.len]).unwrap()
    }
}

impl Write for Fixed {
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
fn counter_sees_allocations_in_the_measured_region() {
    let (count, v) = allocations(|| vec![1u8; 16]);
    assert_eq!(v.len(), 16);
    assert!(count >= 1);
    let (count, ()) = allocations(|| ());
    assert_eq!(count, 0);
}

#[test]
fn secret_import_and_base32_do_not_allocate() {
    let secret = no_alloc("Secret::from_bytes", || {
        Secret::from_bytes(b"12345678901234567890")
    })
    .unwrap();
    let lenient = no_alloc("Secret::from_base32", || {
        Secret::from_base32("gezd gnbv-gy3t qojq gezd gnbv gy3t qojq")
    })
    .unwrap();
    assert_eq!(lenient.as_bytes(), secret.as_bytes());
    no_alloc("Secret::from_base32_with_policy", || {
        Secret::from_base32_with_policy("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", SecretPolicy::Strict)
    })
    .unwrap();
    let long = no_alloc("Secret::from_bytes of 128 bytes", || {
        Secret::from_bytes(&[0x5a; 128])
    })
    .unwrap();

    let mut buf = [0u8; MAX_SECRET_BASE32_LEN];
    let text = no_alloc("Secret::to_base32", || secret.to_base32(&mut buf)).unwrap();
    assert_eq!(text, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    let mut w = Fixed::new();
    no_alloc("Secret::write_base32", || long.write_base32(&mut w)).unwrap();
    assert_eq!(w.len, long.base32_len());

    let mut enc = [0u8; 16];
    let encoded = no_alloc("base32::encode", || base32::encode(b"foobar", &mut enc)).unwrap();
    assert_eq!(encoded, "MZXW6YTBOI");
    let mut dec = [0u8; 16];
    let decoded = no_alloc("base32::decode", || {
        base32::decode("mzxw6ytboi======", &mut dec)
    });
    assert_eq!(decoded.unwrap(), b"foobar");
    let error = no_alloc("base32::decode of bad input", || {
        base32::decode("MZXW6YTBO!", &mut dec)
    });
    assert_eq!(error, Err(Error::Base32InvalidCharacter { position: 9 }));
    let error = no_alloc("Secret::from_base32 of bad input", || {
        Secret::from_base32("JBSWY3DPEHPK3PXPA").map(drop)
    });
    assert_eq!(error, Err(Error::Base32InvalidLength));
}

#[test]
fn totp_generate_and_verify_do_not_allocate() {
    let secret = Secret::from_bytes(b"12345678901234567890").unwrap();
    for algorithm in [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512] {
        let params = TotpParams {
            algorithm,
            digits: Digits::EIGHT,
            look_back: 5,
            look_ahead: 5,
            ..TotpParams::default()
        };
        let now = 1_111_111_109;
        let totp = no_alloc("Totp::new", || Totp::new(&secret, params)).unwrap();
        let code = no_alloc("Totp::generate", || totp.generate(now)).unwrap();
        let mut digits = [0u8; 10];
        let typed = no_alloc("Code::write_to", || code.write_to(&mut digits)).unwrap();
        let hit = no_alloc("Totp::verify hit", || totp.verify(typed, now, None)).unwrap();
        let Verification::Valid(m) = hit else {
            panic!("{hit:?}")
        };
        let replay = no_alloc("Totp::verify replay", || {
            totp.verify(typed, now, Some(m.step))
        });
        assert!(matches!(replay, Ok(Verification::Replayed(_))));
        let miss = no_alloc("Totp::verify miss", || totp.verify(typed, now + 3600, None));
        assert_eq!(miss, Ok(Verification::Invalid));
        let grouped = no_alloc("Totp::verify grouped", || {
            totp.verify("1234 5678", now, None)
        });
        assert!(grouped.is_ok());
        let malformed = no_alloc("Totp::verify malformed", || totp.verify("12a", now, None));
        assert_eq!(malformed, Err(Error::CodeInvalidCharacter));
        let mut w = Fixed::new();
        no_alloc("Code Display", || write!(w, "{code}")).unwrap();
        assert_eq!(w.as_str(), typed);
    }
}

#[test]
fn hotp_generate_verify_and_resync_do_not_allocate() {
    let secret = Secret::from_bytes(&[0x17; 100]).unwrap();
    let params = HotpParams {
        digits: Digits::new(10).unwrap(),
        ..HotpParams::default()
    };
    let hotp = no_alloc("Hotp::new", || Hotp::new(&secret, params)).unwrap();
    let mut a = [0u8; 10];
    let mut b = [0u8; 10];
    let first = no_alloc("Hotp::generate", || hotp.generate(40).write_to(&mut a)).unwrap();
    let second = hotp.generate(41).write_to(&mut b).unwrap();
    let hit = no_alloc("Hotp::verify hit", || hotp.verify(first, 38));
    assert!(hit.unwrap().is_valid());
    let miss = no_alloc("Hotp::verify miss", || hotp.verify(first, 0));
    assert_eq!(miss, Ok(Verification::Invalid));
    let clipped = no_alloc("Hotp::verify near u64::MAX", || {
        hotp.verify(first, u64::MAX - 1)
    });
    assert_eq!(clipped, Ok(Verification::Invalid));
    let exhausted = no_alloc("Hotp::verify at u64::MAX", || hotp.verify(first, u64::MAX));
    assert_eq!(exhausted, Err(otpcore::Error::CounterExhausted));
    let resync = no_alloc("Hotp::resync hit", || hotp.resync(first, second, 0, 100));
    assert!(resync.unwrap().is_valid());
    let resync_miss = no_alloc("Hotp::resync miss", || hotp.resync(second, first, 0, 100));
    assert_eq!(resync_miss, Ok(Verification::Invalid));
}

#[test]
fn key_uri_build_and_parse_do_not_allocate() {
    let secret = Secret::from_bytes(b"12345678901234567890").unwrap();
    let uri = KeyUri::hotp("zoë smith+tag@example.com", 9)
        .with_issuer("Ex & Co / 東京")
        .with_totp_params(&TotpParams {
            algorithm: Algorithm::Sha512,
            digits: Digits::EIGHT,
            ..TotpParams::default()
        });
    let mut out = [0u8; 512];
    let text = no_alloc("KeyUri::to_buf", || uri.to_buf(&secret, &mut out)).unwrap();
    let mut w = Fixed::new();
    no_alloc("KeyUri::write", || uri.write(&secret, &mut w)).unwrap();
    assert_eq!(w.as_str(), text);
    let len = no_alloc("KeyUri::encoded_len", || uri.encoded_len(&secret));
    assert_eq!(len, Ok(text.len()));
    let compatibility = no_alloc("KeyUri::compatibility", || uri.compatibility());
    assert!(!compatibility.is_compatible());

    let mut fields = [0u8; 512];
    let (parsed, parsed_secret) =
        no_alloc("KeyUri::parse", || KeyUri::parse(text, &mut fields)).unwrap();
    assert_eq!(parsed, uri);
    assert_eq!(parsed_secret.as_bytes(), secret.as_bytes());

    let mut fields = [0u8; 512];
    let lenient = "otpauth://TOTP/ACME%3A%20alice?image=x&secret=gezd%20gnbv-gy3tqojq\
                   &algorithm=sha256#frag";
    let parsed = no_alloc("KeyUri::parse lenient", || {
        KeyUri::parse(lenient, &mut fields).map(|(k, _)| k.account)
    });
    assert_eq!(parsed, Ok("alice"));

    for (bad, expected) in [
        (
            "otpauth://totp/A:b?secret=JBSWY3DPEHPK3PXP&issuer=C",
            Error::UriIssuerMismatch,
        ),
        (
            "otpauth://totp/a%FF?secret=JBSWY3DPEHPK3PXP",
            Error::UriInvalidUtf8,
        ),
        (
            "otpauth://hotp/a?secret=JBSWY3DPEHPK3PXP",
            Error::UriMissingCounter,
        ),
    ] {
        let mut fields = [0u8; 512];
        let result = no_alloc("KeyUri::parse failing", || {
            KeyUri::parse(bad, &mut fields).map(drop)
        });
        assert_eq!(result, Err(expected));
    }
}

#[test]
fn error_display_does_not_allocate() {
    let mut w = Fixed::new();
    no_alloc("Error Display", || {
        write!(w, "{}", Error::BufferTooSmall { needed: 42 })
    })
    .unwrap();
    assert_eq!(
        w.as_str(),
        "the output buffer is too small: 42 bytes needed"
    );
}

#[cfg(feature = "std")]
#[test]
fn os_random_secret_generation_does_not_allocate() {
    let secret = no_alloc("Secret::generate", Secret::generate).unwrap();
    assert_eq!(secret.len(), Secret::DEFAULT_LEN);
    let time = no_alloc("unix_time", otpcore::unix_time).unwrap();
    assert!(time > 1_600_000_000);
}

#[test]
fn deploy_gate_state_throttle_and_recovery_do_not_allocate() {
    let secret = Secret::from_bytes(b"12345678901234567890").unwrap();
    let totp = Totp::new(&secret, TotpParams::default()).unwrap();
    let hotp = Hotp::new(&secret, HotpParams::default()).unwrap();
    let throttle = Throttle::default();
    let (stored, shown) = no_alloc("RecoveryCodes::generate_with", || {
        RecoveryCodes::generate_with(|buf: &mut [u8]| {
            buf.fill(0x5a);
            Ok::<(), ()>(())
        })
    })
    .unwrap();
    let mut state = UserState {
        recovery: stored,
        ..UserState::default()
    };
    let now = 1_700_000_000;
    let mut code = [0u8; 10];
    let code = totp.generate(now).unwrap().write_to(&mut code).unwrap();
    let valid = no_alloc("UserState::verify_totp", || {
        state.verify_totp(&totp, &throttle, code, now)
    });
    assert!(valid.unwrap().is_valid());
    let wrong = no_alloc("UserState::verify_totp miss", || {
        state.verify_totp(&totp, &throttle, "000000", now)
    });
    assert!(!wrong.unwrap().is_valid());
    let hotp_miss = no_alloc("UserState::verify_hotp", || {
        state.verify_hotp(&hotp, &throttle, "000000", now)
    });
    assert!(!hotp_miss.unwrap().is_valid());
    let recovery = no_alloc("UserState::verify_recovery", || {
        state.verify_recovery(&throttle, shown[0].as_str(), now)
    });
    assert!(recovery.unwrap().is_valid());
    let mut buf = [0u8; USER_STATE_LEN];
    let bytes = no_alloc("UserState::encode", || state.encode(&mut buf)).unwrap();
    let decoded = no_alloc("UserState::decode", || UserState::decode(bytes)).unwrap();
    assert_eq!(decoded, state);
}

#[test]
fn out_of_band_codes_do_not_allocate() {
    let policy = otpcore::OobPolicy::default();
    let key = no_alloc("OobKey::new", || otpcore::OobKey::new(&[7u8; 32])).unwrap();
    let mut record = otpcore::OobRecord::default();
    let now = 1_700_000_000;
    let code = no_alloc("OobRecord::issue_with", || {
        record.issue_with(&key, "alice", &policy, now, |buf: &mut [u8]| {
            buf.fill(0x5a);
            Ok::<(), ()>(())
        })
    })
    .unwrap();
    let mut typed = [0u8; 8];
    let typed = &mut typed[..code.as_str().len()];
    typed.copy_from_slice(code.as_str().as_bytes());
    let wrong = no_alloc("OobRecord::verify miss", || {
        record.verify(&key, "alice", "000000", now)
    });
    assert!(!wrong.unwrap().is_valid());
    let valid = no_alloc("OobRecord::verify", || {
        record.verify(&key, "alice", &*typed, now)
    });
    assert!(valid.unwrap().is_valid());
    let bytes = no_alloc("OobRecord::to_bytes", || record.to_bytes());
    let decoded = no_alloc("OobRecord::from_bytes", || {
        otpcore::OobRecord::from_bytes(&bytes)
    })
    .unwrap();
    assert_eq!(decoded.to_bytes(), bytes);
    let mut message = Fixed::new();
    no_alloc("OobIssueTooSoon Display", || {
        write!(message, "{}", Error::OobIssueTooSoon { retry_at: 60 })
    })
    .unwrap();
    assert!(message.as_str().ends_with("at Unix time 60"));
}

#[cfg(feature = "std")]
#[test]
fn os_random_out_of_band_issue_does_not_allocate() {
    let key = otpcore::OobKey::new(&[7u8; 32]).unwrap();
    let mut record = otpcore::OobRecord::default();
    let policy = otpcore::OobPolicy::default();
    let code = no_alloc("OobRecord::issue", || {
        record.issue(&key, "alice", &policy, 1_700_000_000)
    })
    .unwrap();
    assert_eq!(code.as_str().len(), 6);
}
