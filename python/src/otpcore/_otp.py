"""Secrets, TOTP and HOTP keys, verification results and key URIs."""

from __future__ import annotations

import ctypes
import enum
from ctypes import c_bool, c_int64, c_size_t, c_uint32, c_uint64
from dataclasses import dataclass
from typing import Callable

from . import _ffi
from ._enums import Algorithm, OtpType, SecretPolicy, Status
from ._support import (
    U32_MAX,
    U64_MAX,
    BytesLike,
    Wiped,
    algorithm,
    now_or,
    secret_input,
    text,
    uint,
    wipe_buffer,
)
from .errors import InternalError, check, error_for

_lib = _ffi.lib
_CODE_BUFFER_SIZE = _ffi.DEFINES["OTP_CODE_BUFFER_SIZE"]
# The buffer type, looked up once: `create_string_buffer` does that on every call.
_CodeBuffer = ctypes.c_char * _CODE_BUFFER_SIZE
_OK = Status.OK
_CODE_INVALID = Status.CODE_INVALID
_CODE_REPLAYED = Status.CODE_REPLAYED


class Verification:
    """The outcome of verifying a well-formed code: `Valid`, `Replayed` or `Invalid`.

    Only `Valid` is true in a boolean context, so `if key.verify(...):` refuses both a
    replay and a wrong code. Malformed input (a letter, the wrong length) raises
    `CodeFormatError` instead.
    """

    __slots__ = ()

    #: True only for `Valid`.
    valid: bool = False

    def __bool__(self) -> bool:
        return self.valid


class Valid(Verification):
    """The code is right. Persist `step` as the user's last accepted step (TOTP), or
    `next_counter` as the counter (HOTP), before acting on it."""

    __slots__ = ("step", "drift")
    __match_args__ = ("step", "drift")
    valid = True

    def __init__(self, step: int, drift: int) -> None:
        #: The time step (TOTP) or counter (HOTP) the code belongs to.
        self.step = step
        #: `step` minus the expected one: negative for a code from the past.
        self.drift = drift

    @property
    def next_counter(self) -> int:
        """For HOTP, the counter to store for the next verification (`step + 1`; the library
        never accepts the code of the last counter, so this always fits 64 bits)."""
        return self.step + 1

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Valid) and (self.step, self.drift) == (other.step, other.drift)

    def __hash__(self) -> int:
        return hash((Valid, self.step, self.drift))

    def __repr__(self) -> str:
        return f"Valid(step={self.step}, drift={self.drift})"


class Replayed(Verification):
    """The code is right but for a step at or before the last accepted one (or, for a
    recovery code, it was used before): it was already used. Refuse it."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Replayed)

    def __hash__(self) -> int:
        return hash(Replayed)

    def __repr__(self) -> str:
        return "Replayed()"


class Invalid(Verification):
    """The code matches no step (or counter, or recovery code). Refuse it."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Invalid)

    def __hash__(self) -> int:
        return hash(Invalid)

    def __repr__(self) -> str:
        return "Invalid()"


REPLAYED = Replayed()
INVALID = Invalid()


def _code(value: object) -> bytes:
    """A typed code for the library: `str` only (an int would lose leading zeros)."""
    if type(value) is str:
        return value.encode("utf-8", "surrogatepass")
    return text("code", value)


