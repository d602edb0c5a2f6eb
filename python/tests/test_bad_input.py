"""Bad input raises a clear exception, never a crash: wrong types, str where bytes are
expected and the reverse, out-of-range integers (which C would wrap around), huge
inputs and NUL bytes."""

from __future__ import annotations

import array

import pytest

from otpcore import (
    CodeFormatError,
    Hotp,
    KeyUri,
    OobKey,
    OobPolicy,
    OobRecord,
    RecoveryCodes,
    Secret,
    SecretError,
    SecretPolicy,
    StateError,
    Status,
    Throttle,
    ThrottleState,
    Totp,
    UriError,
    UserState,
    Valid,
)

KEY = b"12345678901234567890"
B32 = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
HUGE = 10_000_000


class Index:
    """An integer-like object (as numpy's integers are): accepted through __index__."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __index__(self) -> int:
        return self.value


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: Secret.from_bytes(B32), "data must be bytes, bytearray or memoryview, not str"),
        (lambda: Secret.from_bytes(None), "not NoneType"),
        (lambda: Secret.from_bytes([1, 2, 3]), "not list"),
        (lambda: Secret.from_base32(12345), "text must be str or bytes, not int"),
        (lambda: Secret.generate("20"), "length must be an int, not str"),
        (lambda: Secret(), "use Secret.generate()"),
        (lambda: Totp(B32), "secret must be a Secret, not str"),
        (lambda: Totp(KEY), "secret must be a Secret, not bytes"),
        (lambda: Totp(Secret.from_bytes(KEY), digits="6"), "digits must be an int, not str"),
        (lambda: Totp(Secret.from_bytes(KEY), digits=6.0), "digits must be an int, not float"),
        (lambda: Totp(Secret.from_bytes(KEY), algorithm=1.5), "algorithm must be an Algorithm or its name"),
        (lambda: Hotp(Secret.from_bytes(KEY)).verify(755224, 0), "code must be str, not int"),
        (lambda: Hotp(Secret.from_bytes(KEY)).verify(b"755224", 0), "code must be str, not bytes (decode it first)"),
        (lambda: Hotp(Secret.from_bytes(KEY)).verify(None, 0), "code must be str, not NoneType"),
        (lambda: KeyUri(b"alice").build(Secret.from_bytes(KEY)), "account must be str, not bytes"),
        (lambda: KeyUri("alice", issuer=b"ACME").build(Secret.from_bytes(KEY)), "issuer must be str, not bytes"),
        (lambda: KeyUri("alice").build(B32), "secret must be a Secret, not str"),
        (lambda: KeyUri.parse(b"otpauth://totp/a?secret=" + B32.encode()), "uri must be str, not bytes"),
        (lambda: UserState.decode("OTPS"), "data must be bytes, not str"),
        (lambda: UserState().verify_totp(Hotp(Secret.from_bytes(KEY)), Throttle(), "123456", 0), "totp must be a Totp"),
        (lambda: UserState().verify_totp(Totp(Secret.from_bytes(KEY)), None, "123456", 0), "throttle must be a Throttle"),
        (lambda: UserState().recovery.__class__.verify(RecoveryCodes.generate()[0], 1234), "code must be str"),
        (lambda: setattr(UserState(), "recovery", b"x" * 338), "recovery must be a RecoveryCodes"),
        (lambda: Throttle().check(UserState(), 0), "state must be a ThrottleState"),
        (lambda: OobKey("a server key of 32 bytes, here!!"), "key must be bytes, bytearray or memoryview, not str"),
        (lambda: OobRecord().issue(OobKey(b"k" * 32), 42, OobPolicy(), 0), "user_id must be str or bytes, not int"),
        (lambda: OobRecord.from_bytes("x" * 56), "data must be bytes, not str"),
    ],
)
def test_wrong_types_are_type_errors(call, message):
    with pytest.raises(TypeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call()


@pytest.mark.parametrize("t", [True, False, 1.0, 1.5, "59", None.__class__])
def test_times_must_be_ints(t):
    with Totp(Secret.from_bytes(KEY)) as key:
        for call in (key.generate, key.step_at, key.seconds_left, lambda v: key.verify("287082", v)):
            with pytest.raises(TypeError, match="t must be an int"):
                call(t)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda key: key.generate(-1), "t must be from 0 to 18446744073709551615, got -1"),
        (lambda key: key.generate(2**64), "got 18446744073709551616"),
        (lambda key: key.verify("287082", -30), "t must be from 0"),
        (lambda key: key.verify("287082", 2**64 + 59), "t must be from 0"),
        (lambda key: key.verify("287082", 59, last_step=-1), "last_step must be from 0"),
        (lambda key: key.generate_at_step(2**70), "step must be from 0"),
    ],
)
def test_out_of_range_integers_are_value_errors_not_wrapped(call, message):
    with Totp(Secret.from_bytes(KEY)) as key:
        with pytest.raises(ValueError, match=message):
            call(key)


def test_settings_beyond_32_bits_are_refused_before_the_library_sees_them():
    with Secret.from_bytes(KEY) as secret:
        # 2**32 + 6 would wrap to 6 in a uint32_t.
        with pytest.raises(ValueError, match="digits must be from 0 to 4294967295"):
            Totp(secret, digits=2**32 + 6)
        with pytest.raises(ValueError, match="look_ahead must be from 0"):
            Hotp(secret, look_ahead=-1)
    with pytest.raises(ValueError, match="failures must be from 0"):
        ThrottleState(failures=2**32)
    with pytest.raises(ValueError, match="used must be from 0 to 65535"):
        codes = RecoveryCodes.generate()[0]
        RecoveryCodes(codes.salt, codes.hashes, used=2**16)


def test_integer_like_objects_are_accepted():
    with Totp(Secret.from_bytes(KEY), digits=Index(8)) as key:
        assert key.generate(Index(59)) == "94287082"
        assert key.verify("94287082", Index(59), last_step=Index(0)) == Valid(1, 0)


def test_enumerations_outside_their_values_are_refused():
    with pytest.raises(ValueError, match="algorithm must be SHA1, SHA256 or SHA512, not 'MD5'"):
        Totp(Secret.from_bytes(KEY), algorithm="MD5")
    with pytest.raises(ValueError, match="is not a valid SecretPolicy"):
        Secret.from_bytes(KEY, policy=3)
    with pytest.raises(ValueError, match="is not a valid OtpType"):
        KeyUri("alice", kind=3).build(Secret.from_bytes(KEY))


def test_huge_inputs_are_refused_with_their_status():
    with Totp(Secret.from_bytes(KEY)) as key:
        with pytest.raises(CodeFormatError) as caught:
            key.verify("1" * HUGE, 59)
        assert caught.value.status is Status.CODE_WRONG_LENGTH
    with pytest.raises(SecretError) as too_long:
        Secret.from_base32("A" * HUGE)
    assert too_long.value.status is Status.SECRET_TOO_LONG
    with pytest.raises(SecretError):
        Secret.from_bytes(bytes(HUGE))
    with pytest.raises(CodeFormatError):
        RecoveryCodes.generate()[0].verify("x" * HUGE)
    with pytest.raises(StateError) as state:
        UserState.decode(b"OTPS\x02" + bytes(HUGE))
    assert state.value.status is Status.STATE_WRONG_LENGTH
    # A key URI reports its secret's faults with the secret's statuses.
    with pytest.raises(SecretError) as uri:
        KeyUri.parse("otpauth://totp/alice?secret=" + "A" * HUGE)
    assert uri.value.status is Status.SECRET_TOO_LONG


def test_a_huge_account_name_builds_and_parses_back():
    account = "a" * 100_000
    with Secret.from_bytes(KEY) as secret:
        parsed, again = KeyUri.parse(KeyUri(account).build(secret))
        with again:
            assert parsed.account == account and again == secret


def test_nul_bytes_are_refused_where_text_is_expected():
    with Totp(Secret.from_bytes(KEY)) as key:
        with pytest.raises(CodeFormatError) as code:
            key.verify("287\x00082", 59)
        assert code.value.status is Status.CODE_INVALID_CHARACTER
    with pytest.raises(SecretError) as b32:
        Secret.from_base32("GEZDGNBV\x00GY3TQOJQ")
    assert b32.value.status is Status.BASE32_INVALID_CHARACTER
    for account, issuer in (("ali\x00ce", None), ("alice", "AC\x00ME")):
        with pytest.raises(UriError) as uri:
            KeyUri(account, issuer=issuer).build(Secret.from_bytes(KEY))
        assert uri.value.status in (Status.ACCOUNT_NAME_CONTROL_CHARACTER, Status.INVALID_ISSUER)
    with pytest.raises(UriError) as parsed:
        KeyUri.parse("otpauth://totp/ali%00ce?secret=" + B32)
    assert parsed.value.status is Status.ACCOUNT_NAME_CONTROL_CHARACTER


def test_nul_bytes_inside_binary_inputs_are_data():
    with Secret.from_bytes(b"\x00" * 20) as zeros, Hotp(zeros) as key:
        assert len(zeros) == 20 and len(key.generate(0)) == 6
    with OobKey(b"\x00" * 32) as key:
        record = OobRecord()
        code = record.issue(key, b"al\x00ice", OobPolicy(), now=10)
        assert not record.verify(key, b"alice", code, now=11)  # another user id
        assert record.verify(key, b"al\x00ice", code, now=12)


def test_lone_surrogates_reach_the_library_as_invalid_text():
    with pytest.raises(UriError) as caught:
        KeyUri.parse("otpauth://totp/al\udcffice?secret=" + B32)
    assert caught.value.status is Status.INVALID_UTF8
    with pytest.raises(CodeFormatError):
        Totp(Secret.from_bytes(KEY)).verify("28708\udcff", 59)


def test_other_buffers_are_accepted_for_binary_inputs():
    for data in (bytearray(KEY), memoryview(KEY), memoryview(bytearray(KEY)), array.array("B", KEY)):
        if isinstance(data, array.array):
            with pytest.raises(TypeError):
                Secret.from_bytes(data)
            continue
        with Secret.from_bytes(data) as secret:
            assert bytes(secret.to_bytes()) == KEY
    with Secret.from_base32(bytearray(B32, "ascii")) as secret:
        assert bytes(secret.to_bytes()) == KEY


def test_strict_policy_refuses_80_bit_secrets():
    assert len(Secret.from_base32("JBSWY3DPEHPK3PXP")) == 10
    with pytest.raises(SecretError) as caught:
        Secret.from_base32("JBSWY3DPEHPK3PXP", SecretPolicy.STRICT)
    assert caught.value.status is Status.SECRET_TOO_SHORT
    with pytest.raises(SecretError) as generated:
        Secret.generate(8)
    assert generated.value.status is Status.SECRET_TOO_SHORT
