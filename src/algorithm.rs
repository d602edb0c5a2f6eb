//! The HMAC hash functions an OTP can use.

use core::fmt;
use core::str::FromStr;

use crate::Error;

/// The hash function under HMAC (RFC 6238 §1.2 allows SHA-1, SHA-256 and SHA-512).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// HMAC-SHA-1: the RFC 4226 default and the only one every authenticator app honours.
    #[default]
    Sha1,
    /// HMAC-SHA-256.
    Sha256,
    /// HMAC-SHA-512.
    Sha512,
}

impl Algorithm {
    /// The name used in key URIs: `SHA1`, `SHA256` or `SHA512`.
    pub const fn name(self) -> &'static str {
        match self {
            Algorithm::Sha1 => "SHA1",
            Algorithm::Sha256 => "SHA256",
            Algorithm::Sha512 => "SHA512",
        }
    }

    /// Reads `SHA1`, `SHA256` or `SHA512`, in any letter case.
    ///
    /// ```
    /// use otpcore::Algorithm;
    /// assert_eq!(Algorithm::from_name("sha256"), Ok(Algorithm::Sha256));
    /// assert!(Algorithm::from_name("SHA-1").is_err());
    /// ```
    pub fn from_name(name: &str) -> Result<Self, Error> {
        [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512]
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(name))
            .ok_or(Error::UnknownAlgorithm)
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Algorithm {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Algorithm::from_name(s)
    }
}