class Secret(Wiped):
    """A shared secret of 1 to 256 bytes, held in memory the library wipes on `close()`,
    at the end of a `with` block, or when the object is collected.

    Make one with `generate()`, `from_base32()` or `from_bytes()`. Two secrets compare
    equal in constant time (for equal lengths); `repr()` never shows key material.
    """

    __slots__ = ()

    #: The recommended length in bytes: 160 bits, as RFC 4226 recommends.
    DEFAULT_LEN: int = _ffi.DEFINES["OTP_SECRET_DEFAULT_LEN"]
    #: The largest secret in bytes.
    MAX_LEN: int = _ffi.DEFINES["OTP_MAX_SECRET_LEN"]

    def __init__(self) -> None:
        raise TypeError("use Secret.generate(), Secret.from_base32() or Secret.from_bytes()")

    @classmethod
    def _new(cls) -> Secret:
        self = object.__new__(cls)
        self._own(_ffi.otp_secret(), _lib.otp_secret_wipe)
        return self

    @classmethod
    def _filled(cls, status_of: Callable[[ctypes.Structure], int]) -> Secret:
        """A new secret filled by `status_of(obj)`; wiped at once if that fails."""
        secret = cls._new()
        status = status_of(secret._obj)
        if status:
            secret.close()
            raise error_for(status)
        return secret

    @classmethod
    def generate(cls, length: int = DEFAULT_LEN) -> Secret:
        """A new random secret of `length` bytes (16 to 256) from the operating system."""
        length = uint("length", length)
        return cls._filled(lambda obj: _lib.otp_secret_generate(obj, length))

    @classmethod
    def from_base32(
        cls, text: str | BytesLike, policy: SecretPolicy = SecretPolicy.COMPATIBLE
    ) -> Secret:
        """Reads a base32 secret as authenticator apps do: any letter case, spaces and `-`
        ignored, `=` padding optional. `policy` sets the shortest secret accepted (80 bits
        by default, 128 with `SecretPolicy.STRICT`). A bytearray or memoryview argument is
        copied into a buffer that is wiped after the call; a `str` or `bytes` cannot be."""
        policy = SecretPolicy(policy)
        with secret_input("text", text, allow_text=True) as (data, size):
            return cls._filled(lambda obj: _lib.otp_secret_from_base32(obj, data, size, policy))

    @classmethod
    def from_bytes(
        cls, data: BytesLike, policy: SecretPolicy = SecretPolicy.COMPATIBLE
    ) -> Secret:
        """Imports raw secret bytes under `policy` (see `from_base32`)."""
        policy = SecretPolicy(policy)
        with secret_input("data", data, allow_text=False) as (raw, size):
            return cls._filled(lambda obj: _lib.otp_secret_from_bytes(obj, raw, size, policy))

    def __len__(self) -> int:
        out = c_size_t()
        check(_lib.otp_secret_len(self._obj, out))
        return out.value

    def to_base32(self) -> str:
        """The canonical base32 text (upper case, no padding): the secret itself. The C
        buffer is wiped; the returned `str` cannot be, so keep it short-lived."""
        buffer = ctypes.create_string_buffer(_ffi.DEFINES["OTP_MAX_SECRET_BASE32_LEN"] + 1)
        out_len = c_size_t()
        try:
            check(_lib.otp_secret_to_base32(self._obj, buffer, len(buffer), out_len))
            return buffer.raw[: out_len.value].decode("ascii")
        finally:
            wipe_buffer(buffer)

    def to_bytes(self) -> bytearray:
        """The raw secret bytes, in a bytearray the caller can wipe (`b[:] = bytes(len(b))`)."""
        out = bytearray(len(self))
        view = (ctypes.c_char * len(out)).from_buffer(out)
        try:
            out_len = c_size_t()
            status = _lib.otp_secret_bytes(self._obj, view, len(out), out_len)
        finally:
            del view
        if status:
            out[:] = bytes(len(out))
            raise error_for(status)
        return out

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        out = c_bool()
        check(_lib.otp_secret_equal(self._obj, other._obj, out))
        return out.value

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return "Secret(<closed>)" if self.closed else f"Secret(<{len(self)} bytes>)"


def _require_secret(secret: object) -> Secret:
    if not isinstance(secret, Secret):
        raise TypeError(f"secret must be a Secret, not {type(secret).__name__}")
    return secret


def _generated_code(status: int, buffer: ctypes.Array[ctypes.c_char], out_len: c_size_t) -> str:
    if status:
        raise error_for(status)
    return buffer.raw[: out_len.value].decode("ascii")


