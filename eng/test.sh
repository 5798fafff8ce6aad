#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs what the tests need, builds, runs every test.
# The tests start their own redis-server, PostgreSQL and SMTP servers on free ports and remove them afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

./eng/prerequisites.sh
dotnet build Aspire.sln -c Release -warnaserror
dotnet test --project Tests -c Release --no-build --results-directory TestResults --report-trx "$@"
