"""Per-user server state: throttle, recovery codes, out-of-band codes and `UserState`."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any

from ._enums import Status
from ._ffi import DEFINES as _D
from ._ffi import ffi, lib
from ._otp import INVALID, REPLAYED, Hotp, Totp, Valid, Verification, _code, _match_outputs
from ._support import U32_MAX, BytesLike, Wiped, now_or, secret_input, text_or_bytes, uint, wipe_buffer
from .errors import StateError, check, error_for

S = Status


def _require(name: str, value: object, kind: type) -> None:
    if not isinstance(value, kind):
        raise TypeError(f"{name} must be a {kind.__name__}, not {type(value).__name__}")


class ThrottleState:
    """A user's consecutive failures and the lockout they started: plain data to load
    before an attempt and persist after it (`UserState` holds one). All zero is a user
    with no failures, and what an administrator's reset writes."""

    # `_owner`: the C object a view's `_obj` points into (a `UserState`'s), kept alive with the
    # view (cffi frees memory once its owning object is unreferenced); None for a copy.
    __slots__ = ("_obj", "_owner")

    def __init__(self, failures: int = 0, locked_until: int = 0) -> None:
        fields = (uint("locked_until", locked_until), uint("failures", failures, U32_MAX))
        self._obj = ffi.new("otp_throttle_state *", fields)
        self._owner: object = None

    @classmethod
    def _view(cls, obj: Any, owner: object) -> ThrottleState:
        state = object.__new__(cls)
        state._obj = obj
        state._owner = owner
        return state

    @property
    def failures(self) -> int:
        """Consecutive failures since the last success."""
        return int(self._obj.failures)

    @property
    def locked_until(self) -> int:
        """The Unix time until which attempts are refused (0 or past: not locked out)."""
        return int(self._obj.locked_until)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ThrottleState):
            return NotImplemented
        return (self.failures, self.locked_until) == (other.failures, other.locked_until)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ThrottleState(failures={self.failures}, locked_until={self.locked_until})"


def _throttle_error(status: int, state: ThrottleState) -> Exception:
    """The exception for a refused or failed attempt; a lockout says when to retry."""
    retry_at = state.locked_until if status == S.THROTTLED else None
    return error_for(status, retry_at)


class Throttle:
    """The throttling policy: the `lockout_after`-th consecutive failure locks out for
    `lockout_secs`, each further one for twice as long up to `max_lockout_secs`, and the
    `hard_stop_after`-th (at most 100) is a hard stop until a recovery code succeeds or an
    administrator resets the state. Only a success clears the failures. The defaults
    (5, 20, one minute, one hour) allow at most 20 guesses without a success in between.

    `UserState`'s `verify_*` methods apply it for you; `check`, `record_failure` and
    `record_success` are for a flow of your own: check, verify only if that passed, record
    the outcome (a malformed code is not counted), persist, then act.
    """

    __slots__ = ("_obj",)

    def __init__(
        self,
        lockout_after: int = 5,
        hard_stop_after: int = 20,
        lockout_secs: int = 60,
        max_lockout_secs: int = 3600,
    ) -> None:
        self._obj = ffi.new(
            "otp_throttle *",
            (
                uint("lockout_after", lockout_after, U32_MAX),
                uint("hard_stop_after", hard_stop_after, U32_MAX),
                uint("lockout_secs", lockout_secs),
                uint("max_lockout_secs", max_lockout_secs),
            ),
        )
        check(lib.otp_throttle_validate(self._obj))

    @property
    def lockout_after(self) -> int:
        """The consecutive failure that starts the first lockout."""
        return int(self._obj.lockout_after)

    @property
    def hard_stop_after(self) -> int:
        """The consecutive failure that is a hard stop."""
        return int(self._obj.hard_stop_after)

    @property
    def lockout_secs(self) -> int:
        """The first lockout in seconds."""
        return int(self._obj.lockout_secs)

    @property
    def max_lockout_secs(self) -> int:
        """The longest lockout in seconds."""
        return int(self._obj.max_lockout_secs)

    def check(self, state: ThrottleState, now: int | None = None) -> None:
        """Raises `ThrottledError` when `state` allows no one-time code attempt at `now`."""
        _require("state", state, ThrottleState)
        status = lib.otp_throttle_check(self._obj, state._obj, now_or("now", now))
        if status:
            raise _throttle_error(status, state)

    def check_recovery(self, state: ThrottleState, now: int | None = None) -> None:
        """As `check`, for a recovery code, which the hard stop does not refuse."""
        _require("state", state, ThrottleState)
        status = lib.otp_throttle_check_recovery(self._obj, state._obj, now_or("now", now))
        if status:
            raise _throttle_error(status, state)

    def record_failure(self, state: ThrottleState, now: int | None = None) -> None:
        """Counts a wrong code in `state`, maybe starting a lockout (not a replay: a used
        code typed again tells a guesser nothing)."""
        _require("state", state, ThrottleState)
        check(lib.otp_throttle_record_failure(self._obj, now_or("now", now), state._obj))

    def record_success(self, state: ThrottleState) -> None:
        """Clears the failures in `state` after a valid code."""
        _require("state", state, ThrottleState)
        check(lib.otp_throttle_record_success(self._obj, state._obj))

    def __repr__(self) -> str:
        return (
            f"Throttle(lockout_after={self.lockout_after}, hard_stop_after={self.hard_stop_after}, "
            f"lockout_secs={self.lockout_secs}, max_lockout_secs={self.max_lockout_secs})"
        )


