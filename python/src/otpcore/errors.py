"""Exceptions: every `otp_status` other than OK raises one class per family of statuses.

Each exception carries `status`, the exact `Status` (its number is the C status), and its
message is the library's text followed by the status name and number. Families that are
about bad input also derive from `ValueError`, so `except ValueError` catches them too.

Refusals of a well-formed code (wrong, replayed, expired, ...) are not exceptions: the
`verify` methods return a result that says which. Only the lockouts of a throttle are
raised (`ThrottledError`), since no code was checked.
"""

from __future__ import annotations

from . import _ffi
from ._enums import Status


class OtpError(Exception):
    """An otpcore call failed; `status` says exactly how."""

    #: The C status: a `Status`, or a plain int for a number the header does not list.
    status: int

    def __init__(self, status: int, detail: str | None = None) -> None:
        self.status = status
        self._detail = detail
        name = status.name if isinstance(status, Status) else "unknown status"
        text = f"{_ffi.status_message(status)} ({name}, status {int(status)})"
        super().__init__(f"{text}: {detail}" if detail else text)

    def __reduce__(self) -> tuple[type[OtpError], tuple[object, ...]]:
        # Rebuilt from the status, not the message (multiprocessing pickles exceptions).
        return type(self), (self.status, self._detail)


class InternalError(OtpError):
    """A bug in otpcore or in this binding (a NULL pointer, a too-small buffer, a caught
    panic, or a status number the header does not list). Please report it."""


class ClosedError(OtpError, ValueError):
    """The object was closed (wiped), so its secret is gone."""


class SettingsError(OtpError, ValueError):
    """A setting is out of range: digits, period, window, throttle, out-of-band policy or
    server key length, or an enumeration value."""


class SecretError(OtpError, ValueError):
    """A secret is empty, too short or too long, or its base32 text is invalid."""


class CodeFormatError(OtpError, ValueError):
    """A typed code is malformed (wrong length, a non-digit, not a recovery code); such an
    input is not counted as an attempt."""


class CodeRefusedError(OtpError):
    """A code was refused: wrong, replayed, expired, out of tries, none pending, or the HOTP
    counter is used up. `verify` methods return these as results instead."""


class ThrottledError(OtpError):
    """Too many failures: locked out until `retry_at` (THROTTLED), at the hard stop until a
    recovery code or an administrator reset (LOCKED_OUT, `retry_at` None), or a new
    out-of-band code asked for too soon (OOB_ISSUE_TOO_SOON, retry at `retry_at`)."""

    def __init__(self, status: int, retry_at: int | None) -> None:
        super().__init__(status, None if retry_at is None else f"retry at {retry_at}")
        #: The Unix time from which a new attempt is allowed; None at the hard stop.
        self.retry_at = retry_at

    def __reduce__(self) -> tuple[type[OtpError], tuple[object, ...]]:
        return type(self), (self.status, self.retry_at)


class TimeError(OtpError, ValueError):
    """A time is before the TOTP start time T0, or before the pending out-of-band code was
    issued."""


class UriError(OtpError, ValueError):
    """A key URI, account name or issuer is invalid."""


class StateError(OtpError, ValueError):
    """Stored data (an encoded user state or an out-of-band record) is not valid: treat it
    as lost, refuse and alert; never fall back to a fresh state."""


class PlatformError(OtpError, OSError):
    """The operating system could not provide randomness, or its clock is before 1970."""


S = Status

