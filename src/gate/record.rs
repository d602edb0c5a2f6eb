//! What a user's sealed record holds, and its byte layout (before sealing).
//!
//! | Size | Field |
//! |-----:|-------|
//! | 1    | format: 1 |
//! | 1    | status: 0 pending, 1 active, 2 disabled |
//! | 1    | secret length `n` (1 to [`MAX_SECRET_LEN`](crate::MAX_SECRET_LEN)) |
//! | n    | the TOTP secret |
//! | 2    | state length `m`, big-endian |
//! | m    | [`UserState::encode`], of whatever version the core writes |
//!
//! The state is length-prefixed so that a new `UserState` encoding (a longer one) is read
//! back by [`UserState::decode`] as it is; a later format adds fields after it and gets a
//! new format number.

use std::vec::Vec;

use zeroize::Zeroizing;

use super::GateError;
use crate::{Secret, USER_STATE_LEN, UserState};

const FORMAT: u8 = 1;

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
        Ok(out)
    }

    /// Reads [`encode`](Self::encode)'s output: [`GateError::RecordCorrupt`] for any
    /// framing or content that does not decode.
    pub fn decode(bytes: &[u8]) -> Result<Self, GateError> {
        let corrupt = |_| GateError::RecordCorrupt;
        let (&[format, status, secret_len], rest) = bytes
            .split_first_chunk::<3>()
            .ok_or(GateError::RecordCorrupt)?;
        if format != FORMAT {
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
        if rest.len() != state_len {
            return Err(GateError::RecordCorrupt);
        }
        Ok(Record {
            status,
            secret: Secret::from_bytes(secret).map_err(corrupt)?,
            state: UserState::decode(rest).map_err(corrupt)?,
        })
    }
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
        }
    }

    #[test]
    fn a_record_round_trips() {
        let bytes = record().encode().unwrap();
        let back = Record::decode(&bytes).unwrap();
        assert_eq!(back.status, Status::Active);
        assert_eq!(back.secret.as_bytes(), &[7; 20]);
        assert_eq!(back.state, record().state);
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
        for (at, value) in [(0, 2), (1, 3), (2, 0)] {
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
