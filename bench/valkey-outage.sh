#!/usr/bin/env bash
# Issue 12's "Must show": Valkey killed with -9 for OUTAGE_S (15) seconds during POSTS (1000) result posts; every post
# answered 2xx and every result's notification exists exactly once afterwards. Starts a throwaway PostgreSQL cluster
# (as the postgres user) and runs bench/ValkeyOutageBench, which starts its own redis-server (AOF everysec), SMTP
# server, one tenant's Web and the Workers from Release build output, and prints one JSON line. Run as root.
#   POSTS=1000 RATE=25 KILL_AFTER_S=8 OUTAGE_S=15 bench/valkey-outage.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PG=$(ls -d /usr/lib/postgresql/*/bin | tail -1)
dir=$(mktemp -d /tmp/valkeyoutage-XXXX); chmod 755 "$dir"; chown postgres "$dir"
PGPORT=${PGPORT:-55434}
cleanup() {
  # Everything the bench started, should it have died before its own clean-up.
  if [ -f "$dir/pids" ]; then
    while read -r pid; do kill -9 "$pid" 2>/dev/null || true; done <"$dir/pids"
  fi
  su postgres -c "$PG/pg_ctl -D $dir/data stop -m immediate" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
for p in Web Workers bench/ValkeyOutageBench; do dotnet build -c Release "$p" -v q -nologo >/dev/null; done
mkdir -p "$dir/data" && chown postgres "$dir/data"
su postgres -c "$PG/initdb -D $dir/data -U postgres --auth=trust" >/dev/null
su postgres -c "$PG/pg_ctl -D $dir/data -o '-p $PGPORT -k /tmp -c listen_addresses=127.0.0.1 -c max_connections=200' -l $dir/pg.log start" >/dev/null
DATABASE_URL="postgresql://postgres@127.0.0.1:$PGPORT/postgres" WORK_DIR="$dir" \
WEB_DLL="$PWD/Web/bin/Release/net10.0/Web.dll" WORKERS_DLL="$PWD/Workers/bin/Release/net10.0/Workers.dll" \
SMTP_SCRIPT="$PWD/Hosting/Resources/smtp_server.py" dotnet bench/ValkeyOutageBench/bin/Release/net10.0/ValkeyOutageBench.dll
