"""otpcore: HOTP (RFC 4226) and TOTP (RFC 6238) one-time passwords with replay
protection, throttling, recovery codes and out-of-band (SMS) codes.

A binding over otpcore's C library (bundled in the wheel): constant-time verification,
secrets and keys wiped when closed, one exception per family of failures. Quickstart::

    import otpcore

    secret = otpcore.Secret.generate()
    uri = otpcore.KeyUri("alice@example.com", issuer="ACME").build(secret)  # the QR code
    with otpcore.Totp(secret) as totp:
        result = totp.verify(typed_code, last_step=stored_step)
        if result:  # only a valid code is true; persist result.step, then grant access
            stored_step = result.step
"""

from ._enums import Algorithm, OtpType, SecretPolicy, Status
from ._ffi import VERSION as __version__
from ._gate import (
    OobKey,
    OobPolicy,
    OobRecord,
    OobVerification,
    RecoveryCodes,
    RecoveryValid,
    Throttle,
    ThrottleState,
    UserState,
)
from ._otp import Compatibility, Hotp, Invalid, KeyUri, Replayed, Secret, Totp, Valid, Verification
from ._support import unix_time
from .errors import (
    ClosedError,
    CodeFormatError,
    CodeRefusedError,
    InternalError,
    OtpError,
    PlatformError,
    SecretError,
    SettingsError,
    StateError,
    ThrottledError,
    TimeError,
    UriError,
)

__all__ = [
    "Algorithm",
    "ClosedError",
    "CodeFormatError",
    "CodeRefusedError",
    "Compatibility",
    "Hotp",
    "InternalError",
    "Invalid",
    "KeyUri",
    "OobKey",
    "OobPolicy",
    "OobRecord",
    "OobVerification",
    "OtpError",
    "OtpType",
    "PlatformError",
    "RecoveryCodes",
    "RecoveryValid",
    "Replayed",
    "Secret",
    "SecretError",
    "SecretPolicy",
    "SettingsError",
    "StateError",
    "Status",
    "ThrottledError",
    "Throttle",
    "ThrottleState",
    "TimeError",
    "Totp",
    "UriError",
    "UserState",
    "Valid",
    "Verification",
    "__version__",
    "unix_time",
]
