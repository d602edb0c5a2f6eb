#![no_std]
// The README's examples use the OS clock and randomness, so they are the crate docs (and
// doctests) only with `std`.
#![cfg_attr(feature = "std", doc = include_str!("../README.md"))]
#![cfg_attr(
    not(feature = "std"),
    doc = "HOTP/TOTP one-time passwords: no_std, allocation-free, constant-time verification."
)]
#![deny(unsafe_code)]
#![deny(missing_docs)]
// docs.rs (`--cfg docsrs`, nightly): mark each item with the feature it needs.
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "std")]
extern crate std;

mod algorithm;
pub mod base32;
mod code;
mod error;
#[cfg(feature = "ffi")]
pub mod ffi;
mod hotp;
mod hwsha;
mod key;
pub mod oob;
pub mod recovery;
mod secret;
mod state;
pub mod throttle;
mod totp;
pub mod uri;
mod verify;

pub use algorithm::Algorithm;
pub use code::{Code, Digits, MAX_CODE_INPUT_LEN};
pub use error::Error;
pub use hotp::{Hotp, HotpParams};
pub use oob::{OOB_RECORD_LEN, OobCode, OobKey, OobPolicy, OobRecord, OobState, OobVerification};
pub use recovery::{RecoveryCode, RecoveryCodes, RecoveryVerification};
pub use secret::{MAX_SECRET_BASE32_LEN, MAX_SECRET_LEN, Secret, SecretPolicy};
pub use state::{USER_STATE_LEN, USER_STATE_VERSION, UserState};
pub use throttle::{AttemptOutcome, MAX_HARD_STOP, Throttle, ThrottleState};
#[cfg(feature = "std")]
pub use totp::unix_time;
pub use totp::{Totp, TotpParams};
pub use uri::{Compatibility, KeyUri, OtpType};
pub use verify::{MAX_RESYNC_WINDOW, MAX_WINDOW, Match, Verification};