class Totp(Wiped):
    """A TOTP key (RFC 6238): the secret's HMAC state, prepared once, in memory the library
    wipes on `close()`, at the end of a `with` block or when collected.

    The defaults are those of every authenticator app: SHA1, 6 digits, 30 seconds from the
    Unix epoch; verification accepts one step back and one ahead. Times are Unix seconds
    (int); leave them out to use the system clock. The secret may be closed once the key
    is made.
    """

    __slots__ = ("algorithm", "digits", "period", "t0", "look_back", "look_ahead")

    def __init__(
        self,
        secret: Secret,
        *,
        algorithm: Algorithm | str = Algorithm.SHA1,
        digits: int = 6,
        period: int = 30,
        t0: int = 0,
        look_back: int = 1,
        look_ahead: int = 1,
    ) -> None:
        params = _ffi.otp_totp_params(
            _algorithm(algorithm),
            uint("digits", digits, U32_MAX),
            uint("period", period),
            uint("t0", t0),
            uint("look_back", look_back, U32_MAX),
            uint("look_ahead", look_ahead, U32_MAX),
        )
        self._init(_require_secret(secret), params)

    def _init(self, secret: Secret, params: _ffi.otp_totp_params) -> None:
        key = _ffi.otp_totp()
        check(_lib.otp_totp_init(key, secret._obj, params))
        self._own(key, _lib.otp_totp_wipe)
        applied = _ffi.otp_totp_params()
        check(_lib.otp_totp_get_params(key, applied))
        #: The HMAC hash function.
        self.algorithm = Algorithm(applied.algorithm)
        #: Digits per code (6 to 10).
        self.digits: int = applied.digits
        #: The step length in seconds.
        self.period: int = applied.period
        #: The Unix time at which step 0 starts.
        self.t0: int = applied.t0
        #: Steps before the current one that verification also accepts.
        self.look_back: int = applied.look_back
        #: Steps after the current one that verification also accepts.
        self.look_ahead: int = applied.look_ahead

    def generate(self, t: int | None = None) -> str:
        """The code at Unix time `t` (default: now), zero-padded digits."""
        if type(t) is not int or not 0 <= t <= U64_MAX:
            t = now_or("t", t)
        buffer = _CodeBuffer()
        out_len = c_size_t()
        status = _lib.otp_totp_generate(self._obj, t, buffer, _CODE_BUFFER_SIZE, out_len)
        return _generated_code(status, buffer, out_len)

    def generate_at_step(self, step: int) -> str:
        """The code of time step `step`."""
        buffer = _CodeBuffer()
        out_len = c_size_t()
        status = _lib.otp_totp_generate_at_step(
            self._obj, uint("step", step), buffer, _CODE_BUFFER_SIZE, out_len
        )
        return _generated_code(status, buffer, out_len)

    def step_at(self, t: int | None = None) -> int:
        """The time step of Unix time `t` (default: now): `(t - t0) // period`."""
        out = c_uint64()
        check(_lib.otp_totp_step_at(self._obj, now_or("t", t), out))
        return out.value

    def seconds_left(self, t: int | None = None) -> int:
        """Seconds from Unix time `t` (default: now) until the code changes (1 to period)."""
        out = c_uint64()
        check(_lib.otp_totp_seconds_left(self._obj, now_or("t", t), out))
        return out.value

    def verify(self, code: str, t: int | None = None, last_step: int | None = None) -> Verification:
        """Verifies a typed code (digits, optionally grouped by spaces: "123 456") at Unix
        time `t` (default: now), in constant time over the whole window.

        Pass the step persisted after the user's previous success as `last_step` (None only
        before the first success): a right code for that step or an earlier one is
        `Replayed`. On `Valid`, persist `result.step` as the new `last_step` before
        granting access. Malformed input raises `CodeFormatError`.
        """
        if t is None:
            t = now_or("t", t)
        elif type(t) is not int or not 0 <= t <= U64_MAX:
            t = uint("t", t)
        # `_code`, inlined: this is the hot path the benchmark measures.
        raw = code.encode("utf-8", "surrogatepass") if type(code) is str else _code(code)
        step = c_uint64()
        drift = c_int64()
        if last_step is None:
            status = _totp_verify(self._obj, raw, len(raw), t, False, 0, step, drift)
        else:
            last = uint("last_step", last_step)
            status = _totp_verify(self._obj, raw, len(raw), t, True, last, step, drift)
        if status == _OK:
            return Valid(step.value, drift.value)
        if status == _CODE_INVALID:
            return INVALID
        if status == _CODE_REPLAYED:
            return REPLAYED
        raise error_for(status)

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"{self.algorithm.name}, {self.digits} digits, {self.period} s"
        return f"Totp(<{state}>)"


