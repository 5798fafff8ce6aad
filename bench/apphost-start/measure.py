#!/usr/bin/env python3
"""Times the README's own command, ./eng/run.sh (prerequisites check, development certificate check, `dotnet run
--project AppHost` with its up-to-date check), from launch until every web app and the workers answer /health (which
needs Valkey, PostgreSQL, every tenant database and SMTP healthy first), then reports the idle RSS of the whole tree.

Usage: bench/apphost-start/measure.py TENANTS [cold|warm] [--idle SECONDS]
  cold: a fresh state directory (initdb, new AOF); warm: the state directory of the previous run with this many tenants.
Prints one JSON line: tenants, mode, seconds_to_healthy, idle_rss_mb (AppHost, DCP, dashboard, services, servers: the sum
of their RSS), memory_used_mb (the fall in the machine's MemAvailable: shared pages once), processes, and RSS by kind of
process, and the 1-minute load average when all was healthy; then stops the AppHost with SIGTERM (as Ctrl+C would) and reports how long until all is gone and what is left.
Gives up (exit 1) if the machine gets under 1 GB of available memory before everything is healthy.
Build first (dotnet build AppHost: the Debug build `dotnet run` uses), so the figure is a start, not a compile. Run
with nothing else on ports 5090-5091, 5101.. and 15170.
"""
import json, os, shutil, signal, subprocess, sys, time, urllib.request

def children_of(pids):
    table = {}
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                with open(f'/proc/{entry}/stat') as f:
                    parts = f.read().rsplit(')', 1)[1].split()
                table.setdefault(int(parts[1]), []).append(int(entry))
            except OSError:
                pass
    seen, todo = set(), list(pids)
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        todo.extend(table.get(pid, []))
    return seen

def rss_kb(pid):
    try:
        with open(f'/proc/{pid}/status') as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0

def dcp_pids():
    out = []
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                with open(f'/proc/{entry}/cmdline', 'rb') as f:
                    cmd = f.read().split(b'\0')[0]
                if cmd.endswith(b'/dcp'):
                    out.append(int(entry))
            except OSError:
                pass
    return out

def kind_of(pid):
    """What a process of the tree is, for the memory breakdown: a project (by its dll or `dotnet run --project`), a server, DCP..."""
    try:
        with open(f'/proc/{pid}/cmdline', 'rb') as f:
            args = [a.decode(errors='replace') for a in f.read().split(b'\0') if a]
    except OSError:
        return 'gone'
    if not args:
        return 'other'
    exe = os.path.basename(args[0])
    if exe == 'dotnet':
        if 'run' in args[1:3] and '--project' in args:
            project = args[args.index('--project') + 1]
            return 'dotnet run (host of ' + (os.path.basename(os.path.dirname(project)) or os.path.basename(project)) + ')'
        dll = next((a for a in args[1:] if a.endswith('.dll')), '')
        return os.path.basename(dll)[:-4] if dll else 'dotnet (other)'
    if exe in ('postgres', 'postmaster'):
        return 'postgres'
    return exe

def cmdline(pid):
    try:
        with open(f'/proc/{pid}/cmdline', 'rb') as f:
            return f.read().replace(b'\0', b' ').decode(errors='replace')
    except OSError:
        return ''

def mem_available_mb():
    with open('/proc/meminfo') as f:
        for line in f:
            if line.startswith('MemAvailable:'):
                return int(line.split()[1]) // 1024
    return 0

def healthy(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except Exception:
        return False

def main():
    tenants = int(sys.argv[1]); mode = sys.argv[2] if len(sys.argv) > 2 else 'warm'
    idle = int(sys.argv[sys.argv.index('--idle') + 1]) if '--idle' in sys.argv else 20
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    state = f'/tmp/apphost-start-{tenants}'
    if mode == 'cold' and os.path.exists(state):
        shutil.rmtree(state)
    os.makedirs(state, exist_ok=True); os.chmod(state, 0o755)
    tenants_file = os.path.join(state, 'tenants.json')
    with open(tenants_file, 'w') as f:
        json.dump({'tenants': [{'id': f'tenant-{i:02d}'} for i in range(tenants)]}, f)
    urls = [f'http://localhost:{5101 + i}/health' for i in range(tenants)] + ['http://localhost:5090/health']
    env = dict(os.environ, APPHOST_STATE_DIR=state)
    available_before = mem_available_mb()
    start = time.monotonic()
    launcher = subprocess.Popen([os.path.join(repo, 'eng', 'run.sh'), '--AppHost:Tenants', tenants_file], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=repo, start_new_session=True)
    try:
        pending = set(urls)
        while pending and time.monotonic() - start < 600:
            pending = {u for u in pending if not healthy(u)}
            if mem_available_mb() < 1000:
                # Stop before the kernel's OOM killer picks a victim (it may not be one of ours).
                os.killpg(launcher.pid, signal.SIGKILL)
                for p in children_of(dcp_pids()):
                    try:
                        os.kill(p, signal.SIGKILL)
                    except OSError:
                        pass
                sys.exit(f'aborted: under 1 GB of memory left with {len(pending)} of {len(urls)} services not healthy yet')
            time.sleep(0.25)
        elapsed = time.monotonic() - start
        with open('/proc/loadavg') as f:
            load = float(f.read().split()[0])
        time.sleep(idle)
        pids = children_of([launcher.pid] + dcp_pids())
        rss = sum(rss_kb(p) for p in pids) / 1024
        # RSS counts pages shared between processes (the .NET framework's images, PostgreSQL's shared buffers) once per
        # process; what the machine lost is the fall in MemAvailable.
        used = available_before - mem_available_mb()
        kinds = {}
        for p in pids:
            kind = kind_of(p)
            count, kb = kinds.get(kind, (0, 0))
            kinds[kind] = (count + 1, kb + rss_kb(p))
        stop = time.monotonic()
        # SIGTERM to the AppHost itself (`dotnet run` is only its launcher), as the README says to stop it.
        apphost = next((p for p in children_of([launcher.pid]) if 'AppHost/bin/' in cmdline(p)), None)
        os.kill(apphost if apphost else launcher.pid, signal.SIGTERM)
        launcher.wait(90)
        while time.monotonic() - stop < 90 and any(os.path.exists(f'/proc/{p}') and rss_kb(p) > 0 for p in pids):
            time.sleep(0.5)
        left = [p for p in pids if os.path.exists(f'/proc/{p}') and rss_kb(p) > 0]
        print(json.dumps({'tenants': tenants, 'mode': mode, 'seconds_to_healthy': round(elapsed, 1) if not pending else None, 'load_average_1m': load,
                          'idle_rss_mb': round(rss), 'memory_used_mb': used, 'processes': len(pids), 'seconds_to_stop': round(time.monotonic() - stop, 1),
                          'left_running': len(left),
                          'rss_mb_by_kind': {k: {'processes': c, 'mb': round(kb / 1024)} for k, (c, kb) in sorted(kinds.items(), key=lambda kv: -kv[1][1])}}))
    finally:
        if launcher.poll() is None:
            os.killpg(launcher.pid, signal.SIGKILL)

main()
