#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs what the tests need, builds, runs every test.
# The tests start their own redis-server, PostgreSQL and SMTP servers on free ports and remove them afterwards; they
# write nothing into the user's home directory or /tmp that outlives the run (Tests/Infrastructure/TestProfile.cs).
# Extra arguments go to the test runner (xunit v3 on Microsoft.Testing.Platform), e.g. --filter-namespace 'Tests.Queue'.
set -euo pipefail
cd "$(dirname "$0")/.."

./eng/prerequisites.sh
# `dotnet msbuild -restore` is what `dotnet build` runs, without the two empty directories the latter leaves in /tmp.
dotnet msbuild -restore Aspire.sln -p:Configuration=Release -warnaserror -nologo -verbosity:minimal

tmp="${TMPDIR:-/tmp}"
log="$(mktemp)"
started="$(mktemp)"
# `dotnet test` talks to the test process over a Unix socket, $TMPDIR/<32 hex digits>, and leaves it behind: remove
# those created since the run started that no process listens on any more.
remove_stale_test_sockets() {
  local socket
  find "$tmp" -maxdepth 1 -type s -regextype posix-extended -regex '.*/[0-9a-f]{32}' -newer "$started" 2>/dev/null |
    while read -r socket; do
      grep -qF " $socket" /proc/net/unix 2>/dev/null || rm -f "$socket"
    done
}
trap 'remove_stale_test_sockets; rm -f "$log" "$started"' EXIT
status=0
dotnet test --project Tests -c Release --no-build "$@" 2>&1 | tee "$log" || status=$?
if [ $# -eq 0 ]; then
  # The job engine's tests once more with every queue split into three shards: all it does must hold over shards too.
  QUEUE_TEST_SHARDS=3 dotnet test --project Tests -c Release --no-build --filter-namespace 'Tests.Queue' 2>&1 | tee -a "$log" || status=$?
fi

# One closing line in the plain form CI readers understand (the sum over both runs).
sum() { sed -n "s/^ *$1: \([0-9]*\).*/\1/p" "$log" | awk '{ s += $1 } END { print s + 0 }'; }
passed="$(sum succeeded)"
failed="$(sum failed)"
skipped="$(sum skipped)"
# Each failure's message again, last: a failed test's captured output follows its message in the log and can bury it.
awk '/^failed /{n=20; print; next} n>0 && /^ +at /{n=0} n>0{print; n--}' "$log" | sed '1i Failures (message, without stack or output):'
echo "Tests: ${passed:-0} passed, ${failed:-0} failed, ${skipped:-0} skipped"
exit "$status"
