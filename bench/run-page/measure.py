#!/usr/bin/env python3
"""What a run's page and API cost as the run grows: bytes and time of GET /runs/{id}, GET /api/runs/{id} and (where the
build has it) one page of GET /api/runs/{id}/results, for a run of each size in RESULTS (default "5000 80000") over a
project of CASES cases (default 1000; results are spread over them, as retests are).

For each build in WEB_DLLS (default: this checkout's Release build; add an older commit's Web.dll to compare in the same
run): a private PostgreSQL cluster and redis-server, then per size a fresh tenant database, the web app (`dotnet
Web.dll`, as in production), a project with CASES cases and a run with that many results (inserted with SQL: the
figures are about reading a run, not recording it), and REPEAT (default 5) timed requests of each kind signed in as the
administrator; the median is printed, one JSON line per build, size and request.
    python3 bench/run-page/measure.py                 # after: dotnet build Web -c Release
    WEB_DLLS="/tmp/base/Web/bin/Release/net10.0/Web.dll Web/bin/Release/net10.0/Web.dll" python3 bench/run-page/measure.py
"""
import http.cookiejar, json, os, shutil, socket, statistics, subprocess, sys, tempfile, time, urllib.error, urllib.request

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
dlls = os.environ.get("WEB_DLLS", os.path.join(root, "Web/bin/Release/net10.0/Web.dll")).split()
sizes = [int(n) for n in os.environ.get("RESULTS", "5000 80000").split()]
repeat = int(os.environ.get("REPEAT", "5"))
cases = int(os.environ.get("CASES", "1000"))
pg_bin = next((f"/usr/lib/postgresql/{v}/bin" for v in ("17", "16", "15") if os.path.exists(f"/usr/lib/postgresql/{v}/bin/initdb")), None)
for dll in dlls:
    if not os.path.exists(dll):
        sys.exit(f"{dll} is missing: run `dotnet build Web -c Release` first (or set WEB_DLLS).")
if pg_bin is None:
    sys.exit("PostgreSQL is not installed (apt-get install postgresql).")

ADMIN, PASSWORD = "admin@bench.test", "bench-password-1"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def as_postgres(args, **kw):
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    return subprocess.run(prefix + args, check=True, capture_output=True, text=True, **kw)


def psql(port, db, sql):
    return subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d", db, "-v", "ON_ERROR_STOP=1", "-qAtc", sql],
                          check=True, capture_output=True, text=True).stdout.strip()


def wait_healthy(url, process, seconds=120):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if process.poll() is not None:
            sys.exit(f"the web app exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    sys.exit("the web app did not become healthy")


class Client:
    def __init__(self, base):
        self.base, self.headers = base, {}
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def send(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={**self.headers, **({"Content-Type": "application/json"} if data else {})})
        started = time.perf_counter()
        with self.opener.open(request, timeout=300) as r:
            content = r.read()
        return content, time.perf_counter() - started

    def sign_in(self):
        content, _ = self.send("POST", "/api/account/signin", {"email": ADMIN, "password": PASSWORD})
        if content:  # builds with antiforgery answer the token to send on state-changing calls
            answer = json.loads(content)
            self.headers[answer["antiforgeryHeader"]] = answer["antiforgeryToken"]


def measure(dll, pg_port, redis_port, size):
    db = f"bench_{size}_{abs(hash(dll)) % 100000}"
    psql(pg_port, "postgres", f"DROP DATABASE IF EXISTS {db}")
    psql(pg_port, "postgres", f"CREATE DATABASE {db}")
    port = free_port()
    env = {**os.environ, "ASPNETCORE_URLS": f"http://127.0.0.1:{port}", "ConnectionStrings__valkey": f"127.0.0.1:{redis_port}",
           "ConnectionStrings__db": f"Host=127.0.0.1;Port={pg_port};Username=postgres;Database={db}", "INSTANCE_TENANT_ID": "tenant-bench",
           "TENANT_TENANT_BENCH_SIGNING_KEY": "bench-signing-key", "ADMIN_EMAIL": ADMIN, "ADMIN_PASSWORD": PASSWORD,
           "Logging__LogLevel__Default": "Warning", "DOTNET_EnableDiagnostics": "0"}
    env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    web = subprocess.Popen(["dotnet", dll], env=env, cwd=os.path.dirname(dll), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_healthy(base, web)
        client = Client(base)
        client.sign_in()
        project = json.loads(client.send("POST", "/api/projects", {"name": "Bench"})[0])["id"]
        run = json.loads(client.send("POST", f"/api/projects/{project}/runs", {"name": "Nightly"})[0])["id"]
        admin = psql(pg_port, db, "SELECT id FROM users WHERE is_admin LIMIT 1")
        psql(pg_port, db, f"INSERT INTO test_cases (project_id, title, created_at) SELECT {project}, 'Case number ' || n, now() FROM generate_series(1, {cases}) n")
        first = int(psql(pg_port, db, f"SELECT min(id) FROM test_cases WHERE project_id = {project}"))
        psql(pg_port, db, f"""INSERT INTO test_results (run_id, case_id, status, elapsed_ms, comment, executed_by_id, executed_at)
                              SELECT {run}, {first} + n % {cases}, CASE WHEN n % 10 = 0 THEN 'Failed' ELSE 'Passed' END, 1000 + n % 500,
                                     'Comment on result ' || n, {admin}, now() FROM generate_series(1, {size}) n""")
        psql(pg_port, db, "ANALYZE")
        paths = {"page": f"/runs/{run}", "api_run": f"/api/runs/{run}", "api_results_page": f"/api/runs/{run}/results?page=2&pageSize=200"}
        for kind, path in paths.items():
            try:
                client.send("GET", path)  # warm-up
            except urllib.error.HTTPError as e:
                if e.code == 404 and kind == "api_results_page":
                    continue  # builds before paging have no such endpoint
                raise
            runs = [client.send("GET", path) for _ in range(repeat)]
            print(json.dumps({"build": dll, "results": size, "cases": cases, "request": kind, "path": path, "bytes": len(runs[0][0]),
                              "median_ms": round(statistics.median(t for _, t in runs) * 1000, 1)}), flush=True)
    finally:
        web.terminate()
        web.wait(30)


def main():
    state = tempfile.mkdtemp(prefix="run-page-")
    os.chmod(state, 0o777)
    pg_port, redis_port = free_port(), free_port()
    as_postgres([f"{pg_bin}/initdb", "-D", f"{state}/pg", "-U", "postgres", "--auth=trust"])
    postgres = subprocess.Popen((["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []) +
                                [f"{pg_bin}/postgres", "-D", f"{state}/pg", "-p", str(pg_port), "-k", state, "-c", "listen_addresses=127.0.0.1"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    redis = subprocess.Popen(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", state],
                             stdout=subprocess.DEVNULL)
    try:
        for _ in range(60):
            if subprocess.run(["pg_isready", "-h", "127.0.0.1", "-p", str(pg_port)], capture_output=True).returncode == 0:
                break
            time.sleep(0.5)
        for size in sizes:
            for dll in dlls:
                measure(dll, pg_port, redis_port, size)
    finally:
        redis.terminate()
        postgres.terminate()
        redis.wait(30)
        postgres.wait(60)
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()
