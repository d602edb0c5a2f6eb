"""UserState, Throttle, RecoveryCodes and out-of-band codes: the server-side flows."""

from __future__ import annotations

import gc

import pytest

from otpcore import (
    CodeFormatError,
    Hotp,
    Invalid,
    OobKey,
    OobPolicy,
    OobRecord,
    OobVerification,
    RecoveryCodes,
    RecoveryValid,
    Replayed,
    Secret,
    StateError,
    Status,
    Throttle,
    ThrottledError,
    ThrottleState,
    Totp,
    UserState,
    Valid,
)

NOW = 1_700_000_000


def wrong(code: str) -> str:
    return str((int(code) + 1) % 10 ** len(code)).zfill(len(code))


def test_enrollment_login_replay_and_recovery(totp):
    throttle = Throttle()
    state = UserState()
    assert state.last_accepted is None and state.hotp_counter == 0
    code = totp.generate(NOW)
    assert state.verify_totp(totp, throttle, code, NOW) == Valid(totp.step_at(NOW), 0)
    stored, shown = RecoveryCodes.generate()
    assert len(shown) == RecoveryCodes.COUNT == 10 and len(set(shown)) == 10
    assert all(len(c) == 19 and c.count("-") == 3 for c in shown)
    state.recovery = stored

    encoded = state.encode()
    assert len(encoded) == UserState.ENCODED_LEN == 472
    loaded = UserState.decode(encoded)
    assert loaded == state and loaded.last_accepted == totp.step_at(NOW)
    # A replay is refused and not counted: it tells a guesser nothing.
    assert loaded.verify_totp(totp, throttle, code, NOW) == Replayed()
    assert loaded.throttle.failures == 0
    assert loaded.verify_totp(totp, throttle, wrong(code), NOW) == Invalid()
    assert loaded.throttle.failures == 1
    assert loaded.verify_recovery(throttle, shown[0].upper().replace("-", ""), NOW) == RecoveryValid(0, 9)
    assert loaded.throttle.failures == 0
    assert loaded.verify_recovery(throttle, shown[0], NOW) == Replayed()
    assert loaded.throttle.failures == 0
    assert loaded.verify_recovery(throttle, "0000-0000-0000-0000", NOW) == Invalid()
    assert loaded.throttle.failures == 1
    assert loaded.recovery.remaining == 9 and loaded.recovery.used == 1


def test_lockouts_double_and_refuse_without_checking(totp):
    throttle = Throttle()  # the 5th failure: 60 s, doubling to 3600 s; the 20th: hard stop
    state = UserState()
    t = NOW
    for failure in range(1, 5):
        assert state.verify_totp(totp, throttle, wrong(totp.generate(t)), t) == Invalid()
        assert state.throttle == ThrottleState(failures=failure, locked_until=0)
    assert state.verify_totp(totp, throttle, wrong(totp.generate(t)), t) == Invalid()
    assert state.throttle == ThrottleState(failures=5, locked_until=t + 60)

    before = state.encode()
    with pytest.raises(ThrottledError) as locked:
        state.verify_totp(totp, throttle, totp.generate(t + 59), t + 59)  # even the right code
    assert locked.value.status is Status.THROTTLED and locked.value.retry_at == t + 60
    assert state.encode() == before  # not checked, not counted

    assert state.verify_totp(totp, throttle, wrong(totp.generate(t + 60)), t + 60) == Invalid()
    assert state.throttle.locked_until == t + 60 + 120
    assert state.verify_totp(totp, throttle, totp.generate(t + 180), t + 180)
    assert state.throttle == ThrottleState()


def test_the_hard_stop_yields_only_to_a_recovery_code_or_a_reset(totp):
    throttle = Throttle(lockout_after=2, hard_stop_after=3, lockout_secs=1, max_lockout_secs=1)
    state = UserState()
    stored, shown = RecoveryCodes.generate()
    state.recovery = stored
    t = NOW
    for _ in range(3):
        t += 10
        state.verify_totp(totp, throttle, wrong(totp.generate(t)), t)
    with pytest.raises(ThrottledError) as stopped:
        state.verify_totp(totp, throttle, totp.generate(t + 10**6), t + 10**6)
    assert stopped.value.status is Status.LOCKED_OUT and stopped.value.retry_at is None
    assert state.verify_recovery(throttle, shown[5], t + 10) == RecoveryValid(5, 9)
    assert state.throttle == ThrottleState()

    for _ in range(3):
        t += 10
        state.verify_totp(totp, throttle, wrong(totp.generate(t)), t)
    state.reset_throttle()
    assert state.verify_totp(totp, throttle, totp.generate(t + 10), t + 10)


def test_malformed_codes_are_not_counted(totp):
    state, throttle = UserState(), Throttle()
    for typed in ("12345", "12345x", ""):
        with pytest.raises(CodeFormatError):
            state.verify_totp(totp, throttle, typed, NOW)
    with pytest.raises(CodeFormatError):
        state.verify_recovery(throttle, "not a code", NOW)
    assert state.throttle.failures == 0


