//! The shared secret: fixed capacity, wiped on drop, never printed.

use core::fmt;

use subtle::{Choice, ConstantTimeEq};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::{Error, base32};

/// The largest secret, in bytes, that a [`Secret`] holds: 256 bytes (2048 bits), twice the
/// SHA-512 block size, as long as the keys oathtool and pyotp compute codes for, and far
/// above any secret an authenticator app issues. Keys longer than the hash's block (64
/// bytes for SHA-1 and SHA-256, 128 for SHA-512) are hashed once, as RFC 2104 says.
pub const MAX_SECRET_LEN: usize = 256;

/// The length of the base32 text of the longest secret (410 characters).
pub const MAX_SECRET_BASE32_LEN: usize = base32::encoded_len(MAX_SECRET_LEN);

/// How short a secret may be when it is imported.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SecretPolicy {
    /// At least 80 bits (10 bytes): what authenticator apps accept and many services still
    /// issue (16 base32 characters, such as `JBSWY3DPEHPK3PXP`).
    #[default]
    Compatible,
    /// At least 128 bits (16 bytes), the minimum RFC 4226 §4 requires.
    Strict,
}

impl SecretPolicy {
    /// The minimum secret length in bits.
    pub const fn min_bits(self) -> u16 {
        match self {
            SecretPolicy::Compatible => 80,
            SecretPolicy::Strict => 128,
        }
    }

    const fn min_bytes(self) -> usize {
        self.min_bits() as usize / 8
    }
}

/// An HOTP/TOTP shared secret of 1 to [`MAX_SECRET_LEN`] bytes.
///
/// It lives in a fixed array (no heap), is wiped when dropped, does not implement `Clone`
/// (so copies are explicit), compares in constant time and prints as `Secret(..)`.
pub struct Secret {
    bytes: [u8; MAX_SECRET_LEN],
    len: usize,
}

impl Secret {
    /// The length, in bytes, of generated secrets: 160 bits, as RFC 4226 §4 recommends.
    pub const DEFAULT_LEN: usize = 20;

    fn empty() -> Self {
        Secret {
            bytes: [0; MAX_SECRET_LEN],
            len: 0,
        }
    }

    /// Checks that `len` bytes make a secret under `policy`.
    pub(crate) fn check_len(len: usize, policy: SecretPolicy) -> Result<(), Error> {
        if len == 0 {
            Err(Error::SecretEmpty)
        } else if len > MAX_SECRET_LEN {
            Err(Error::SecretTooLong)
        } else if len < policy.min_bytes() {
            Err(Error::SecretTooShort {
                min_bits: policy.min_bits(),
            })
        } else {
            Ok(())
        }
    }

