//! Single-use recovery codes ("scratch codes") for a user who lost the phone.
//!
//! A set holds [`RECOVERY_CODE_COUNT`] codes of 80 random bits each, shown once to the user
//! as 16 symbols in groups of four (`7k2m-9xqd-4hvt-p3ne`), in the Crockford base32
//! alphabet: digits and lower-case letters without `i`, `l`, `o` and `u`. Typed codes are
//! read in any letter case, with or without the dashes and spaces, and with `o` read as `0`
//! and `i`/`l` as `1`, as Crockford intends.
//!
//! Only salted hashes are stored ([`RecoveryCodes`]): SHA-256 of a random 16-byte salt,
//! unique to the set, followed by the code's 10 bytes. A single fast hash is enough because
//! the codes are random and long, unlike passwords: slow password hashes exist to make
//! guessing *likely* inputs expensive, and here there are no likely inputs. Finding any one
//! of ten 80-bit codes from a stolen set takes about 2^76 SHA-256 computations, some two
//! million GPU-years at 10^10 hashes a second; the salt makes every set a separate search,
//! so no table computed in advance helps.
//!
//! Verification hashes the typed code once and compares it with every slot in constant
//! time (`subtle`), so neither the time taken nor the memory accessed reveals which slot
//! matched, or whether one did. A matching code's slot is marked used: it never verifies
//! again.

use core::fmt;

use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::Error;
use crate::throttle::AttemptOutcome;

/// The number of codes in a set.
pub const RECOVERY_CODE_COUNT: usize = 10;

/// The random bytes in each code: 80 bits.
pub const RECOVERY_CODE_BYTES: usize = 10;

/// The length of the salt of a set, in bytes.
pub const RECOVERY_SALT_LEN: usize = 16;

/// The length of a code as shown: 16 symbols in four groups of four, joined by `-`.
pub const RECOVERY_CODE_TEXT_LEN: usize = 19;

/// The longest typed recovery code that is read at all, in bytes: the 16 symbols with room
/// for any sensible grouping. Longer input is [`Error::RecoveryCodeMalformed`] before any
/// other work.
pub const MAX_RECOVERY_CODE_INPUT_LEN: usize = 64;

/// The random bytes [`RecoveryCodes::generate_with`] asks for: the salt, then each code.
pub const RECOVERY_RANDOM_LEN: usize =
    RECOVERY_SALT_LEN + RECOVERY_CODE_COUNT * RECOVERY_CODE_BYTES;

const SYMBOLS: usize = 16;
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
const ALL_USED: u16 = (1 << RECOVERY_CODE_COUNT) - 1;

/// The stored form of a set of recovery codes: salt, hashes and which codes are used.
/// Plain data (`#[repr(C)]`, 338 bytes) that holds no code itself.
///
/// The `Default` is an empty set with every slot used, so that nothing verifies against it.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RecoveryCodes {
    /// The random salt of this set.
    pub salt: [u8; RECOVERY_SALT_LEN],
    /// SHA-256 of the salt followed by each code's bytes.
    pub hashes: [[u8; 32]; RECOVERY_CODE_COUNT],
    /// Bit `i` is set once code `i` has been used. Bits 10 to 15 are always 0.
    pub used: u16,
}

impl Default for RecoveryCodes {
    fn default() -> Self {
        RecoveryCodes::EMPTY
    }
}

/// One code as shown to the user once, at generation. Wiped on drop, not `Clone`.
pub struct RecoveryCode {
    text: [u8; RECOVERY_CODE_TEXT_LEN],
}

impl RecoveryCode {
    /// The code as `xxxx-xxxx-xxxx-xxxx`.
    pub fn as_str(&self) -> &str {
        // The text is built from the ASCII alphabet and `-` only.
        core::str::from_utf8(&self.text).unwrap_or_default()
    }
}

impl Zeroize for RecoveryCode {
    fn zeroize(&mut self) {
        self.text.zeroize();
    }
}

impl Drop for RecoveryCode {
    fn drop(&mut self) {
        self.zeroize();
    }
}

impl ZeroizeOnDrop for RecoveryCode {}

impl fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryCode(..)")
    }
}

/// The codes of a freshly generated set, to show to the user once and then drop.
pub type RecoveryCodeList = [RecoveryCode; RECOVERY_CODE_COUNT];

