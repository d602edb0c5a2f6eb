#!/usr/bin/env bash
# Issue 19's whole-process figures beside their floors, in one run (BENCHMARKS.md, "SQLite
# against its floors"): otpgate --version against a static hello world, otpgate check
# against proc_floor, the in-process bench (gate.rs) against floor_sqlite, in interleaved
# rounds with the load average. Needs hyperfine, python3, a C compiler and libsqlite3-dev.
#
#   otpgate/benches/floors.sh FLOORS_DIR OTPGATE... [-- GATE_BENCH...]
#
# FLOORS_DIR: the C programs of ../shared/bench-floors (built here into a scratch directory);
# OTPGATE: otpgate binaries to time (say a release and a static build); GATE_BENCH: the
# compiled gate bench (target/release/deps/gate-*), run for 1 and 16 writers.
set -euo pipefail
floors=$(cd "$1" && pwd); shift
bins=(); benches=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do bins+=("$(realpath "$1")"); shift; done
[ $# -gt 0 ] && shift && for b in "$@"; do benches+=("$(realpath "$b")"); done
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT; cd "$work"
cc -O2 -o proc_floor "$floors/proc_floor.c" -lsqlite3
cc -O2 -o floor_sqlite "$floors/floor_sqlite.c" -lsqlite3
echo 'fn main() { println!("hello"); }' >hello.rs
rustc -O -C target-feature=+crt-static -o hello-static hello.rs
load() { cut -d' ' -f1-3 /proc/loadavg; }
# summary FLOOR JSON...: min and per-round medians of each command, and their ratios to FLOOR.
summary() {
  python3 - "$@" <<'P'
import json, statistics, sys
floor, rows = sys.argv[1], {}
for f in sys.argv[2:]:
    for x in json.load(open(f))["results"]:
        rows.setdefault(x["command"], []).append((min(x["times"]), statistics.median(x["times"])))
fl = rows[floor]
for k, v in rows.items():
    mins = min(a for a, _ in v) * 1e3
    meds = " ".join("%.3f" % (b * 1e3) for _, b in v)
    ratios = " ".join("%.2f" % (b / f[1]) for (_, b), f in zip(v, fl))
    print(f"  {k}: min {mins:.3f} ms (x{min(a for a, _ in v) / min(a for a, _ in fl):.2f}), "
          f"medians {meds} ms (x {ratios})")
P
}
# A database with alice active; prints a code that stays a replay for 30 s at least.
replay_db() {
  rm -f "$2" "$2"-* "$2".key
  local secret
  secret=$("$1" --db "$2" --json enroll alice | python3 -c \
    'import json,sys,urllib.parse as u; print(u.parse_qs(u.urlparse(json.load(sys.stdin)["uri"]).query)["secret"][0])')
  local code
  code=$(python3 - "$secret" <<'P'
import base64, hashlib, hmac, struct, sys, time
s = sys.argv[1]; k = base64.b32decode(s + "=" * (-len(s) % 8))
h = hmac.new(k, struct.pack(">Q", int(time.time()) // 30), hashlib.sha1).digest(); o = h[-1] & 15
print("%06d" % ((struct.unpack(">I", h[o:o + 4])[0] & 0x7fffffff) % 1000000))
P
)
  "$1" --db "$2" confirm alice "$code" >/dev/null
  echo "$code"
}

echo "== start-up: otpgate --version against a static hello world"
for r in 1 2 3; do
  args=(-n hello-static ./hello-static)
  for b in "${bins[@]}"; do args+=(-n "$(basename "$b") --version" "$b --version"); done
  hyperfine -N --warmup 100 --runs 1000 --export-json "v$r.json" "${args[@]}" >/dev/null 2>&1
  echo "  round $r, load $(load)"
done
summary hello-static v1.json v2.json v3.json

echo "== one process per check: otpgate check against proc_floor"
for r in 1 2 3; do
  rm -f f.db* g.db*; ./proc_floor f.db init; ./proc_floor g.db init
  args=(-n "proc_floor persist" "./proc_floor f.db persist" -n proc_floor "./proc_floor g.db")
  i=0
  for b in "${bins[@]}"; do
    i=$((i + 1)); code=$(replay_db "$b" "$work/c$i.db")
    args+=(-n "$(basename "$b") check" "$b --db $work/c$i.db check alice $code")
  done
  hyperfine -N -i --warmup 20 --runs 200 --export-json "p$r.json" "${args[@]}" >/dev/null 2>&1
  echo "  round $r, load $(load)"
done
summary "proc_floor persist" p1.json p2.json p3.json

if [ "${#benches[@]}" -gt 0 ]; then
  echo "== in-process checks (gate.rs) against floor_sqlite ... row"
  for r in 1 2 3; do
    echo "  round $r, load $(load)"
    for w in 1 16; do ./floor_sqlite "$work/fs.db" "$w" $((4000 / w)) row | sed 's/^/    /'; done
    for b in "${benches[@]}"; do
      "$b" --bench 'in-process check/(1|16) writers$' 2>&1 | grep -E "^gate/|time:" | grep -v % | sed 's/^/    /'
    done
  done
fi
