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


def test_benchmark_loop_calls_one_case_of_one_side(capsys):
    script = runpy.run_path(str(REPO / "python" / "bench" / "pyotp_compare.py"))
    calls = []
    real_cases = script["cases"]

    def counted_cases():
        return {name: tuple(counting(fn, name, side) for fn, side in zip(pair, ("otpcore", "pyotp")))
                for name, pair in real_cases().items()}

    def counting(fn, name, side):
        return lambda: calls.append((name, side)) or fn()

    script["main"].__globals__["cases"] = counted_cases
    script["main"](["--loop", "verify miss", "pyotp", "3"])
    assert calls == [("verify miss", "pyotp")] * 3
    assert capsys.readouterr().out == ""
