#![no_std]
#![doc = include_str!("../README.md")]
#![deny(unsafe_code)]
#![deny(missing_docs)]

#[cfg(feature = "std")]
extern crate std;

mod algorithm;
pub mod base32;
mod code;
mod error;
mod hotp;
mod key;
mod secret;
mod totp;
pub mod uri;
mod verify;

pub use algorithm::Algorithm;
pub use code::{Code, Digits};
pub use error::Error;
pub use hotp::{Hotp, HotpParams};
pub use secret::{MAX_SECRET_BASE32_LEN, MAX_SECRET_LEN, Secret, SecretPolicy};
#[cfg(feature = "std")]
pub use totp::unix_time;
pub use totp::{Totp, TotpParams};
pub use uri::{Compatibility, KeyUri, OtpType};
pub use verify::{MAX_WINDOW, Match, Verification};
