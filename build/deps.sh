#!/usr/bin/env bash
# Installs the Debian 12 packages the project needs, only those missing (idempotent).
# Boost 1.81 from Debian (not the default 1.74, which has no cancellation slots).
set -euo pipefail

packages=(g++ cmake make
  libboost1.81-dev libboost-log1.81-dev libboost-test1.81-dev libboost-json1.81-dev
  libhowardhinnant-date-dev tzdata golang-go golang-github-robfig-cron-dev
  postgresql-15 libpq-dev
  libboost-url1.81-dev prometheus chromium-headless-shell  # jobs::http: URLs, promtool, the page test
  wrk  # example/server's load test
  "$@")

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