class RecoveryValid(Verification):
    """A recovery code of the set, unused until now and now marked used: persist the set
    (or the `UserState` holding it) before granting access."""

    __slots__ = ("slot", "remaining")
    __match_args__ = ("slot", "remaining")
    valid = True

    def __init__(self, slot: int, remaining: int) -> None:
        #: The code's slot, 0 to 9.
        self.slot = slot
        #: How many unused codes are left.
        self.remaining = remaining

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RecoveryValid) and (self.slot, self.remaining) == (
            other.slot,
            other.remaining,
        )

    def __hash__(self) -> int:
        return hash((RecoveryValid, self.slot, self.remaining))

    def __repr__(self) -> str:
        return f"RecoveryValid(slot={self.slot}, remaining={self.remaining})"


_RECOVERY_COUNT = _D["OTP_RECOVERY_CODE_COUNT"]
_SALT_LEN = _D["OTP_RECOVERY_SALT_LEN"]
_HASH_LEN = _D["OTP_RECOVERY_HASH_LEN"]


def _recovery_outcome(status: int, slot: Any, remaining: Any) -> Verification | None:
    """The result of a recovery code check, or None for a status that is not one."""
    if status == S.OK:
        return RecoveryValid(slot[0], remaining[0])
    if status == S.CODE_REPLAYED:
        return REPLAYED
    if status == S.CODE_INVALID:
        return INVALID
    return None


