"""TOTP, HOTP and key URIs through the Python API: results, replay, windows, drift, times."""

from __future__ import annotations

import pytest

import otpcore
from otpcore import (
    Algorithm,
    Compatibility,
    Hotp,
    Invalid,
    KeyUri,
    OtpType,
    Replayed,
    Secret,
    TimeError,
    Totp,
    Valid,
    Verification,
)

KEY = b"12345678901234567890"


def test_totp_verify_tells_valid_replayed_and_invalid_apart(totp):
    code = totp.generate(59)
    result = totp.verify(code, 59)
    assert result == Valid(step=1, drift=0) and result and result.valid
    assert isinstance(result, Verification)
    # The step persisted after that success makes the same code a replay, even later.
    replay = totp.verify(code, 75, last_step=result.step)
    assert replay == Replayed() and not replay and not replay.valid
    assert totp.verify("000000", 59) == Invalid() and not totp.verify("000000", 59)
    # A later code is still accepted after the last accepted step.
    assert totp.verify(totp.generate(89), 89, last_step=1) == Valid(2, 0)


def test_results_match_as_patterns(totp):
    def describe(result: Verification) -> str:
        if isinstance(result, Valid):
            return f"valid {result.step} {result.drift}"
        return "replayed" if isinstance(result, Replayed) else "invalid"

    assert describe(totp.verify(totp.generate(59), 59)) == "valid 1 0"
    assert describe(totp.verify(totp.generate(59), 59, 1)) == "replayed"
    assert describe(totp.verify("000000", 59)) == "invalid"
    assert Valid.__match_args__ == ("step", "drift")
    assert repr(Valid(1, -1)) == "Valid(step=1, drift=-1)" and hash(Valid(1, 0)) == hash(Valid(1, 0))


def test_drift_inside_the_window_and_nothing_outside(totp):
    t = 1_700_000_000
    step = totp.step_at(t)
    for offset in (-1, 0, 1):
        assert totp.verify(totp.generate_at_step(step + offset), t) == Valid(step + offset, offset)
    for offset in (-2, 2):
        assert totp.verify(totp.generate_at_step(step + offset), t) == Invalid()


def test_windows_and_settings_are_applied(rfc_secret):
    with Totp(rfc_secret, algorithm="sha256", digits=8, period=60, t0=30, look_back=2, look_ahead=0) as key:
        assert (key.algorithm, key.digits, key.period, key.t0, key.look_back, key.look_ahead) == (
            Algorithm.SHA256, 8, 60, 30, 2, 0
        )
        t = 30 + 60 * 10
        assert key.step_at(t) == 10 and key.seconds_left(t) == 60 and key.seconds_left(t + 59) == 1
        assert key.verify(key.generate_at_step(8), t) == Valid(8, -2)
        assert key.verify(key.generate_at_step(11), t) == Invalid()
        with pytest.raises(TimeError):
            key.step_at(29)


def test_grouped_codes_are_accepted(totp):
    code = totp.generate(59)
    assert totp.verify(f"{code[:3]} {code[3:]}", 59) == Valid(1, 0)


def test_the_system_clock_is_the_default_time(totp):
    before = otpcore.unix_time()
    step = totp.step_at()
    after = otpcore.unix_time()
    assert before // 30 <= step <= after // 30
    # Within the window of the clock's step, whatever the step is now.
    assert totp.verify(totp.generate_at_step(step))
    assert 1 <= totp.seconds_left() <= 30
    assert len(totp.generate()) == 6


def test_hotp_counter_flow(rfc_secret):
    with Hotp(rfc_secret) as key:
        counter = 0
        result = key.verify("359152", counter)  # the code of counter 2, within the look-ahead of 3
        assert result == Valid(2, 2) and result.next_counter == 3
        counter = result.next_counter
        assert key.verify("359152", counter) == Invalid()  # HOTP's replay protection
        assert key.verify("338314", counter) == Valid(4, 1)
        assert key.verify("520489", counter) == Invalid()  # counter 9: beyond the look-ahead


def test_hotp_resync_accepts_two_consecutive_codes_only(rfc_secret):
    with Hotp(rfc_secret) as key:
        codes = [key.generate(c) for c in range(30)]
        assert key.resync(codes[20], codes[21], counter=0, look_ahead=20) == Valid(21, 21)
        assert key.resync(codes[20], codes[22], counter=0, look_ahead=20) == Invalid()
        assert key.resync(codes[20], codes[21], counter=0, look_ahead=19) == Invalid()
        with pytest.raises(otpcore.SettingsError):
            key.resync(codes[20], codes[21], counter=0, look_ahead=1001)


def test_secret_round_trips_and_compares(rfc_secret):
    assert rfc_secret.to_base32() == "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
    with Secret.from_base32("gezd gnbv-gy3t qojq gezd gnbv gy3t qojq") as lenient:
        assert lenient == rfc_secret and len(lenient) == 20
    with Secret.generate() as a, Secret.generate(32) as b:
        assert len(a) == Secret.DEFAULT_LEN == 20 and len(b) == 32 and a != b and a != "x"
    with pytest.raises(TypeError):
        hash(rfc_secret)


def test_key_uri_build_and_parse(rfc_secret):
    uri = KeyUri("alice@example.com", issuer="Deploy Portal")
    text = uri.build(rfc_secret)
    assert text == (
        "otpauth://totp/Deploy%20Portal:alice@example.com"
        "?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Deploy%20Portal"
    )
    parsed, secret = KeyUri.parse(text)
    with secret:
        assert parsed == uri and secret == rfc_secret
    hotp = KeyUri("bob", kind=OtpType.HOTP, algorithm=Algorithm.SHA512, digits=8, counter=7)
    parsed, secret = KeyUri.parse(hotp.build(rfc_secret))
    with secret:
        assert parsed == hotp


def test_key_uri_makes_the_keys_it_describes(rfc_secret):
    uri = KeyUri("alice", algorithm=Algorithm.SHA256, digits=8, period=60)
    with uri.totp(rfc_secret) as key:
        assert (key.algorithm, key.digits, key.period, key.look_back) == (Algorithm.SHA256, 8, 60, 1)
    with KeyUri("bob", kind=OtpType.HOTP, digits=7).hotp(rfc_secret) as key:
        assert (key.digits, key.look_ahead) == (7, 3)


def test_key_uri_compatibility():
    assert KeyUri("alice").compatibility() == Compatibility(0) and not KeyUri("alice").compatibility()
    flags = KeyUri("alice", algorithm=Algorithm.SHA256, digits=8, period=60).compatibility()
    assert flags == Compatibility.ALGORITHM_IGNORED | Compatibility.DIGITS_IGNORED | Compatibility.PERIOD_IGNORED
