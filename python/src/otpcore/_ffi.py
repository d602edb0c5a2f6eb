"""The C API of the bundled library through ctypes, checked against the header at import.

Struct layouts and function signatures are written out here from include/otpcore.h. When
the module is imported it checks, and refuses to load (ImportError) on any difference:

- the size of every struct against its `OTP_*_SIZE` constant in the header;
- the Python enumerations against the header's enumerations, both ways;
- the library's `otp_version()` against the crate version the wheel was built from.

The library is loaded with `ctypes.PyDLL`, so calls keep the GIL (none takes more than a few
microseconds): no thread can wipe an object (close) while another thread's call reads it.
"""

from __future__ import annotations

import ctypes
from ctypes import (
    POINTER,
    Structure,
    c_bool,
    c_char_p,
    c_int64,
    c_size_t,
    c_uint8,
    c_uint16,
    c_uint32,
    c_uint64,
)
from pathlib import Path

from . import _generated
from ._enums import HEADER_ENUMS

DEFINES: dict[str, int] = _generated.DEFINES


def _define(name: str) -> int:
    try:
        return DEFINES[name]
    except KeyError:
        raise ImportError(f"otpcore: include/otpcore.h defines no {name}") from None


# Opaque objects: uint64_t arrays, so ctypes aligns them as uint64_t as the header requires.
class otp_secret(Structure):
    _fields_ = [("opaque", c_uint64 * 36)]


class otp_totp(Structure):
    _fields_ = [("opaque", c_uint64 * 32)]


class otp_hotp(Structure):
    _fields_ = [("opaque", c_uint64 * 32)]


class otp_oob_key(Structure):
    _fields_ = [("opaque", c_uint64 * 12)]


class otp_totp_params(Structure):
    _fields_ = [
        ("algorithm", c_uint32),
        ("digits", c_uint32),
        ("period", c_uint64),
        ("t0", c_uint64),
        ("look_back", c_uint32),
        ("look_ahead", c_uint32),
    ]


class otp_hotp_params(Structure):
    _fields_ = [("algorithm", c_uint32), ("digits", c_uint32), ("look_ahead", c_uint32)]


class otp_uri(Structure):
    _fields_ = [
        ("kind", c_uint32),
        ("algorithm", c_uint32),
        ("digits", c_uint32),
        ("period", c_uint64),
        ("counter", c_uint64),
        ("issuer", c_char_p),
        ("issuer_len", c_size_t),
        ("account", c_char_p),
        ("account_len", c_size_t),
    ]


class otp_oob_policy(Structure):
    _fields_ = [
        ("digits", c_uint32),
        ("max_attempts", c_uint32),
        ("ttl_secs", c_uint64),
        ("resend_cooldown_secs", c_uint64),
    ]


class otp_oob_record(Structure):
    _fields_ = [("bytes", c_uint8 * _define("OTP_OOB_RECORD_LEN"))]


class otp_recovery_codes(Structure):
    _fields_ = [
        ("salt", c_uint8 * _define("OTP_RECOVERY_SALT_LEN")),
        ("hashes", (c_uint8 * _define("OTP_RECOVERY_HASH_LEN")) * _define("OTP_RECOVERY_CODE_COUNT")),
        ("used", c_uint16),
    ]


class otp_throttle(Structure):
    _fields_ = [
        ("lockout_after", c_uint32),
        ("hard_stop_after", c_uint32),
        ("lockout_secs", c_uint64),
        ("max_lockout_secs", c_uint64),
    ]


class otp_throttle_state(Structure):
    _fields_ = [("locked_until", c_uint64), ("failures", c_uint32)]


class otp_user_state(Structure):
    _fields_ = [
        ("totp_step", c_uint64),
        ("hotp_counter", c_uint64),
        ("throttle", otp_throttle_state),
        ("recovery", otp_recovery_codes),
        ("has_totp_step", c_uint8),
        ("oob", otp_oob_record),
    ]


#: Every struct the binding allocates or passes, and the header constant of its size.
STRUCT_SIZES: dict[type[Structure], str] = {
    otp_secret: "OTP_SECRET_SIZE",
    otp_totp: "OTP_TOTP_SIZE",
    otp_hotp: "OTP_HOTP_SIZE",
    otp_oob_key: "OTP_OOB_KEY_SIZE",
    otp_totp_params: "OTP_TOTP_PARAMS_SIZE",
    otp_hotp_params: "OTP_HOTP_PARAMS_SIZE",
    otp_uri: "OTP_URI_SIZE",
    otp_oob_policy: "OTP_OOB_POLICY_SIZE",
    otp_oob_record: "OTP_OOB_RECORD_SIZE",
    otp_recovery_codes: "OTP_RECOVERY_CODES_SIZE",
    otp_throttle: "OTP_THROTTLE_SIZE",
    otp_throttle_state: "OTP_THROTTLE_STATE_SIZE",
    otp_user_state: "OTP_USER_STATE_SIZE",
}