class RecoveryCodes:
    """The stored form of ten single-use recovery codes: a random salt, the SHA-256 of the
    salt and each code, and which codes are used. It holds no code. `generate()` makes a
    set and the codes to show the user once; a `UserState` holds one as `recovery`.
    """

    __slots__ = ("_obj", "_owner")  # as ThrottleState's

    #: The number of codes in a set.
    COUNT: int = _RECOVERY_COUNT

    def __init__(self, salt: BytesLike, hashes: Sequence[BytesLike], used: int = 0) -> None:
        """A stored set from its parts (as kept apart from a `UserState`)."""
        if not isinstance(salt, (bytes, bytearray, memoryview)) or len(salt) != _SALT_LEN:
            raise ValueError(f"salt must be {_SALT_LEN} bytes")
        if len(hashes) != _RECOVERY_COUNT or any(
            not isinstance(h, (bytes, bytearray, memoryview)) or len(h) != _HASH_LEN for h in hashes
        ):
            raise ValueError(f"hashes must be {_RECOVERY_COUNT} values of {_HASH_LEN} bytes")
        self._obj = ffi.new("otp_recovery_codes *")
        self._owner: object = None
        ffi.memmove(self._obj.salt, bytes(salt), _SALT_LEN)
        for row, digest in zip(self._obj.hashes, hashes):
            ffi.memmove(row, bytes(digest), _HASH_LEN)
        self._obj.used = uint("used", used, 0xFFFF)

    @classmethod
    def _view(cls, obj: Any, owner: object) -> RecoveryCodes:
        codes = object.__new__(cls)
        codes._obj = obj
        codes._owner = owner
        return codes

    @classmethod
    def generate(cls) -> tuple[RecoveryCodes, list[str]]:
        """A new set of ten 80-bit codes from the operating system: the stored form, and
        the codes as `xxxx-xxxx-xxxx-xxxx` to show the user once. The C buffer is wiped;
        the returned strings cannot be, so drop them once shown."""
        buffer = ffi.new("char[]", _D["OTP_RECOVERY_CODES_TEXT_SIZE"])
        out_len = ffi.new("size_t *")
        codes = cls._view(ffi.new("otp_recovery_codes *"), None)
        try:
            check(lib.otp_recovery_codes_generate(buffer, len(buffer), out_len, codes._obj))
            return codes, ffi.unpack(buffer, out_len[0]).decode("ascii").split("\n")
        finally:
            wipe_buffer(buffer)

    @property
    def salt(self) -> bytes:
        """The random salt of this set."""
        return bytes(ffi.buffer(self._obj.salt))

    @property
    def hashes(self) -> tuple[bytes, ...]:
        """The hash of each code, code 0 first."""
        return tuple(bytes(ffi.buffer(row)) for row in self._obj.hashes)

    @property
    def used(self) -> int:
        """Bit `i` is set once code `i` has been used."""
        return int(self._obj.used)

    @property
    def remaining(self) -> int:
        """How many codes are unused."""
        out = ffi.new("size_t *")
        check(lib.otp_recovery_codes_remaining(self._obj, out))
        return int(out[0])

    def verify(self, code: str) -> Verification:
        """Checks a typed code (any letter case, dashes and spaces ignored) against every
        code of the set in constant time, without a throttle (`UserState.verify_recovery`
        has one): `RecoveryValid` (now marked used here: persist the set), `Replayed` (used
        before) or `Invalid`. A malformed code raises `CodeFormatError`."""
        raw = _code(code)
        slot, remaining = ffi.new("size_t *"), ffi.new("size_t *")
        status = lib.otp_recovery_codes_verify(raw, len(raw), self._obj, slot, remaining)
        outcome = _recovery_outcome(status, slot, remaining)
        if outcome is None:
            raise error_for(status)
        return outcome

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RecoveryCodes):
            return NotImplemented
        return bytes(ffi.buffer(self._obj)) == bytes(ffi.buffer(other._obj))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"RecoveryCodes(used={self.used:#012b})"


class OobVerification(enum.Enum):
    """The outcome of checking a well-formed out-of-band code; only VALID is true."""

    #: Right, in time and within the tries: it is now used.
    VALID = "valid"
    #: Wrong; the try was counted.
    WRONG = "wrong"
    #: The code's validity has ended (whether or not this one was right).
    EXPIRED = "expired"
    #: Accepted before: a new code must be issued.
    ALREADY_USED = "already used"
    #: The tries for this code are used up: refused even if right.
    TOO_MANY_ATTEMPTS = "too many attempts"
    #: No code was issued.
    NO_CODE_PENDING = "no code pending"

    def __bool__(self) -> bool:
        return self is OobVerification.VALID


_OOB_OUTCOMES = {
    S.OK: OobVerification.VALID,
    S.CODE_INVALID: OobVerification.WRONG,
    S.OOB_CODE_EXPIRED: OobVerification.EXPIRED,
    S.CODE_REPLAYED: OobVerification.ALREADY_USED,
    S.OOB_TOO_MANY_ATTEMPTS: OobVerification.TOO_MANY_ATTEMPTS,
    S.OOB_NO_CODE_PENDING: OobVerification.NO_CODE_PENDING,
}


class OobKey(Wiped):
    """The server key that out-of-band code tags are computed under (16 to 64 bytes; use
    32 random bytes kept secret on the server). One key serves every user. Wiped like a
    `Secret`; a bytearray or memoryview argument is wiped after use, `bytes` cannot be."""

    __slots__ = ()

    def __init__(self, key: BytesLike) -> None:
        obj = ffi.new("otp_oob_key *")
        with secret_input("key", key, allow_text=False) as (raw, size):
            check(lib.otp_oob_key_init(obj, raw, size))
        self._own(obj, lib.otp_oob_key_wipe)

    def __repr__(self) -> str:
        return "OobKey(<closed>)" if self.closed else "OobKey(<key>)"


