#!/usr/bin/env bash
# Today's engine against an earlier commit's (BASE, default d2a341b: the last one before shards, per-tenant keys and
# Valkey users), on one private redis-server, QueueBench alternating for ROUNDS rounds. Today's side runs in VARIANTS:
#   default   the library's defaults (payloads encrypted, the default user)
#   plain     payloads not encrypted (ENCRYPT=0)
#   acl       every tenant enqueues as its own web app's Valkey user, the worker as `workers` (ACL=1)
# Prints every JSON line, then per variant the medians and their ratios to BASE.
#   ROUNDS=3 N=20000 T=4 C=16 PHASES=throughput bench/compare-engine.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${ROUNDS:-3}"
BASE="${BASE:-d2a341b}"
VARIANTS="${VARIANTS:-default plain acl}"
export N="${N:-20000}" C="${C:-16}" T="${T:-4}" PHASES="${PHASES:-throughput}"

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
dir="$(mktemp -d)"
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" --daemonize yes --pidfile "$dir/redis.pid" >/dev/null
base="$dir/base"
trap 'kill "$(cat "$dir/redis.pid")" 2>/dev/null || true; git worktree remove --force "$base" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
export VALKEY_URL="redis://127.0.0.1:$port"

git worktree add --detach "$base" "$BASE" >/dev/null 2>&1
dotnet build -c Release "$base/bench/QueueBench" -v q -nologo >/dev/null
dotnet build -c Release bench/QueueBench -v q -nologo >/dev/null
echo "redis-server $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p'), N=$N T=$T C=$C PHASES=$PHASES, base $BASE, rounds $ROUNDS, load average $(cut -d' ' -f1-3 /proc/loadavg)"

lines=()
for _ in $(seq "$ROUNDS"); do
  redis-cli -p "$port" FLUSHALL >/dev/null; redis-cli -p "$port" FUNCTION FLUSH >/dev/null
  line="$(dotnet "$base/bench/QueueBench/bin/Release/net10.0/QueueBench.dll" | tail -1)"; echo "base    $line"; lines+=("base $line")
  for variant in $VARIANTS; do
    redis-cli -p "$port" FLUSHALL >/dev/null
    case "$variant" in
      default) env=() ;;
      plain) env=(ENCRYPT=0) ;;
      acl) env=(ACL=1) ;;
      *) echo "unknown variant $variant" >&2; exit 2 ;;
    esac
    line="$(env "${env[@]}" dotnet bench/QueueBench/bin/Release/net10.0/QueueBench.dll | tail -1)"; echo "$variant $line"; lines+=("$variant $line")
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "${lines[@]}" <<'PY'
import json, statistics, sys
rows = [(a.split(' ', 1)[0], json.loads(a.split(' ', 1)[1])) for a in sys.argv[1:]]
med = lambda side, field: statistics.median(r[field] for s, r in rows if s == side)
fields = ['enqueue_jps', 'drain_jps', 'valkey_cpu_us_per_job', 'valkey_script_us_per_job', 'worker_cpu_us_per_job', 'client_cpu_us_per_enqueue']
for side in dict.fromkeys(s for s, _ in rows):
    print(side + ': ' + ', '.join(f"{f} {med(side, f):.1f}" + ('' if side == 'base' else f" ({med(side, f) / med('base', f):.2f}x)") for f in fields))
PY
