#!/usr/bin/env python3
"""Prints the issue-4 table from one criterion run: ns per operation (medians), each as a
ratio to the compression-function limit and to the peers, and pass/fail for the targets.

Besides the median, each benchmark's 10th-percentile sample (ns per iteration) is shown:
on a shared machine, samples cut by other processes inflate the median, while the fast
samples show what the code costs when it has a core to itself. Targets are judged on
medians, as issue 4 asks; the p10 ratio is printed next to each.

When `benches/hmac_dependency.rs` has run too, a third table shows its experiment: the
real HMAC and two variants with a digest-independent outer message, each as a ratio to
that run's own two-compression chain.

Run after `cargo bench --all-features` (or `cargo bench --bench otp`):

    python3 benches/report.py [target/criterion]

Exits with status 1 when a measured target fails, 2 when the otp benchmarks are missing.
"""

import json
import sys
from pathlib import Path

ROOT = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("target/criterion")


def load(root):
    """Median and 10th-percentile ns per iteration of every benchmark, keyed by
    'group/function'."""
    medians, p10s = {}, {}
    for path in root.glob("*/*/new/estimates.json"):
        name = f"{path.parent.parent.parent.name}/{path.parent.parent.name}"
        with open(path) as f:
            medians[name] = json.load(f)["median"]["point_estimate"]
        with open(path.parent / "sample.json") as f:
            sample = json.load(f)
        per_iter = sorted(t / i for t, i in zip(sample["times"], sample["iters"]))
        p10s[name] = per_iter[len(per_iter) // 10]
    return medians, p10s


M, P10 = load(ROOT)
if "limit/sha1_x2" not in M:
    print(f"no otp benchmark results under {ROOT}: run `cargo bench --bench otp` first", file=sys.stderr)
    sys.exit(2)


def limit(hash_name, compressions):
    """The sequential limit: a measured dependent chain of 2 or 6 compressions, or for
    longer windows the 2-compression chain times the number of codes."""
    if compressions in (1, 2, 6):
        return M.get(f"limit/{hash_name}_x{compressions}")
    two = M.get(f"limit/{hash_name}_x2")
    return None if two is None else two * compressions / 2


# name -> (hash, compressions in the limit it is compared with, peer group)
ROWS = [
    ("limit/sha1_x1", "sha1", 2, None),
    ("limit/sha1_x2", "sha1", 2, None),
    ("limit/sha1_x6", "sha1", 6, None),
    ("limit/sha256_x1", "sha256", 2, None),
    ("limit/sha256_x2", "sha256", 2, None),
    ("limit/sha256_x6", "sha256", 6, None),
    ("limit/sha512_x1", "sha512", 2, None),
    ("limit/sha512_x2", "sha512", 2, None),
    ("limit/sha512_x6", "sha512", 6, None),
    ("generate/sha1", "sha1", 2, "generate"),
    ("generate/sha256", "sha256", 2, None),
    ("generate/sha512", "sha512", 2, None),
    ("generate/sha1_8digits", "sha1", 2, "generate"),
    ("generate/sha1_10digits", "sha1", 2, "generate"),
    ("generate/sha1_ascii", "sha1", 2, "generate"),
    ("verify/miss_w0", "sha1", 2, None),
    ("verify/miss_w1", "sha1", 6, "check"),
    ("verify/miss_w2", "sha1", 10, None),
    ("verify/miss_w5", "sha1", 22, None),
    ("verify/miss_w10", "sha1", 42, None),
    ("verify/miss_w1_sha256", "sha256", 6, None),
    ("verify/miss_w1_sha512", "sha512", 6, None),
    ("verify/hit_back", "sha1", 6, "check"),
    ("verify/hit_now", "sha1", 6, "check"),
    ("verify/hit_ahead", "sha1", 6, "check"),
    ("hotp/lookahead10_miss", "sha1", 22, None),
    ("uri/build", None, 0, None),
    ("uri/parse", None, 0, None),
    ("base32/decode32", None, 0, None),
    ("peers/totp_rs_generate", "sha1", 2, None),
    ("peers/totp_lite_generate", "sha1", 2, None),
    ("peers/hmac_rekeyed_generate", "sha1", 2, None),
    ("peers/totp_rs_check_miss_w1", "sha1", 6, None),
    ("ffi/generate_rust", "sha1", 2, None),
    ("ffi/generate_c", "sha1", 2, None),
    ("ffi/verify_miss_w1_rust", "sha1", 6, None),
    ("ffi/verify_miss_w1_c", "sha1", 6, None),
]

PEERS = {
    "generate": [
        ("totp-rs", "peers/totp_rs_generate"),
        ("totp-lite", "peers/totp_lite_generate"),
        ("hmac re-keyed", "peers/hmac_rekeyed_generate"),
    ],
    "check": [("totp-rs", "peers/totp_rs_check_miss_w1")],
}
PEER_COLUMNS = ["totp-rs", "totp-lite", "hmac re-keyed"]


def fmt_ns(ns):
    return f"{ns:,.1f}" if ns < 10_000 else f"{ns:,.0f}"


def table():
    head = ["benchmark", "median ns", "p10 ns", "x limit (compressions)"] + [
        f"faster than {p}" for p in PEER_COLUMNS
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, hash_name, compressions, peer_group in ROWS:
        ns = M.get(name)
        if ns is None:
            continue
        lim = limit(hash_name, compressions) if hash_name else None
        ratio = f"{ns / lim:.2f} ({compressions})" if lim else ""
        peers = dict.fromkeys(PEER_COLUMNS, "")
        for label, peer in PEERS.get(peer_group, []):
            if peer in M:
                peers[label] = f"{M[peer] / ns:.2f}x"
        lines.append(
            f"| {name} | {fmt_ns(ns)} | {fmt_ns(P10[name])} | {ratio} | "
            + " | ".join(peers.values())
            + " |"
        )
    return "\n".join(lines)


def ratio(a, b, table=None):
    table = M if table is None else table
    return table[a] / table[b] if a in table and b in table else None


# (description, (numerator, denominator), comparison, bound)
TARGETS = [
    ("generate SHA-1 / 2-compression limit", ("generate/sha1", "limit/sha1_x2"), "<=", 1.15),
    ("generate SHA-256 / 2-compression limit", ("generate/sha256", "limit/sha256_x2"), "<=", 1.15),
    ("generate SHA-512 / 2-compression limit", ("generate/sha512", "limit/sha512_x2"), "<=", 1.15),
    ("verify miss +-1 / 6 sequential compressions", ("verify/miss_w1", "limit/sha1_x6"), "<=", 0.85),
    ("totp-rs generate / otpcore generate", ("peers/totp_rs_generate", "generate/sha1"), ">=", 1.8),
    ("totp-rs check miss +-1 / otpcore verify miss +-1", ("peers/totp_rs_check_miss_w1", "verify/miss_w1"), ">=", 2.5),
    ("C API generate / Rust generate", ("ffi/generate_c", "ffi/generate_rust"), "<=", 1.05),
    ("C API verify / Rust verify", ("ffi/verify_miss_w1_c", "ffi/verify_miss_w1_rust"), "<=", 1.05),
]


def targets():
    lines = [
        "| target | median ratio | p10 ratio | bound | result (median) |",
        "|---|---|---|---|---|",
    ]
    failed = False
    for desc, (a, b), op, bound in TARGETS:
        value = ratio(a, b)
        if value is None:
            lines.append(f"| {desc} | not measured | | {op} {bound} | - |")
            continue
        ok = value <= bound if op == "<=" else value >= bound
        failed |= not ok
        fast = ratio(a, b, P10)
        lines.append(
            f"| {desc} | {value:.2f} | {fast:.2f} | {op} {bound} | {'pass' if ok else 'FAIL'} |"
        )
    return "\n".join(lines), failed


DEPENDENCY = [
    "dependency/limit_sha1_x2",
    "dependency/hmac",
    "dependency/outer_schedule_constant",
    "dependency/outer_block_constant",
]


def dependency():
    base = DEPENDENCY[0]
    if base not in M:
        return None
    lines = [
        "| benchmark | median ns | p10 ns | x limit_sha1_x2 | p10 ratio |",
        "|---|---|---|---|---|",
    ]
    for name in DEPENDENCY:
        if name in M:
            lines.append(
                f"| {name} | {fmt_ns(M[name])} | {fmt_ns(P10[name])} | "
                f"{ratio(name, base):.2f} | {ratio(name, base, P10):.2f} |"
            )
    return "\n".join(lines)


print(table())
print()
text, failed = targets()
print(text)
experiment = dependency()
if experiment:
    print()
    print(experiment)
sys.exit(1 if failed else 0)
