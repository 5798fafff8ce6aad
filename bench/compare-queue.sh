#!/usr/bin/env bash
# Side by side on one private redis-server: our Queue (bench/QueueBench) and BullMQ (bench/bullmq-baseline), the
# same N jobs, concurrency C and ~200-byte payloads, alternating for ROUNDS rounds. Prints every JSON line, then the
# median ratios ours/BullMQ for bulk enqueue and drain.
#   ROUNDS=3 N=20000 C=16 bench/compare-queue.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${ROUNDS:-3}"
export N="${N:-20000}" C="${C:-16}" T="${T:-4}"

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
dir="$(mktemp -d)"
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" --daemonize yes --pidfile "$dir/redis.pid" >/dev/null
trap 'kill "$(cat "$dir/redis.pid")" 2>/dev/null || true; rm -rf "$dir"' EXIT
export VALKEY_URL="redis://127.0.0.1:$port"

dotnet build -c Release bench/QueueBench -v q -nologo >/dev/null
(cd bench/bullmq-baseline && npm install --no-audit --no-fund --silent >/dev/null)

ours=(); theirs=()
for _ in $(seq "$ROUNDS"); do
  line="$(dotnet bench/QueueBench/bin/Release/net10.0/QueueBench.dll | tail -1)"; echo "ours   $line"; ours+=("$line")
  line="$(node bench/bullmq-baseline/bench.mjs | tail -1)"; echo "bullmq $line"; theirs+=("$line")
done

python3 - "${ours[@]}" --- "${theirs[@]}" <<'PY'
import json, statistics, sys
args = sys.argv[1:]; cut = args.index('---')
ours = [json.loads(a) for a in args[:cut]]; theirs = [json.loads(a) for a in args[cut + 1:]]
for field in ('enqueue_jps', 'drain_jps'):
    o = statistics.median(x[field] for x in ours); t = statistics.median(x[field] for x in theirs)
    print(f"{field}: ours {o:.0f}/s, bullmq {t:.0f}/s, ratio {o / t:.2f}x")
PY
