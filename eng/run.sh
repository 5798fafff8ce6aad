#!/usr/bin/env bash
# Starts the whole topology on a fresh machine: installs the local servers it needs, then runs the AppHost,
# which starts Valkey (redis-server), PostgreSQL, SMTP, a web app per tenant, the workers and the scheduler.
# Extra arguments go to the AppHost (for example: --publisher manifest --output-path aspire-manifest.json).
set -euo pipefail
cd "$(dirname "$0")/.."

./eng/prerequisites.sh
exec dotnet run --project AppHost -- "$@"