# Argument types. Byte and text pointers (`const char *`, `uint8_t *`, ...) are c_char_p:
# it takes `bytes` without a copy and ctypes char arrays, including arrays over a caller's
# bytearray, which can then be wiped.
_status = c_uint32
_text = c_char_p
_size = c_size_t
_u32 = c_uint32
_u64 = c_uint64
_p_size = POINTER(c_size_t)
_p_u64 = POINTER(c_uint64)
_p_i64 = POINTER(c_int64)


def _p(struct: type[Structure]) -> type:
    return POINTER(struct)


#: name: (return type, argument types), in the header's order.
SIGNATURES: dict[str, tuple[type, list[type]]] = {
    "otp_status_message": (ctypes.c_char_p, [c_uint32]),
    "otp_version": (ctypes.c_char_p, []),
    "otp_unix_time": (_status, [_p_u64]),
    "otp_hotp_params_default": (_status, [_p(otp_hotp_params)]),
    "otp_hotp_init": (_status, [_p(otp_hotp), _p(otp_secret), _p(otp_hotp_params)]),
    "otp_hotp_get_params": (_status, [_p(otp_hotp), _p(otp_hotp_params)]),
    "otp_hotp_generate": (_status, [_p(otp_hotp), _u64, _text, _size, _p_size]),
    "otp_hotp_verify": (_status, [_p(otp_hotp), _text, _size, _u64, _p_u64, _p_i64]),
    "otp_hotp_resync": (
        _status,
        [_p(otp_hotp), _text, _size, _text, _size, _u64, _u32, _p_u64, _p_i64],
    ),
    "otp_hotp_wipe": (_status, [_p(otp_hotp)]),
    "otp_oob_key_init": (_status, [_p(otp_oob_key), _text, _size]),
    "otp_oob_key_wipe": (_status, [_p(otp_oob_key)]),
    "otp_oob_policy_default": (_status, [_p(otp_oob_policy)]),
    "otp_oob_issue": (
        _status,
        [
            _p(otp_oob_key),
            _text,
            _size,
            _p(otp_oob_policy),
            _u64,
            _p(otp_oob_record),
            _text,
            _size,
            _p_size,
        ],
    ),
    "otp_oob_verify": (
        _status,
        [_p(otp_oob_key), _text, _size, _text, _size, _u64, _p(otp_oob_record)],
    ),
    "otp_oob_next_issue_at": (_status, [_p(otp_oob_record), _p(otp_oob_policy), _p_u64]),
    "otp_recovery_codes_generate": (_status, [_text, _size, _p_size, _p(otp_recovery_codes)]),
    "otp_recovery_codes_verify": (
        _status,
        [_text, _size, _p(otp_recovery_codes), _p_size, _p_size],
    ),
    "otp_recovery_codes_remaining": (_status, [_p(otp_recovery_codes), _p_size]),
    "otp_secret_from_bytes": (_status, [_p(otp_secret), _text, _size, _u32]),
    "otp_secret_from_base32": (_status, [_p(otp_secret), _text, _size, _u32]),
    "otp_secret_generate": (_status, [_p(otp_secret), _size]),
    "otp_secret_len": (_status, [_p(otp_secret), _p_size]),
    "otp_secret_bytes": (_status, [_p(otp_secret), _text, _size, _p_size]),
    "otp_secret_to_base32": (_status, [_p(otp_secret), _text, _size, _p_size]),
    "otp_secret_equal": (_status, [_p(otp_secret), _p(otp_secret), POINTER(c_bool)]),
    "otp_secret_wipe": (_status, [_p(otp_secret)]),
    "otp_base32_encode": (_status, [_text, _size, _text, _size, _p_size]),
    "otp_base32_decode": (_status, [_text, _size, _text, _size, _p_size]),
    "otp_user_state_default": (_status, [_p(otp_user_state)]),
    "otp_user_state_encode": (_status, [_p(otp_user_state), _text, _size, _p_size]),
    "otp_user_state_decode": (_status, [_text, _size, _p(otp_user_state)]),
    "otp_user_state_verify_totp": (
        _status,
        [_p(otp_totp), _p(otp_throttle), _text, _size, _u64, _p(otp_user_state), _p_u64, _p_i64],
    ),
    "otp_user_state_verify_hotp": (
        _status,
        [_p(otp_hotp), _p(otp_throttle), _text, _size, _u64, _p(otp_user_state), _p_u64, _p_i64],
    ),
    "otp_user_state_verify_recovery": (
        _status,
        [_p(otp_throttle), _text, _size, _u64, _p(otp_user_state), _p_size, _p_size],
    ),
    "otp_user_state_verify_oob": (
        _status,
        [
            _p(otp_oob_key),
            _p(otp_throttle),
            _text,
            _size,
            _text,
            _size,
            _u64,
            _p(otp_user_state),
        ],
    ),
    "otp_throttle_default": (_status, [_p(otp_throttle)]),
    "otp_throttle_validate": (_status, [_p(otp_throttle)]),
    "otp_throttle_check": (_status, [_p(otp_throttle), _p(otp_throttle_state), _u64]),
    "otp_throttle_check_recovery": (_status, [_p(otp_throttle), _p(otp_throttle_state), _u64]),
    "otp_throttle_record_failure": (_status, [_p(otp_throttle), _u64, _p(otp_throttle_state)]),
    "otp_throttle_record_success": (_status, [_p(otp_throttle), _p(otp_throttle_state)]),
    "otp_totp_params_default": (_status, [_p(otp_totp_params)]),
    "otp_totp_init": (_status, [_p(otp_totp), _p(otp_secret), _p(otp_totp_params)]),
    "otp_totp_get_params": (_status, [_p(otp_totp), _p(otp_totp_params)]),
    "otp_totp_step_at": (_status, [_p(otp_totp), _u64, _p_u64]),
    "otp_totp_seconds_left": (_status, [_p(otp_totp), _u64, _p_u64]),
    "otp_totp_generate": (_status, [_p(otp_totp), _u64, _text, _size, _p_size]),
    "otp_totp_generate_at_step": (_status, [_p(otp_totp), _u64, _text, _size, _p_size]),
    "otp_totp_verify": (
        _status,
        [_p(otp_totp), _text, _size, _u64, c_bool, _u64, _p_u64, _p_i64],
    ),
    "otp_totp_wipe": (_status, [_p(otp_totp)]),
    "otp_uri_build": (_status, [_p(otp_uri), _p(otp_secret), _text, _size, _p_size]),
    "otp_uri_parse": (
        _status,
        [_text, _size, _p(otp_uri), _p(otp_secret), _text, _size, _p_size],
    ),
    "otp_uri_compatibility": (_status, [_p(otp_uri), POINTER(c_uint32)]),
    "otp_uri_totp_params": (_status, [_p(otp_uri), _p(otp_totp_params)]),
    "otp_uri_hotp_params": (_status, [_p(otp_uri), _p(otp_hotp_params)]),
}

