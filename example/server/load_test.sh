#!/usr/bin/env bash
# Load: wrk drives GET /quote (jobs::executor per request) and then GET /bare/quote (the same
# endpoint with a hand-written retry loop), 64 connections for 10 s each, against one
# quote_service whose upstream fails 20% of calls. Fails unless:
#   - no connection errors (connect, read, write, timeout) and only 200s, apart from 5xx whose
#     every attempt failed (x-attempts = the policy's attempts; expected n * 0.2^6);
#   - /quote's throughput >= 0.9x /bare/quote's and its p99 <= 1.2x.
#   example/server/load_test.sh <quote_service> [seconds] [connections]
set -euo pipefail
service=${1:?usage: load_test.sh <quote_service> [seconds] [connections]}
seconds=${2:-10}
connections=${3:-64}
attempts=6
fail_rate=0.2
here=$(cd "$(dirname "$0")" && pwd)
command -v wrk >/dev/null || { echo "load_test: wrk is not installed (build/deps.sh)"; exit 1; }

out=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
  rm -rf "$out"
}
trap cleanup EXIT

"$service" --port 0 --upstream-fail-rate "$fail_rate" --upstream-latency-ms 10 --attempts "$attempts" --grace-ms 1000 \
  >"$out/service.log" 2>&1 &
pid=$!
for _ in $(seq 300); do
  grep -q "listening on" "$out/service.log" && break
  kill -0 "$pid" 2>/dev/null || { cat "$out/service.log"; echo "load_test: quote_service exited"; exit 1; }
  sleep 0.05
done
port=$(grep -o 'http://127.0.0.1:[0-9]*' "$out/service.log" | head -1 | cut -d: -f3)
[ -n "$port" ] || { cat "$out/service.log"; echo "load_test: no port"; exit 1; }

run() {  # run <name> <path>
  echo "=== $1: wrk -t2 -c$connections -d${seconds}s http://127.0.0.1:$port$2"
  QUOTE_ATTEMPTS=$attempts wrk -t2 -c"$connections" -d"${seconds}s" --timeout 10s -s "$here/load.lua" \
    "http://127.0.0.1:$port$2" | tee "$out/$1.txt"
}
val() { awk -v k="$2" '$1 == k { print $2 }' "$out/$1.txt"; }

run jobs "/quote?symbol=ACME"
run bare "/bare/quote?symbol=ACME"

failed=0
check() {  # check <description> <awk condition>
  if awk "BEGIN { exit !($2) }"; then echo "  ok    $1"; else echo "  FAIL  $1"; failed=1; fi
}
for r in jobs bare; do
  n=$(val $r requests)
  ok=$(val $r status_200); ok=${ok:-0}
  ex=$(val $r exhausted_5xx)
  others=$((n - ok - ex))
  bound=$(awk -v n="$n" -v p="$fail_rate" -v a="$attempts" 'BEGIN { printf "%d", 5 + 10 * n * p ^ a }')
  check "$r: $n requests, $ok x 200, no connection errors" \
    "$(val $r errors_connect) + $(val $r errors_read) + $(val $r errors_write) + $(val $r errors_timeout) == 0"
  check "$r: no 5xx the policy should have absorbed ($(val $r absorbable_5xx)), no other status ($others)" \
    "$(val $r absorbable_5xx) == 0 && $others == 0"
  check "$r: $ex 5xx after $attempts failed attempts (<= $bound expected at ${fail_rate})" "$ex <= $bound"
done
jr=$(val jobs rps); br=$(val bare rps); jp=$(val jobs p99_us); bp=$(val bare p99_us)
check "throughput: jobs $jr req/s >= 0.9 x bare $br req/s ($(awk -v a="$jr" -v b="$br" 'BEGIN{printf "%.3f", a/b}')x)" \
  "$jr >= 0.9 * $br"
check "p99: jobs $jp us <= 1.2 x bare $bp us ($(awk -v a="$jp" -v b="$bp" 'BEGIN{printf "%.3f", a/b}')x)" \
  "$jp <= 1.2 * $bp"

kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=
check "SIGTERM after the load: exit status $status" "$status == 0"
[ $failed -eq 0 ] && echo "load_test: passed" || { echo "load_test: FAILED"; cat "$out/service.log"; exit 1; }
