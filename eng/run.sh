#!/usr/bin/env bash
# Starts the whole topology on a fresh machine: installs the local servers it needs, then runs the Aspire AppHost
# (`dotnet run --project AppHost`), which starts DCP, the Aspire dashboard, Valkey, PostgreSQL, SMTP, a web app per
# tenant, the workers and the scheduler. The dashboard's login URL (with its token) is printed once it is up.
# Extra arguments go to the AppHost (for example: --publisher manifest --output-path aspire-manifest.json).
set -euo pipefail
cd "$(dirname "$0")/.."

./eng/prerequisites.sh

# https when this machine has a trusted ASP.NET Core development certificate (`dotnet dev-certs https --trust`);
# otherwise the http profile, which is what works on a fresh Linux machine (ASPIRE_ALLOW_UNSECURED_TRANSPORT).
profile=http
if dotnet dev-certs https --check --trust >/dev/null 2>&1; then
  profile=https
fi
exec dotnet run --project AppHost --launch-profile "$profile" -- "$@"