/// The outcome of checking a well-formed recovery code. Malformed input is an
/// [`Error::RecoveryCodeMalformed`] instead.
#[must_use = "a verification that is not checked lets every code in"]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecoveryVerification {
    /// The code is unused and now marked used: persist the set before granting access.
    Valid {
        /// The slot of the code (0 to 9).
        slot: usize,
        /// How many unused codes are left.
        remaining: usize,
    },
    /// The code belongs to the set but was used before: refuse it. A replay, which a
    /// [`Throttle`](crate::Throttle) does not count as a failure.
    Used {
        /// The slot of the code.
        slot: usize,
    },
    /// The code is not in the set.
    Invalid,
}

impl RecoveryVerification {
    /// `true` only for [`RecoveryVerification::Valid`].
    pub const fn is_valid(&self) -> bool {
        matches!(self, RecoveryVerification::Valid { .. })
    }
}

impl AttemptOutcome for RecoveryVerification {
    /// Only [`RecoveryVerification::Valid`].
    fn is_success(&self) -> bool {
        self.is_valid()
    }

    /// [`RecoveryVerification::Used`]: the typed code hashes to a used slot of the set,
    /// so it is exactly a code that was valid and is used up. Any other code, however
    /// close, is [`RecoveryVerification::Invalid`] and a failure.
    fn is_replay(&self) -> bool {
        matches!(self, RecoveryVerification::Used { .. })
    }
}

/// SHA-256 of the salt followed by the code, on a message buffer that is wiped afterwards.
fn hash(salt: &[u8; RECOVERY_SALT_LEN], code: &[u8; RECOVERY_CODE_BYTES]) -> [u8; 32] {
    let mut message = [0u8; RECOVERY_SALT_LEN + RECOVERY_CODE_BYTES];
    let (head, tail) = message.split_at_mut(RECOVERY_SALT_LEN);
    head.copy_from_slice(salt);
    tail.copy_from_slice(code);
    let digest = crate::key::sha256(&message);
    message.zeroize();
    digest
}

/// The 16 symbols of a code: 5 bits each, most significant first.
fn encode(bytes: &[u8; RECOVERY_CODE_BYTES]) -> RecoveryCode {
    let mut text = [b'-'; RECOVERY_CODE_TEXT_LEN];
    let mut rest = bytes.iter().fold(0u128, |acc, &b| acc << 8 | u128::from(b));
    // The last symbol holds the lowest 5 bits: fill from the end.
    let positions = (0..RECOVERY_CODE_TEXT_LEN).filter(|i| i % 5 != 4).rev();
    for position in positions {
        let index = (rest & 31) as usize;
        rest >>= 5;
        if let (Some(slot), Some(&symbol)) = (text.get_mut(position), ALPHABET.get(index)) {
            *slot = symbol;
        }
    }
    RecoveryCode { text }
}

/// The value of a typed Crockford symbol, `None` for anything else.
fn symbol_value(c: u8) -> Option<u8> {
    let c = c.to_ascii_lowercase();
    let c = match c {
        b'o' => b'0',
        b'i' | b'l' => b'1',
        _ => c,
    };
    ALPHABET
        .iter()
        .position(|&a| a == c)
        .and_then(|p| u8::try_from(p).ok())
}

/// Reads a typed code (16 symbols, with `-` and spaces anywhere ignored, at most
/// [`MAX_RECOVERY_CODE_INPUT_LEN`] bytes in all) into `out`, the caller's buffer, so that no
/// copy of the code is returned through the stack. Every partial value is wiped, on errors
/// too.
fn decode(typed: &[u8], out: &mut [u8; RECOVERY_CODE_BYTES]) -> Result<(), Error> {
    if typed.len() > MAX_RECOVERY_CODE_INPUT_LEN {
        return Err(Error::RecoveryCodeMalformed);
    }
    let mut value = 0u128;
    let mut count = 0usize;
    let mut malformed = false;
    for &c in typed {
        if c == b'-' || c == b' ' {
            continue;
        }
        match symbol_value(c) {
            Some(v) if count < SYMBOLS => {
                count = count.wrapping_add(1);
                value = value << 5 | u128::from(v);
            }
            _ => {
                malformed = true;
                break;
            }
        }
    }
    let complete = !malformed && count == SYMBOLS;
    if complete {
        let mut rest = value;
        for b in out.iter_mut().rev() {
            *b = rest as u8;
            rest >>= 8;
        }
        rest.zeroize();
    }
    value.zeroize();
    if complete {
        Ok(())
    } else {
        Err(Error::RecoveryCodeMalformed)
    }
}

impl RecoveryCodes {
    /// A set with no codes (every slot used): nothing verifies against it.
    pub const EMPTY: RecoveryCodes = RecoveryCodes {
        salt: [0; RECOVERY_SALT_LEN],
        hashes: [[0; 32]; RECOVERY_CODE_COUNT],
        used: ALL_USED,
    };

