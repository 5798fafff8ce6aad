#!/usr/bin/env bash
# Side by side on one private redis-server: our Queue (bench/QueueBench) and BullMQ (bench/bullmq-baseline), the
# same N jobs, T tenants, concurrency C and ~200-byte payloads, alternating for ROUNDS rounds, for each retention
# of completed jobs in RETENTIONS. Prints every JSON line, then per retention the median figures and ratios
# ours/BullMQ for bulk enqueue and drain, and our latency and fairness figures.
#   ROUNDS=3 N=20000 T=4 C=16 RATE=5000 RETENTIONS="default all none" bench/compare-queue.sh
# Retention names (both sides):
#   default  each side's own default: ours keeps the newest 1,000 completed jobs per tenant and queue (at most a day
#            old); BullMQ here keeps the newest 1,000 of the queue (removeOnComplete: 1000)
#   all      both keep every completed job (ours CompletedKeepCount -1, no age limit; BullMQ removeOnComplete: false)
#   none     both remove a job when it completes (ours CompletedKeepCount 0; BullMQ removeOnComplete: true)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${ROUNDS:-3}"
RETENTIONS="${RETENTIONS:-default all none}"
export N="${N:-20000}" C="${C:-16}" T="${T:-4}" RATE="${RATE:-5000}"

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
dir="$(mktemp -d)"
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" --daemonize yes --pidfile "$dir/redis.pid" >/dev/null
trap 'kill "$(cat "$dir/redis.pid")" 2>/dev/null || true; rm -rf "$dir"' EXIT
export VALKEY_URL="redis://127.0.0.1:$port"

dotnet build -c Release bench/QueueBench -v q -nologo >/dev/null
(cd bench/bullmq-baseline && npm install --no-audit --no-fund --silent >/dev/null)
echo "redis-server $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p'), N=$N T=$T C=$C RATE=$RATE, rounds $ROUNDS, load average $(cut -d' ' -f1-3 /proc/loadavg)"

lines=()
for retention in $RETENTIONS; do
  for _ in $(seq "$ROUNDS"); do
    # A clean server each time, so neither side pays for the other's leftovers.
    redis-cli -p "$port" FLUSHALL >/dev/null
    line="$(RETENTION="$retention" dotnet bench/QueueBench/bin/Release/net10.0/QueueBench.dll | tail -1)"; echo "ours   $line"; lines+=("ours $line")
    redis-cli -p "$port" FLUSHALL >/dev/null
    line="$(RETENTION="$retention" node bench/bullmq-baseline/bench.mjs | tail -1)"; echo "bullmq $line"; lines+=("bullmq $line")
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "${lines[@]}" <<'PY'
import json, statistics, sys
rows = [(a.split(' ', 1)[0], json.loads(a.split(' ', 1)[1])) for a in sys.argv[1:]]
med = lambda xs: statistics.median(xs)
for retention in dict.fromkeys(r['retention'] for _, r in rows):
    ours = [r for s, r in rows if s == 'ours' and r['retention'] == retention]
    theirs = [r for s, r in rows if s == 'bullmq' and r['retention'] == retention]
    print(f"retention {retention}:")
    for field in ('enqueue_jps', 'drain_jps'):
        o = med(x[field] for x in ours); t = med(x[field] for x in theirs)
        print(f"  {field}: ours {o:.0f}/s, bullmq {t:.0f}/s, ratio {o / t:.2f}x")
    print(f"  ours: latency p99 {med(x['lat_p99_ms'] for x in ours):.2f} ms at {ours[0]['lat_rate_jps']} jobs/s offered, "
          f"quiet tenant p99 {med(x['fair_p99_ms'] for x in ours):.2f} ms beside {ours[0]['fair_flood_jobs']} waiting; per job in the drain: "
          f"worker CPU {med(x['worker_cpu_us_per_job'] for x in ours):.1f} us, Valkey CPU {med(x['valkey_cpu_us_per_job'] for x in ours):.1f} us "
          f"(scripts {med(x['valkey_script_us_per_job'] for x in ours):.1f} us), {med(x['valkey_script_calls_per_1000_jobs'] for x in ours):.1f} script calls per 1000 jobs")
PY
