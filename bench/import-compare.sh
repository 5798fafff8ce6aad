#!/usr/bin/env bash
# The Testmo import of today's tree against the import at BASE (default 2a7da53), in ONE run on ONE fresh throwaway
# PostgreSQL 15 cluster (random free port, temporary directory, removed on exit): bench/ImportBench is built from
# `git archive BASE` and from the working tree, then both run alternately ROUNDS times on the same SIZE_MB. Each side
# migrates its own scratch database with its own migrations (BASE's schema is BASE's). Prints every JSON line, the
# load average before each run, then the median seconds of each side and the ratio BASE/today.
#   SIZE_MB=256 ROUNDS=3 bench/import-compare.sh
#   BASE=366ef2a SIZE_MB=256 ROUNDS=3 bench/import-compare.sh     # any other commit that has bench/ImportBench
# Run it as root (PostgreSQL runs as the postgres user through su) or as a user that may run initdb itself.
set -euo pipefail
cd "$(dirname "$0")/.."
BASE="${BASE:-2a7da53}"
ROUNDS="${ROUNDS:-3}"
export SIZE_MB="${SIZE_MB:-256}"
# Today's side imports as a tenant role provisioned the way the AppHost does it (BENCH_ROLE=plain-owner: without
# session_replication_role, the per-row path; url: the DATABASE_URL user). The bench at BASE ignores it.
export BENCH_ROLE="${BENCH_ROLE:-owner}"
PG="${PG:-/usr/lib/postgresql/15/bin}"

work="$(mktemp -d)"
chmod 755 "$work"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
as_pg() { if [ "$(id -u)" = 0 ]; then su postgres -c "$*"; else sh -c "$*"; fi; }
cleanup() {
  as_pg "$PG/pg_ctl -D $work/pg/data -m immediate stop" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "building ImportBench at $BASE and at $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . || echo ' + uncommitted changes') ..." >&2
mkdir -p "$work/base"
git archive "$BASE" | tar -x -C "$work/base"
dotnet build "$work/base/bench/ImportBench" -c Release -v q -nologo >/dev/null
dotnet build bench/ImportBench -c Release -v q -nologo >/dev/null
base_dll="$work/base/bench/ImportBench/bin/Release/net10.0/ImportBench.dll"
head_dll="bench/ImportBench/bin/Release/net10.0/ImportBench.dll"

mkdir -p "$work/pg"
[ "$(id -u)" = 0 ] && chown postgres "$work/pg"
as_pg "$PG/initdb -D $work/pg/data -U postgres --auth=trust" >/dev/null
as_pg "$PG/pg_ctl -D $work/pg/data -o '-p $port -k $work/pg -c listen_addresses=127.0.0.1 -c max_wal_size=4GB' -l $work/pg/log -w start" >/dev/null
export DATABASE_URL="postgresql://postgres@127.0.0.1:$port/postgres"
"$PG/postgres" --version >&2

run() { # side dll
  # A checkpoint first, so neither side pays for the WAL the previous run left behind.
  "$PG/psql" -h 127.0.0.1 -p "$port" -U postgres -qAtc CHECKPOINT postgres
  echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
  local line
  line="$(dotnet "$2" | tail -1)"
  echo "$1 $line"
  printf '%s\n' "$line" >>"$work/$1.jsonl"
}
for _ in $(seq "$ROUNDS"); do
  run base "$base_dll"
  run head "$head_dll"
done

python3 - "$work/base.jsonl" "$work/head.jsonl" "$BASE" <<'PY'
import json, statistics, sys
base = [json.loads(l) for l in open(sys.argv[1])]; head = [json.loads(l) for l in open(sys.argv[2])]
def med(rows, f): return statistics.median(r[f] for r in rows)
b, h = med(base, 'seconds'), med(head, 'seconds')
print(f"size_mb {med(head, 'size_mb')}: {sys.argv[3]} median {b:.1f} s ({med(base, 'mb_per_s'):.1f} MB/s, peak RSS max {max(r['peak_rss_mb'] for r in base)} MB); "
      f"today median {h:.1f} s ({med(head, 'mb_per_s'):.1f} MB/s, peak RSS max {max(r['peak_rss_mb'] for r in head)} MB); ratio {b / h:.2f}x")
PY
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
