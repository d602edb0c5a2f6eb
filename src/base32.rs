//! Base32 (RFC 4648) for secrets, without allocation.
//!
//! Reading is lenient in the way authenticator apps are, and in one documented way only:
//! letters in either case; spaces and `-` anywhere are ignored (services print keys in
//! groups); `=` padding may be absent or complete, but only at the end; non-zero trailing
//! bits are accepted (as oathtool and pyotp do). Lengths that no byte string encodes to
//! (1, 3 or 6 symbols modulo 8) and any other character are errors.
//!
//! Writing is canonical: upper case, no padding.

use data_encoding::BASE32_NOPAD;

use crate::Error;

/// The number of base32 characters (without padding) that `len` bytes encode to.
pub const fn encoded_len(len: usize) -> usize {
    // Saturates rather than wraps for lengths no memory can hold.
    (len / 5)
        .saturating_mul(8)
        .saturating_add((len % 5).saturating_mul(8).div_ceil(5))
}

/// Encodes `bytes` as canonical base32 (upper case, no padding) into `out`.
///
/// Returns the written part of `out` as a string. When `out` is shorter than
/// [`encoded_len`] it returns [`Error::BufferTooSmall`] and writes nothing.
pub fn encode<'a>(bytes: &[u8], out: &'a mut [u8]) -> Result<&'a str, Error> {
    let needed = encoded_len(bytes.len());
    let out = out
        .get_mut(..needed)
        .ok_or(Error::BufferTooSmall { needed })?;
    BASE32_NOPAD.encode_mut(bytes, out);
    // The base32 alphabet is ASCII, so this cannot fail; the error path exists only so
    // that no panic is reachable.
    core::str::from_utf8(out).map_err(|_| Error::BufferTooSmall { needed })
}

/// The 5-bit value of a base32 symbol in either case, or `None` for anything else.
fn symbol_value(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c.wrapping_sub(b'A')),
        b'a'..=b'z' => Some(c.wrapping_sub(b'a')),
        b'2'..=b'7' => Some(c.wrapping_sub(b'2').wrapping_add(26)),
        _ => None,
    }
}

/// Checks `input` against the reading policy and returns the decoded length in bytes.
pub fn decoded_len(input: &str) -> Result<usize, Error> {
    decoded_len_of(input.bytes().map(Ok))
}

/// [`decoded_len`] of text given as a stream of bytes, such as a percent-decoded URI
/// parameter; an error in the stream itself ends the check with that error.
pub(crate) fn decoded_len_of(
    input: impl Iterator<Item = Result<u8, Error>>,
) -> Result<usize, Error> {
    let mut symbols: usize = 0;
    let mut padding: usize = 0;
    for (position, c) in input.enumerate() {
        match c? {
            b' ' | b'-' => {}
            b'=' => padding = padding.saturating_add(1),
            c => {
                if symbol_value(c).is_none() {
                    return Err(Error::Base32InvalidCharacter { position });
                }
                if padding > 0 {
                    return Err(Error::Base32InvalidPadding);
                }
                symbols = symbols.saturating_add(1);
            }
        }
    }
    let tail = symbols % 8;
    let tail_bytes = match tail {
        0 => 0,
        2 => 1,
        4 => 2,
        5 => 3,
        7 => 4,
        _ => return Err(Error::Base32InvalidLength),
    };
    if padding != 0 && (tail == 0 || padding != 8usize.wrapping_sub(tail)) {
        return Err(Error::Base32InvalidPadding);
    }
    Ok((symbols / 8).saturating_mul(5).saturating_add(tail_bytes))
}

/// Decodes base32 `input` (see the module docs for what is accepted) into `out`.
///
/// Returns the written part of `out`. On any error nothing is written: the input is fully
/// checked before the first byte is stored. A too-short `out` gives
/// [`Error::BufferTooSmall`] with the length needed.
pub fn decode<'a>(input: &str, out: &'a mut [u8]) -> Result<&'a mut [u8], Error> {
    decode_from(input.bytes().map(Ok), out)
}

/// [`decode`] of text given as a stream of bytes, read twice: once to check it, once to
/// decode it.
pub(crate) fn decode_from(
    input: impl Iterator<Item = Result<u8, Error>> + Clone,
    out: &mut [u8],
) -> Result<&mut [u8], Error> {
    let needed = decoded_len_of(input.clone())?;
    let out = out
        .get_mut(..needed)
        .ok_or(Error::BufferTooSmall { needed })?;
    let mut bits: u32 = 0;
    let mut nbits: u32 = 0;
    let mut slots = out.iter_mut();
    // The check above saw every item succeed, so no error is dropped here.
    for value in input.filter_map(Result::ok).filter_map(symbol_value) {
        bits = (bits << 5 | u32::from(value)) & 0xFFF;
        nbits = nbits.wrapping_add(5);
        if nbits >= 8 {
            nbits = nbits.wrapping_sub(8);
            // Bits left over after the last whole byte are the trailing bits; they never
            // reach a slot, because `out` was cut to the whole-byte length.
            if let Some(slot) = slots.next() {
                *slot = (bits >> nbits) as u8;
            }
        }
    }
    Ok(out)
}
