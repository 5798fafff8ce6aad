#!/usr/bin/env bash
# The job queue over a local Valkey Cluster: 3 masters and 3 replicas (redis-server, cluster mode, append-only file),
# created with redis-cli --cluster create, then bench/ClusterBench twice on a fresh cluster each time: undisturbed, and
# with one master killed (SIGKILL) a third of the way through the drain. Prints the two JSON lines.
# Environment: SHARDS (3), N (20000), T (12), C (16), FLOOD (100000), BASE_PORT (7101; a node's bus port is +10000),
# FSYNC (the nodes' appendfsync: everysec).
# Also: ONE_NODE=1 adds a run against a single node with SHARDS=1 (the ceiling of one master on this machine);
# NO_WAIT=1 adds an undisturbed run on a fresh cluster with WAIT=0 (writes not waiting for a replica: what waiting costs).
set -euo pipefail
cd "$(dirname "$0")/.."

base=${BASE_PORT:-7101}
fsync=${FSYNC:-everysec}
dir=$(mktemp -d /tmp/cluster-bench-XXXXXX)
trap 'pkill -f "redis-server 127.0.0.1:$base" 2>/dev/null; for p in $(seq "$base" $((base + 5))); do pkill -9 -f "redis-server 127.0.0.1:$p" 2>/dev/null || true; done; rm -rf "$dir"' EXIT

dotnet build bench/ClusterBench -c Release -v quiet >/dev/null

start_cluster() {
  for p in $(seq "$base" $((base + 5))); do pkill -9 -f "redis-server 127.0.0.1:$p" 2>/dev/null || true; done
  sleep 0.5
  rm -rf "${dir:?}"/*
  for p in $(seq "$base" $((base + 5))); do
    mkdir -p "$dir/$p"
    (cd "$dir/$p" && redis-server --port "$p" --bind 127.0.0.1 --cluster-enabled yes --cluster-config-file nodes.conf \
      --cluster-node-timeout 2000 --appendonly yes --appendfsync "$fsync" --save "" --daemonize yes --logfile log)
  done
  sleep 1
  redis-cli --cluster create $(for p in $(seq "$base" $((base + 5))); do printf "127.0.0.1:%s " "$p"; done) --cluster-replicas 1 --cluster-yes >/dev/null
  until redis-cli -p "$base" cluster info | grep -q 'cluster_state:ok'; do sleep 0.5; done
  # Replicas in sync before the first write waits for them.
  for p in $(seq $((base + 3)) $((base + 5))); do
    until redis-cli -p "$p" info replication | grep -q 'master_link_status:up'; do sleep 0.2; done
  done
}

run() { dotnet bench/ClusterBench/bin/Release/net10.0/ClusterBench.dll; }

start_cluster
VALKEY_URL="redis://127.0.0.1:$base" run
start_cluster
KILL=1 VALKEY_URL="redis://127.0.0.1:$base" run

if [ "${NO_WAIT:-0}" = 1 ]; then
  start_cluster
  WAIT=0 VALKEY_URL="redis://127.0.0.1:$base" run
fi

if [ "${ONE_NODE:-0}" = 1 ]; then
  for p in $(seq "$base" $((base + 5))); do pkill -9 -f "redis-server 127.0.0.1:$p" 2>/dev/null || true; done
  mkdir -p "$dir/single"
  (cd "$dir/single" && redis-server --port "$base" --bind 127.0.0.1 --appendonly yes --appendfsync "$fsync" --save "" --daemonize yes --logfile log)
  sleep 0.5
  SHARDS=1 VALKEY_URL="redis://127.0.0.1:$base" run
fi
