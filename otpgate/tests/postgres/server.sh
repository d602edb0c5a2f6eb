#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the gate's tests and benchmark, in a directory of its
# own, listening only on 127.0.0.1 and a unix socket inside that directory.
#
#   tests/postgres/server.sh start DIR [tls]   initdb (first time), start; prints the URL
#     (tls: the server also offers TLS, with a certificate for `localhost` signed by a
#     private CA in DIR/ca.crt, which clients trust with SSL_CERT_FILE=DIR/ca.crt or
#     sslrootcert=DIR/ca.crt in the URL)
#   tests/postgres/server.sh stop DIR [fast|immediate]
#   tests/postgres/server.sh url DIR     prints the URL of a started cluster
#   tests/postgres/server.sh available   exits 0 when the server binaries are there
#
# Run the PostgreSQL tests with:
#   export OTPGATE_TEST_POSTGRES_URL=$(tests/postgres/server.sh start "$(mktemp -d)")
#   cargo test -p otpgate --all-features --test gate_postgres
# initdb refuses to run as root: as root the cluster runs as the `postgres` user (created by
# Debian's postgresql package). PG_BIN overrides where the server binaries are found.
set -euo pipefail

usage() { echo "usage: $0 start DIR [tls] | stop DIR [fast|immediate] | url DIR | available" >&2; exit 2; }
[ $# -ge 1 ] || usage
cmd=$1

if [ -z "${PG_BIN:-}" ]; then
  if command -v initdb >/dev/null 2>&1; then
    PG_BIN=$(dirname "$(readlink -f "$(command -v initdb)")")
  else
    PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  fi
fi
[ -x "$PG_BIN/pg_ctl" ] || { echo "PostgreSQL server binaries not found (apt-get install postgresql, or set PG_BIN)" >&2; exit 1; }
[ "$cmd" = available ] && exit 0
[ $# -ge 2 ] || usage
dir=$(cd "$2" && pwd)
data=$dir/data

# As root, everything runs as `postgres`, which must own the directory.
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# The cluster has no TLS set up: say so, rather than have every connection try it first.
url() {
  echo "postgresql://postgres@127.0.0.1:$(cat "$dir/port")/otpgate?sslmode=disable"
}

case $cmd in
  start)
    if [ ! -f "$data/PG_VERSION" ]; then
      [ "$(id -u)" = 0 ] && chown postgres: "$dir"
      # A free port: bind port 0 and keep what the kernel chose.
      python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' >"$dir/port"
      as_owner "$PG_BIN/initdb" -D "$data" -U postgres --auth=trust --no-sync -E UTF8 \
        --locale=C >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
      # 127.0.0.1 only (trust authentication, a throwaway cluster); connections for two
      # runners of 32 checks each plus the tests beside them.
      cat >>"$data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $(cat "$dir/port")
unix_socket_directories = '$dir'
max_connections = 300
CONF
      if [ "${3:-}" = tls ]; then
        # A private CA, and a server certificate it signs (not itself a CA: rustls, like
        # any WebPKI verifier, refuses a CA certificate presented as the server's).
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=otpgate test CA" \
          -keyout "$dir/ca.key" -out "$dir/ca.crt" 2>/dev/null
        openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
          -keyout "$data/server.key" -out "$dir/server.csr" 2>/dev/null
        printf 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
          >"$dir/server.ext"
        openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
          -CAcreateserial -days 2 -extfile "$dir/server.ext" -out "$data/server.crt" 2>/dev/null
        rm -f "$dir/ca.key" "$dir/server.csr" "$dir/server.ext" "$dir/ca.srl"
        chmod 600 "$data/server.key"
        [ "$(id -u)" = 0 ] && chown postgres: "$data/server.key" "$data/server.crt"
        echo "ssl = on" >>"$data/postgresql.conf"
      fi
    fi
    as_owner "$PG_BIN/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 60 start >/dev/null \
      || { cat "$dir/server.log" >&2; exit 1; }
    if ! as_owner "$PG_BIN/psql" -h 127.0.0.1 -p "$(cat "$dir/port")" -U postgres -d postgres \
        -tAc "SELECT 1 FROM pg_database WHERE datname = 'otpgate'" | grep -q 1; then
      as_owner "$PG_BIN/createdb" -h 127.0.0.1 -p "$(cat "$dir/port")" -U postgres otpgate
    fi
    url
    ;;
  stop)
    as_owner "$PG_BIN/pg_ctl" -D "$data" -m "${3:-fast}" -w stop >/dev/null
    ;;
  url)
    url
    ;;
  *)
    usage
    ;;
esac
