#!/usr/bin/env python3
"""otpgate serve under load (issue 16, part 5), beside its floors, in one run.

32 keep-alive HTTP clients on loopback (wrk, Debian's `wrk` package) send checks to
`otpgate serve`, spread over USERS users; the service's figures are printed next to the
floors of ../shared/bench-floors measured in the same run (floor_sqlite with 16 writers;
pgbench with 32 clients when OTPGATE_TEST_POSTGRES_URL is set), interleaved, REPEATS times,
with min and median and the load average.

Every request is a whole decision with its commit: each user's code is accepted once during
the setup, and the load then checks that same code again, which the gate refuses as
replayed after reading, unsealing and verifying the record, and commits with its audit row
like an acceptance (one user can pass only one fresh code per 30 s step, so a load of
accepted codes would need hundreds of thousands of users). The outcome counts from
/metrics are printed to show that.

Approvals (issue 17), on SQLite: BATCHES x 32 concurrent approval round trips per round,
each as a pipeline and a browser make it: create (POST /v1/approvals), a waiter
long-polling GET /v1/approvals/{id}?wait=20, the approval page loaded for its CSRF token
(GET /approve/TOKEN) and the code posted through its form (POST /approve/TOKEN/code,
application/x-www-form-urlencoded), timed from the create to the waiter's answer
("granted"). Each approval is a user of its own with a fresh code, so every one grants.
CASES=approvals runs them with the native client of benches/approvals.rs; with
CASES=approvals-python, from Python threads here, whose own CPU time (as much as the
service's per approval) is then in the figures.
Page loads: wrk (32 clients) on GET of a live approval page and a live enrollment page.
Each round prints p50/p99 and the load average; the table has min and median over the
rounds.

With FILLER=N the checks case runs on a second SQLite database holding N enrolled users
(written through the library first: `cargo bench --bench users -- prefill`), interleaved
with the first, its USERS active users taken from all over the N, and prints the cost per
check of the one against the other (issue 16: flat from 1,000 to 1,000,000 users).

usage: python3 otpgate/benches/service_load.py   (from the repository root; builds
release binaries of otpgate and the floors). CASES=checks,approvals,pages picks cases
(approvals-python too);
REPEATS rounds (3), BATCHES batches of 32 approvals per round (4), CONNECTIONS for the
approval and page cases (4), PG_CONNECTIONS the service's --connections in the
PostgreSQL checks case (32). With ACCESS_LOG=1 the checks case keeps the service's access
log and prints its latencies too (from the request's arrival in the router to the answer:
what wrk's figures add beyond them is time in sockets and run queues).
"""
import base64, hashlib, hmac, http.client, json, os, re, shutil, statistics, struct
import subprocess, sys, tempfile, threading, time, urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FLOORS = os.path.join(ROOT, "..", "shared", "bench-floors")
USERS = int(os.environ.get("USERS", "1000"))
REPEATS = int(os.environ.get("REPEATS", "3"))
SECONDS = int(os.environ.get("SECONDS", "10"))
CLIENTS = 32
CASES = os.environ.get("CASES", "checks,approvals,pages").split(",")
BATCHES = int(os.environ.get("BATCHES", "4"))
# The service's --connections in the approval and page cases.
CONNECTIONS = int(os.environ.get("CONNECTIONS", "4"))
# The service's --connections in the PostgreSQL checks case.
PG_CONNECTIONS = int(os.environ.get("PG_CONNECTIONS", "32"))
FILLER = int(os.environ.get("FILLER", "0"))
ACCESS_LOG = os.environ.get("ACCESS_LOG") == "1"


def run(*args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw).stdout


def totp(secret, step):
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    mac = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = mac[-1] & 15
    return "%06d" % ((struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF) % 10**6)


