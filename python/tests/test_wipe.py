"""Objects holding secret material are wiped by the library (`otp_*_wipe`: every byte of
the C object zero) when closed, at the end of a `with` block, and when collected; a closed
object raises ClosedError; none can be copied or pickled."""

from __future__ import annotations

import copy
import gc
import pickle
from typing import Callable

import pytest

from otpcore import ClosedError, Hotp, KeyUri, OobKey, OobPolicy, OobRecord, Secret, Status, Totp, UriError
from otpcore._ffi import ffi
from otpcore._support import Wiped

KEY = b"12345678901234567890"

MAKERS: dict[str, Callable[[], Wiped]] = {
    "Secret.from_bytes": lambda: Secret.from_bytes(KEY),
    "Secret.from_base32": lambda: Secret.from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"),
    "Secret.generate": Secret.generate,
    "Secret from KeyUri.parse": lambda: KeyUri.parse("otpauth://totp/a?secret=GEZDGNBVGY3TQOJQ")[1],
    "Totp": lambda: Totp(Secret.from_bytes(KEY)),
    "Hotp": lambda: Hotp(Secret.from_bytes(KEY)),
    "Totp from KeyUri": lambda: KeyUri("a").totp(Secret.from_bytes(KEY)),
    "OobKey": lambda: OobKey(b"k" * 32),
}


def use(obj: Wiped) -> object:
    """One call that needs the secret material."""
    if isinstance(obj, Secret):
        return obj.to_base32()
    if isinstance(obj, OobKey):
        return OobRecord().issue(obj, "alice", OobPolicy(), now=1)
    return obj.generate(1)


def is_zero(raw: object) -> bool:
    """Whether every byte of the C object `raw` (an owning cdata pointer) is zero."""
    memory = bytes(ffi.buffer(raw))
    return memory == bytes(len(memory))


@pytest.mark.parametrize("make", list(MAKERS.values()), ids=list(MAKERS))
def test_close_wipes_every_byte_and_later_use_is_a_closed_error(make):
    obj = make()
    raw = obj._obj
    use(obj)
    assert not is_zero(raw) and not obj.closed
    obj.close()
    assert is_zero(raw) and obj.closed
    with pytest.raises(ClosedError) as caught:
        use(obj)
    assert caught.value.status is Status.NOT_INITIALIZED
    obj.close()  # closing again does nothing
    assert is_zero(raw)


@pytest.mark.parametrize("make", list(MAKERS.values()), ids=list(MAKERS))
def test_with_block_wipes_on_exit_also_after_an_exception(make):
    with pytest.raises(RuntimeError):
        with make() as obj:
            raw = obj._obj
            assert not is_zero(raw)
            raise RuntimeError("the block failed")
    assert is_zero(raw) and obj.closed


@pytest.mark.parametrize("make", list(MAKERS.values()), ids=list(MAKERS))
def test_collection_wipes(make):
    obj = make()
    raw = obj._obj  # the C memory, kept alive here to be looked at after the object is gone
    assert not is_zero(raw)
    del obj
    gc.collect()
    assert is_zero(raw)


@pytest.mark.parametrize("make", list(MAKERS.values()), ids=list(MAKERS))
def test_objects_with_secrets_cannot_be_copied_or_pickled(make):
    with make() as obj:
        for duplicate in (copy.copy, copy.deepcopy, pickle.dumps):
            with pytest.raises(TypeError, match="holds secret material"):
                duplicate(obj)


def test_a_secret_is_not_shown_by_repr():
    with Secret.from_bytes(KEY) as secret:
        assert repr(secret) == "Secret(<20 bytes>)"
        assert "GEZD" not in repr(secret) and "1234" not in repr(secret)
    assert repr(secret) == "Secret(<closed>)"
    with Totp(Secret.from_bytes(KEY)) as key:
        assert repr(key) == "Totp(<SHA1, 6 digits, 30 s>)"


def test_a_key_outlives_its_closed_secret():
    secret = Secret.from_bytes(KEY)
    with Totp(secret) as key:
        secret.close()
        assert key.generate(59) == "287082"
        with pytest.raises(ClosedError):
            Totp(secret)


def open_secrets() -> set[int]:
    gc.collect()
    return {id(o) for o in gc.get_objects() if isinstance(o, Secret) and not o.closed}


def test_a_failed_import_leaves_no_open_secret_behind():
    # The URI fails after its secret was read: the Secret made for it is closed before the
    # exception is raised (the traceback pytest keeps would otherwise keep it open).
    before = open_secrets()
    with pytest.raises(UriError) as caught:
        KeyUri.parse("otpauth://totp/ACME:alice?secret=GEZDGNBVGY3TQOJQ&issuer=Other")
    assert caught.value.status is Status.URI_ISSUER_MISMATCH
    assert open_secrets() <= before


def test_to_bytes_gives_a_buffer_the_caller_can_wipe():
    with Secret.from_bytes(KEY) as secret:
        raw = secret.to_bytes()
        assert isinstance(raw, bytearray) and raw == KEY
        raw[:] = bytes(len(raw))
        assert secret.to_bytes() == KEY
