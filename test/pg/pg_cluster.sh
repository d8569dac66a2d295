#!/usr/bin/env bash
# A throw-away PostgreSQL 15 cluster for the tests, in a directory of its own, listening only on
# a Unix socket in that directory (no TCP). Never touches a server it did not start.
#   pg_cluster.sh start DIR    initdb + pg_ctl start (DIR is wiped first)
#   pg_cluster.sh stop DIR     stop (immediate) and remove DIR
#   pg_cluster.sh halt DIR     stop the server (fast), keep the data (tests: a server going away)
#   pg_cluster.sh resume DIR   start it again on the same data
# As root (CI), the server runs as the `postgres` user that Debian's package creates.
set -euo pipefail
cmd=$1
dir=$2
bin=/usr/lib/postgresql/15/bin
as=()
if [ "$(id -u)" -eq 0 ]; then as=(runuser -u postgres --); fi

pgctl() { "${as[@]}" "$bin/pg_ctl" -D "$dir/data" "$@"; }
start_server() {
  pgctl -l "$dir/server.log" -w -t 60 \
    -o "-k $dir -c listen_addresses='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=60" \
    start >/dev/null
}

case "$cmd" in
  start)
    [ -x "$bin/initdb" ] || { echo "pg_cluster: $bin/initdb not found (build/deps.sh installs postgresql-15)" >&2; exit 1; }
    if [ -f "$dir/data/postmaster.pid" ]; then pgctl -m immediate stop >/dev/null 2>&1 || true; fi
    rm -rf "$dir"
    mkdir -p "$dir"
    [ ${#as[@]} -eq 0 ] || chown postgres "$dir"
    "${as[@]}" "$bin/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    start_server || { cat "$dir/server.log" >&2; exit 1; }
    echo "pg_cluster: up at host=$dir"
    ;;
  stop)
    if [ -f "$dir/data/postmaster.pid" ]; then pgctl -m immediate stop >/dev/null 2>&1 || true; fi
    rm -rf "$dir"
    ;;
  halt) pgctl -m fast -w stop >/dev/null ;;
  resume) start_server ;;
  *) echo "usage: $0 start|stop|halt|resume DIR" >&2; exit 2 ;;
esac