def test_hotp_state_moves_past_the_matched_counter(rfc_secret):
    with Hotp(rfc_secret) as key:
        state, throttle = UserState(), Throttle()
        assert state.verify_hotp(key, throttle, "359152", NOW) == Valid(2, 2)
        assert state.hotp_counter == 3
        assert state.verify_hotp(key, throttle, "359152", NOW) == Invalid()
        assert state.throttle.failures == 1
        state.hotp_counter = 9
        assert state.verify_hotp(key, throttle, "520489", NOW) == Valid(9, 0)


def test_out_of_band_codes_through_the_state():
    state, throttle = UserState(), Throttle()
    policy = OobPolicy()
    with OobKey(b"a 32-byte server key, not this!!") as key:
        code = state.issue_oob(key, "alice", policy, NOW)
        assert len(code) == 6 and code.isdigit()
        assert state.oob.next_issue_at(policy) == NOW + 60
        stored = UserState.decode(state.encode())
        assert stored.verify_oob(key, throttle, "bob", code, NOW + 5) == OobVerification.WRONG
        assert stored.throttle.failures == 1
        result = stored.verify_oob(key, throttle, "alice", code, NOW + 6)
        assert result == OobVerification.VALID and result and stored.throttle.failures == 0
        again = stored.verify_oob(key, throttle, "alice", code, NOW + 7)
        assert again == OobVerification.ALREADY_USED and not again


def test_out_of_band_record_on_its_own():
    policy = OobPolicy(digits=8, ttl_secs=120, max_attempts=2, resend_cooldown_secs=30)
    record = OobRecord()
    assert record.next_issue_at(policy) == 0
    with OobKey(bytearray(b"k" * 16)) as key:
        code = record.issue(key, b"user-7", policy, NOW)
        assert len(code) == 8
        stored = OobRecord.from_bytes(record.to_bytes())
        assert stored == record and len(record.to_bytes()) == OobRecord.LEN == 56
        assert stored.verify(key, b"user-7", code, NOW + 120) == OobVerification.EXPIRED
        fresh = OobRecord.from_bytes(record.to_bytes())
        assert fresh.verify(key, b"user-7", code, NOW + 119) == OobVerification.VALID
    with pytest.raises(StateError) as short:
        OobRecord.from_bytes(bytes(55))
    assert short.value.status is Status.OOB_RECORD_INVALID


def test_throttle_for_a_flow_of_ones_own():
    throttle = Throttle(lockout_after=1, hard_stop_after=100, lockout_secs=10, max_lockout_secs=40)
    state = ThrottleState()
    throttle.check(state, NOW)
    throttle.record_failure(state, NOW)
    assert state == ThrottleState(failures=1, locked_until=NOW + 10)
    with pytest.raises(ThrottledError) as locked:
        throttle.check(state, NOW + 9)
    assert locked.value.retry_at == NOW + 10
    throttle.check_recovery(state, NOW + 10)
    throttle.record_success(state)
    assert state == ThrottleState()
    assert repr(throttle) == "Throttle(lockout_after=1, hard_stop_after=100, lockout_secs=10, max_lockout_secs=40)"


def test_recovery_codes_kept_apart_from_the_state():
    stored, shown = RecoveryCodes.generate()
    copy = RecoveryCodes(stored.salt, stored.hashes, stored.used)
    assert copy == stored and len(copy.salt) == 16 and all(len(h) == 32 for h in copy.hashes)
    assert copy.verify(shown[9]) == RecoveryValid(9, 9)
    assert copy.used == 1 << 9 and stored.used == 0
    invalid_bits = RecoveryCodes(stored.salt, stored.hashes, used=1 << 12)
    with pytest.raises(StateError) as caught:
        invalid_bits.verify(shown[0])
    assert caught.value.status is Status.STATE_INVALID_FLAGS


def test_views_are_live_and_setters_copy():
    state = UserState()
    view = state.throttle
    Throttle().record_failure(view, NOW)
    assert state.throttle.failures == 1
    codes, shown = RecoveryCodes.generate()
    state.recovery = codes
    codes.verify(shown[1])  # the set given was copied: the state's slot 1 is still unused
    assert state.recovery.remaining == 10
    assert state.recovery.verify(shown[1]) == RecoveryValid(1, 9)
    assert state.recovery.remaining == 9


def test_a_new_state_lets_no_recovery_code_in():
    state = UserState()
    assert state.recovery.remaining == 0
    _, shown = RecoveryCodes.generate()
    assert state.verify_recovery(Throttle(), shown[0], NOW) == Invalid()


def test_keys_need_their_own_types(rfc_secret):
    with pytest.raises(TypeError):
        UserState().verify_hotp(Totp(rfc_secret), Throttle(), "123456", NOW)
    with pytest.raises(TypeError):
        UserState().verify_oob(Secret.generate(), Throttle(), "alice", "123456", NOW)


def test_views_keep_the_state_they_show_alive(totp):
    state = UserState()
    state.verify_totp(totp, Throttle(), wrong(totp.generate(NOW)), NOW)
    state.recovery = RecoveryCodes.generate()[0]
    throttle, recovery, oob = state.throttle, state.recovery, state.oob
    expected = (state.recovery.salt, state.oob.to_bytes())
    del state
    gc.collect()
    # New states would take the memory of a freed one.
    others = [UserState() for _ in range(100)]
    assert throttle.failures == 1
    assert (recovery.salt, oob.to_bytes()) == expected
    assert recovery.remaining == 10 and len(others) == 100
