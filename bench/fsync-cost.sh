#!/usr/bin/env bash
# The throughput cost of appendfsync always against everysec: QueueBench against two private redis-servers with AOF
# on (one per policy, same machine), ROUNDS rounds alternately. Prints each run's JSON line tagged with its policy.
#   ROUNDS=3 N=20000 bench/fsync-cost.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$dir"; }
trap cleanup EXIT
dotnet build -c Release bench/QueueBench -v q -nologo >/dev/null
start() { # policy port
  mkdir -p "$dir/$1"
  redis-server --port "$2" --bind 127.0.0.1 --dir "$dir/$1" --save '' --appendonly yes --appendfsync "$1" --protected-mode no >"$dir/$1.log" 2>&1 &
  pids+=($!)
  until redis-cli -p "$2" ping >/dev/null 2>&1; do sleep 0.1; done
}
start everysec 6391
start always 6392
for round in $(seq "$ROUNDS"); do
  for policy in everysec always; do
    port=$([ "$policy" = everysec ] && echo 6391 || echo 6392)
    redis-cli -p "$port" flushall >/dev/null
    line=$(VALKEY_URL="redis://127.0.0.1:$port" dotnet bench/QueueBench/bin/Release/net10.0/QueueBench.dll)
    echo "{\"round\":$round,\"appendfsync\":\"$policy\",${line#\{}"
  done
done
