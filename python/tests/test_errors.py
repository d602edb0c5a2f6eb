"""Every `otp_status` of the header maps to its exception family, and each is reached: through
the public API where it can be, through a raw C call where only a misuse of the C API can
cause it, and by its mapping alone for the three no input can cause (PANIC, RANDOMNESS_
UNAVAILABLE, CLOCK_BEFORE_UNIX_EPOCH)."""

from __future__ import annotations

import hashlib
import pickle
from typing import Callable

import pytest

import otpcore
from otpcore import (
    ClosedError,
    CodeFormatError,
    CodeRefusedError,
    Hotp,
    InternalError,
    Invalid,
    KeyUri,
    OobKey,
    OobPolicy,
    OobRecord,
    OobVerification,
    OtpError,
    PlatformError,
    RecoveryCodes,
    Replayed,
    Secret,
    SecretError,
    SettingsError,
    StateError,
    Status,
    Throttle,
    ThrottledError,
    ThrottleState,
    TimeError,
    Totp,
    UriError,
    UserState,
)
from otpcore import _ffi
from otpcore._ffi import ffi
from otpcore.errors import FAMILIES, error_for

S = Status
KEY = b"12345678901234567890"
B32 = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
URI = "otpauth://totp/ACME:alice?secret=" + B32


def totp(**params: object) -> Totp:
    return Totp(Secret.from_bytes(KEY), **params)


def closed_totp() -> None:
    key = totp()
    key.close()
    key.generate(0)


def raw(name: str, *args: object) -> None:
    """A C call the public API never makes this way; raises as the binding would."""
    status = getattr(_ffi.lib, name)(*args)
    raise error_for(status)


def generate_into_one_byte() -> None:
    # The key must outlive the call: a collected Totp is wiped at once.
    key = totp()
    raw("otp_totp_generate", key._obj, 0, ffi.new("char[]", 1), 1, ffi.new("size_t *"))


def recovery_with_used(used: int) -> None:
    state = UserState()
    codes, _ = RecoveryCodes.generate()
    state.recovery = RecoveryCodes(codes.salt, codes.hashes, used=used)
    state.encode()


def state_bytes(change: Callable[[bytearray], None], fix_checksum: bool) -> None:
    encoded = bytearray(UserState().encode())
    change(encoded)
    if fix_checksum:
        encoded[-32:] = hashlib.sha256(encoded[:-32]).digest()
    UserState.decode(bytes(encoded))


def locked_out(failures: int, locked_until: int) -> None:
    Throttle().check(ThrottleState(failures=failures, locked_until=locked_until), now=100)


def oob(steps: Callable[[OobKey, OobRecord, OobPolicy], object]) -> object:
    with OobKey(b"k" * 32) as key:
        return steps(key, OobRecord(), OobPolicy(max_attempts=1, ttl_secs=60, resend_cooldown_secs=30))


def issue_then(then: Callable[[OobKey, OobRecord, OobPolicy, str], object]):
    def steps(key: OobKey, record: OobRecord, policy: OobPolicy) -> object:
        code = record.issue(key, "alice", policy, now=1000)
        return then(key, record, policy, code)

    return lambda: oob(steps)


def wrong(code: str) -> str:
    return str((int(code) + 1) % 10 ** len(code)).zfill(len(code))