class OobPolicy:
    """How out-of-band codes are issued: `digits` (6 to 8), `ttl_secs` valid (at most
    600), `max_attempts` tries per code (at most 10) and `resend_cooldown_secs` between two
    codes for one user (at most 3600). Checked when made (`SettingsError`)."""

    __slots__ = ("_obj",)

    def __init__(
        self,
        digits: int = 6,
        ttl_secs: int = 300,
        max_attempts: int = 3,
        resend_cooldown_secs: int = 60,
    ) -> None:
        self._obj = ffi.new(
            "otp_oob_policy *",
            (
                uint("digits", digits, U32_MAX),
                uint("max_attempts", max_attempts, U32_MAX),
                uint("ttl_secs", ttl_secs),
                uint("resend_cooldown_secs", resend_cooldown_secs),
            ),
        )
        # Every function that takes a policy checks it first; with an empty record this
        # one has nothing else to refuse.
        check(lib.otp_oob_next_issue_at(ffi.new("otp_oob_record *"), self._obj, ffi.new("uint64_t *")))

    @property
    def digits(self) -> int:
        """Digits per code."""
        return int(self._obj.digits)

    @property
    def ttl_secs(self) -> int:
        """How long a code is valid in seconds."""
        return int(self._obj.ttl_secs)

    @property
    def max_attempts(self) -> int:
        """Tries per code."""
        return int(self._obj.max_attempts)

    @property
    def resend_cooldown_secs(self) -> int:
        """The least time between two codes for one user in seconds."""
        return int(self._obj.resend_cooldown_secs)

    def __repr__(self) -> str:
        return (
            f"OobPolicy(digits={self.digits}, ttl_secs={self.ttl_secs}, "
            f"max_attempts={self.max_attempts}, resend_cooldown_secs={self.resend_cooldown_secs})"
        )


_OOB_RECORD_LEN = _D["OTP_OOB_RECORD_LEN"]


