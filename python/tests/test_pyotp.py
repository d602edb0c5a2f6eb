"""Property-style comparison with pyotp: random keys, times, counters, digits, periods and
algorithms from a fixed seed (the same cases every run), through generate, verify with a
window of one step each way, and key URIs both ways."""

from __future__ import annotations

import base64
import hashlib
import random
import string

import pyotp
import pytest

from otpcore import Algorithm, Hotp, Invalid, KeyUri, OtpType, Secret, Totp, Valid

SEED = 20
CASES = 400
DIGESTS = {Algorithm.SHA1: hashlib.sha1, Algorithm.SHA256: hashlib.sha256, Algorithm.SHA512: hashlib.sha512}


def random_key(rng: random.Random) -> bytes:
    # pyotp refuses secrets under 128 bits by default; the C library's lower limit (80
    # bits) is tested with the RFC and error cases.
    return bytes(rng.getrandbits(8) for _ in range(rng.randint(16, 64)))


def b32(key: bytes) -> str:
    return base64.b32encode(key).decode().rstrip("=")


def test_totp_codes_match_pyotp():
    rng = random.Random(SEED)
    for case in range(CASES):
        key, algorithm = random_key(rng), rng.choice(list(Algorithm))
        digits, period = rng.randint(6, 10), rng.randint(1, 120)
        # pyotp reads times up to the end of year 9999.
        t = rng.randrange(0, 253_402_300_800)
        theirs = pyotp.TOTP(b32(key), digits=digits, digest=DIGESTS[algorithm], interval=period).at(t)
        with Secret.from_bytes(key) as secret, Totp(secret, algorithm=algorithm, digits=digits, period=period) as ours:
            assert ours.generate(t) == theirs, (case, key.hex(), algorithm, digits, period, t)


def test_hotp_codes_match_pyotp():
    rng = random.Random(SEED + 1)
    for case in range(CASES):
        key, algorithm, digits = random_key(rng), rng.choice(list(Algorithm)), rng.randint(6, 10)
        counter = rng.choice([rng.randrange(0, 1000), rng.randrange(0, 2**63)])
        theirs = pyotp.HOTP(b32(key), digits=digits, digest=DIGESTS[algorithm]).at(counter)
        with Secret.from_bytes(key) as secret, Hotp(secret, algorithm=algorithm, digits=digits) as ours:
            assert ours.generate(counter) == theirs, (case, key.hex(), algorithm, digits, counter)


def test_verify_with_one_step_each_way_agrees_with_pyotp():
    """Codes from two steps back to two ahead, and random codes: otpcore accepts exactly what
    pyotp's verify(valid_window=1) accepts, and says which step matched."""
    rng = random.Random(SEED + 2)
    for case in range(CASES):
        key, algorithm = random_key(rng), rng.choice(list(Algorithm))
        digits, period = rng.choice([6, 6, 7, 8]), rng.choice([30, 30, 60, rng.randint(1, 120)])
        # At least two steps after the epoch: pyotp refuses to compute step -1.
        t = rng.randrange(2 * period, 4_000_000_000)
        theirs = pyotp.TOTP(b32(key), digits=digits, digest=DIGESTS[algorithm], interval=period)
        with Secret.from_bytes(key) as secret, Totp(secret, algorithm=algorithm, digits=digits, period=period) as ours:
            step = t // period
            for offset in (-2, -1, 0, 1, 2):
                code = theirs.at(t + offset * period)
                accepted = theirs.verify(code, for_time=t, valid_window=1)
                result = ours.verify(code, t)
                assert bool(result) == accepted, (case, offset)
                if abs(offset) <= 1:
                    assert result == Valid(step + offset, offset), (case, offset)
            guess = str(rng.randrange(10**digits)).zfill(digits)
            assert bool(ours.verify(guess, t)) == theirs.verify(guess, for_time=t, valid_window=1)


def random_name(rng: random.Random) -> str:
    alphabet = string.ascii_letters + string.digits + " .-_@+&=?#%/éü€中"
    name = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 20)))
    # Leading and trailing spaces: apps drop them (otpcore refuses a leading one).
    return name.strip() or "x"


def test_key_uris_built_here_parse_in_pyotp():
    rng = random.Random(SEED + 3)
    for case in range(CASES // 4):
        key = random_key(rng)
        uri = KeyUri(
            random_name(rng),
            issuer=rng.choice([None, random_name(rng)]),
            kind=rng.choice(list(OtpType)),
            algorithm=rng.choice(list(Algorithm)),
            digits=rng.randint(6, 8),  # pyotp's parser reads 6 to 8
            period=rng.randint(1, 120),
            counter=rng.randrange(2**63),
        )
        with Secret.from_bytes(key) as secret:
            parsed = pyotp.parse_uri(uri.build(secret))
        assert parsed.secret == b32(key), case
        assert (parsed.name, parsed.issuer) == (uri.account, uri.issuer), case
        assert (parsed.digits, parsed.digest().name) == (uri.digits, uri.algorithm.name.lower()), case
        if uri.kind is OtpType.TOTP:
            assert isinstance(parsed, pyotp.TOTP) and parsed.interval == uri.period, case
        else:
            assert isinstance(parsed, pyotp.HOTP) and parsed.initial_count == uri.counter, case


def test_key_uris_built_by_pyotp_parse_here():
    rng = random.Random(SEED + 4)
    for case in range(CASES // 4):
        key, algorithm = random_key(rng), rng.choice(list(Algorithm))
        digits, name, issuer = rng.randint(6, 10), random_name(rng), rng.choice([None, random_name(rng)])
        if rng.random() < 0.5:
            period = rng.randint(1, 120)
            otp = pyotp.TOTP(b32(key), digits=digits, digest=DIGESTS[algorithm], interval=period)
            text = otp.provisioning_uri(name=name, issuer_name=issuer)
            expected = KeyUri(name, issuer, OtpType.TOTP, algorithm, digits, period)
        else:
            counter = rng.randrange(2**63)
            otp = pyotp.HOTP(b32(key), digits=digits, digest=DIGESTS[algorithm])
            text = otp.provisioning_uri(name=name, issuer_name=issuer, initial_count=counter)
            expected = KeyUri(name, issuer, OtpType.HOTP, algorithm, digits, counter=counter)
        parsed, secret = KeyUri.parse(text)
        with secret:
            assert bytes(secret.to_bytes()) == key, case
        # pyotp writes no period for HOTP: otpcore reads the default, 30.
        assert parsed == expected, (case, text)


@pytest.mark.parametrize("offset", [-2, 2])
def test_outside_the_window_both_refuse(offset: int) -> None:
    key = b"12345678901234567890"
    with Secret.from_bytes(key) as secret, Totp(secret) as ours:
        t = 1_700_000_000
        code = pyotp.TOTP(b32(key)).at(t + 30 * offset)
        assert ours.verify(code, t) == Invalid()
        assert not pyotp.TOTP(b32(key)).verify(code, for_time=t, valid_window=1)
