#!/usr/bin/env python3
"""What an idle Workers process costs the shared Valkey, and its memory, as the number of tenants grows.

For each tenant count in TENANTS (default "3 1000"): a fresh private redis-server, then the Workers process (built
Release, run as in production: `dotnet Workers.dll`) configured with that many tenants through TENANT_CONFIG_FILE and no
job at all. After WARMUP seconds (default 25: start-up and the first heartbeats, the first of which reads every
configured tenant once) it samples the server's INFO over WINDOW seconds (default 30) and prints one JSON line:
commands per second (INFO stats total_commands_processed: commands inside scripts count too; the two INFO calls of
the measurement are taken out), script calls per second, the busiest commands, Valkey keys and memory, and the worker's
RSS (VmRSS now, VmHWM peak). WORKERS_DLL picks another build (e.g. an older commit's) to compare in the same run.
    python3 bench/idle-cost/measure.py            # after: dotnet build Workers -c Release
"""
import json, os, socket, subprocess, sys, tempfile, time, urllib.request, shutil

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
dll = os.environ.get("WORKERS_DLL", os.path.join(root, "Workers/bin/Release/net10.0/Workers.dll"))
counts = [int(t) for t in os.environ.get("TENANTS", "3 1000").split()]
warmup = float(os.environ.get("WARMUP", "25"))
window = float(os.environ.get("WINDOW", "30"))
if not os.path.exists(dll):
    sys.exit(f"{dll} is missing: run `dotnet build Workers -c Release` first (or set WORKERS_DLL).")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def info(port):
    out = subprocess.run(["redis-cli", "-p", str(port), "INFO", "all"], capture_output=True, text=True, check=True).stdout
    values = {}
    for line in out.splitlines():
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            values[k] = v.strip()
    return values


def cmdstats(values):
    stats = {}
    for k, v in values.items():
        if k.startswith("cmdstat_"):
            fields = dict(f.split("=") for f in v.split(","))
            stats[k[len("cmdstat_"):]] = int(fields["calls"])
    return stats


def status(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return round(int(line.split()[1]) / 1024, 1)
    return None


def measure(tenants):
    port, http = free_port(), free_port()
    data = tempfile.mkdtemp(prefix="idle-cost-")
    redis = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", data],
                             stdout=subprocess.DEVNULL)
    worker = None
    try:
        for _ in range(100):
            if subprocess.run(["redis-cli", "-p", str(port), "PING"], capture_output=True, text=True).stdout.strip() == "PONG":
                break
            time.sleep(0.1)
        configs = {f"tenant-{i:04d}": {
            # No database is reached while idle; the URLs only have to be valid.
            "databaseUrl": f"postgresql://tenant_{i:04d}:secret@127.0.0.1:1/tenant_{i:04d}",
            "signingKey": f"idle-bench-signing-key-{i:04d}-0123456789abcdef",
            "baseUrl": f"http://tenant-{i:04d}.example",
        } for i in range(tenants)}
        # A file, not TENANT_CONFIGS: Linux caps one environment string at 128 KiB, about 500 tenants of this size.
        config_file = os.path.join(data, "tenants.json")
        with open(config_file, "w") as f:
            json.dump(configs, f)
        env = dict(os.environ, MULTI_TENANT_MODE="true", TENANT_CONFIG_FILE=config_file, ConnectionStrings__valkey=f"127.0.0.1:{port}",
                   ASPNETCORE_URLS=f"http://127.0.0.1:{http}", DOTNET_ENVIRONMENT="Production", ASPNETCORE_ENVIRONMENT="Production",
                   Logging__LogLevel__Default="Warning")
        env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
        log = open(os.path.join(data, "worker.log"), "w+")
        worker = subprocess.Popen(["dotnet", dll], env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
        deadline = time.time() + 60
        while True:
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{http}/alive", timeout=1).status == 200:
                    break
            except OSError:
                pass
            if worker.poll() is not None or time.time() > deadline:
                log.seek(0)
                sys.exit(f"the Workers process did not come up ({'exited' if worker.poll() is not None else 'timeout'}):\n{log.read()[-4000:]}")
            time.sleep(0.2)
        time.sleep(warmup)
        before = info(port)
        t0 = time.time()
        time.sleep(window)
        after = info(port)
        seconds = time.time() - t0
        log.seek(0)
        warnings = [line.rstrip() for line in log if "warn" in line.lower() or "fail" in line.lower()]
        commands = int(after["total_commands_processed"]) - int(before["total_commands_processed"]) - 1
        b, a = cmdstats(before), cmdstats(after)
        delta = {k: a[k] - b.get(k, 0) - (1 if k == "info" else 0) for k in a}
        busiest = dict(sorted(((k, round(v / seconds, 2)) for k, v in delta.items() if v > 0), key=lambda kv: -kv[1])[:8])
        keys = sum(int(v.split(",")[0].split("=")[1]) for k, v in after.items() if k.startswith("db") and k[2:].isdigit())
        return {
            "tenants": tenants,
            "window_s": round(seconds, 1),
            "commands_per_s": round(commands / seconds, 1),
            "script_calls_per_s": round((delta.get("evalsha", 0) + delta.get("eval", 0)) / seconds, 2),
            "busiest_per_s": busiest,
            "valkey_keys": keys,
            "valkey_used_memory_mb": round(int(after["used_memory"]) / 1048576, 2),
            "valkey_clients": int(after["connected_clients"]) - 1,
            "worker_rss_mb": status(worker.pid, "VmRSS"),
            "worker_peak_rss_mb": status(worker.pid, "VmHWM"),
            "workers_dll": os.path.relpath(dll, root),
            "worker_warnings": len(warnings),
            "first_warning": warnings[0][:300] if warnings else None,
        }
    finally:
        if worker is not None:
            worker.terminate()
            try:
                worker.wait(20)
            except subprocess.TimeoutExpired:
                worker.kill()
        redis.terminate()
        redis.wait(10)
        shutil.rmtree(data, ignore_errors=True)


for n in counts:
    print(json.dumps(measure(n)), flush=True)
