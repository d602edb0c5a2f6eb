//! What a user's sealed record holds, and its byte layout (before sealing).
//!
//! | Size | Field |
//! |-----:|-------|
//! | 1    | format: 2 |
//! | 1    | status: 0 pending, 1 active, 2 disabled |
//! | 1    | secret length `n` (1 to [`MAX_SECRET_LEN`](otpcore::MAX_SECRET_LEN)) |
//! | n    | the TOTP secret |
//! | 2    | state length `m`, big-endian |
//! | m    | [`UserState::encode`], of whatever version the core writes |
//! | 1    | phone number length `p`: 0 for none, else 9 to 16 |
//! | p    | the phone number for texted codes, as [`PhoneNumber`] checks it |
//! | 1    | 0 (1 in records written before: an [`OobRecord`] of 56 bytes follows) |
//! | 0 or 56 | an older gate's copy of the last accepted texted code, read and dropped |
//!
//! The state is length-prefixed so that a new `UserState` encoding (a longer one) is read
//! back by [`UserState::decode`] as it is; a later format adds fields after it and gets a
//! new format number. Format 1 (the same without the phone number) is still read, as a
//! user without a phone; records are always written in format 2. The phone number is
//! sealed with the rest: it is personal data, and moving texted codes to another number
//! must need the server key.
//!
//! Older gates kept a copy of the last accepted texted code here, to tell its replay from a
//! wrong code. The core now keeps a used code's tag and refuses its replay without
//! counting it, so the copy is no longer written; one still stored is checked and dropped
//! (the code it held, typed again once after the upgrade, counts as one failure).

use std::vec::Vec;

use zeroize::Zeroizing;

use super::{GateError, PhoneNumber};
use otpcore::{OOB_RECORD_LEN, OobRecord, Secret, USER_STATE_LEN, UserState};

/// Without the phone number (written before texted codes).
const FORMAT_1: u8 = 1;
const FORMAT: u8 = 2;

/// Where a user is in the enrollment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// Enrolled but not confirmed with a first code: no code passes the gate yet.
    Pending,
    /// Confirmed, with recovery codes: codes pass the gate.
    Active,
    /// Turned off by an administrator: nothing passes until the user enrolls again.
    Disabled,
}

impl Status {
    /// The label used in output and the audit trail.
    pub const fn label(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Active => "active",
            Status::Disabled => "disabled",
        }
    }

    const fn to_byte(self) -> u8 {
        match self {
            Status::Pending => 0,
            Status::Active => 1,
            Status::Disabled => 2,
        }
    }

    const fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            0 => Some(Status::Pending),
            1 => Some(Status::Active),
            2 => Some(Status::Disabled),
            _ => None,
        }
    }
}

/// A user's record, opened.
pub(crate) struct Record {
    pub status: Status,
    pub secret: Secret,
    pub state: UserState,
    pub phone: Option<PhoneNumber>,
}

impl Record {
    /// The plaintext to seal, wiped when dropped (it holds the secret).
    pub fn encode(&self) -> Result<Zeroizing<Vec<u8>>, GateError> {
        let secret = self.secret.as_bytes();
        let secret_len = u8::try_from(secret.len()).map_err(|_| GateError::RecordCorrupt)?;
        let mut state = Zeroizing::new([0u8; USER_STATE_LEN]);
        let state = self.state.encode(state.as_mut_slice())?;
        let state_len = u16::try_from(state.len()).map_err(|_| GateError::RecordCorrupt)?;
        let mut out = Zeroizing::new(Vec::with_capacity(
            secret.len().saturating_add(state.len()).saturating_add(5),
        ));
        out.extend_from_slice(&[FORMAT, self.status.to_byte(), secret_len]);
        out.extend_from_slice(secret);
        out.extend_from_slice(&state_len.to_be_bytes());
        out.extend_from_slice(state);
        let phone = self
            .phone
            .as_ref()
            .map_or("", PhoneNumber::as_str)
            .as_bytes();
        out.push(u8::try_from(phone.len()).map_err(|_| GateError::RecordCorrupt)?);
        out.extend_from_slice(phone);
        out.push(0);
        Ok(out)
    }

