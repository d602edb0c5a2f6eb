"""otpcore beside pyotp in one run: TOTP generate, and verify with one step of tolerance
each way (pyotp's `valid_window=1`), per call, on the same random 160-bit key and time.

Each round times every case once, the cases interleaved so that load from other
processes falls on all of them alike; the table gives the minimum and the median per call
over the rounds, and the load average before and after. Run it in an environment with
otpcore and pyotp installed:

    python python/bench/pyotp_compare.py [--rounds 15] [--number 20000]

The verify cases: `hit_now` is the code of the current step (pyotp stops after its second
code), `hit_back` the previous step's (pyotp stops after the first), `miss` a wrong code
(pyotp computes all three). otpcore computes and compares the whole window every time.

`--loop CASE SIDE CALLS` only makes CALLS calls of one case of one side, for counting
instructions (which other processes do not disturb) under valgrind: the count with CALLS
calls minus the count with 0, divided by CALLS, is the cost of one call.
"""

from __future__ import annotations

import argparse
import base64
import os
import platform
import secrets
import statistics
import sys
import timeit
from collections.abc import Callable
from importlib.metadata import version

import pyotp

import otpcore

T = 1_700_000_000


def cases() -> dict[str, tuple[Callable[[], object], Callable[[], object]]]:
    """For each case, the otpcore call and the pyotp call, checked to agree first."""
    key = secrets.token_bytes(20)
    text = base64.b32encode(key).decode()
    ours = otpcore.Totp(otpcore.Secret.from_bytes(key))
    theirs = pyotp.TOTP(text)
    now, back = theirs.at(T), theirs.at(T - 30)
    window = {back, now, theirs.at(T + 30)}
    miss = next(code for code in ("000000", "000001", "000002", "000003") if code not in window)
    calls = {
        "generate": (lambda: ours.generate(T), lambda: theirs.at(T)),
        "verify hit_now": (lambda: ours.verify(now, T), lambda: theirs.verify(now, for_time=T, valid_window=1)),
        "verify hit_back": (lambda: ours.verify(back, T), lambda: theirs.verify(back, for_time=T, valid_window=1)),
        "verify miss": (lambda: ours.verify(miss, T), lambda: theirs.verify(miss, for_time=T, valid_window=1)),
    }
    for name, (a, b) in calls.items():
        if name == "generate":
            assert a() == b(), name
        else:
            assert bool(a()) == b(), name
    return calls


def measure(rounds: int, number: int) -> dict[str, tuple[list[float], list[float]]]:
    """Microseconds per call of each case, one value per round, for otpcore and pyotp."""
    calls = cases()
    times: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in calls}
    for _ in range(rounds):
        for name, pair in calls.items():
            for fn, out in zip(pair, times[name]):
                out.append(timeit.timeit(fn, number=number) / number * 1e6)
    return times


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--number", type=int, default=20000, help="calls per case per round")
    parser.add_argument("--loop", nargs=3, metavar=("CASE", "SIDE", "CALLS"))
    args = parser.parse_args(argv)
    if args.loop:
        case, side, calls = args.loop
        fn = cases()[case][("otpcore", "pyotp").index(side)]
        for _ in range(int(calls)):
            fn()
        return

    load_before = os.getloadavg()
    times = measure(args.rounds, args.number)
    load_after = os.getloadavg()

    print(
        f"otpcore {otpcore.__version__}, pyotp {version('pyotp')}, Python {platform.python_version()}"
        f" ({platform.python_implementation()}), {cpu_model()}, {os.cpu_count()} CPUs"
    )
    print(f"{args.rounds} rounds of {args.number} calls per case")
    print(f"load average (1, 5, 15 min): before {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f},"
          f" after {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}")
    print()
    print(
        "| case | otpcore min (µs) | otpcore median (µs) | pyotp min (µs) | pyotp median (µs)"
        " | pyotp / otpcore, mins | pyotp / otpcore, medians |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, (ours, theirs) in times.items():
        ours_min, theirs_min = min(ours), min(theirs)
        ours_median, theirs_median = statistics.median(ours), statistics.median(theirs)
        print(
            f"| {name} | {ours_min:.2f} | {ours_median:.2f} | {theirs_min:.2f} | {theirs_median:.2f}"
            f" | {theirs_min / ours_min:.1f}x | {theirs_median / ours_median:.1f}x |"
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