#: For each status: what reaches it, and the exception family or the result it gives.
REACHED: dict[Status, tuple[Callable[[], object], object]] = {
    S.NULL_POINTER: (lambda: raw("otp_unix_time", ffi.NULL), InternalError),
    S.INVALID_ENUM: (lambda: raw("otp_secret_from_bytes", ffi.new("otp_secret *"), KEY, 20, 0), SettingsError),
    S.NOT_INITIALIZED: (closed_totp, ClosedError),
    S.INVALID_UTF8: (lambda: KeyUri("al\udc80ice").build(Secret.from_bytes(KEY)), UriError),
    S.CODE_INVALID: (lambda: totp().verify("000000", 59), Invalid()),
    S.CODE_REPLAYED: (lambda: totp().verify("287082", 59, last_step=1), Replayed()),
    S.SECRET_EMPTY: (lambda: Secret.from_bytes(b""), SecretError),
    S.SECRET_TOO_LONG: (lambda: Secret.from_bytes(b"x" * 257), SecretError),
    S.SECRET_TOO_SHORT: (lambda: Secret.from_bytes(b"x" * 9), SecretError),
    S.BASE32_INVALID_CHARACTER: (lambda: Secret.from_base32("GEZDGNBV1Y3TQOJQ"), SecretError),
    S.BASE32_INVALID_LENGTH: (lambda: Secret.from_base32("GEZDGNBVGY3TQOJQG"), SecretError),
    S.BASE32_INVALID_PADDING: (lambda: Secret.from_base32("GEZDGNBV=GY3TQOJQ"), SecretError),
    S.INVALID_DIGITS: (lambda: totp(digits=5), SettingsError),
    S.INVALID_PERIOD: (lambda: totp(period=0), SettingsError),
    S.WINDOW_TOO_LARGE: (lambda: totp(look_back=51), SettingsError),
    S.TIME_BEFORE_T0: (lambda: totp(t0=100).generate(99), TimeError),
    S.CODE_WRONG_LENGTH: (lambda: totp().verify("12345", 59), CodeFormatError),
    S.CODE_INVALID_CHARACTER: (lambda: totp().verify("12345x", 59), CodeFormatError),
    S.BUFFER_TOO_SMALL: (generate_into_one_byte, InternalError),
    S.UNKNOWN_ALGORITHM: (lambda: KeyUri.parse(URI + "&algorithm=MD5"), UriError),
    S.URI_INVALID_SCHEME: (lambda: KeyUri.parse("https://totp/ACME:alice?secret=" + B32), UriError),
    S.URI_UNKNOWN_TYPE: (lambda: KeyUri.parse("otpauth://motp/ACME:alice?secret=" + B32), UriError),
    S.URI_MALFORMED: (lambda: KeyUri.parse("otpauth://totp?secret=" + B32), UriError),
    S.URI_MISSING_SECRET: (lambda: KeyUri.parse("otpauth://totp/ACME:alice?issuer=ACME"), UriError),
    S.URI_MISSING_COUNTER: (lambda: KeyUri.parse("otpauth://hotp/alice?secret=" + B32), UriError),
    S.URI_INVALID_COUNTER: (lambda: KeyUri.parse(f"otpauth://hotp/alice?secret={B32}&counter=x"), UriError),
    S.URI_DUPLICATE_PARAMETER: (lambda: KeyUri.parse(URI + "&secret=" + B32), UriError),
    S.URI_INVALID_PERCENT_ENCODING: (lambda: KeyUri.parse("otpauth://totp/AC%ZZ:alice?secret=" + B32), UriError),
    S.URI_INVALID_UTF8: (lambda: KeyUri.parse("otpauth://totp/AC%FF:alice?secret=" + B32), UriError),
    S.URI_ISSUER_MISMATCH: (lambda: KeyUri.parse(URI + "&issuer=Other"), UriError),
    S.ACCOUNT_NAME_EMPTY: (lambda: KeyUri("").build(Secret.from_bytes(KEY)), UriError),
    S.ACCOUNT_NAME_HAS_COLON: (lambda: KeyUri("a:b").build(Secret.from_bytes(KEY)), UriError),
    S.INVALID_ISSUER: (lambda: KeyUri("alice", issuer="").build(Secret.from_bytes(KEY)), UriError),
    S.ACCOUNT_NAME_LEADING_SPACE: (lambda: KeyUri(" alice").build(Secret.from_bytes(KEY)), UriError),
    S.ACCOUNT_NAME_CONTROL_CHARACTER: (lambda: KeyUri("ali\nce").build(Secret.from_bytes(KEY)), UriError),
    S.THROTTLED: (lambda: locked_out(5, 160), ThrottledError),
    S.LOCKED_OUT: (lambda: locked_out(20, 0), ThrottledError),
    S.INVALID_THROTTLE: (lambda: Throttle(lockout_after=0), SettingsError),
    S.RECOVERY_CODE_MALFORMED: (lambda: RecoveryCodes.generate()[0].verify("not a code"), CodeFormatError),
    S.STATE_BAD_MAGIC: (lambda: state_bytes(lambda b: b.__setitem__(0, ord("X")), False), StateError),
    S.STATE_UNSUPPORTED_VERSION: (lambda: state_bytes(lambda b: b.__setitem__(4, 9), False), StateError),
    S.STATE_WRONG_LENGTH: (lambda: state_bytes(lambda b: b.pop(), False), StateError),
    S.STATE_INVALID_FLAGS: (lambda: state_bytes(lambda b: b.__setitem__(36, 1), True), StateError),
    S.STATE_CORRUPT: (lambda: state_bytes(lambda b: b.__setitem__(20, 1), False), StateError),
    S.COUNTER_EXHAUSTED: (lambda: Hotp(Secret.from_bytes(KEY)).verify("755224", 2**64 - 1), CodeRefusedError),
    S.OOB_KEY_TOO_SHORT: (lambda: OobKey(b"k" * 15), SettingsError),
    S.OOB_KEY_TOO_LONG: (lambda: OobKey(b"k" * 65), SettingsError),
    S.INVALID_OOB_POLICY: (lambda: OobPolicy(digits=9), SettingsError),
    S.OOB_ISSUE_TOO_SOON: (
        issue_then(lambda key, record, policy, code: record.issue(key, "alice", policy, now=1010)),
        ThrottledError,
    ),
    S.OOB_TIME_BEFORE_ISSUE: (
        issue_then(lambda key, record, policy, code: record.verify(key, "alice", code, now=999)),
        TimeError,
    ),
    S.OOB_RECORD_INVALID: (lambda: OobRecord.from_bytes(b"\x07" + bytes(55)).next_issue_at(OobPolicy()), StateError),
    S.OOB_CODE_EXPIRED: (
        issue_then(lambda key, record, policy, code: record.verify(key, "alice", code, now=1060)),
        OobVerification.EXPIRED,
    ),
    S.OOB_TOO_MANY_ATTEMPTS: (
        issue_then(
            lambda key, record, policy, code: (
                record.verify(key, "alice", wrong(code), now=1001),
                record.verify(key, "alice", code, now=1002),
            )[1]
        ),
        OobVerification.TOO_MANY_ATTEMPTS,
    ),
    S.OOB_NO_CODE_PENDING: (
        lambda: oob(lambda key, record, policy: record.verify(key, "alice", "123456", now=1)),
        OobVerification.NO_CODE_PENDING,
    ),
}