LIBRARY_PATH = Path(__file__).with_name(_generated.LIBRARY)


def _load() -> ctypes.PyDLL:
    try:
        return ctypes.PyDLL(str(LIBRARY_PATH))
    except OSError as e:
        raise ImportError(f"otpcore: cannot load the bundled C library {LIBRARY_PATH}: {e}") from e


lib = _load()
for _name, (_restype, _argtypes) in SIGNATURES.items():
    _function = getattr(lib, _name)
    _function.restype = _restype
    _function.argtypes = _argtypes
del _name, _restype, _argtypes, _function


def _check() -> None:
    """Refuses to import a binding that disagrees with the header or the library."""
    for struct, constant in STRUCT_SIZES.items():
        size, expected = ctypes.sizeof(struct), _define(constant)
        if size != expected:
            raise ImportError(
                f"otpcore: struct {struct.__name__} is {size} bytes here but {constant} is "
                f"{expected}: the binding's layout differs from include/otpcore.h"
            )
    for c_name, (py_enum, prefix) in HEADER_ENUMS.items():
        ours = {prefix + member.name: member.value for member in py_enum}
        theirs = _generated.ENUMS.get(c_name)
        if ours != theirs:
            raise ImportError(
                f"otpcore: {py_enum.__name__} differs from enum {c_name} of include/otpcore.h: "
                f"{sorted(set(ours.items()) ^ set((theirs or {}).items()))}"
            )
    version = lib.otp_version().decode("ascii")
    if version != _generated.VERSION:
        raise ImportError(
            f"otpcore: the bundled library is version {version}, the binding {_generated.VERSION}"
        )


_check()

VERSION: str = _generated.VERSION


def status_message(status: int) -> str:
    """The library's English text for `status` (no secret material)."""
    return str(lib.otp_status_message(status).decode("ascii"))

