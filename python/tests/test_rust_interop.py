"""A user state shared with Rust's `UserState` both ways, with `cargo test --test python`
(tests/python.rs) on the other side: Rust writes `rust.state` and `rust.txt` into the
folder OTPCORE_INTEROP_DIR names, this test checks and continues that state in Python and
writes `python.state` and `python.txt`, and the Rust test then checks those with Rust."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from otpcore import (
    OobKey,
    OobPolicy,
    RecoveryValid,
    Replayed,
    Secret,
    Throttle,
    ThrottleState,
    Totp,
    UserState,
    Valid,
)

DIR = os.environ.get("OTPCORE_INTEROP_DIR")
pytestmark = pytest.mark.skipif(
    DIR is None, reason="the Rust side runs this: cargo test --features ffi --test python"
)


def read_fields(path: Path) -> dict[str, list[str]]:
    """`name value` lines; a name may repeat."""
    fields: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        name, value = line.split(" ", 1)
        fields.setdefault(name, []).append(value)
    return fields


def test_a_state_written_by_rust_is_read_continued_and_written_back():
    folder = Path(DIR)
    fields = read_fields(folder / "rust.txt")
    (secret_text,), (time_text,), recovery = fields["secret"], fields["time"], fields["recovery"]
    t, throttle = int(time_text), Throttle()
    state = UserState.decode((folder / "rust.state").read_bytes())

    with Secret.from_base32(secret_text) as secret, Totp(secret) as totp:
        # What Rust did: accepted the code at `t`, then counted two wrong codes.
        assert state.last_accepted == totp.step_at(t)
        assert state.throttle == ThrottleState(failures=2, locked_until=0)
        assert state.recovery.remaining == 10 and len(recovery) == 10
        assert state.verify_totp(totp, throttle, totp.generate(t), t) == Replayed()
        later = t + 30
        assert state.verify_totp(totp, throttle, totp.generate(later), later) == Valid(totp.step_at(later), 0)
    assert state.verify_recovery(throttle, recovery[4], later) == RecoveryValid(4, 9)
    with OobKey(bytes.fromhex(fields["oob_key"][0])) as key:
        oob_code = state.issue_oob(key, "alice", OobPolicy(), later)

    (folder / "python.state").write_bytes(state.encode())
    (folder / "python.txt").write_text(f"time {later}\noob_code {oob_code}\n")