class Service:
    def __init__(self, binary, db_args, connections, workdir):
        self.binary, self.db_args = binary, db_args
        out = run(binary, *db_args, "--json", "token", "create", "bench%d" % time.time_ns(),
                  "--scope", "admin")
        self.token = json.loads(out)["token"]
        self.log_path = os.path.join(workdir, "serve.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [binary, *db_args, "serve", "--listen", "127.0.0.1:0", "--token-rate", "1000000",
             "--connections", str(connections)],
            stdout=subprocess.PIPE, stderr=self.log if ACCESS_LOG else subprocess.DEVNULL,
            text=True)
        line = self.proc.stdout.readline()
        self.port = int(re.search(r":(\d+)$", line.strip()).group(1))
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port)

    def call(self, method, path, body=None):
        headers = {"Authorization": "Bearer " + self.token}
        if body is not None:
            headers["Content-Type"] = "application/json"
            body = json.dumps(body)
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            # The service closes a keep-alive connection idle for 10 s (its header timeout).
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port)
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
        data = response.read()
        return response.status, (json.loads(data) if data[:1] == b"{" else data.decode())

    def setup(self, prefix, names=None):
        """USERS users (`names`, or PREFIX0 on) with their code accepted once; returns
        [(user, code)]. Users enrolled before and still pending are enrolled again."""
        # Start right after a step boundary, so the codes stay in the window for the run.
        wait = 30 - time.time() % 30
        if wait < 30 - 2:
            time.sleep(wait + 0.2)
        pairs = []
        for user in names or ["%s%d" % (prefix, i) for i in range(USERS)]:
            status, answer = self.call("POST", "/v1/users/%s/enroll" % user, {})
            assert status == 200, answer
            secret = answer["secret"]
            step = int(time.time()) // 30
            status, answer = self.call("POST", "/v1/users/%s/confirm" % user,
                                       {"code": totp(secret, step - 1)})
            assert answer["result"] == "accepted", answer
            code = totp(secret, step)
            status, answer = self.call("POST", "/v1/users/%s/check" % user, {"code": code})
            assert answer["result"] == "accepted", answer
            pairs.append((user, code))
        return pairs

    def metrics(self):
        return self.call("GET", "/metrics")[1]

    def stop(self):
        self.proc.terminate()
        self.proc.wait()
        self.log.close()

    def check_latencies(self, offset):
        """p50, p90, p99 and p99.9 in ms of the checks in the access log from `offset` on,
        and their count."""
        with open(self.log_path) as f:
            f.seek(offset)
            ms = [float(m) for m in re.findall(
                r"POST /v1/users/\S+/check 200 ([\d.]+)ms", f.read())]
        if not ms:
            sys.exit("no checks in the service's access log %s" % self.log_path)
        return [percentile(ms, pct) for pct in (50, 90, 99, 99.9)], len(ms)


def wrk(service, pairs, workdir):
    script = os.path.join(workdir, "check.lua")
    with open(script, "w") as f:
        f.write("local pairs = {\n")
        for user, code in pairs:
            f.write('  {"/v1/users/%s/check", \'{"code":"%s"}\'},\n' % (user, code))
        f.write("}\n")
        f.write("local i = 0\n")
        f.write("init = function(args) math.randomseed(os.time() + math.random(1000)); "
                "i = math.random(#pairs) end\n")
        f.write("request = function()\n  i = i %% #pairs + 1\n  local p = pairs[i]\n"
                "  return wrk.format('POST', p[1], {['Content-Type'] = 'application/json', "
                "['Authorization'] = 'Bearer %s'}, p[2])\nend\n" % service.token)
    out = run("wrk", "-t2", "-c%d" % CLIENTS, "-d%ds" % SECONDS, "--latency", "-s", script,
              "http://127.0.0.1:%d" % service.port)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    lat = {}
    for pct, value, unit in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M):
        lat[pct] = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    return rps, lat["50"], lat["99"], int(non2xx.group(1)) if non2xx else 0


def floor_sqlite(workdir, binary):
    out = run(binary, os.path.join(workdir, "floor.db"), "16", "300", "row")
    return float(re.search(r"aggregate_ops_s=([\d.]+)", out).group(1))


def pgbench(url, workdir):
    pgbench = sorted(p for p in os.popen("ls /usr/lib/postgresql/*/bin/pgbench").read().split())
    sql = os.path.join(workdir, "insert.sql")
    with open(sql, "w") as f:
        f.write("INSERT INTO floor VALUES (:client_id, 1);\n")
    run("psql", url, "-qc", "DROP TABLE IF EXISTS floor; CREATE TABLE floor (id int, v int)")
    out = run(pgbench[-1], "-n", "-M", "prepared", "-f", sql, "-c", "32", "-j", "2", "-T",
              str(SECONDS), url)
    return float(re.search(r"tps = ([\d.]+)", out).group(1))