    /// Reads [`encode`](Self::encode)'s output: [`GateError::RecordCorrupt`] for any
    /// framing or content that does not decode.
    pub fn decode(bytes: &[u8]) -> Result<Self, GateError> {
        let corrupt = |_| GateError::RecordCorrupt;
        let (&[format, status, secret_len], rest) = bytes
            .split_first_chunk::<3>()
            .ok_or(GateError::RecordCorrupt)?;
        if format != FORMAT && format != FORMAT_1 {
            return Err(GateError::RecordCorrupt);
        }
        let status = Status::from_byte(status).ok_or(GateError::RecordCorrupt)?;
        let (secret, rest) = rest
            .split_at_checked(usize::from(secret_len))
            .ok_or(GateError::RecordCorrupt)?;
        let (state_len, rest) = rest
            .split_first_chunk::<2>()
            .ok_or(GateError::RecordCorrupt)?;
        let state_len = usize::from(u16::from_be_bytes(*state_len));
        let (state, rest) = rest
            .split_at_checked(state_len)
            .ok_or(GateError::RecordCorrupt)?;
        let phone = if format == FORMAT_1 {
            if !rest.is_empty() {
                return Err(GateError::RecordCorrupt);
            }
            None
        } else {
            decode_format_2_tail(rest)?
        };
        Ok(Record {
            status,
            secret: Secret::from_bytes(secret).map_err(corrupt)?,
            state: UserState::decode(state).map_err(corrupt)?,
            phone,
        })
    }
}

