#!/usr/bin/env bash
# Installs, with apt-get, the servers and tools the tests and the local topology need, and only those
# that are missing. Safe to run again; does nothing when everything is present.
#   redis-server       stands in for Valkey (same protocol)
#   postgresql         tenant databases (initdb/pg_ctl; run as the postgres user)
#   python3-aiosmtpd   a real SMTP server for mail tests and development mail
#   chromium           headless browser for the browser tests (Playwright drives /usr/bin/chromium)
#   procps             the kill binary, which the tests and the AppHost use to send SIGTERM
#   nodejs, npm        the schema validator of the Kubernetes output (eng/k8s-validate, npm ci from its package-lock.json)
set -euo pipefail
cd "$(dirname "$0")/.."

# The validator's packages (kubernetes-models, @kubernetes-models/keda, yaml), at the versions its lock file pins;
# again whenever the lock file is newer than what is installed.
install_validator() {
  local dir=eng/k8s-validate
  if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules" ]; then
    echo "prerequisites: npm ci in $dir"
    npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error >/dev/null
    touch "$dir/node_modules"
  fi
}

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
have_cmd node || need+=(nodejs)
have_cmd npm || need+=(npm)

if [ ${#need[@]} -eq 0 ]; then
  install_validator
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
install_validator
echo "prerequisites: done"
