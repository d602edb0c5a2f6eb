"""The installed package type-checks under `mypy --strict`: its annotations (py.typed) are
what callers' type checkers rely on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_the_package_type_checks_strictly(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path), "-p", "otpcore"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
