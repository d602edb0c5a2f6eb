#!/usr/bin/env bash
# What the gate's PostgreSQL statements cost with pgbench as the client (C, libpq, prepared
# statements), beside the pgbench floor of ../shared/bench-floors, in one run (issue 19,
# item 3): the ceiling of a check's SQL on this machine, whatever the client does.
#
# A check is a read (`SELECT version, record`) and then one autocommitted statement: the
# conditional UPDATE of the user's record with its audit row INSERTed by the same statement
# (a data-modifying CTE), guarded by the chain's function, which takes the chain's advisory
# lock and reads the chain's head and the key check (decide.rs, "at the predicted head").
# The tables and indexes are the gate's own: the schema is made by `otpgate` (its
# migrations, in src/postgres.rs) enrolling one user, then 32 users' rows are put in by
# hand. The chain's function is a model of `otpgate_chain_at` (pgbench cannot compute the
# chain's MACs): the same lock and the same reads of the head and the key check, comparing
# the head with a value it never holds, so it never refuses; and a chain number for the
# sharded case. A change to the migration's function is mirrored here by hand. Cases, each
# for DURATION seconds, interleaved, ROUNDS times:
#
#   floor     the floor: one INSERT into an unindexed table per transaction
#   check     a check as the gate makes it, with the chain's lock
#   sharded   the same with 16 chains instead of one (the lock's key from the client's
#             number): what splitting the trail into independent chains would allow
#   unlocked  the same statements without the chain's function (no lock, no head read):
#             what a check's SQL costs when nothing serializes the checks
#
# at 1 client and at 32 (each client its own user). The gate's own figures come from
# `cargo bench -p otpgate --features postgres --bench gate -- postgres`, which run beside it.
#
# usage: OTPGATE_TEST_POSTGRES_URL=postgresql://... otpgate/benches/postgres_statements.sh
#        (builds otpgate with `postgres`; ROUNDS=3, DURATION=6; pgbench from PATH or the
#        server's bin directory)
set -euo pipefail
cd "$(dirname "$0")/../.."

