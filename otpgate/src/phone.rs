//! Where texted codes go: a phone number in E.164 form, checked before it is stored.

use core::fmt;
use std::string::String;

use super::GateError;

/// The fewest digits accepted after the `+`: a country code and a subscriber number.
pub const PHONE_MIN_DIGITS: usize = 8;
/// The most digits E.164 allows after the `+`.
pub const PHONE_MAX_DIGITS: usize = 15;

/// Why a phone number was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PhoneError {
    /// Nothing was given.
    Empty,
    /// The number does not start with `+` and the country code.
    MissingPlus,
    /// Something other than a digit after the `+` (spaces, dashes and brackets included).
    NotADigit,
    /// The country code starts with 0 (no country code does).
    LeadingZero,
    /// Fewer than [`PHONE_MIN_DIGITS`] digits.
    TooShort,
    /// More than [`PHONE_MAX_DIGITS`] digits.
    TooLong,
}

impl fmt::Display for PhoneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PhoneError::Empty => "the phone number is empty",
            PhoneError::MissingPlus => "the phone number must start with + and the country code",
            PhoneError::NotADigit => {
                "the phone number holds something other than digits after the + \
                 (write it without spaces, dashes or brackets)"
            }
            PhoneError::LeadingZero => "the country code cannot start with 0",
            PhoneError::TooShort => "the phone number has fewer than 8 digits",
            PhoneError::TooLong => "the phone number has more than 15 digits (the E.164 limit)",
        })
    }
}

/// A phone number in E.164 form: `+`, then 8 to 15 digits of which the first (the country
/// code's) is not 0, with nothing else, as SMS gateways take it (`+4915112345678`).
///
/// Written any other way (spaces, dashes, brackets, a national `0` prefix, `00` for `+`) it
/// is refused rather than guessed at: a guessed country code sends codes to a stranger.
#[derive(Clone, PartialEq, Eq)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Checks `text` as described on [`PhoneNumber`]; [`GateError::InvalidPhone`] with the
    /// reason otherwise.
    pub fn parse(text: &str) -> Result<Self, GateError> {
        let invalid = |e| Err(GateError::InvalidPhone(e));
        if text.is_empty() {
            return invalid(PhoneError::Empty);
        }
        let Some(digits) = text.strip_prefix('+') else {
            return invalid(PhoneError::MissingPlus);
        };
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return invalid(PhoneError::NotADigit);
        }
        if digits.starts_with('0') {
            return invalid(PhoneError::LeadingZero);
        }
        if digits.len() < PHONE_MIN_DIGITS {
            return invalid(PhoneError::TooShort);
        }
        if digits.len() > PHONE_MAX_DIGITS {
            return invalid(PhoneError::TooLong);
        }
        Ok(PhoneNumber(String::from(text)))
    }

    /// The number, `+` and digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number with all but its first three and last two digits hidden
    /// (`+491********78`), for output that ends up in pipeline logs.
    pub fn masked(&self) -> String {
        let digits = self.0.len().saturating_sub(1);
        self.0
            .chars()
            .enumerate()
            .map(|(i, c)| {
                if i <= 3 || i >= digits.saturating_sub(1) {
                    c
                } else {
                    '*'
                }
            })
            .collect()
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", self.masked())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    fn reason(text: &str) -> Option<PhoneError> {
        match PhoneNumber::parse(text) {
            Ok(_) => None,
            Err(GateError::InvalidPhone(e)) => Some(e),
            Err(e) => panic!("not a phone error: {e}"),
        }
    }

    #[test]
    fn e164_numbers_are_accepted_and_everything_else_is_refused_with_its_reason() {
        for good in [
            "+4915112345678",
            "+12025550123",
            "+29012345",
            "+123456789012345",
        ] {
            assert_eq!(reason(good), None, "{good}");
        }
        let cases = [
            ("", PhoneError::Empty),
            ("4915112345678", PhoneError::MissingPlus),
            ("004915112345678", PhoneError::MissingPlus),
            ("+49 151 12345678", PhoneError::NotADigit),
            ("+1-202-555-0123", PhoneError::NotADigit),
            ("+", PhoneError::TooShort),
            ("+1234567", PhoneError::TooShort),
            ("+0123456789", PhoneError::LeadingZero),
            ("+1234567890123456", PhoneError::TooLong),
            ("+١٢٣٤٥٦٧٨٩", PhoneError::NotADigit),
        ];
        for (text, expected) in cases {
            assert_eq!(reason(text), Some(expected), "{text:?}");
        }
    }

    #[test]
    fn the_masked_number_keeps_the_country_code_and_the_last_two_digits() {
        let phone = PhoneNumber::parse("+4915112345678").unwrap();
        assert_eq!(phone.masked(), "+491********78");
        assert_eq!(std::format!("{phone:?}"), "PhoneNumber(+491********78)");
    }
}
