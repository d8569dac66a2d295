#!/usr/bin/env bash
# The live page in a real browser (Debian's chromium-headless-shell): it lists the jobs with
# their live state, and a job cancelled over the API shows as cancelled. A screenshot goes to
# the output directory.
#   browser_test.sh <page_server binary> <output dir>
set -euo pipefail
server_bin=$1
out=$2
mkdir -p "$out"
browser=$(command -v chromium-headless-shell || command -v chromium)
tmp=$(mktemp -d)
mkfifo "$tmp/stdin"
"$server_bin" <"$tmp/stdin" >"$tmp/server.out" &
server_pid=$!
exec 4>"$tmp/stdin"  # closing it (EOF on the server's stdin) stops the server
cleanup() {
  exec 4>&- || true
  wait "$server_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
for _ in $(seq 300); do
  [ -s "$tmp/server.out" ] && break
  sleep 0.1
done
read -r word port <"$tmp/server.out" || true
[ "${word:-}" = port ] || { echo "no port from the server"; exit 1; }
url="http://127.0.0.1:$port/jobs/"
echo "server on $url"

chrome() {
  timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --disable-dev-shm-usage \
    --user-data-dir="$tmp/profile" "$@" 2>"$tmp/chrome.log"
}
row() {  # the <tr> of job $2 in DOM file $1 (the dump wraps long lines)
  tr '\n' ' ' <"$1" | grep -o "<tr *data-id=\"$2\"[^>]*>" || true
}
fail() { echo "FAIL: $*"; echo "--- DOM:"; cat "$tmp/dom.html"; echo "--- browser log:"; tail -20 "$tmp/chrome.log"; exit 1; }

chrome --timeout=4000 --dump-dom "$url" >"$tmp/dom.html"
for id in ingest report flaky nightly; do
  [ -n "$(row "$tmp/dom.html" $id)" ] || fail "job $id is not listed"
done
row "$tmp/dom.html" ingest | grep -q 'data-state="running"' || fail "ingest is not running"
row "$tmp/dom.html" report | grep -q 'data-state="succeeded"' || fail "report did not succeed"
row "$tmp/dom.html" flaky | grep -q 'data-state="failed"' || fail "flaky did not fail"
tr '\n' ' ' <"$tmp/dom.html" | grep -q 'upstream returned 503' || fail "flaky's last error is not shown"
tr '\n' ' ' <"$tmp/dom.html" | grep -q '<td class="retries">3</td>' || fail "flaky's retries are not shown"
echo "page lists the jobs with their state"

# The filter box: the page reads ?selector= into it and lists only the matches.
chrome --timeout=4000 --dump-dom "${url}?selector=tier%3Dweb" >"$tmp/dom.html"
[ -n "$(row "$tmp/dom.html" report)" ] || fail "filtered page lacks report"
[ -z "$(row "$tmp/dom.html" ingest)" ] || fail "filtered page lists ingest"
echo "the selector filters"

# Cancel over the API, then the page shows it.
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'POST /jobs/ingest/cancel HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n' >&3
reply=$(cat <&3)
exec 3<&-
grep -q '"canceled":true' <<<"$reply" || { echo "cancel refused: $reply"; exit 1; }
chrome --timeout=4000 --dump-dom "$url" >"$tmp/dom.html"
row "$tmp/dom.html" ingest | grep -q 'data-state="canceled"' || fail "ingest does not show as canceled"
echo "a job cancelled over the API shows as canceled"

chrome --timeout=4000 --window-size=1100,420 --screenshot="$out/jobs_page.png" "$url" >/dev/null
[ -s "$out/jobs_page.png" ] || fail "no screenshot"
echo "screenshot: $out/jobs_page.png"
