"""Shared by the otpcore tests, which run against the installed package (never src/)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import otpcore

#: The otpcore checkout: the tests read its RFC vectors and its C header.
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def rfc_secret() -> Iterator[otpcore.Secret]:
    """The RFC 4226 / RFC 6238 SHA-1 secret, "12345678901234567890"."""
    with otpcore.Secret.from_bytes(b"12345678901234567890") as secret:
        yield secret


@pytest.fixture
def totp(rfc_secret: otpcore.Secret) -> Iterator[otpcore.Totp]:
    with otpcore.Totp(rfc_secret) as key:
        yield key
