#!/usr/bin/env bash
# Starts the whole topology on a fresh machine: installs the local servers it needs, sets up a trusted ASP.NET Core
# development certificate, then runs the Aspire AppHost (`dotnet run --project AppHost`), which starts DCP, the Aspire
# dashboard, Valkey, PostgreSQL, SMTP, a web app per tenant, the workers and the scheduler. The dashboard's login URL
# (with its token) is printed once it is up, and each tenant's address once everything is healthy.
#   ./eng/run.sh                      the dashboard at http://localhost:15170
#   ./eng/run.sh --https              the dashboard at https://localhost:17170 (for browsers that trust the certificate)
#   ./eng/run.sh --DETAILED_LOGS true every project logs its SQL statements, HTTP calls and connection detail again
# Other arguments go to the AppHost (for example: --publisher manifest --output-path aspire-manifest.json).
set -euo pipefail
cd "$(dirname "$0")/.."

./eng/prerequisites.sh

profile=http
args=()
for arg in "$@"; do
  if [ "$arg" = "--https" ]; then profile=https; else args+=("$arg"); fi
done

# The development certificate. Aspire looks for a trusted one at every start; without it the AppHost warns and the
# dashboard shows a red "No trusted development certificate" banner on every page. On Linux
# `dotnet dev-certs https --trust` creates it in this user's .NET store and trusts it for .NET (this user's Root store)
# and for OpenSSL (a directory of its own, which SSL_CERT_DIR must list: done here for everything this script starts).
# It cannot change the system's trust store, and browsers trust it only through their NSS databases (certutil from
# libnss3-tools, an existing browser profile), so the default profile stays http: the dashboard works in any browser.
trust_dir="${HOME:-/root}/.aspnet/dev-certs/trust"
# The system's certificates stay listed: OpenSSL's own directory (Debian: /usr/lib/ssl/certs, /etc/ssl/certs behind it).
openssl_dir="$(openssl version -d 2>/dev/null | sed -n 's/^OPENSSLDIR: "\(.*\)"$/\1/p')"
export SSL_CERT_DIR="$trust_dir:${SSL_CERT_DIR:-${openssl_dir:-/usr/lib/ssl}/certs}"
if ! dotnet dev-certs https --check --trust >/dev/null 2>&1; then
  echo "run: creating and trusting the ASP.NET Core development certificate (dotnet dev-certs https --trust)"
  # Exit code 4 is "trusted by some clients but not others" (no browser database to add it to): enough for Aspire.
  dotnet dev-certs https --trust >/dev/null 2>&1 || true
  if ! dotnet dev-certs https --check --trust >/dev/null 2>&1; then
    echo "run: no trusted development certificate could be set up; the dashboard will show a banner saying so" \
         "(see README.md, 'The development certificate')"
    [ "$profile" = https ] && { echo "run: --https needs that certificate; using http" >&2; profile=http; }
  fi
fi

exec dotnet run --project AppHost --launch-profile "$profile" -- ${args[@]+"${args[@]}"}
