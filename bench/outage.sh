#!/usr/bin/env bash
# Issue 12's "Must show": tenant B's database refuses connections for OUTAGE_S (60) seconds while A and B each keep
# BACKLOG (1500) notification jobs in flight, against a real Workers process, a private redis-server (AOF everysec)
# and a throwaway PostgreSQL cluster (run as the postgres user). Prints OutageBench's JSON line.
#   OUTAGE_S=60 BACKLOG=1500 bench/outage.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PG=$(ls -d /usr/lib/postgresql/*/bin | tail -1)
dir=$(mktemp -d /tmp/outagebench-XXXX); chmod 755 "$dir"; chown postgres "$dir"
PGPORT=${PGPORT:-55433}; RPORT=${RPORT:-6393}
cleanup() {
  [ -n "${rpid:-}" ] && kill "$rpid" 2>/dev/null || true
  su postgres -c "$PG/pg_ctl -D $dir/data stop -m immediate" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
dotnet build -c Release Workers -v q -nologo >/dev/null
dotnet build -c Release bench/OutageBench -v q -nologo >/dev/null
mkdir -p "$dir/data" && chown postgres "$dir/data"
su postgres -c "$PG/initdb -D $dir/data -U postgres --auth=trust" >/dev/null
su postgres -c "$PG/pg_ctl -D $dir/data -o '-p $PGPORT -k /tmp -c listen_addresses=127.0.0.1 -c max_connections=200' -l $dir/pg.log start" >/dev/null
redis-server --port "$RPORT" --bind 127.0.0.1 --dir "$dir" --save '' --appendonly yes --appendfsync everysec --protected-mode no >"$dir/redis.log" 2>&1 &
rpid=$!
until redis-cli -p "$RPORT" ping >/dev/null 2>&1; do sleep 0.1; done
DATABASE_URL="postgresql://postgres@127.0.0.1:$PGPORT/postgres" VALKEY_URL="redis://127.0.0.1:$RPORT" \
WORKERS_DLL="$PWD/Workers/bin/Release/net10.0/Workers.dll" dotnet bench/OutageBench/bin/Release/net10.0/OutageBench.dll
