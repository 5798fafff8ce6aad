#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs what the tests need, builds, runs every test.
# The tests start their own redis-server, PostgreSQL and SMTP servers on free ports and remove them afterwards.
# Extra arguments go to the test runner (xunit v3 on Microsoft.Testing.Platform), e.g. --filter-namespace 'Tests.Queue'.
set -euo pipefail
cd "$(dirname "$0")/.."

./eng/prerequisites.sh
dotnet build Aspire.sln -c Release -warnaserror

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
dotnet test --project Tests -c Release --no-build "$@" 2>&1 | tee "$log" || status=$?

# One closing line in the plain form CI readers understand.
passed="$(sed -n 's/^ *succeeded: \([0-9]*\).*/\1/p' "$log" | tail -1)"
failed="$(sed -n 's/^ *failed: \([0-9]*\).*/\1/p' "$log" | tail -1)"
skipped="$(sed -n 's/^ *skipped: \([0-9]*\).*/\1/p' "$log" | tail -1)"
# Each failure's message again, last: a failed test's captured output follows its message in the log and can bury it.
awk '/^failed /{n=20; print; next} n>0 && /^ +at /{n=0} n>0{print; n--}' "$log" | sed '1i Failures (message, without stack or output):'
echo "Tests: ${passed:-0} passed, ${failed:-0} failed, ${skipped:-0} skipped"
exit "$status"