#: The family of every status but OK.
FAMILIES: dict[Status, type[OtpError]] = {
    S.NULL_POINTER: InternalError,
    S.PANIC: InternalError,
    S.BUFFER_TOO_SMALL: InternalError,
    S.NOT_INITIALIZED: ClosedError,
    S.INVALID_ENUM: SettingsError,
    S.INVALID_DIGITS: SettingsError,
    S.INVALID_PERIOD: SettingsError,
    S.WINDOW_TOO_LARGE: SettingsError,
    S.INVALID_THROTTLE: SettingsError,
    S.OOB_KEY_TOO_SHORT: SettingsError,
    S.OOB_KEY_TOO_LONG: SettingsError,
    S.INVALID_OOB_POLICY: SettingsError,
    S.SECRET_EMPTY: SecretError,
    S.SECRET_TOO_LONG: SecretError,
    S.SECRET_TOO_SHORT: SecretError,
    S.BASE32_INVALID_CHARACTER: SecretError,
    S.BASE32_INVALID_LENGTH: SecretError,
    S.BASE32_INVALID_PADDING: SecretError,
    S.CODE_WRONG_LENGTH: CodeFormatError,
    S.CODE_INVALID_CHARACTER: CodeFormatError,
    S.RECOVERY_CODE_MALFORMED: CodeFormatError,
    S.CODE_INVALID: CodeRefusedError,
    S.CODE_REPLAYED: CodeRefusedError,
    S.COUNTER_EXHAUSTED: CodeRefusedError,
    S.OOB_CODE_EXPIRED: CodeRefusedError,
    S.OOB_TOO_MANY_ATTEMPTS: CodeRefusedError,
    S.OOB_NO_CODE_PENDING: CodeRefusedError,
    S.THROTTLED: ThrottledError,
    S.LOCKED_OUT: ThrottledError,
    S.OOB_ISSUE_TOO_SOON: ThrottledError,
    S.TIME_BEFORE_T0: TimeError,
    S.OOB_TIME_BEFORE_ISSUE: TimeError,
    S.INVALID_UTF8: UriError,
    S.UNKNOWN_ALGORITHM: UriError,
    S.URI_INVALID_SCHEME: UriError,
    S.URI_UNKNOWN_TYPE: UriError,
    S.URI_MALFORMED: UriError,
    S.URI_MISSING_SECRET: UriError,
    S.URI_MISSING_COUNTER: UriError,
    S.URI_INVALID_COUNTER: UriError,
    S.URI_DUPLICATE_PARAMETER: UriError,
    S.URI_INVALID_PERCENT_ENCODING: UriError,
    S.URI_INVALID_UTF8: UriError,
    S.URI_ISSUER_MISMATCH: UriError,
    S.ACCOUNT_NAME_EMPTY: UriError,
    S.ACCOUNT_NAME_HAS_COLON: UriError,
    S.ACCOUNT_NAME_LEADING_SPACE: UriError,
    S.ACCOUNT_NAME_CONTROL_CHARACTER: UriError,
    S.INVALID_ISSUER: UriError,
    S.STATE_BAD_MAGIC: StateError,
    S.STATE_UNSUPPORTED_VERSION: StateError,
    S.STATE_WRONG_LENGTH: StateError,
    S.STATE_INVALID_FLAGS: StateError,
    S.STATE_CORRUPT: StateError,
    S.OOB_RECORD_INVALID: StateError,
    S.RANDOMNESS_UNAVAILABLE: PlatformError,
    S.CLOCK_BEFORE_UNIX_EPOCH: PlatformError,
}

_unmapped = set(Status) - set(FAMILIES) - {S.OK}
if _unmapped:
    raise ImportError(f"otpcore: statuses without an exception family: {sorted(_unmapped)}")


def error_for(status: int, retry_at: int | None = None) -> OtpError:
    """The exception for a status other than OK (`retry_at` only for `ThrottledError`)."""
    try:
        known = Status(status)
    except ValueError:
        return InternalError(status, "the library returned a status the header does not list")
    family = FAMILIES.get(known)
    if family is None:
        return InternalError(known, "OK is not an error")
    if family is ThrottledError:
        return ThrottledError(known, retry_at)
    return family(known)


def check(status: int) -> None:
    """Raises the exception for `status` unless it is OK."""
    if status:
        raise error_for(status)
