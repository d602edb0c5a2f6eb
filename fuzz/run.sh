#!/usr/bin/env bash
# Runs every fuzz target for SECONDS seconds each (default 60), one process at a time,
# starting from the committed seeds. Prints the executions of each run; exits non-zero on
# the first finding (the crashing input is saved under fuzz/artifacts/<target>/).
# Usage: fuzz/run.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-60}"

if ! rustup toolchain list | grep -q '^nightly'; then
  rustup toolchain install nightly --profile minimal
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi

mkdir -p logs
summary=()
for target in $(cargo +nightly fuzz list); do
  # The working corpus grows during the run and is not committed; seeds are read-only.
  mkdir -p "corpus/$target" "seeds/$target"
  log="logs/$target.log"
  echo "=== fuzz $target for ${seconds}s"
  if ! cargo +nightly fuzz run "$target" "corpus/$target" "seeds/$target" -- \
      -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "fuzz target $target FAILED; log: fuzz/$log" >&2
    exit 1
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
  corpus=$(ls "corpus/$target" | wc -l)
  summary+=("$target: $runs executions in ${seconds}s, corpus $corpus inputs, no findings")
  echo "${summary[-1]}"
done
printf '\n=== fuzz summary\n'
printf '%s\n' "${summary[@]}"
