#!/usr/bin/env python3
"""Runs the HTTP benchmarks for bench/http.sh (which installs and builds first).

For every run, workload and server: start the server fresh pinned to CPU 0,
check both routes answer, warm up with wrk, then measure one wrk run pinned
to CPU 1 while reading the server's /proc figures before and after. Then the
idle-connection test. Prints Markdown tables of medians and ratios.

Environment: see bench/http.sh. Every child it starts is killed on exit, and
their pids are also appended to $PIDFILE so the calling shell's trap can.
"""

import http.client
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CLK_TCK = os.sysconf("SC_CLK_TCK")
JSON_BODY = b'{"id":42,"name":"waiter","items":[1,2,3],"ok":true}'


def env_int(name, default):
    v = os.environ.get(name, "")
    return int(v) if v.strip() else default


QUICK = env_int("QUICK", 0) == 1
FULL = env_int("FULL", 0) == 1
RUNS = env_int("RUNS", 1 if QUICK else 3)
DURATION = env_int("DURATION", 3 if QUICK else 10)
WARMUP = env_int("WARMUP", 1)
IDLE_CONNS = env_int("IDLE_CONNS", 10_000)
IDLE_RUNS = env_int("IDLE_RUNS", 1)
# A measurement during which other processes used more than MAX_OTHER % of a
# CPU is repeated (after waiting for a quiet second) up to RETRIES times, as
# long as RETRY_BUDGET seconds of retrying remain; the quietest one is kept.
MAX_OTHER = env_int("MAX_OTHER", 25)
RETRIES = env_int("RETRIES", 2)
RETRY_BUDGET = [env_int("RETRY_BUDGET", 240)]
OUT = os.environ.get("OUT", os.path.join(ROOT, "target", "bench-http"))
PIDFILE = os.environ.get("PIDFILE", os.path.join(OUT, "pids"))
EX = os.environ.get("WAITER_BIN", "")
HYPER = os.environ.get("HYPER_BIN", "")
MAY = os.environ.get("MAY_BIN", "")
FLOOR = os.environ.get("FLOOR_BIN", "")
ONLY = [s for s in os.environ.get("SERVERS", "").replace(",", " ").split() if s]
ONLY_WL = [s for s in os.environ.get("WORKLOADS", "").replace(",", " ").split() if s]

SERVERS = ["waiter", "hyper", "may", "node", "nginx"]
if ONLY:
    # "floor" (bench/http/floor-hello) is not a peer but the ceiling the
    # kernel and wrk leave: measured only when asked for.
    SERVERS = [s for s in SERVERS + ["floor"] if s in ONLY or s == "waiter"]
PEERS = [s for s in SERVERS if s != "waiter"]


class Workload:
    def __init__(self, name, desc, conns, path="/", pipeline=0, timeout="10s"):
        self.name, self.desc, self.conns = name, desc, conns
        self.path, self.pipeline, self.timeout = path, pipeline, timeout


ALL_WORKLOADS = [
    Workload("ka64", "plaintext keep-alive, 64 conns", 64),
    Workload("ka256", "plaintext keep-alive, 256 conns", 256),
    Workload("pipe64", "plaintext pipelined x16, 64 conns", 64, pipeline=16),
    Workload("sleep1k", "/sleep (50 ms timer), 1,000 conns", 1000, path="/sleep"),
    Workload("sleep5k", "/sleep (50 ms timer), 5,000 conns", 5000, path="/sleep"),
]
if ONLY_WL:
    WORKLOADS = [w for w in ALL_WORKLOADS if w.name in ONLY_WL]
elif QUICK:
    WORKLOADS = [w for w in ALL_WORKLOADS if w.name in ("ka64", "pipe64", "sleep1k")]
elif FULL:
    WORKLOADS = ALL_WORKLOADS
else:
    WORKLOADS = [w for w in ALL_WORKLOADS if w.name != "sleep5k"]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- /proc


def proc_ticks(pid):
    """(utime, stime) of the whole process (all threads), in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]), int(fields[12])  # fields 14 and 15 of stat(5)


def proc_status_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def system_busy_ticks():
    """Busy ticks over all CPUs (everything but idle and iowait)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v[:8]) - v[3] - v[4]


def children_of(pid):
    kids = []
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                kids += [int(x) for x in f.read().split()]
        except OSError:
            pass
    return kids


# ---------------------------------------------------------------- servers

PORT = [18100]


def free_port():
    while True:
        PORT[0] += 1
        if PORT[0] > 18999:
            PORT[0] = 18101
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", PORT[0]))
                return PORT[0]
            except OSError:
                continue