_totp_verify = _lib.otp_totp_verify


class Hotp(Wiped):
    """An HOTP key (RFC 4226), wiped like `Totp`. Verification looks `look_ahead` counters
    past the stored one (3 by default)."""

    __slots__ = ("algorithm", "digits", "look_ahead")

    def __init__(
        self,
        secret: Secret,
        *,
        algorithm: Algorithm | str = Algorithm.SHA1,
        digits: int = 6,
        look_ahead: int = 3,
    ) -> None:
        params = _ffi.otp_hotp_params(
            _algorithm(algorithm),
            uint("digits", digits, U32_MAX),
            uint("look_ahead", look_ahead, U32_MAX),
        )
        self._init(_require_secret(secret), params)

    def _init(self, secret: Secret, params: _ffi.otp_hotp_params) -> None:
        key = _ffi.otp_hotp()
        check(_lib.otp_hotp_init(key, secret._obj, params))
        self._own(key, _lib.otp_hotp_wipe)
        applied = _ffi.otp_hotp_params()
        check(_lib.otp_hotp_get_params(key, applied))
        #: The HMAC hash function.
        self.algorithm = Algorithm(applied.algorithm)
        #: Digits per code (6 to 10).
        self.digits: int = applied.digits
        #: Counters past the stored one that verification also accepts.
        self.look_ahead: int = applied.look_ahead

    def generate(self, counter: int) -> str:
        """The code for `counter`."""
        buffer = _CodeBuffer()
        out_len = c_size_t()
        status = _lib.otp_hotp_generate(
            self._obj, uint("counter", counter), buffer, _CODE_BUFFER_SIZE, out_len
        )
        return _generated_code(status, buffer, out_len)

    def verify(self, code: str, counter: int) -> Verification:
        """Verifies a typed code against the stored next counter `counter` and the
        look-ahead, in constant time. On `Valid`, store `result.next_counter` before
        granting access (that is HOTP's replay protection). A stored counter of 2**64 - 1
        raises `CodeRefusedError` (COUNTER_EXHAUSTED): enroll a new key."""
        raw = _code(code)
        matched = c_uint64()
        drift = c_int64()
        status = _lib.otp_hotp_verify(self._obj, raw, len(raw), uint("counter", counter), matched, drift)
        if status == _OK:
            return Valid(matched.value, drift.value)
        if status == _CODE_INVALID:
            return INVALID
        raise error_for(status)

    def resync(self, first: str, second: str, counter: int, *, look_ahead: int) -> Verification:
        """Resynchronises a counter that drifted beyond the look-ahead (RFC 4226 §7.4):
        `Valid` only when the two codes belong to consecutive counters `c` and `c + 1`, `c`
        at most `look_ahead` (at most 1000) past `counter`; the match is the second code's
        counter, so store its `next_counter`."""
        raw_first, raw_second = _code(first), _code(second)
        matched = c_uint64()
        drift = c_int64()
        status = _lib.otp_hotp_resync(
            self._obj,
            raw_first,
            len(raw_first),
            raw_second,
            len(raw_second),
            uint("counter", counter),
            uint("look_ahead", look_ahead, U32_MAX),
            matched,
            drift,
        )
        if status == _OK:
            return Valid(matched.value, drift.value)
        if status == _CODE_INVALID:
            return INVALID
        raise error_for(status)

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"{self.algorithm.name}, {self.digits} digits"
        return f"Hotp(<{state}>)"


def _algorithm(value: object) -> int:
    return int(algorithm(value))


class Compatibility(enum.IntFlag):
    """Settings of a key that Google Authenticator and similar apps silently ignore (then
    showing codes that never verify). Empty (falsy) when every common app honours the key."""

    ALGORITHM_IGNORED = _ffi.DEFINES["OTP_COMPAT_ALGORITHM_IGNORED"]
    DIGITS_IGNORED = _ffi.DEFINES["OTP_COMPAT_DIGITS_IGNORED"]
    PERIOD_IGNORED = _ffi.DEFINES["OTP_COMPAT_PERIOD_IGNORED"]