#: Statuses no input can cause: a caught panic, and the operating system failing.
BY_MAPPING_ONLY = {
    S.PANIC: InternalError,
    S.RANDOMNESS_UNAVAILABLE: PlatformError,
    S.CLOCK_BEFORE_UNIX_EPOCH: PlatformError,
}


def test_every_status_of_the_header_is_covered_here():
    header = {name.removeprefix("OTP_") for name in _ffi.ENUMS["otp_status"]} - {"OK"}
    assert header == {s.name for s in REACHED} | {s.name for s in BY_MAPPING_ONLY}
    assert not set(REACHED) & set(BY_MAPPING_ONLY)


@pytest.mark.parametrize("status", list(REACHED), ids=lambda s: s.name)
def test_status_is_reached_and_mapped(status: Status) -> None:
    reach, expected = REACHED[status]
    if isinstance(expected, type):
        assert FAMILIES[status] is expected
        with pytest.raises(expected) as caught:
            reach()
        assert caught.value.status is status
        assert isinstance(caught.value, OtpError)
        assert f"({status.name}, status {int(status)})" in str(caught.value)
    else:
        assert reach() == expected


@pytest.mark.parametrize("status", list(BY_MAPPING_ONLY), ids=lambda s: s.name)
def test_status_no_input_causes_is_mapped(status: Status) -> None:
    error = error_for(status)
    assert type(error) is BY_MAPPING_ONLY[status] is FAMILIES[status]
    assert error.status is status
    assert f"({status.name}, status {int(status)})" in str(error)


def test_input_families_are_value_errors_and_system_ones_os_errors():
    for family in (ClosedError, SettingsError, SecretError, CodeFormatError, TimeError, UriError, StateError):
        assert issubclass(family, ValueError)
    assert issubclass(PlatformError, OSError)
    for family in (InternalError, CodeRefusedError, ThrottledError):
        assert not issubclass(family, ValueError)


@pytest.mark.parametrize("status", [s for s in Status if s is not S.OK], ids=lambda s: s.name)
def test_exceptions_survive_pickling_as_multiprocessing_does(status: Status) -> None:
    error = error_for(status, 1234)
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is type(error) and again.status is status and str(again) == str(error)
    assert getattr(again, "retry_at", None) == getattr(error, "retry_at", None)


def test_a_status_the_header_does_not_list_is_an_internal_error():
    error = error_for(9)
    assert type(error) is InternalError and error.status == 9
    assert "unknown status" in str(error)


def test_lockouts_say_when_to_retry():
    with pytest.raises(ThrottledError) as throttled:
        locked_out(5, 160)
    assert throttled.value.retry_at == 160
    with pytest.raises(ThrottledError) as stopped:
        locked_out(20, 0)
    assert stopped.value.retry_at is None
    soon = REACHED[S.OOB_ISSUE_TOO_SOON][0]
    with pytest.raises(ThrottledError) as too_soon:
        soon()
    assert too_soon.value.retry_at == 1030


def test_messages_hold_no_secret_material():
    with pytest.raises(SecretError) as caught:
        Secret.from_base32("GEZDGNBVGY3TQOJQGEZDGNBV!")
    assert "GEZD" not in str(caught.value)
    assert otpcore.Status.OK == 0
