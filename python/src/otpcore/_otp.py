"""Secrets, TOTP and HOTP keys, verification results and key URIs."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Callable

from . import _hot
from ._enums import Algorithm, OtpType, SecretPolicy, Status
from ._ffi import DEFINES, ffi, lib
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

_OK = Status.OK
_CODE_INVALID = Status.CODE_INVALID


def _match_outputs() -> tuple[Any, Any]:
    """The outputs of a verify call through cffi: the step or counter, and the drift."""
    return ffi.new("uint64_t *"), ffi.new("int64_t *")


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
# `_hot` returns these results (a `Valid` made without its __init__) and raises these
# exceptions itself.
_hot.setup(Valid, INVALID, REPLAYED, error_for)


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
    DEFAULT_LEN: int = DEFINES["OTP_SECRET_DEFAULT_LEN"]
    #: The largest secret in bytes.
    MAX_LEN: int = DEFINES["OTP_MAX_SECRET_LEN"]

    def __init__(self) -> None:
        raise TypeError("use Secret.generate(), Secret.from_base32() or Secret.from_bytes()")

    @classmethod
    def _new(cls) -> Secret:
        self = object.__new__(cls)
        self._own(ffi.new("otp_secret *"), lib.otp_secret_wipe)
        return self

    @classmethod
    def _filled(cls, status_of: Callable[[Any], int]) -> Secret:
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
        return cls._filled(lambda obj: lib.otp_secret_generate(obj, length))

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
            return cls._filled(lambda obj: lib.otp_secret_from_base32(obj, data, size, policy))

    @classmethod
    def from_bytes(
        cls, data: BytesLike, policy: SecretPolicy = SecretPolicy.COMPATIBLE
    ) -> Secret:
        """Imports raw secret bytes under `policy` (see `from_base32`)."""
        policy = SecretPolicy(policy)
        with secret_input("data", data, allow_text=False) as (raw, size):
            return cls._filled(lambda obj: lib.otp_secret_from_bytes(obj, raw, size, policy))

    def __len__(self) -> int:
        out = ffi.new("size_t *")
        check(lib.otp_secret_len(self._obj, out))
        return int(out[0])

    def to_base32(self) -> str:
        """The canonical base32 text (upper case, no padding): the secret itself. The C
        buffer is wiped; the returned `str` cannot be, so keep it short-lived."""
        buffer = ffi.new("char[]", DEFINES["OTP_MAX_SECRET_BASE32_LEN"] + 1)
        out_len = ffi.new("size_t *")
        try:
            check(lib.otp_secret_to_base32(self._obj, buffer, len(buffer), out_len))
            return str(ffi.unpack(buffer, out_len[0]).decode("ascii"))
        finally:
            wipe_buffer(buffer)

    def to_bytes(self) -> bytearray:
        """The raw secret bytes, in a bytearray the caller can wipe (`b[:] = bytes(len(b))`)."""
        out = bytearray(len(self))
        view = ffi.from_buffer(out)
        try:
            status = lib.otp_secret_bytes(self._obj, view, len(out), ffi.new("size_t *"))
        finally:
            ffi.release(view)
        if status:
            out[:] = bytes(len(out))
            raise error_for(status)
        return out

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        out = ffi.new("bool *")
        check(lib.otp_secret_equal(self._obj, other._obj, out))
        return bool(out[0])

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return "Secret(<closed>)" if self.closed else f"Secret(<{len(self)} bytes>)"


def _require_secret(secret: object) -> Secret:
    if not isinstance(secret, Secret):
        raise TypeError(f"secret must be a Secret, not {type(secret).__name__}")
    return secret


class Totp(Wiped):
    """A TOTP key (RFC 6238): the secret's HMAC state, prepared once, in memory the library
    wipes on `close()`, at the end of a `with` block or when collected.

    The defaults are those of every authenticator app: SHA1, 6 digits, 30 seconds from the
    Unix epoch; verification accepts one step back and one ahead. Times are Unix seconds
    (int); leave them out to use the system clock. The secret may be closed once the key
    is made.
    """

    # `_key`: the buffer over the C object, which `_hot`'s functions take.
    __slots__ = ("_key", "algorithm", "digits", "period", "t0", "look_back", "look_ahead")

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
        params = ffi.new(
            "otp_totp_params *",
            (
                _algorithm(algorithm),
                uint("digits", digits, U32_MAX),
                uint("period", period),
                uint("t0", t0),
                uint("look_back", look_back, U32_MAX),
                uint("look_ahead", look_ahead, U32_MAX),
            ),
        )
        self._init(_require_secret(secret), params)

    def _init(self, secret: Secret, params: Any) -> None:
        key = ffi.new("otp_totp *")
        check(lib.otp_totp_init(key, secret._obj, params))
        self._own(key, lib.otp_totp_wipe)
        self._key = ffi.buffer(key)
        applied = ffi.new("otp_totp_params *")
        check(lib.otp_totp_get_params(key, applied))
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
        return _totp_generate(self._key, t)

    def generate_at_step(self, step: int) -> str:
        """The code of time step `step`."""
        return _hot.totp_generate_at_step(self._key, uint("step", step))

    def step_at(self, t: int | None = None) -> int:
        """The time step of Unix time `t` (default: now): `(t - t0) // period`."""
        out = ffi.new("uint64_t *")
        check(lib.otp_totp_step_at(self._obj, now_or("t", t), out))
        return int(out[0])

    def seconds_left(self, t: int | None = None) -> int:
        """Seconds from Unix time `t` (default: now) until the code changes (1 to period)."""
        out = ffi.new("uint64_t *")
        check(lib.otp_totp_seconds_left(self._obj, now_or("t", t), out))
        return int(out[0])

    def verify(self, code: str, t: int | None = None, last_step: int | None = None) -> Verification:
        """Verifies a typed code (digits, optionally grouped by spaces: "123 456") at Unix
        time `t` (default: now), in constant time over the whole window.

        Pass the step persisted after the user's previous success as `last_step` (None only
        before the first success): a right code for that step or an earlier one is
        `Replayed`. On `Valid`, persist `result.step` as the new `last_step` before
        granting access. Malformed input raises `CodeFormatError`.
        """
        # The path the benchmark measures: the usual arguments (a str, ints in range) pass
        # two type checks here, and `_hot` does the rest in C.
        if type(t) is not int or not 0 <= t <= U64_MAX:
            t = now_or("t", t)
        if last_step is not None and (type(last_step) is not int or not 0 <= last_step <= U64_MAX):
            last_step = uint("last_step", last_step)
        return _totp_verify(self._key, code if type(code) is str else _code(code), t, last_step)

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"{self.algorithm.name}, {self.digits} digits, {self.period} s"
        return f"Totp(<{state}>)"


# Looked up once: a module attribute is a lookup per call.
_totp_verify = _hot.totp_verify
_totp_generate = _hot.totp_generate


class Hotp(Wiped):
    """An HOTP key (RFC 4226), wiped like `Totp`. Verification looks `look_ahead` counters
    past the stored one (3 by default)."""

    __slots__ = ("_key", "algorithm", "digits", "look_ahead")  # `_key`: as Totp's

    def __init__(
        self,
        secret: Secret,
        *,
        algorithm: Algorithm | str = Algorithm.SHA1,
        digits: int = 6,
        look_ahead: int = 3,
    ) -> None:
        params = ffi.new(
            "otp_hotp_params *",
            (
                _algorithm(algorithm),
                uint("digits", digits, U32_MAX),
                uint("look_ahead", look_ahead, U32_MAX),
            ),
        )
        self._init(_require_secret(secret), params)

    def _init(self, secret: Secret, params: Any) -> None:
        key = ffi.new("otp_hotp *")
        check(lib.otp_hotp_init(key, secret._obj, params))
        self._own(key, lib.otp_hotp_wipe)
        self._key = ffi.buffer(key)
        applied = ffi.new("otp_hotp_params *")
        check(lib.otp_hotp_get_params(key, applied))
        #: The HMAC hash function.
        self.algorithm = Algorithm(applied.algorithm)
        #: Digits per code (6 to 10).
        self.digits: int = applied.digits
        #: Counters past the stored one that verification also accepts.
        self.look_ahead: int = applied.look_ahead

    def generate(self, counter: int) -> str:
        """The code for `counter`."""
        return _hot.hotp_generate(self._key, uint("counter", counter))

    def verify(self, code: str, counter: int) -> Verification:
        """Verifies a typed code against the stored next counter `counter` and the
        look-ahead, in constant time. On `Valid`, store `result.next_counter` before
        granting access (that is HOTP's replay protection). A stored counter of 2**64 - 1
        raises `CodeRefusedError` (COUNTER_EXHAUSTED): enroll a new key."""
        return _hot.hotp_verify(self._key, _code(code), uint("counter", counter))

    def resync(self, first: str, second: str, counter: int, *, look_ahead: int) -> Verification:
        """Resynchronises a counter that drifted beyond the look-ahead (RFC 4226 §7.4):
        `Valid` only when the two codes belong to consecutive counters `c` and `c + 1`, `c`
        at most `look_ahead` (at most 1000) past `counter`; the match is the second code's
        counter, so store its `next_counter`."""
        raw_first, raw_second = _code(first), _code(second)
        matched, drift = _match_outputs()
        status = lib.otp_hotp_resync(
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
            return Valid(matched[0], drift[0])
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

    ALGORITHM_IGNORED = DEFINES["OTP_COMPAT_ALGORITHM_IGNORED"]
    DIGITS_IGNORED = DEFINES["OTP_COMPAT_DIGITS_IGNORED"]
    PERIOD_IGNORED = DEFINES["OTP_COMPAT_PERIOD_IGNORED"]


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

    def _c_uri(self) -> tuple[Any, tuple[Any, Any]]:
        """The C struct, and the C arrays of the names its pointers point into: keep them
        referenced while the struct is used (cffi frees an array once unreferenced)."""
        account = text("account", self.account)
        issuer = None if self.issuer is None else text("issuer", self.issuer)
        names = (ffi.new("char[]", account), ffi.NULL if issuer is None else ffi.new("char[]", issuer))
        uri = ffi.new(
            "otp_uri *",
            (
                int(OtpType(self.kind)),
                _algorithm(self.algorithm),
                uint("digits", self.digits, U32_MAX),
                uint("period", self.period),
                uint("counter", self.counter),
                names[1],
                0 if issuer is None else len(issuer),
                names[0],
                len(account),
            ),
        )
        return uri, names

    def build(self, secret: Secret) -> str:
        """The key URI for `secret`, such as
        `otpauth://totp/ACME:alice@example.com?secret=...&issuer=ACME`. It contains the
        secret: the C buffer is wiped, the returned `str` cannot be."""
        uri, _names = self._c_uri()  # the names live as long as this frame
        needed = ffi.new("size_t *")
        empty = ffi.new("char[]", 1)
        # A first call with no room asks the library for the size.
        status = lib.otp_uri_build(uri, _require_secret(secret)._obj, empty, 0, needed)
        if status != Status.BUFFER_TOO_SMALL:
            raise error_for(status)
        buffer = ffi.new("char[]", needed[0])
        out_len = ffi.new("size_t *")
        try:
            check(lib.otp_uri_build(uri, secret._obj, buffer, len(buffer), out_len))
            return str(ffi.unpack(buffer, out_len[0]).decode("utf-8"))
        finally:
            wipe_buffer(buffer)

    @classmethod
    def parse(cls, uri: str) -> tuple[KeyUri, Secret]:
        """Reads a key URI (secrets of 80 bits or more) into its fields and a `Secret`."""
        raw = text("uri", uri)
        fields = ffi.new("otp_uri *")
        buffer = ffi.new("char[]", len(raw) + 2)
        used = ffi.new("size_t *")
        secret = Secret._filled(
            lambda obj: lib.otp_uri_parse(raw, len(raw), fields, obj, buffer, len(buffer), used)
        )
        # The names point into `buffer`, NUL-terminated; `ffi.string` reads up to the NUL.
        account = ffi.string(fields.account)
        issuer = None if fields.issuer == ffi.NULL else ffi.string(fields.issuer)
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
        uri, _names = self._c_uri()  # the names live as long as this frame
        flags = ffi.new("uint32_t *")
        check(lib.otp_uri_compatibility(uri, flags))
        return Compatibility(flags[0])

    def totp(self, secret: Secret) -> Totp:
        """The TOTP key for `secret` with this URI's algorithm, digits and period (and the
        default window)."""
        uri, _names = self._c_uri()  # the names live as long as this frame
        params = ffi.new("otp_totp_params *")
        check(lib.otp_uri_totp_params(uri, params))
        key = object.__new__(Totp)
        key._init(_require_secret(secret), params)
        return key

    def hotp(self, secret: Secret) -> Hotp:
        """The HOTP key for `secret` with this URI's algorithm and digits (and the default
        look-ahead); start verifying at `counter`."""
        uri, _names = self._c_uri()  # the names live as long as this frame
        params = ffi.new("otp_hotp_params *")
        check(lib.otp_uri_hotp_params(uri, params))
        key = object.__new__(Hotp)
        key._init(_require_secret(secret), params)
        return key