class OobRecord:
    """A user's out-of-band code record: 56 bytes holding a keyed hash of the pending code,
    never the code. Persist `to_bytes()` after every issue and verification, where only
    the server writes; a `UserState` holds one as `oob`."""

    __slots__ = ("_obj", "_owner")  # as ThrottleState's

    #: The length of the encoding in bytes.
    LEN: int = _OOB_RECORD_LEN

    def __init__(self) -> None:
        """A record with no code pending."""
        self._obj = ffi.new("otp_oob_record *")
        self._owner: object = None

    @classmethod
    def _view(cls, obj: Any, owner: object) -> OobRecord:
        record = object.__new__(cls)
        record._obj = obj
        record._owner = owner
        return record

    @classmethod
    def from_bytes(cls, data: BytesLike) -> OobRecord:
        """A record from its 56 stored bytes; the library checks them when it is used."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data must be bytes, not {type(data).__name__}")
        if len(data) != _OOB_RECORD_LEN:
            raise StateError(S.OOB_RECORD_INVALID, f"a record is {_OOB_RECORD_LEN} bytes, not {len(data)}")
        record = cls()
        ffi.memmove(record._obj, bytes(data), _OOB_RECORD_LEN)
        return record

    def to_bytes(self) -> bytes:
        """The 56 bytes to store."""
        return bytes(ffi.buffer(self._obj))

    def next_issue_at(self, policy: OobPolicy) -> int:
        """The earliest Unix time at which `policy` lets a new code be issued (0 when none
        was)."""
        _require("policy", policy, OobPolicy)
        out = ffi.new("uint64_t *")
        check(lib.otp_oob_next_issue_at(self._obj, policy._obj, out))
        return int(out[0])

    def issue(self, key: OobKey, user_id: str | BytesLike, policy: OobPolicy, now: int | None = None) -> str:
        """Issues a new random code for `user_id` (any stable identifier), replacing any
        pending one: persist the record, then send the code. Within the resend cooldown it
        raises `ThrottledError` (OOB_ISSUE_TOO_SOON) with `retry_at`."""
        _require("key", key, OobKey)
        _require("policy", policy, OobPolicy)
        user = text_or_bytes("user_id", user_id)
        buffer = ffi.new("char[]", _D["OTP_OOB_CODE_BUFFER_SIZE"])
        out_len = ffi.new("size_t *")
        try:
            status = lib.otp_oob_issue(
                key._obj, user, len(user), policy._obj, now_or("now", now), self._obj, buffer, len(buffer), out_len
            )
            if status == S.OOB_ISSUE_TOO_SOON:
                raise error_for(status, self.next_issue_at(policy))
            check(status)
            return str(ffi.unpack(buffer, out_len[0]).decode("ascii"))
        finally:
            wipe_buffer(buffer)

    def verify(self, key: OobKey, user_id: str | BytesLike, code: str, now: int | None = None) -> OobVerification:
        """Checks the typed code for `user_id` (as at issue) without a throttle
        (`UserState.verify_oob` has one). Persist the record after every call."""
        _require("key", key, OobKey)
        user = text_or_bytes("user_id", user_id)
        raw = _code(code)
        status = lib.otp_oob_verify(key._obj, user, len(user), raw, len(raw), now_or("now", now), self._obj)
        outcome = _OOB_OUTCOMES.get(status)
        if outcome is None:
            raise error_for(status)
        return outcome

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, OobRecord):
            return NotImplemented
        return self.to_bytes() == other.to_bytes()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return "OobRecord(<56 bytes>)"


class UserState:
    """Everything a server keeps per user besides the secret: the last accepted TOTP step,
    the next HOTP counter, the throttle state, the recovery codes' hashes and the pending
    out-of-band code's record.

    Load it with `decode()` before an attempt, call one `verify_*` method (which applies
    the throttle and updates the state whatever the outcome), persist `encode()` (472
    bytes, versioned, shared with the Rust and C APIs), and only then act on the outcome.
    Keep it where only the server writes: an older copy would allow a replay or reset the
    throttle.
    """

    __slots__ = ("_obj",)

    #: The length of `encode()`'s output in bytes.
    ENCODED_LEN: int = _D["OTP_USER_STATE_LEN"]

    def __init__(self) -> None:
        """A newly enrolled user: no step accepted, counter 0, no failures, and an empty
        recovery set (every code used; assign `recovery` a generated one)."""
        self._obj = ffi.new("otp_user_state *")
        check(lib.otp_user_state_default(self._obj))

    @classmethod
    def decode(cls, data: BytesLike) -> UserState:
        """Reads an encoding by `encode()` (or the Rust or C API). Any fault raises
        `StateError`: treat the state as lost, refuse and alert; never start afresh, which
        would clear the throttle."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data must be bytes, not {type(data).__name__}")
        raw = bytes(data)
        state = object.__new__(cls)
        state._obj = ffi.new("otp_user_state *")
        check(lib.otp_user_state_decode(raw, len(raw), state._obj))
        return state

    def encode(self) -> bytes:
        """The versioned encoding to persist (`ENCODED_LEN` bytes; no secret inside)."""
        buffer = ffi.new("char[]", self.ENCODED_LEN)
        out_len = ffi.new("size_t *")
        check(lib.otp_user_state_encode(self._obj, buffer, len(buffer), out_len))
        return bytes(ffi.unpack(buffer, out_len[0]))

    @property
    def last_accepted(self) -> int | None:
        """The last accepted TOTP step; None before the first."""
        return int(self._obj.totp_step) if self._obj.has_totp_step else None

    @property
    def hotp_counter(self) -> int:
        """The next expected HOTP counter."""
        return int(self._obj.hotp_counter)

    @hotp_counter.setter
    def hotp_counter(self, value: int) -> None:
        self._obj.hotp_counter = uint("hotp_counter", value)

    @property
    def throttle(self) -> ThrottleState:
        """The throttle state (a live view: it changes with this state)."""
        return ThrottleState._view(ffi.addressof(self._obj, "throttle"), self._obj)

    def reset_throttle(self) -> None:
        """An administrator's reset: forgets the failures and any lockout or hard stop."""
        self._obj.throttle = ffi.new("otp_throttle_state *")[0]

    @property
    def recovery(self) -> RecoveryCodes:
        """The recovery codes' stored form (a live view: it changes with this state)."""
        return RecoveryCodes._view(ffi.addressof(self._obj, "recovery"), self._obj)

    @recovery.setter
    def recovery(self, codes: RecoveryCodes) -> None:
        _require("recovery", codes, RecoveryCodes)
        self._obj.recovery = codes._obj[0]

    @property
    def oob(self) -> OobRecord:
        """The out-of-band code's record (a live view: it changes with this state)."""
        return OobRecord._view(ffi.addressof(self._obj, "oob"), self._obj)

    @oob.setter
    def oob(self, record: OobRecord) -> None:
        _require("oob", record, OobRecord)
        self._obj.oob = record._obj[0]

    def verify_totp(self, totp: Totp, throttle: Throttle, code: str, now: int | None = None) -> Verification:
        """Verifies a TOTP code at `now` with replay protection from this state, under
        `throttle`. While the user is locked out nothing is checked: `ThrottledError`
        (THROTTLED with `retry_at`, or LOCKED_OUT at the hard stop). Otherwise `Valid`
        (the step is stored, failures cleared), `Replayed` (refused, not counted: a used
        code tells a guesser nothing) or `Invalid` (a failure is counted); persist the state in every one of these cases. Malformed input raises
        `CodeFormatError` and is not counted."""
        _require("totp", totp, Totp)
        _require("throttle", throttle, Throttle)
        raw = _code(code)
        step, drift = _match_outputs()
        status = lib.otp_user_state_verify_totp(
            totp._obj, throttle._obj, raw, len(raw), now_or("now", now), self._obj, step, drift
        )
        return self._otp_outcome(status, step, drift)

    def verify_hotp(self, hotp: Hotp, throttle: Throttle, code: str, now: int | None = None) -> Verification:
        """As `verify_totp` for HOTP against `hotp_counter`, which a valid code moves past
        the matched counter."""
        _require("hotp", hotp, Hotp)
        _require("throttle", throttle, Throttle)
        raw = _code(code)
        counter, drift = _match_outputs()
        status = lib.otp_user_state_verify_hotp(
            hotp._obj, throttle._obj, raw, len(raw), now_or("now", now), self._obj, counter, drift
        )
        return self._otp_outcome(status, counter, drift)

    def _otp_outcome(self, status: int, step: Any, drift: Any) -> Verification:
        if status == S.OK:
            return Valid(step[0], drift[0])
        if status == S.CODE_INVALID:
            return INVALID
        if status == S.CODE_REPLAYED:
            return REPLAYED
        raise _throttle_error(status, self.throttle)

    def verify_recovery(self, throttle: Throttle, code: str, now: int | None = None) -> Verification:
        """Verifies a recovery code against `recovery` under `throttle` (the same failure
        count as one-time codes; the hard stop does not refuse it, so a valid one is how a
        user gets out of it): `RecoveryValid`, `Replayed` (used before; not counted) or `Invalid`; a
        running lockout raises `ThrottledError`. Persist the state after every call."""
        _require("throttle", throttle, Throttle)
        raw = _code(code)
        slot, remaining = ffi.new("size_t *"), ffi.new("size_t *")
        status = lib.otp_user_state_verify_recovery(
            throttle._obj, raw, len(raw), now_or("now", now), self._obj, slot, remaining
        )
        outcome = _recovery_outcome(status, slot, remaining)
        if outcome is None:
            raise _throttle_error(status, self.throttle)
        return outcome

    def issue_oob(self, key: OobKey, user_id: str | BytesLike, policy: OobPolicy, now: int | None = None) -> str:
        """Issues an out-of-band code into `oob` (see `OobRecord.issue`): persist the state,
        then send the code. Issuing needs no throttle check: it reveals nothing, and the
        resend cooldown bounds how often it can happen."""
        return self.oob.issue(key, user_id, policy, now)

    def verify_oob(
        self, key: OobKey, throttle: Throttle, user_id: str | BytesLike, code: str, now: int | None = None
    ) -> OobVerification:
        """Verifies a typed out-of-band code against `oob` under `throttle`, as
        `verify_totp` does: a lockout raises `ThrottledError`; VALID clears the failures,
        every other outcome counts as one. Persist the state after every call."""
        _require("key", key, OobKey)
        _require("throttle", throttle, Throttle)
        user = text_or_bytes("user_id", user_id)
        raw = _code(code)
        status = lib.otp_user_state_verify_oob(
            key._obj, throttle._obj, user, len(user), raw, len(raw), now_or("now", now), self._obj
        )
        outcome = _OOB_OUTCOMES.get(status)
        if outcome is None:
            raise _throttle_error(status, self.throttle)
        return outcome

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, UserState):
            return NotImplemented
        return self.encode() == other.encode()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"UserState(last_accepted={self.last_accepted}, hotp_counter={self.hotp_counter}, "
            f"throttle={self.throttle!r}, recovery={self.recovery!r})"
        )
