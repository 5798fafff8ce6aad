#!/usr/bin/env bash
# Installs, with apt-get, the servers and tools the tests and the local topology need, and only those
# that are missing. Safe to run again; does nothing when everything is present.
#   redis-server       stands in for Valkey (same protocol)
#   postgresql         tenant databases (initdb/pg_ctl; run as the postgres user)
#   python3-aiosmtpd   a real SMTP server for mail tests and development mail
#   chromium           headless browser for the browser tests (Playwright drives /usr/bin/chromium)
#   procps             the kill binary, which the tests and the AppHost use to send SIGTERM
set -euo pipefail

need=()
have_cmd() { command -v "$1" >/dev/null 2>&1; }
have_pg() { ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; }
have_aiosmtpd() { /usr/bin/python3 -c 'import aiosmtpd' >/dev/null 2>&1; }

have_cmd redis-server || need+=(redis-server)
have_pg || need+=(postgresql)
have_aiosmtpd || need+=(python3-aiosmtpd)
[ -x /usr/bin/chromium ] || need+=(chromium)
# Not `command -v kill`: that finds the shell builtin, and the processes we start need the binary.
{ [ -x /usr/bin/kill ] || [ -x /bin/kill ]; } || need+=(procps)

if [ ${#need[@]} -eq 0 ]; then
  echo "prerequisites: all present"
  exit 0
fi

echo "prerequisites: installing ${need[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# The Debian packages start their own services; the tests and the AppHost start private servers on free ports instead.
for svc in redis-server postgresql; do
  $SUDO service "$svc" stop >/dev/null 2>&1 || true
done
echo "prerequisites: done"