    /// Generates a new set from the caller's entropy source `fill`, which must fill the
    /// whole slice ([`RECOVERY_RANDOM_LEN`] bytes) with cryptographically secure random
    /// bytes. Returns the set to store and the codes to show the user once.
    ///
    /// This is the `no_std` way; an error from `fill` gives
    /// [`Error::RandomnessUnavailable`].
    pub fn generate_with<E>(
        fill: impl FnOnce(&mut [u8]) -> Result<(), E>,
    ) -> Result<(RecoveryCodes, RecoveryCodeList), Error> {
        let mut random = [0u8; RECOVERY_RANDOM_LEN];
        if fill(&mut random).is_err() {
            random.zeroize();
            return Err(Error::RandomnessUnavailable);
        }
        let (salt, codes) = random.split_at(RECOVERY_SALT_LEN);
        let mut set = RecoveryCodes {
            salt: [0; RECOVERY_SALT_LEN],
            hashes: [[0; 32]; RECOVERY_CODE_COUNT],
            used: 0,
        };
        set.salt.copy_from_slice(salt);
        let mut list: RecoveryCodeList = core::array::from_fn(|_| RecoveryCode {
            text: [0; RECOVERY_CODE_TEXT_LEN],
        });
        let chunks = codes.chunks_exact(RECOVERY_CODE_BYTES);
        for ((chunk, stored), shown) in chunks.zip(&mut set.hashes).zip(&mut list) {
            let mut bytes = [0u8; RECOVERY_CODE_BYTES];
            bytes.copy_from_slice(chunk);
            *stored = hash(&set.salt, &bytes);
            *shown = encode(&bytes);
            bytes.zeroize();
        }
        random.zeroize();
        crate::key::scrub_stack();
        Ok((set, list))
    }

    /// Generates a new set from the operating system's random number generator.
    ///
    /// ```
    /// use otpcore::{RecoveryCodes, RecoveryVerification};
    /// let (mut stored, shown) = RecoveryCodes::generate()?;
    /// let typed = shown[3].as_str().to_uppercase(); // any case, with or without dashes
    /// assert_eq!(
    ///     stored.verify(&typed)?,
    ///     RecoveryVerification::Valid { slot: 3, remaining: 9 }
    /// );
    /// assert_eq!(stored.verify(&typed)?, RecoveryVerification::Used { slot: 3 });
    /// # Ok::<(), otpcore::Error>(())
    /// ```
    #[cfg(feature = "std")]
    pub fn generate() -> Result<(RecoveryCodes, RecoveryCodeList), Error> {
        Self::generate_with(getrandom::fill)
    }

    /// How many codes are still unused.
    pub const fn remaining(&self) -> usize {
        RECOVERY_CODE_COUNT.saturating_sub((self.used & ALL_USED).count_ones() as usize)
    }

    /// Checks a typed code (text or bytes) against every slot in constant time and marks its
    /// slot used when it is valid. Persist the set before acting on
    /// [`RecoveryVerification::Valid`].
    ///
    /// A typed code that is not 16 symbols of the alphabet (ignoring `-` and spaces) is
    /// [`Error::RecoveryCodeMalformed`].
    pub fn verify(&mut self, typed: impl AsRef<[u8]>) -> Result<RecoveryVerification, Error> {
        let mut code = [0u8; RECOVERY_CODE_BYTES];
        let digest = decode(typed.as_ref(), &mut code).map(|()| hash(&self.salt, &code));
        code.zeroize();
        // The code went through frames below this one (decoding, the block function).
        crate::key::scrub_stack();
        let mut digest = digest?;
        let mut found = Choice::from(0);
        let mut found_used = Choice::from(0);
        let mut slot = 0u8;
        for (i, stored) in (0u8..).zip(&self.hashes) {
            let equal = digest.ct_eq(stored);
            let used = Choice::from(u8::from(self.used >> i & 1 == 1));
            slot.conditional_assign(&i, equal & !found);
            found_used.conditional_assign(&used, equal & !found);
            found |= equal;
        }
        digest.zeroize();
        if !bool::from(found) {
            return Ok(RecoveryVerification::Invalid);
        }
        let slot_index = usize::from(slot);
        if bool::from(found_used) {
            return Ok(RecoveryVerification::Used { slot: slot_index });
        }
        self.used |= 1u16.checked_shl(u32::from(slot)).unwrap_or(0);
        Ok(RecoveryVerification::Valid {
            slot: slot_index,
            remaining: self.remaining(),
        })
    }
}
