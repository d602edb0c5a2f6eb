//! One-time codes: the digits setting, generated codes, and reading codes users type.

use core::fmt;

use crate::Error;

/// A number of code digits, 6 to 10 (RFC 4226 §5.3 requires at least 6; 31 bits hold at
/// most 10 decimal digits).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Digits(u8);

impl Digits {
    /// Six digits, the default of every authenticator app.
    pub const SIX: Digits = Digits(6);
    /// Eight digits.
    pub const EIGHT: Digits = Digits(8);

    /// Checks that `n` is from 6 to 10.
    pub const fn new(n: u8) -> Result<Self, Error> {
        match n {
            6..=10 => Ok(Digits(n)),
            _ => Err(Error::InvalidDigits),
        }
    }

    /// The number of digits.
    pub const fn get(self) -> u8 {
        self.0
    }

    /// Reduces a 31-bit truncated HMAC value to this many decimal digits. Each arm divides
    /// by a constant, which compiles to multiplications: no data-dependent division time.
    pub(crate) const fn reduce(self, truncated: u32) -> u32 {
        match self.0 {
            6 => truncated % 1_000_000,
            7 => truncated % 10_000_000,
            8 => truncated % 100_000_000,
            9 => truncated % 1_000_000_000,
            // 10^10 exceeds 2^31: the 31-bit value is its own remainder.
            _ => truncated,
        }
    }
}

impl Default for Digits {
    fn default() -> Self {
        Digits::SIX
    }
}

impl TryFrom<u8> for Digits {
    type Error = Error;

    fn try_from(n: u8) -> Result<Self, Error> {
        Digits::new(n)
    }
}

impl fmt::Display for Digits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// A generated one-time code. `Display` prints it zero-padded to its number of digits.
///
/// It deliberately has no `PartialEq`: compare a typed code with
/// [`Totp::verify`](crate::Totp::verify) or [`Hotp::verify`](crate::Hotp::verify), which
/// compare in constant time.
#[derive(Clone, Copy)]
pub struct Code {
    value: u32,
    digits: Digits,
}

impl Code {
    pub(crate) const fn new(value: u32, digits: Digits) -> Self {
        Code { value, digits }
    }

    /// The code as a number (print it zero-padded: a code may start with 0).
    pub const fn value(&self) -> u32 {
        self.value
    }

    /// The number of digits.
    pub const fn digits(&self) -> Digits {
        self.digits
    }

    /// The zero-padded ASCII digits in a fixed array, and how many of its bytes are used.
    #[inline]
    pub fn to_ascii(&self) -> ([u8; 10], usize) {
        let len = usize::from(self.digits.get());
        let mut out = [b'0'; 10];
        let mut rest = self.value;
        for slot in out.iter_mut().take(len).rev() {
            *slot = b'0'.wrapping_add((rest % 10) as u8);
            rest /= 10;
        }
        (out, len)
    }

    /// Writes the zero-padded digits into `out` and returns them as a string.
    #[inline]
    pub fn write_to<'a>(&self, out: &'a mut [u8]) -> Result<&'a str, Error> {
        let (ascii, len) = self.to_ascii();
        let out = out
            .get_mut(..len)
            .ok_or(Error::BufferTooSmall { needed: len })?;
        out.copy_from_slice(ascii.get(..len).unwrap_or_default());
        core::str::from_utf8(out).map_err(|_| Error::CodeInvalidCharacter)
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (ascii, len) = self.to_ascii();
        for &b in ascii.iter().take(len) {
            fmt::Write::write_char(f, char::from(b))?;
        }
        Ok(())
    }
}

impl fmt::Debug for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Code({self})")
    }
}

/// The longest typed code that is read at all, in bytes: ten digits with room for any
/// sensible grouping. Longer input is [`Error::CodeWrongLength`] before any other work, so
/// a megabyte of spaces costs nothing.
pub const MAX_CODE_INPUT_LEN: usize = 32;

/// Reads a code as a user typed it: exactly `digits` ASCII digits, optionally split into
/// groups by ASCII spaces (`"123 456"`), at most [`MAX_CODE_INPUT_LEN`] bytes in all.
/// Leading or trailing spaces, any other character (including non-ASCII digits) or another
/// number of digits make it malformed.
///
/// The code is the user's input, not a secret, so reading it may take input-dependent time.
pub(crate) fn parse_code(bytes: &[u8], digits: Digits) -> Result<u64, Error> {
    if bytes.len() > MAX_CODE_INPUT_LEN {
        return Err(Error::CodeWrongLength);
    }
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return Err(Error::CodeWrongLength);
    };
    if !first.is_ascii_digit() || !last.is_ascii_digit() {
        return Err(Error::CodeInvalidCharacter);
    }
    let mut value: u64 = 0;
    let mut count: u8 = 0;
    for &b in bytes {
        match b {
            b'0'..=b'9' => {
                if count >= digits.get() {
                    return Err(Error::CodeWrongLength);
                }
                count = count.wrapping_add(1);
                value = value
                    .wrapping_mul(10)
                    .wrapping_add(u64::from(b.wrapping_sub(b'0')));
            }
            b' ' => {}
            _ => return Err(Error::CodeInvalidCharacter),
        }
    }
    if count == digits.get() {
        Ok(value)
    } else {
        Err(Error::CodeWrongLength)
    }
}
