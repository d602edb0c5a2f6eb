"""Argument checks and the wiping life cycle shared by the public classes."""

from __future__ import annotations

import operator
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Callable, TypeVar, Union

from ._enums import Algorithm
from ._ffi import ffi, lib
from .errors import check

U32_MAX = 2**32 - 1
U64_MAX = 2**64 - 1

#: What the binding accepts as binary input.
BytesLike = Union[bytes, bytearray, memoryview]


def uint(name: str, value: object, maximum: int = U64_MAX) -> int:
    """`value` as an int from 0 to `maximum` for an unsigned C argument: a `ValueError` that
    names the argument, where cffi would raise a bare OverflowError (and take a bool)."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an int, not bool")
    try:
        number = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{name} must be an int, not {type(value).__name__}") from None
    if not 0 <= number <= maximum:
        raise ValueError(f"{name} must be from 0 to {maximum}, got {number}")
    return number


def now_or(name: str, value: object) -> int:
    """`value` as a Unix time, or the system clock's when it is None."""
    return unix_time() if value is None else uint(name, value)


def unix_time() -> int:
    """The current Unix time in seconds, from the system clock (through the library)."""
    out = ffi.new("uint64_t *")
    check(lib.otp_unix_time(out))
    return int(out[0])


def text(name: str, value: object) -> bytes:
    """A `str` argument as UTF-8 for the library. Lone surrogates are passed through as the
    invalid UTF-8 they are, so the library reports them as it reports any invalid text."""
    if not isinstance(value, str):
        hint = " (decode it first)" if isinstance(value, (bytes, bytearray)) else ""
        raise TypeError(f"{name} must be str, not {type(value).__name__}{hint}")
    return value.encode("utf-8", "surrogatepass")


def text_or_bytes(name: str, value: object) -> bytes:
    """A `str` (as UTF-8) or bytes-like argument, as bytes."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"{name} must be str or bytes, not {type(value).__name__}")


def algorithm(value: object) -> Algorithm:
    """An `Algorithm`, or its name in any case ("sha256")."""
    if isinstance(value, Algorithm):
        return value
    if isinstance(value, str):
        try:
            return Algorithm[value.upper()]
        except KeyError:
            raise ValueError(f"algorithm must be SHA1, SHA256 or SHA512, not {value!r}") from None
    raise TypeError(f"algorithm must be an Algorithm or its name, not {type(value).__name__}")


def wipe_buffer(cdata: Any) -> None:
    """Overwrites a C buffer that held secret material with zeros."""
    buffer = ffi.buffer(cdata)
    buffer[:] = bytes(len(buffer))


@contextmanager
def secret_input(name: str, value: object, *, allow_text: bool) -> Iterator[tuple[Any, int]]:
    """Secret bytes for the library as (pointer argument, length).

    `bytes` are passed as they are (the caller owns them, and Python cannot wipe them).
    Anything else (bytearray, memoryview, or `str` when `allow_text`) is copied into a
    bytearray that is wiped as soon as the call is done.
    """
    if isinstance(value, bytes):
        yield value, len(value)
        return
    if isinstance(value, str) and allow_text:
        copy = bytearray(value, "utf-8", "surrogatepass")
    elif isinstance(value, (bytearray, memoryview)):
        copy = bytearray(value)
    else:
        kinds = "str or bytes" if allow_text else "bytes, bytearray or memoryview"
        raise TypeError(f"{name} must be {kinds}, not {type(value).__name__}")
    view = ffi.from_buffer(copy)
    try:
        yield view, len(copy)
    finally:
        copy[:] = bytes(len(copy))
        ffi.release(view)


W = TypeVar("W", bound="Wiped")


class Wiped:
    """Owns a C object holding secret material (a key or a secret) and wipes it with the
    library's `otp_*_wipe` when closed, at the end of a `with` block, when collected, or at
    interpreter exit, whichever comes first. A closed object raises `ClosedError` (the
    library's NOT_INITIALIZED) from every method.

    Such objects cannot be copied or pickled: a copy would not be wiped with the original.
    """

    __slots__ = ("_obj", "_finalizer", "__weakref__")

    def _own(self, obj: Any, wipe: Callable[[Any], int]) -> None:
        self._obj = obj
        self._finalizer = weakref.finalize(self, wipe, obj)

    def close(self) -> None:
        """Wipes the object now (every byte of its C object becomes zero). Closing a closed
        object does nothing."""
        self._finalizer()

    @property
    def closed(self) -> bool:
        """Whether the object was closed (wiped)."""
        return not self._finalizer.alive

    def __enter__(self: W) -> W:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __reduce__(self) -> Any:
        raise TypeError(f"{type(self).__name__} holds secret material: it cannot be copied or pickled")
