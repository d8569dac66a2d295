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
http() {  # http METHOD PATH: the response (headers and body) from the server
  local reply
  exec 3<>"/dev/tcp/127.0.0.1/$port"
  printf '%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n' "$1" "$2" >&3
  reply=$(cat <&3)
  exec 3<&-
  printf '%s\n' "$reply"
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

# Live: a page that stays open shows ingest cancelled when the API cancels it, through its event
# stream, without a reload. A --dump-dom cannot show this: it dumps at the load event, and a
# --virtual-time-budget never runs out while the page's event stream is open (virtual time waits
# for pending requests). So this step drives the browser over the DevTools protocol on
# --remote-debugging-pipe (fd 3 in, fd 4 out, one JSON message per NUL-terminated record) and
# asks the open page for its DOM state.
mkfifo "$tmp/cdp_in" "$tmp/cdp_out"
chrome --remote-debugging-pipe about:blank 3<"$tmp/cdp_in" 4>"$tmp/cdp_out" &
chrome_pid=$!
exec 5>"$tmp/cdp_in" 6<"$tmp/cdp_out"
cdp_id=0
cdp() {  # cdp SESSION METHOD PARAMS: sends a command, sets $reply to its answer (events skipped)
  local session=${1:+\"sessionId\":\"$1\",}
  cdp_id=$((cdp_id + 1))
  printf '{"id":%d,%s"method":"%s","params":%s}\0' "$cdp_id" "$session" "$2" "$3" >&5
  while IFS= read -r -d '' reply <&6; do
    case $reply in "{\"id\":$cdp_id,"*) return 0 ;; esac
  done
  fail "the browser closed its DevTools pipe during $2"
}
field() { grep -o "\"$1\":\"[^\"]*\"" <<<"$reply" | head -1 | cut -d'"' -f4; }
page_state() {  # sets $state to "<ingest's data-state>|<the status line>" as the open page has it
  cdp "$session" Runtime.evaluate '{"returnByValue":true,"expression":"(document.querySelector(\"tr[data-id=ingest]\")?.dataset.state ?? \"\") + \"|\" + (document.getElementById(\"status\")?.textContent ?? \"\")"}'
  state=$(grep -o '"value":"[^"]*"' <<<"$reply" | cut -d'"' -f4)
}
until_state() {  # until_state GLOB: polls page_state (up to 15 s) until $state matches GLOB
  for _ in $(seq 300); do
    page_state
    # shellcheck disable=SC2053  # $1 is a pattern
    [[ $state == $1 ]] && return 0
    sleep 0.05
  done
  return 1
}
cdp "" Target.createTarget "{\"url\":\"$url\"}"
target=$(field targetId)
cdp "" Target.attachToTarget "{\"targetId\":\"$target\",\"flatten\":true}"
session=$(field sessionId)
[ -n "$session" ] || fail "no DevTools session: $reply"
until_state 'running|*job(s), live' || fail "the open page never showed ingest running, live (it shows: $state)"
echo "the open page shows ingest running, live"
reply=$(http POST /jobs/ingest/cancel)
grep -q '"canceled":true' <<<"$reply" || fail "cancel refused: $reply"
until_state 'canceled|*job(s), live' || fail "the open page does not show ingest as canceled (it shows: $state)"
cdp "" Browser.close '{}'
wait "$chrome_pid" || fail "the browser exited with $?"
exec 5>&- 6<&-
echo "a job cancelled over the API shows as canceled on the open page, without a reload"

chrome --timeout=4000 --window-size=1100,420 --screenshot="$out/jobs_page.png" "$url" >/dev/null
[ -s "$out/jobs_page.png" ] || fail "no screenshot"
echo "screenshot: $out/jobs_page.png"