NGINX_CONF = """\
worker_processes 1;
daemon off;
master_process on;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
worker_rlimit_nofile {nofile};
events {{
    worker_connections 16384;
}}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    keepalive_timeout 65s;
    keepalive_requests 1000000000;
    server {{
        listen 127.0.0.1:{port} backlog=1024;
        location = / {{
            default_type text/plain;
            charset utf-8;
            return 200 'Hello, World!';
        }}
    }}
}}
"""


class Server:
    """One server process, pinned to CPU 0. `pid` is the one measured."""

    def __init__(self, name):
        self.name = name
        self.port = free_port()
        self.tmp = tempfile.mkdtemp(prefix=f"http-bench-{name}-", dir=OUT)
        if name == "waiter":
            argv = [EX, "--port", str(self.port)]
        elif name == "hyper":
            argv = [HYPER, "--port", str(self.port)]
        elif name == "may":
            argv = [MAY, "--port", str(self.port)]
        elif name == "floor":
            argv = [FLOOR, "--port", str(self.port)]
        elif name == "node":
            argv = ["node", os.path.join(HERE, "node-hello.js"), "--port", str(self.port)]
        elif name == "nginx":
            conf = os.path.join(self.tmp, "nginx.conf")
            nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
            with open(conf, "w") as f:
                f.write(NGINX_CONF.format(tmp=self.tmp, port=self.port, nofile=nofile))
            argv = ["nginx", "-p", self.tmp, "-e", os.path.join(self.tmp, "error.log"), "-c", conf]
        else:
            raise ValueError(name)
        self.out = open(os.path.join(self.tmp, "server.log"), "w")
        self.proc = subprocess.Popen(
            ["taskset", "-c", "0"] + argv,
            stdout=self.out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
        track(self.proc.pid)
        self.pid = self.proc.pid

    def ready(self):
        self.wait_ready()
        if self.name == "nginx":  # measure the (single) worker, not the master
            deadline = time.monotonic() + 5
            while not children_of(self.proc.pid):
                if time.monotonic() > deadline:
                    raise RuntimeError("nginx: no worker process")
                time.sleep(0.05)
            self.pid = children_of(self.proc.pid)[0]
        self.check()

    def wait_ready(self):
        deadline = time.monotonic() + 15
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log_tail()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.name} not listening: {self.log_tail()}")
                time.sleep(0.05)

    def get(self, path):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        c.request("GET", path)
        r = c.getresponse()
        body = r.read()
        c.close()
        return r.status, body

    def check(self):
        got = self.get("/")
        if got != (200, b"Hello, World!"):
            raise RuntimeError(f"{self.name}: GET / answered {got!r}")
        if self.name != "nginx":
            got = self.get("/sleep")
            if got != (200, JSON_BODY):
                raise RuntimeError(f"{self.name}: GET /sleep answered {got!r}")

    def log_tail(self):
        self.out.flush()
        with open(os.path.join(self.tmp, "server.log")) as f:
            return f.read()[-500:]

    def stop(self):
        pids = [self.proc.pid] + [p for p in [self.pid] if p != self.proc.pid]
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for p in pids:
                try:
                    os.kill(p, sig)
                except ProcessLookupError:
                    pass
            try:
                self.proc.wait(timeout=3)
                break
            except subprocess.TimeoutExpired:
                continue
        untrack(self.proc.pid)
        self.out.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


LIVE = []
TRACKED = set()


def _write_pids():
    with open(PIDFILE, "w") as f:
        f.write("".join(f"{p}\n" for p in sorted(TRACKED)))


def track(pid):
    """Lists a live child in $PIDFILE, for the shell's EXIT trap."""
    TRACKED.add(pid)
    _write_pids()


def untrack(pid):
    TRACKED.discard(pid)
    _write_pids()



def start(name):
    s = Server(name)
    LIVE.append(s)
    s.ready()
    return s


def stop(s):
    s.stop()
    LIVE.remove(s)


# ---------------------------------------------------------------- wrk