url=${OTPGATE_TEST_POSTGRES_URL:?set OTPGATE_TEST_POSTGRES_URL to a throwaway cluster}
rounds=${ROUNDS:-3}
duration=${DURATION:-6}
[ "$rounds" -ge 1 ] && [ "$duration" -ge 1 ] || { echo "ROUNDS and DURATION: 1 or more" >&2; exit 2; }
pgbench=$(command -v pgbench || { ls /usr/lib/postgresql/*/bin/pgbench 2>/dev/null || true; } |
  sort -V | tail -n 1)
[ -x "$pgbench" ] || { echo "pgbench not found (apt-get install postgresql)" >&2; exit 1; }

schema=otpgate_statements_$$
work=$(mktemp -d)
cleanup() {
  psql -q "$url" -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
separator='?'
case $url in *'?'*) separator='&' ;; esac
in_schema="$url${separator}options=-c%20search_path%3D$schema"

cargo build -q --release -p otpgate --features postgres --bin otpgate
psql -q -v ON_ERROR_STOP=1 "$url" -c "CREATE SCHEMA $schema"
target/release/otpgate --db "$in_schema" --key-file "$work/gate.key" \
  enroll setup --issuer bench >/dev/null
key_check=$(psql -At -v ON_ERROR_STOP=1 "$in_schema" \
  -c "SELECT encode(value, 'hex') FROM meta WHERE name = 'key_check'")

psql -q -v ON_ERROR_STOP=1 "$in_schema" <<SQL
CREATE TABLE floor (id int, v int);
-- 32 users, records of an enrolled user's sealed record's size (about 540 bytes).
INSERT INTO users ("user", version, record, updated)
    SELECT 'user' || i, 1, decode(repeat('ab', 544), 'hex'), 0 FROM generate_series(0, 31) i;
CREATE FUNCTION chain_at(chain BIGINT, opened BYTEA) RETURNS BOOLEAN LANGUAGE plpgsql
    VOLATILE AS \$\$
BEGIN
    PERFORM pg_advisory_xact_lock(8031167597422575616 + 'audit'::REGCLASS::OID::BIGINT + chain),
        set_config('otpgate.chain', 'held', true);
    IF (SELECT mac FROM audit WHERE mac IS NOT NULL ORDER BY id DESC LIMIT 1) = '\\x00'::BYTEA
       OR (opened IS NOT NULL
           AND (SELECT value FROM meta WHERE name = 'key_check') IS DISTINCT FROM opened)
    THEN
        RAISE EXCEPTION 'the audit chain or the key check moved on' USING ERRCODE = 'OG001';
    END IF;
    RETURN TRUE;
END
\$\$;
SQL

echo 'INSERT INTO floor VALUES (:client_id, 1);' >"$work/floor.sql"
# A check's two statements; $1 is the chain's function, or nothing. Each write is a new
# record of the same size, unlike the one before (as a new seal is): an unchanged one would
# let PostgreSQL log only the difference.
check_sql() {
  cat <<SQL
SELECT version, record FROM users WHERE "user" = 'user' || :client_id;
WITH written AS (UPDATE users SET version = version + 1,
        record = convert_to(repeat(md5(random()::TEXT), 17), 'UTF8'), updated = 5
    WHERE "user" = 'user' || :client_id AND version > 0 $1 RETURNING 1)
  INSERT INTO audit (time, "user", event, action, outcome, drift, actor, mac)
  SELECT 1, 'user' || :client_id, 'check', 'deploy', 'accepted', 0, 'runner',
      '\\x000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f' FROM written;
SQL
}
check_sql "AND chain_at(0, '\\x$key_check')" >"$work/check.sql"
check_sql "AND chain_at(:client_id % 16, '\\x$key_check')" >"$work/sharded.sql"
check_sql "" >"$work/unlocked.sql"

# Transactions per second of one case (pgbench's first tps line, the only one since
# PostgreSQL 14); no figure, or none above zero, stops the run.
tps() {
  local out tps
  out=$("$pgbench" -n -M prepared -f "$work/$1.sql" -c "$2" -j "$(($2 < 2 ? 1 : 2))" \
    -T "$duration" "$in_schema" 2>&1) || { echo "$out" >&2; exit 1; }
  tps=$(echo "$out" | sed -n 's/^tps = \([0-9]*\).*/\1/p' | head -n 1)
  [ "${tps:-0}" -gt 0 ] || { echo "$out" >&2; echo "$1, $2 clients: no tps figure" >&2; exit 1; }
  echo "$tps"
}

declare -A results
for round in $(seq "$rounds"); do
  for clients in 1 32; do
    for case in floor check sharded unlocked; do
      results[$clients.$case.$round]=$(tps "$case" "$clients")
    done
  done
  printf 'round %s  load %s\n' "$round" "$(cut -d' ' -f1-3 /proc/loadavg)"
  for clients in 1 32; do
    printf '  %2s clients: floor %6s tps' "$clients" "${results[$clients.floor.$round]}"
    for case in check sharded unlocked; do
      printf ', %s %6s (%.2fx)' "$case" "${results[$clients.$case.$round]}" \
        "$(echo "${results[$clients.$case.$round]} / ${results[$clients.floor.$round]}" | bc -l)"
    done
    echo
  done
done

# min and median of the per-round ratios (of an even number of rounds, the lower middle).
echo "ratios to the floor of the same round, min / median over $rounds rounds:"
for clients in 1 32; do
  for case in check sharded unlocked; do
    ratios=$(for round in $(seq "$rounds"); do
      echo "${results[$clients.$case.$round]} / ${results[$clients.floor.$round]}" | bc -l
    done | sort -g)
    printf '  %2s clients, %-8s %.2f / %.2f\n' "$clients" "$case" \
      "$(echo "$ratios" | head -n 1)" "$(echo "$ratios" | sed -n "$(((rounds + 1) / 2))p")"
  done
done