/// What follows the state in format 2: the phone number and an older gate's copy of the
/// last accepted texted code (dropped), each checked, and nothing after them.
fn decode_format_2_tail(bytes: &[u8]) -> Result<Option<PhoneNumber>, GateError> {
    let (&[phone_len], rest) = bytes
        .split_first_chunk::<1>()
        .ok_or(GateError::RecordCorrupt)?;
    let (phone, rest) = rest
        .split_at_checked(usize::from(phone_len))
        .ok_or(GateError::RecordCorrupt)?;
    let phone = match phone {
        [] => None,
        phone => Some(
            PhoneNumber::parse(core::str::from_utf8(phone).map_err(|_| GateError::RecordCorrupt)?)
                .map_err(|_| GateError::RecordCorrupt)?,
        ),
    };
    match rest.split_first() {
        Some((0, [])) => {}
        Some((1, texted)) => {
            let texted: [u8; OOB_RECORD_LEN] =
                texted.try_into().map_err(|_| GateError::RecordCorrupt)?;
            let texted = Zeroizing::new(texted);
            OobRecord::from_bytes(&texted).map_err(|_| GateError::RecordCorrupt)?;
        }
        _ => return Err(GateError::RecordCorrupt),
    }
    Ok(phone)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn record() -> Record {
        let mut state = UserState::default();
        state.throttle.failures = 2;
        Record {
            status: Status::Active,
            secret: Secret::from_bytes(&[7; 20]).unwrap(),
            state,
            phone: Some(PhoneNumber::parse("+4915112345678").unwrap()),
        }
    }

    #[test]
    fn a_record_round_trips() {
        let bytes = record().encode().unwrap();
        let back = Record::decode(&bytes).unwrap();
        assert_eq!(back.status, Status::Active);
        assert_eq!(back.secret.as_bytes(), &[7; 20]);
        assert_eq!(back.state, record().state);
        assert_eq!(back.phone, record().phone);
        assert_eq!(
            bytes.last(),
            Some(&0),
            "no copy of a texted code is written"
        );
        let none = Record {
            phone: None,
            ..record()
        };
        let back = Record::decode(&none.encode().unwrap()).unwrap();
        assert_eq!(back.phone, None);
    }

    /// A record from an older gate, with its copy of the last accepted texted code.
    fn with_texted_copy() -> Vec<u8> {
        let mut bytes = record().encode().unwrap().to_vec();
        *bytes.last_mut().unwrap() = 1;
        bytes.extend_from_slice(&texted_record());
        bytes
    }

    #[test]
    fn an_older_records_copy_of_a_texted_code_is_read_and_dropped() {
        let back = Record::decode(&with_texted_copy()).unwrap();
        assert_eq!(back.state, record().state);
        assert_eq!(back.phone, record().phone);
        assert_eq!(
            back.encode().unwrap().as_slice(),
            record().encode().unwrap().as_slice()
        );
    }

    fn texted_record() -> [u8; OOB_RECORD_LEN] {
        let key = otpcore::OobKey::new(&[1; 32]).unwrap();
        let mut oob = OobRecord::default();
        let fill = |b: &mut [u8]| {
            b.fill(5);
            Ok::<(), ()>(())
        };
        oob.issue_with(&key, "alice", &otpcore::OobPolicy::default(), 1000, fill)
            .unwrap();
        oob.to_bytes()
    }

    #[test]
    fn a_kept_texted_code_that_is_not_a_valid_record_or_not_56_bytes_is_corrupt() {
        let bytes = with_texted_copy();
        let at = bytes.len() - OOB_RECORD_LEN;
        let mut bad = bytes.to_vec();
        bad[at] = 7; // not a record state
        let mut short = bytes.to_vec();
        short.pop();
        let mut flag = bytes.to_vec();
        flag[at - 1] = 2;
        for bad in [bad, short, flag] {
            assert!(matches!(
                Record::decode(&bad),
                Err(GateError::RecordCorrupt)
            ));
        }
    }

    /// Format 1, as the gate wrote it before texted codes: the same framing without the
    /// phone number.
    #[test]
    fn a_format_1_record_reads_as_a_user_without_a_phone() {
        let none = Record {
            phone: None,
            ..record()
        };
        let bytes = none.encode().unwrap();
        assert_eq!(
            &bytes[bytes.len() - 2..],
            [0, 0],
            "no phone, no texted code"
        );
        let mut old = bytes[..bytes.len() - 2].to_vec();
        old[0] = 1;
        let back = Record::decode(&old).unwrap();
        assert_eq!(back.status, Status::Active);
        assert_eq!(back.phone, None);
        assert_eq!(back.state, record().state);
        old.push(0);
        assert!(matches!(
            Record::decode(&old),
            Err(GateError::RecordCorrupt)
        ));
    }

    #[test]
    fn a_stored_phone_number_that_is_not_e164_is_corrupt() {
        let bytes = record().encode().unwrap();
        let at = bytes.len() - 15;
        for (offset, byte) in [(0, b'x'), (1, b'0'), (13, b' ')] {
            let mut bad = bytes.to_vec();
            bad[at + offset] = byte;
            assert!(matches!(
                Record::decode(&bad),
                Err(GateError::RecordCorrupt)
            ));
        }
    }

    #[test]
    fn every_framing_fault_is_corrupt() {
        let bytes = record().encode().unwrap();
        for cut in 0..bytes.len() {
            assert!(matches!(
                Record::decode(&bytes[..cut]),
                Err(GateError::RecordCorrupt)
            ));
        }
        for (at, value) in [(0, 3), (1, 3), (2, 0)] {
            let mut bad = bytes.to_vec();
            bad[at] = value;
            assert!(matches!(
                Record::decode(&bad),
                Err(GateError::RecordCorrupt)
            ));
        }
        let mut longer = bytes.to_vec();
        longer.push(0);
        assert!(matches!(
            Record::decode(&longer),
            Err(GateError::RecordCorrupt)
        ));
    }
}
