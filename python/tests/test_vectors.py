"""The RFC 4226 Appendix D and RFC 6238 Appendix B vectors (the crate's tests/vectors/rfc.csv,
the same data as the project's shared reference), through generate and verify."""

from __future__ import annotations

import csv

import pytest

from conftest import REPO
from otpcore import Hotp, Secret, Totp, Valid

with open(REPO / "tests" / "vectors" / "rfc.csv", newline="") as f:
    VECTORS = list(csv.DictReader(f))


def test_every_vector_of_both_rfcs_is_read():
    assert len(VECTORS) == 28
    assert {row["kind"] for row in VECTORS} == {"hotp", "totp"}
    assert {row["algorithm"] for row in VECTORS} == {"SHA1", "SHA256", "SHA512"}


@pytest.mark.parametrize("row", VECTORS, ids=lambda r: f"{r['kind']}-{r['algorithm']}-{r['counter'] or r['time']}")
def test_rfc_vector(row: dict[str, str]) -> None:
    with Secret.from_bytes(bytes.fromhex(row["secret_hex"])) as secret:
        if row["kind"] == "hotp":
            counter = int(row["counter"])
            with Hotp(secret, algorithm=row["algorithm"], digits=int(row["digits"])) as key:
                assert key.generate(counter) == row["code"]
                assert key.verify(row["code"], counter) == Valid(counter, 0)
        else:
            time, period, t0 = int(row["time"]), int(row["period"]), int(row["t0"])
            with Totp(
                secret, algorithm=row["algorithm"], digits=int(row["digits"]), period=period, t0=t0
            ) as key:
                assert key.generate(time) == row["code"]
                step = (time - t0) // period
                assert key.step_at(time) == step
                assert key.verify(row["code"], time) == Valid(step, 0)
                # One step later the same code is still in the window, from the past.
                assert key.verify(row["code"], time + period) == Valid(step, -1)