    /// Imports raw secret bytes under the [`SecretPolicy::Compatible`] policy (80 bits or more).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        Self::from_bytes_with_policy(bytes, SecretPolicy::default())
    }

    /// Imports raw secret bytes under `policy`.
    pub fn from_bytes_with_policy(bytes: &[u8], policy: SecretPolicy) -> Result<Self, Error> {
        Self::check_len(bytes.len(), policy)?;
        let mut secret = Secret::empty();
        for (slot, &b) in secret.bytes.iter_mut().zip(bytes) {
            *slot = b;
        }
        secret.len = bytes.len();
        Ok(secret)
    }

    /// Imports a base32 secret under the [`SecretPolicy::Compatible`] policy.
    ///
    /// Reading is lenient as [`base32`](crate::base32) describes: any letter case, spaces and
    /// `-` ignored, `=` padding optional.
    ///
    /// ```
    /// use otpcore::Secret;
    /// let secret = Secret::from_base32("jbsw y3dp ehpk 3pxp")?;
    /// assert_eq!(secret.len(), 10);
    /// # Ok::<(), otpcore::Error>(())
    /// ```
    pub fn from_base32(text: &str) -> Result<Self, Error> {
        Self::from_base32_with_policy(text, SecretPolicy::default())
    }

    /// Imports a base32 secret under `policy`.
    pub fn from_base32_with_policy(text: &str, policy: SecretPolicy) -> Result<Self, Error> {
        Self::from_base32_stream(text.bytes().map(Ok), policy)
    }

    /// The length of the secret that base32 `text` decodes to, checked under `policy`.
    pub(crate) fn base32_len_of(
        text: impl Iterator<Item = Result<u8, Error>>,
        policy: SecretPolicy,
    ) -> Result<usize, Error> {
        let len = base32::decoded_len_of(text)?;
        Self::check_len(len, policy)?;
        Ok(len)
    }

    /// Sets this secret, where it lies, to the `len` bytes `fill` writes straight into its
    /// storage: the C API's way to set up a secret in the caller's object without a copy
    /// of it anywhere else. `len` must have passed [`Secret::check_len`]; on an error from
    /// `fill` the secret is left empty.
    #[cfg(feature = "ffi")]
    pub(crate) fn fill_in_place(
        &mut self,
        len: usize,
        fill: impl FnOnce(&mut [u8]) -> Result<(), Error>,
    ) -> Result<(), Error> {
        self.zeroize();
        let bytes = self.bytes.get_mut(..len).ok_or(Error::SecretTooLong)?;
        if let Err(e) = fill(bytes) {
            self.zeroize();
            return Err(e);
        }
        self.len = len;
        Ok(())
    }

    /// [`from_base32_with_policy`](Self::from_base32_with_policy) of text given as a stream
    /// of bytes (a key URI's percent-decoded `secret`), so no copy of the text is needed.
    pub(crate) fn from_base32_stream(
        text: impl Iterator<Item = Result<u8, Error>> + Clone,
        policy: SecretPolicy,
    ) -> Result<Self, Error> {
        Self::base32_len_of(text.clone(), policy)?;
        let mut secret = Secret::empty();
        secret.len = base32::decode_from(text, &mut secret.bytes)?.len();
        Ok(secret)
    }

    /// Generates a secret of `len` bytes from the caller's entropy source `fill`, which must
    /// fill the whole slice with cryptographically secure random bytes.
    ///
    /// This is the `no_std` way to create a secret. `len` must be from 16 (128 bits, the
    /// RFC 4226 minimum: new secrets are never weak) to [`MAX_SECRET_LEN`]; use
    /// [`Secret::DEFAULT_LEN`] unless you have a reason not to. An error from `fill` gives
    /// [`Error::RandomnessUnavailable`].
    pub fn generate_with<E>(
        len: usize,
        fill: impl FnOnce(&mut [u8]) -> Result<(), E>,
    ) -> Result<Self, Error> {
        Self::check_len(len, SecretPolicy::Strict)?;
        let mut secret = Secret::empty();
        let bytes = secret.bytes.get_mut(..len).ok_or(Error::SecretTooLong)?;
        fill(bytes).map_err(|_| Error::RandomnessUnavailable)?;
        secret.len = len;
        Ok(secret)
    }

    /// Generates a [`Secret::DEFAULT_LEN`]-byte (160-bit) secret from the operating system's
    /// random number generator.
    #[cfg(feature = "std")]
    pub fn generate() -> Result<Self, Error> {
        Self::generate_len(Self::DEFAULT_LEN)
    }

    /// Generates a secret of `len` bytes (16 to [`MAX_SECRET_LEN`]) from the operating
    /// system's random number generator.
    #[cfg(feature = "std")]
    pub fn generate_len(len: usize) -> Result<Self, Error> {
        Self::generate_with(len, getrandom::fill)
    }

    /// The secret bytes. Handle with care: whatever you copy them into is yours to wipe.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }

    /// The length in bytes (never zero).
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        self.len
    }

    /// The length of the canonical base32 text of this secret.
    pub fn base32_len(&self) -> usize {
        base32::encoded_len(self.len)
    }

    /// Writes the canonical base32 text (upper case, no padding) into `out`.
    ///
    /// ```
    /// use otpcore::Secret;
    /// let secret = Secret::from_base32("jbswy3dpehpk3pxp")?;
    /// let mut buf = [0u8; otpcore::MAX_SECRET_BASE32_LEN];
    /// assert_eq!(secret.to_base32(&mut buf)?, "JBSWY3DPEHPK3PXP");
    /// # Ok::<(), otpcore::Error>(())
    /// ```
    pub fn to_base32<'a>(&self, out: &'a mut [u8]) -> Result<&'a str, Error> {
        base32::encode(self.as_bytes(), out)
    }

    /// Writes the canonical base32 text into a formatter (for example a key URI) through a
    /// stack buffer that is wiped afterwards.
    pub fn write_base32(&self, w: &mut impl fmt::Write) -> fmt::Result {
        let mut buf = [0u8; MAX_SECRET_BASE32_LEN];
        let result = match self.to_base32(&mut buf) {
            Ok(text) => w.write_str(text),
            Err(_) => Err(fmt::Error),
        };
        buf.zeroize();
        result
    }
}

impl ConstantTimeEq for Secret {
    fn ct_eq(&self, other: &Self) -> Choice {
        // Lengths are not secret; the bytes are compared in constant time.
        self.as_bytes().ct_eq(other.as_bytes())
    }
}

impl Zeroize for Secret {
    fn zeroize(&mut self) {
        self.bytes.zeroize();
        self.len.zeroize();
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.zeroize();
    }
}

impl ZeroizeOnDrop for Secret {}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}