def percentile(values, pct):
    """The nearest-rank percentile of `values` (`pct` to a tenth: 99.9 too)."""
    ordered = sorted(values)
    return ordered[max(0, -(-len(ordered) * round(pct * 10) // 1000) - 1)]


def approval_round_trip(service, check_token, user, secret, barrier, times):
    """One approval, as a pipeline and a browser make it: appended to `times`, in ms from
    the start, when the approval was created, the page loaded, the code's answer came and
    the waiter was released (the round trip)."""
    pipeline = http.client.HTTPConnection("127.0.0.1", service.port)
    auth = {"Authorization": "Bearer " + check_token}
    barrier.wait()
    started = time.perf_counter()
    pipeline.request("POST", "/v1/approvals",
                     body=json.dumps({"user": user, "action": "deploy " + user}),
                     headers=dict(auth, **{"Content-Type": "application/json"}))
    response = pipeline.getresponse()
    created = json.loads(response.read())
    assert response.status == 200, created
    created_at = time.perf_counter()
    waited = {}

    def waiter():
        conn = http.client.HTTPConnection("127.0.0.1", service.port)
        conn.request("GET", "/v1/approvals/%s?wait=20" % created["id"], headers=auth)
        answer = conn.getresponse()
        waited["answer"] = json.loads(answer.read())
        waited["at"] = time.perf_counter()
        conn.close()

    thread = threading.Thread(target=waiter)
    thread.start()
    path = urllib.parse.urlsplit(created["link"]).path
    browser = http.client.HTTPConnection("127.0.0.1", service.port)
    browser.request("GET", path)
    page = browser.getresponse().read().decode()
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    loaded_at = time.perf_counter()
    code = totp(secret, int(time.time()) // 30)
    browser.request("POST", path + "/code",
                    body=urllib.parse.urlencode({"csrf": csrf, "code": code}),
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    decided = browser.getresponse()
    text = decided.read().decode()
    assert decided.status == 200 and "Approved" in text, (decided.status, text[:300])
    submitted_at = time.perf_counter()
    thread.join()
    assert waited["answer"]["result"] == "granted", waited["answer"]
    times.append(tuple((at - started) * 1000.0
                       for at in (created_at, loaded_at, submitted_at, waited["at"])))
    pipeline.close()
    browser.close()


def approvals_round(service, workdir, prefix):
    """BATCHES x CLIENTS concurrent approval round trips; their times in ms."""
    check_token = json.loads(run(service.binary, *service.db_args, "--json", "token", "create",
                                 "pipeline%d" % time.time_ns(), "--scope", "check"))["token"]
    users = []
    for i in range(BATCHES * CLIENTS):
        user = "%s%d" % (prefix, i)
        status, answer = service.call("POST", "/v1/users/%s/enroll" % user, {})
        assert status == 200, answer
        secret = answer["secret"]
        # Confirmed with the previous step's code: the current step's is fresh for the
        # approval, and so is the next one's if the step turns meanwhile.
        status, answer = service.call("POST", "/v1/users/%s/confirm" % user,
                                      {"code": totp(secret, int(time.time()) // 30 - 1)})
        assert answer["result"] == "accepted", answer
        users.append((user, secret))
    times = []
    for batch in range(BATCHES):
        group = users[batch * CLIENTS:(batch + 1) * CLIENTS]
        barrier = threading.Barrier(len(group))
        threads = [threading.Thread(target=approval_round_trip,
                                    args=(service, check_token, user, secret, barrier, times))
                   for user, secret in group]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(times) == BATCHES * CLIENTS, "an approval failed (see above)"
    return times


def page_load(service, path):
    """wrk with CLIENTS clients on GET `path`: requests/s, p50 and p99 in ms, non-2xx."""
    out = run("wrk", "-t2", "-c%d" % CLIENTS, "-d%ds" % SECONDS, "--latency",
              "http://127.0.0.1:%d%s" % (service.port, path))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    lat = {}
    for pct, value, unit in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M):
        lat[pct] = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    return rps, lat["50"], lat["99"], int(non2xx.group(1)) if non2xx else 0


def pages_round(service, prefix):
    """Page loads of a live approval page and a live enrollment page."""
    status, answer = service.call("POST", "/v1/users/%spage/enroll" % prefix, {})
    secret = answer["secret"]
    service.call("POST", "/v1/users/%spage/confirm" % prefix,
                 {"code": totp(secret, int(time.time()) // 30 - 1)})
    status, approval = service.call("POST", "/v1/approvals",
                                    {"user": "%spage" % prefix, "action": "deploy",
                                     "valid_secs": 3600})
    assert status == 200, approval
    status, invite = service.call("POST", "/v1/invites", {"user": "%sinvited" % prefix})
    assert status == 200, invite
    return {
        "approval page": page_load(service, urllib.parse.urlsplit(approval["link"]).path),
        "enrollment page": page_load(service, urllib.parse.urlsplit(invite["link"]).path),
    }


def approvals_and_pages(binary, workdir):
    """The approval and page cases on SQLite, REPEATS rounds."""
    rounds, pages = [], {}
    for rep in range(REPEATS):
        service = Service(binary, ["--db", os.path.join(workdir, "approvals%d.db" % rep)],
                          CONNECTIONS, workdir)
        try:
            if "approvals-python" in CASES:
                phases = approvals_round(service, workdir, "a%d_" % rep)
                times = [p[3] for p in phases]
                load = os.getloadavg()[0]
                p50, p99 = percentile(times, 50), percentile(times, 99)
                rounds.append((p50, p99, max(times), load))
                print("approvals round %d: %d round trips, p50 %.1f ms, p99 %.1f ms, max %.1f "
                      "ms; medians since the start: created %.1f, page loaded %.1f, code "
                      "answered %.1f, waiter released %.1f ms; load %.2f"
                      % ((rep + 1, len(times), p50, p99, max(times))
                         + tuple(statistics.median(p[i] for p in phases) for i in range(4))
                         + (load,)), flush=True)
            if "pages" in CASES:
                for name, (rps, p50, p99, non2xx) in pages_round(service, "p%d_" % rep).items():
                    load = os.getloadavg()[0]
                    pages.setdefault(name, []).append((rps, p50, p99, load))
                    print("%s round %d: %.0f loads/s, p50 %.2f ms, p99 %.2f ms, non-2xx %d; "
                          "load %.2f" % (name, rep + 1, rps, p50, p99, non2xx, load), flush=True)
        finally:
            service.stop()
    print()
    if rounds:
        print("| case | round trips | p50 ms min / median | p99 ms min / median / max "
              "| load avg |")
        print("|---|---|---|---|---|")
        p50 = [r[0] for r in rounds]; p99 = [r[1] for r in rounds]; load = [r[3] for r in rounds]
        print("| approval round trip, %d concurrent | %d x %d | %.1f / %.1f | %.1f / %.1f / %.1f "
              "| %.1f-%.1f |" % (CLIENTS, len(rounds), BATCHES * CLIENTS, min(p50),
                                 statistics.median(p50), min(p99), statistics.median(p99),
                                 max(p99), min(load), max(load)))
        print()
    if pages:
        print("| page | loads/s min / median | p50 ms min / median | p99 ms min / median "
              "| load avg |")
        print("|---|---|---|---|---|")
        for name, rows in pages.items():
            rps = [r[0] for r in rows]; p50 = [r[1] for r in rows]; p99 = [r[2] for r in rows]
            load = [r[3] for r in rows]
            print("| %s | %.0f / %.0f | %.2f / %.2f | %.2f / %.2f | %.1f-%.1f |"
                  % (name, min(rps), statistics.median(rps), min(p50), statistics.median(p50),
                     min(p99), statistics.median(p99), min(load), max(load)))


def outcomes(metrics):
    return dict(re.findall(r'endpoint="check",outcome="([^"]+)"\} (\d+)', metrics))


def main():
    workdir = tempfile.mkdtemp(prefix="otpgate-load-")
    filled = os.path.join(workdir, "filled.db")
    if FILLER and "checks" in CASES:
        # Before the service's build: the bench's build replaces target/release/otpgate
        # with one without the service.
        subprocess.run(["cargo", "bench", "-p", "otpgate", "--bench", "users", "--", "prefill",
                        filled, str(FILLER)], cwd=ROOT, check=True)
    if "approvals" in CASES:
        # Before the service's build too, for the same reason.
        subprocess.run(["cargo", "bench", "-p", "otpgate", "--features", "serve", "--bench",
                        "approvals"], cwd=ROOT, check=True,
                       env=dict(os.environ, REPEATS=str(REPEATS), BATCHES=str(BATCHES),
                                CONNECTIONS=str(CONNECTIONS)))
    subprocess.run(["cargo", "build", "--release", "-p", "otpgate", "--features",
                    "serve,postgres"], cwd=ROOT, check=True)
    binary = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")),
                          "release", "otpgate")
    if "approvals-python" in CASES or "pages" in CASES:
        approvals_and_pages(binary, workdir)
    if "checks" not in CASES:
        shutil.rmtree(workdir)
        return
    floor_bin = os.path.join(workdir, "floor_sqlite")
    run("cc", "-O2", "-o", floor_bin, os.path.join(FLOORS, "floor_sqlite.c"), "-lsqlite3")
    backends = [("sqlite", ["--db", os.path.join(workdir, "gate.db")], 4)]
    if FILLER:
        assert FILLER >= USERS, "FILLER must hold the USERS active users"
        backends.append(("sqlite, %d users" % FILLER, ["--db", filled], 4))
    url = os.environ.get("OTPGATE_TEST_POSTGRES_URL")
    if url:
        schema = "load%d" % os.getpid()
        run("psql", url, "-qc", "CREATE SCHEMA %s" % schema)
        sep = "&" if "?" in url else "?"
        backends.append(("postgres", ["--db", "%s%soptions=-c%%20search_path%%3D%s"
                                      % (url, sep, schema),
                                      "--key-file", os.path.join(workdir, "pg.key")],
                         PG_CONNECTIONS))
    results = {}
    for rep in range(REPEATS):
        for name, db_args, connections in backends:
            service = Service(binary, db_args, connections, workdir)
            try:
                names = None
                if name.startswith("sqlite, "):
                    # Users of the filler (pending, so enrolled again), spread over all of
                    # it as active users would be, new ones each round.
                    names = ["user%07d" % (i * (FILLER // USERS) + rep + 1)
                             for i in range(USERS)]
                pairs = service.setup("r%d_" % rep, names)
                before = outcomes(service.metrics())
                logged = os.path.getsize(service.log_path)
                rps, p50, p99, non2xx = wrk(service, pairs, workdir)
                after = outcomes(service.metrics())
            finally:
                service.stop()
            if ACCESS_LOG:
                (l50, l90, l99, l999), n = service.check_latencies(logged)
                print("%s run %d, access log: p50 %.1f, p90 %.1f, p99 %.1f, p99.9 %.1f ms over %d"
                      " checks" % (name, rep + 1, l50, l90, l99, l999, n), flush=True)
            counted = {k: int(v) - int(before.get(k, 0)) for k, v in after.items()
                       if int(v) - int(before.get(k, 0))}
            floor = (floor_sqlite(workdir, floor_bin) if name.startswith("sqlite")
                     else pgbench(url, workdir))
            load = os.getloadavg()[0]
            results.setdefault(name, []).append((rps, p50, p99, floor, load))
            print("%s run %d: %.0f checks/s, p50 %.2f ms, p99 %.2f ms, non-2xx %d, outcomes %s;"
                  " floor %s/s; load %.2f" % (name, rep + 1, rps, p50, p99, non2xx, counted,
                                             floor, load), flush=True)
    print()
    print("| store | checks/s min / median | p50 ms median | p99 ms min / median / max "
          "| floor/s min / median | ratio (median/median) | load avg |")
    print("|---|---|---|---|---|---|---|")
    for name, rows in results.items():
        rps = [r[0] for r in rows]; p50 = [r[1] for r in rows]; p99 = [r[2] for r in rows]
        floor = [r[3] for r in rows]; load = [r[4] for r in rows]
        print("| %s | %.0f / %.0f | %.2f | %.2f / %.2f / %.2f | %.0f / %.0f | %.2fx | %.1f-%.1f |"
              % (name, min(rps), statistics.median(rps), statistics.median(p50), min(p99),
                 statistics.median(p99), max(p99), min(floor), statistics.median(floor),
                 statistics.median(rps) / statistics.median(floor), min(load), max(load)))
    if FILLER:
        # Time per check is 1 / (checks per second): the filled database's against the
        # other's, round by round and by medians.
        small = [r[0] for r in results["sqlite"]]
        large = [r[0] for r in results["sqlite, %d users" % FILLER]]
        print()
        print("cost per check at %d users against %d: x%s by round, x%.2f by medians" % (
            FILLER, USERS, " x".join("%.2f" % (s / l) for s, l in zip(small, large)),
            statistics.median(small) / statistics.median(large)))
    if url:
        run("psql", url, "-qc", "DROP SCHEMA %s CASCADE" % schema)
    shutil.rmtree(workdir)


if __name__ == "__main__":
    main()