@dataclass(frozen=True)
class KeyUri:
    """The fields of an `otpauth://` key URI except the secret (the QR code at enrollment).

    `build(secret)` writes the URI; `KeyUri.parse(text)` reads one strictly, with a
    specific `UriError` for each fault. The account may not be empty, start with a space or
    contain `:` or a control character; an issuer may not be empty or contain those.
    """

    account: str
    issuer: str | None = None
    kind: OtpType = OtpType.TOTP
    algorithm: Algorithm = Algorithm.SHA1
    digits: int = 6
    #: The TOTP period in seconds (ignored for HOTP).
    period: int = 30
    #: The HOTP initial counter (ignored for TOTP).
    counter: int = 0

    def _c_uri(self) -> _ffi.otp_uri:
        """The C struct (which keeps the bytes its pointers point into alive)."""
        account = text("account", self.account)
        issuer = None if self.issuer is None else text("issuer", self.issuer)
        uri = _ffi.otp_uri(
            int(OtpType(self.kind)),
            _algorithm(self.algorithm),
            uint("digits", self.digits, U32_MAX),
            uint("period", self.period),
            uint("counter", self.counter),
            issuer,
            0 if issuer is None else len(issuer),
            account,
            len(account),
        )
        return uri

    def build(self, secret: Secret) -> str:
        """The key URI for `secret`, such as
        `otpauth://totp/ACME:alice@example.com?secret=...&issuer=ACME`. It contains the
        secret: the C buffer is wiped, the returned `str` cannot be."""
        uri = self._c_uri()
        needed = c_size_t()
        empty = ctypes.create_string_buffer(1)
        # A first call with no room asks the library for the size.
        status = _lib.otp_uri_build(uri, _require_secret(secret)._obj, empty, 0, needed)
        if status != Status.BUFFER_TOO_SMALL:
            raise error_for(status)
        buffer = ctypes.create_string_buffer(needed.value)
        out_len = c_size_t()
        try:
            check(_lib.otp_uri_build(uri, secret._obj, buffer, len(buffer), out_len))
            return buffer.raw[: out_len.value].decode("utf-8")
        finally:
            wipe_buffer(buffer)

    @classmethod
    def parse(cls, uri: str) -> tuple[KeyUri, Secret]:
        """Reads a key URI (secrets of 80 bits or more) into its fields and a `Secret`."""
        raw = text("uri", uri)
        fields = _ffi.otp_uri()
        buffer = ctypes.create_string_buffer(len(raw) + 2)
        used = c_size_t()
        secret = Secret._filled(
            lambda obj: _lib.otp_uri_parse(raw, len(raw), fields, obj, buffer, len(buffer), used)
        )
        account = fields.account
        issuer = fields.issuer
        if len(account) != fields.account_len or (
            issuer is not None and len(issuer) != fields.issuer_len
        ):
            secret.close()
            raise InternalError(Status.OK, "the parsed names are not NUL-free as documented")
        parsed = cls(
            account=account.decode("utf-8"),
            issuer=None if issuer is None else issuer.decode("utf-8"),
            kind=OtpType(fields.kind),
            algorithm=Algorithm(fields.algorithm),
            digits=fields.digits,
            period=fields.period,
            counter=fields.counter,
        )
        return parsed, secret

    def compatibility(self) -> Compatibility:
        """Which of this key's settings common authenticator apps would ignore."""
        uri = self._c_uri()
        flags = c_uint32()
        check(_lib.otp_uri_compatibility(uri, flags))
        return Compatibility(flags.value)

    def totp(self, secret: Secret) -> Totp:
        """The TOTP key for `secret` with this URI's algorithm, digits and period (and the
        default window)."""
        uri = self._c_uri()
        params = _ffi.otp_totp_params()
        check(_lib.otp_uri_totp_params(uri, params))
        key = object.__new__(Totp)
        key._init(_require_secret(secret), params)
        return key

    def hotp(self, secret: Secret) -> Hotp:
        """The HOTP key for `secret` with this URI's algorithm and digits (and the default
        look-ahead); start verifying at `counter`."""
        uri = self._c_uri()
        params = _ffi.otp_hotp_params()
        check(_lib.otp_uri_hotp_params(uri, params))
        key = object.__new__(Hotp)
        key._init(_require_secret(secret), params)
        return key