UNIT_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def to_ms(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    return float(m.group(1)) * UNIT_MS[m.group(2)]


def wrk_argv(wl, port, secs):
    argv = ["taskset", "-c", "1", "wrk", "-t1", f"-c{wl.conns}", f"-d{secs}s",
            "--latency", "--timeout", wl.timeout]
    if wl.pipeline:
        argv += ["-s", os.path.join(HERE, "pipeline.lua")]
    argv.append(f"http://127.0.0.1:{port}{wl.path}")
    if wl.pipeline:
        argv += ["--", str(wl.pipeline)]
    return argv


def run_wrk(wl, port, secs):
    p = subprocess.run(wrk_argv(wl, port, secs), capture_output=True, text=True,
                       timeout=secs + 60)
    if p.returncode != 0:
        raise RuntimeError(f"wrk failed: {p.stderr}{p.stdout}")
    return p.stdout


def parse_wrk(out):
    r = {}
    m = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", out)
    r["requests"] = int(m.group(1))
    r["wrk_secs"] = to_ms(m.group(2) + m.group(3)) / 1e3
    r["rps"] = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    for pct, key in (("50", "p50_ms"), ("99", "p99_ms")):
        m = re.search(rf"^\s+{pct}(?:\.000)?%\s+(\S+)", out, re.M)
        r[key] = to_ms(m.group(1)) if m else None
    errs = 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        errs += sum(int(x) for x in m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        errs += int(m.group(1))
    r["errors"] = errs
    return r


def measure(name, wl):
    s = start(name)
    try:
        if WARMUP > 0:
            run_wrk(wl, s.port, WARMUP)
            time.sleep(0.3)
        t0 = time.monotonic()
        c0 = proc_ticks(s.pid)
        b0 = system_busy_ticks()
        w0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        out = run_wrk(wl, s.port, DURATION)
        w1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        b1 = system_busy_ticks()
        c1 = proc_ticks(s.pid)
        wall = time.monotonic() - t0
        hwm = proc_status_kib(s.pid, "VmHWM")
        alive = s.proc.poll() is None
    finally:
        stop(s)
    if not alive:
        raise RuntimeError(f"{name} died during {wl.name}")
    r = parse_wrk(out)
    if wl.pipeline:
        # wrk records one latency per batch and then "corrects" the
        # histogram with an interval computed per response, which breaks its
        # percentiles under pipelining (often 0.00us: wg/wrk#236).
        r["p50_ms"] = r["p99_ms"] = None
    server_user = (c1[0] - c0[0]) / CLK_TCK
    server_cpu = server_user + (c1[1] - c0[1]) / CLK_TCK
    wrk_cpu = (w1.ru_utime - w0.ru_utime) + (w1.ru_stime - w0.ru_stime)
    busy = (b1 - b0) / CLK_TCK
    r["cpu_us_req"] = server_cpu * 1e6 / r["requests"] if r["requests"] else None
    # The user-space share: the server's own code, where the kernel's share
    # (sockets, loopback delivery) is much the same for every server.
    r["user_us_req"] = server_user * 1e6 / r["requests"] if r["requests"] else None
    r["hwm_mib"] = hwm / 1024
    r["server_cpu_pct"] = 100 * server_cpu / wall
    r["wrk_cpu_pct"] = 100 * wrk_cpu / wall
    # CPU used by neither the server nor wrk (other work, softirq outside
    # their context): noise indicator.
    r["other_cpu_pct"] = max(0.0, 100 * (busy - server_cpu - wrk_cpu) / wall)
    with open(os.path.join(OUT, "wrk.log"), "a") as f:
        f.write(f"== {name} {wl.name}\n{out}\n")
    return r


def wait_quiet(max_secs):
    """Waits (at most max_secs) for a second in which the machine, with
    nothing of ours running, is busy less than 15 % of a CPU."""
    end = time.monotonic() + max_secs
    while time.monotonic() < end:
        b0, t0 = system_busy_ticks(), time.monotonic()
        time.sleep(1.0)
        if (system_busy_ticks() - b0) / CLK_TCK / (time.monotonic() - t0) < 0.15:
            return True
    return False


def measure_quiet(name, wl):
    """measure(), repeated while other processes disturbed it."""
    r = measure(name, wl)
    tries = 0
    while r["other_cpu_pct"] > MAX_OTHER and tries < RETRIES and RETRY_BUDGET[0] > 0:
        tries += 1
        log(f"    noisy ({r['other_cpu_pct']:.0f} % of a CPU used by others); "
            f"retry {tries}/{RETRIES}")
        t0 = time.monotonic()
        wait_quiet(min(30, RETRY_BUDGET[0]))
        again = measure(name, wl)
        RETRY_BUDGET[0] -= time.monotonic() - t0
        if again["other_cpu_pct"] < r["other_cpu_pct"]:
            r = again
    return r


# ---------------------------------------------------------------- idle


def idle(name):
    s = start(name)
    try:
        time.sleep(0.3)
        before = proc_status_kib(s.pid, "VmRSS")
        client = subprocess.Popen(
            ["taskset", "-c", "1", sys.executable, os.path.join(HERE, "idle_client.py"),
             "--port", str(s.port), "--conns", str(IDLE_CONNS), "--hold", "120"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        track(client.pid)
        try:
            ready = client.stdout.readline().split()
            if not ready or ready[0] != "ready":
                raise RuntimeError(f"idle client failed against {name}")
            # waiter parks the connections that kept their task when they
            # went idle (up to ServerConfig::park_above of them) at its next
            # timeout sweep, once they have been idle for a second: give
            # every server that.
            time.sleep(2.5)
            after = proc_status_kib(s.pid, "VmRSS")
            client.stdin.close()
            alive = int(client.stdout.readline().split()[1])
            client.wait(timeout=30)
        finally:
            if client.poll() is None:
                client.kill()
                client.wait()
            untrack(client.pid)
    finally:
        stop(s)
    return {
        "rss_before_mib": before / 1024,
        "rss_after_mib": after / 1024,
        "bytes_per_conn": (after - before) * 1024 / IDLE_CONNS,
        "alive": alive,
        "connect_secs": float(ready[2].rstrip("s")),
    }


# ---------------------------------------------------------------- report


def fmt(v):
    if v is None:
        return "n/a"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 100:
        return f"{v:.1f}"
    if abs(v) >= 10:
        return f"{v:.2f}"
    return f"{v:.3f}"


def ratio(a, b):
    return f"{a / b:.2f}" if a is not None and b else ""


def median(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


FIGURES = [
    ("rps", "req/s", "higher"),
    ("p50_ms", "p50 latency ms", "lower"),
    ("p99_ms", "p99 latency ms", "lower"),
    ("cpu_us_req", "server CPU µs/req", "lower"),
    ("user_us_req", "of which user space, µs/req", "lower"),
    ("hwm_mib", "peak RSS MiB", "lower"),
    ("server_cpu_pct", "server CPU use %", "-"),
    ("wrk_cpu_pct", "wrk CPU use %", "-"),
]


def pick(rs):
    """The runs a median is taken over: the quiet ones if any (others used
    at most MAX_OTHER % of a CPU), else all; and whether they were quiet."""
    quiet = [r for r in rs if r["other_cpu_pct"] <= MAX_OTHER]
    return (quiet, True) if quiet else (rs, False)


def report(results, idles):
    print(f"\n## HTTP: waiter vs peers\n")
    print(f"Medians of {RUNS} run(s), {DURATION} s each after a {WARMUP} s warm-up; "
          f"wrk -t1 on CPU 1, server on CPU 0. Ratio = waiter / peer: for 'higher' "
          f"rows above 1 favours waiter, for 'lower' rows below 1 does. nginx has no "
          f"/sleep equivalent (n/a); wrk's latency percentiles are wrong with "
          f"pipelining (wg/wrk#236), so pipelined latency is n/a. When server CPU use is well below 100 %, wrk "
          f"(one thread) was the limit: compare CPU µs/req, not req/s.\n")
    head = ["workload", "figure", "better"] + SERVERS + [f"waiter/{p}" for p in PEERS]
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join(["---"] * 3 + ["---:"] * (len(head) - 3)) + "|")
    noisy_cells = False
    for wl in WORKLOADS:
        if not any((wl.name, s) in results for s in SERVERS):
            continue
        used = {s: pick(results.get((wl.name, s), [])) for s in SERVERS}
        for key, label, better in FIGURES:
            med = {s: median([r.get(key) for r in used[s][0]]) for s in SERVERS}
            cells = [wl.desc, label, better]
            for s in SERVERS:
                mark = "" if used[s][1] or med[s] is None else "*"
                noisy_cells |= bool(mark)
                cells.append(fmt(med[s]) + mark)
            cells += ["" if better == "-" else ratio(med["waiter"], med[p]) for p in PEERS]
            print("| " + " | ".join(cells) + " |")
    runs = [len(pick(rs)[0]) for rs in results.values()]
    if runs and min(runs) < RUNS:
        print(f"\nEach median is over the quiet runs only (other processes used at "
              f"most {MAX_OTHER} % of a CPU): {min(runs)} to {max(runs)} of {RUNS} "
              "per cell." + (" * = no quiet run: median of all runs, noisy."
                             if noisy_cells else ""))

    if idles:
        print(f"\n## Idle keep-alive connections: {IDLE_CONNS:,} held open\n")
        print("RSS = VmRSS of the server process (nginx: its worker) before the "
              "client connects and with every connection open after one request "
              f"each; per connection = difference / {IDLE_CONNS:,}. Medians of "
              f"{IDLE_RUNS} run(s). Ratio = waiter / peer (below 1 favours waiter).\n")
        print("| server | RSS before MiB | RSS with conns MiB | bytes/conn | waiter/server | still open | connect+request s |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        wb = median([r["bytes_per_conn"] for r in idles.get("waiter", [])])
        for s in SERVERS:
            rs = idles.get(s)
            if not rs:
                continue
            m = {k: median([r[k] for r in rs]) for k in rs[0]}
            print(f"| {s} | {fmt(m['rss_before_mib'])} | {fmt(m['rss_after_mib'])} | "
                  f"{m['bytes_per_conn']:,.0f} | {ratio(wb, m['bytes_per_conn'])} | "
                  f"{min(r['alive'] for r in rs):,} | {fmt(m['connect_secs'])} |")

    notes = []
    for (wl, s), rs in results.items():
        for i, r in enumerate(rs):
            if r["errors"]:
                notes.append(f"- {s} {wl} run {i + 1}: {r['errors']} wrk errors "
                             "(socket errors + non-2xx)")
            if r["other_cpu_pct"] > MAX_OTHER:
                fate = "left out of the medians" if pick(rs)[1] else "noisy, kept"
                notes.append(f"- {s} {wl} run {i + 1}: {r['other_cpu_pct']:.0f} % of a CPU "
                             f"used by other processes during the run ({fate})")
    for s, rs in idles.items():
        for r in rs:
            if r["alive"] != IDLE_CONNS:
                notes.append(f"- idle {s}: only {r['alive']} of {IDLE_CONNS} connections "
                             "still open at the end")
    if notes:
        print("\nNotes:\n" + "\n".join(notes))


def report_raw(paths):
    """Prints the tables again from raw files (`run.py --report RAW...`)."""
    import ast
    global RUNS, WORKLOADS
    WORKLOADS = ALL_WORKLOADS
    results, idles, runs = {}, {}, set()
    for path in paths:
        for line in open(path, encoding="utf-8"):
            if not line.startswith("@ "):
                continue
            a, b, c, d = line[2:].rstrip("\n").split("|", 3)
            if a == "idle":
                idles.setdefault(c, []).append(ast.literal_eval(d))
            else:
                runs.add((path, a))
                results.setdefault((b, c), []).append(ast.literal_eval(d))
    RUNS = max((len(v) for v in results.values()), default=0)
    report(results, idles)


def main():
    if sys.argv[1:2] == ["--report"]:
        return report_raw(sys.argv[2:])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    os.makedirs(OUT, exist_ok=True)
    raw = os.path.join(OUT, f"raw-{time.strftime('%Y%m%d-%H%M%S')}.txt")
    results, idles = {}, {}
    total = RUNS * sum(len([s for s in SERVERS if not (s == "nginx" and w.path != "/")])
                       for w in WORKLOADS)
    n = 0
    try:
        for run in range(RUNS):
            for wl in WORKLOADS:
                # Rotate the order each run so drift does not favour anyone.
                order = SERVERS[run % len(SERVERS):] + SERVERS[:run % len(SERVERS)]
                for name in order:
                    if name == "nginx" and wl.path != "/":
                        continue
                    n += 1
                    log(f"[{n}/{total}] run {run + 1}/{RUNS} {wl.name} {name}")
                    r = measure_quiet(name, wl)
                    log(f"    {r['rps']:,.0f} req/s  p50 {fmt(r['p50_ms'])} ms  "
                        f"p99 {fmt(r['p99_ms'])} ms  {fmt(r['cpu_us_req'])} µs/req  "
                        f"HWM {r['hwm_mib']:.1f} MiB  cpu {r['server_cpu_pct']:.0f}%  "
                        f"wrk {r['wrk_cpu_pct']:.0f}%  other {r['other_cpu_pct']:.0f}%  "
                        f"err {r['errors']}")
                    results.setdefault((wl.name, name), []).append(r)
                    with open(raw, "a") as f:
                        f.write(f"@ {run + 1}|{wl.name}|{name}|{r}\n")
        if IDLE_CONNS > 0:
            for run in range(IDLE_RUNS):
                for name in SERVERS:
                    log(f"idle {run + 1}/{IDLE_RUNS} {name}: {IDLE_CONNS} connections")
                    r = idle(name)
                    log(f"    {r['rss_before_mib']:.1f} -> {r['rss_after_mib']:.1f} MiB, "
                        f"{r['bytes_per_conn']:,.0f} B/conn, alive {r['alive']}")
                    idles.setdefault(name, []).append(r)
                    with open(raw, "a") as f:
                        f.write(f"@ idle|{run + 1}|{name}|{r}\n")
    finally:
        for s in list(LIVE):
            stop(s)
    log(f"raw figures: {raw}; wrk output: {OUT}/wrk.log")
    report(results, idles)


if __name__ == "__main__":
    main()
