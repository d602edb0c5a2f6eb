"""The benchmark beside pyotp (python/bench/pyotp_compare.py) still runs: one tiny round,
its cases checked to agree with pyotp. No timing is judged here."""

from __future__ import annotations

import runpy

from conftest import REPO


def test_benchmark_script_runs_and_prints_its_table(capsys):
    script = runpy.run_path(str(REPO / "python" / "bench" / "pyotp_compare.py"))
    script["main"](["--rounds", "2", "--number", "3"])
    out = capsys.readouterr().out
    assert "load average (1, 5, 15 min): before " in out
    for case in ("generate", "verify hit_now", "verify hit_back", "verify miss"):
        assert f"| {case} | " in out
