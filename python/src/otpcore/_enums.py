"""The C API's enumerations as Python enums; `_ffi` checks them against the header."""

from __future__ import annotations

import enum


class Status(enum.IntEnum):
    """Every `otp_status` of the C API (without the `OTP_` prefix). The numbers never change."""

    OK = 0
    NULL_POINTER = 1
    INVALID_ENUM = 2
    PANIC = 3
    NOT_INITIALIZED = 4
    INVALID_UTF8 = 5
    CODE_INVALID = 6
    CODE_REPLAYED = 7
    SECRET_EMPTY = 10
    SECRET_TOO_LONG = 11
    SECRET_TOO_SHORT = 12
    BASE32_INVALID_CHARACTER = 13
    BASE32_INVALID_LENGTH = 14
    BASE32_INVALID_PADDING = 15
    RANDOMNESS_UNAVAILABLE = 16
    INVALID_DIGITS = 17
    INVALID_PERIOD = 18
    WINDOW_TOO_LARGE = 19
    TIME_BEFORE_T0 = 20
    CLOCK_BEFORE_UNIX_EPOCH = 21
    CODE_WRONG_LENGTH = 22
    CODE_INVALID_CHARACTER = 23
    BUFFER_TOO_SMALL = 24
    UNKNOWN_ALGORITHM = 25
    URI_INVALID_SCHEME = 26
    URI_UNKNOWN_TYPE = 27
    URI_MALFORMED = 28
    URI_MISSING_SECRET = 29
    URI_MISSING_COUNTER = 30
    URI_INVALID_COUNTER = 31
    URI_DUPLICATE_PARAMETER = 32
    URI_INVALID_PERCENT_ENCODING = 33
    URI_INVALID_UTF8 = 34
    URI_ISSUER_MISMATCH = 35
    ACCOUNT_NAME_EMPTY = 36
    ACCOUNT_NAME_HAS_COLON = 37
    INVALID_ISSUER = 38
    ACCOUNT_NAME_LEADING_SPACE = 39
    THROTTLED = 40
    INVALID_THROTTLE = 41
    RECOVERY_CODE_MALFORMED = 42
    STATE_BAD_MAGIC = 43
    STATE_UNSUPPORTED_VERSION = 44
    STATE_WRONG_LENGTH = 45
    STATE_INVALID_FLAGS = 46
    ACCOUNT_NAME_CONTROL_CHARACTER = 47
    LOCKED_OUT = 48
    COUNTER_EXHAUSTED = 49
    STATE_CORRUPT = 50
    OOB_KEY_TOO_SHORT = 60
    OOB_KEY_TOO_LONG = 61
    INVALID_OOB_POLICY = 62
    OOB_ISSUE_TOO_SOON = 63
    OOB_TIME_BEFORE_ISSUE = 64
    OOB_RECORD_INVALID = 65
    OOB_CODE_EXPIRED = 66
    OOB_TOO_MANY_ATTEMPTS = 67
    OOB_NO_CODE_PENDING = 68


class Algorithm(enum.IntEnum):
    """The HMAC hash function. SHA1 is the only one every authenticator app honours."""

    SHA1 = 1
    SHA256 = 2
    SHA512 = 3


class SecretPolicy(enum.IntEnum):
    """How short an imported secret may be."""

    #: At least 80 bits: what authenticator apps accept and many services issue.
    COMPATIBLE = 1
    #: At least 128 bits, the minimum RFC 4226 requires.
    STRICT = 2


class OtpType(enum.IntEnum):
    """TOTP or HOTP, in a key URI."""

    TOTP = 1
    HOTP = 2


#: For each enum, the prefix its members have in the header (`OTP_ALGORITHM_SHA1`, ...).
HEADER_ENUMS: dict[str, tuple[type[enum.IntEnum], str]] = {
    "otp_status": (Status, "OTP_"),
    "otp_algorithm": (Algorithm, "OTP_ALGORITHM_"),
    "otp_policy": (SecretPolicy, "OTP_POLICY_"),
    "otp_type": (OtpType, "OTP_TYPE_"),
}
