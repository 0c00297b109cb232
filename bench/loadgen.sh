#!/usr/bin/env bash
# `waiter bench` against wrk: the same server, the same connections, the
# same duration, alternating runs, and the medians side by side. The goal is
# req/s within 10% of wrk's at 64 connections (one load thread each).
#
#   bench/loadgen.sh            # 2 workloads x 3 runs x 2 tools x 10 s, ~2.5 min
#   RUNS=5 DURATION=5 bench/loadgen.sh
#
# Workloads, against waiter's `hello` example:
#   plain  GET /       64 connections: the load generator is the bottleneck
#                      (one core each side), so this compares the tools' own
#                      per-request cost
#   sleep  GET /sleep  64 connections: each response waits 50 ms, so both
#                      tools must report ~1,280 req/s (Little's law)
#
# The server runs pinned to CPU 0 (taskset -c 0), each load tool to CPU 1,
# one thread, no pipelining. Only 127.0.0.1 is targeted; every run is
# bounded in time and the server is killed on exit. Installs wrk with apt
# if it is missing (NO_INSTALL=1 to refuse).
set -euo pipefail

cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
DURATION=${DURATION:-10}
CONNS=${CONNS:-64}
PORT=${PORT:-18380}
TARGET=${CARGO_TARGET_DIR:-target}
OUT=${OUT:-$TARGET/bench-loadgen}
mkdir -p "$OUT"

if ! command -v wrk >/dev/null; then
    if [ -n "${NO_INSTALL:-}" ]; then
        echo "wrk is not installed (apt-get install wrk)" >&2
        exit 1
    fi
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk >/dev/null
fi

cargo build --release -q -p waiter-cli --bin waiter --example hello
WAITER=$TARGET/release/waiter
HELLO=$TARGET/release/examples/hello

SERVER=""
cleanup() {
    if [ -n "$SERVER" ] && kill -0 "$SERVER" 2>/dev/null; then
        kill "$SERVER" 2>/dev/null || true
        wait "$SERVER" 2>/dev/null || true
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

taskset -c 0 "$HELLO" --port "$PORT" >/dev/null 2>&1 &
SERVER=$!
for _ in $(seq 50); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
    sleep 0.1
done

echo "waiter bench vs wrk: $CONNS connections, ${DURATION}s per run, $RUNS runs each, alternating; server on CPU 0, load on CPU 1"
RESULTS="$OUT/results.txt"
: >"$RESULTS"
for wl in plain sleep; do
    path=/
    [ "$wl" = sleep ] && path=/sleep
    url="http://127.0.0.1:$PORT$path"
    # One short warm-up run of each tool, not counted.
    taskset -c 1 wrk -t1 -c"$CONNS" -d1s "$url" >/dev/null
    taskset -c 1 "$WAITER" bench "$url" -c "$CONNS" -d 1s >/dev/null 2>&1
    for run in $(seq "$RUNS"); do
        taskset -c 1 wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency "$url" >"$OUT/wrk-$wl-$run.txt"
        taskset -c 1 "$WAITER" bench "$url" -c "$CONNS" -d "${DURATION}s" \
            --json "$OUT/waiter-$wl-$run.json" >/dev/null 2>&1
        python3 - "$wl" "$OUT/wrk-$wl-$run.txt" "$OUT/waiter-$wl-$run.json" >>"$RESULTS" <<'PY'
import json, re, sys
wl, wrk_file, waiter_file = sys.argv[1:]
text = open(wrk_file).read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
def ms(label):
    m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)\s*$" % label, text, re.M)
    if not m:
        return float("nan")
    v, unit = float(m.group(1)), m.group(2)
    return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v
d = json.load(open(waiter_file))
lat = d["latency"]
print(wl, "wrk", rps, ms("50"), ms("99"))
print(wl, "waiter", d["throughput"], lat["p50_us"] / 1000, lat["p99_us"] / 1000)
PY
        tail -2 "$RESULTS" | sed 's/^/  /'
    done
done

python3 - "$RESULTS" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    wl, tool, rps, p50, p99 = line.split()
    rows.setdefault((wl, tool), []).append((float(rps), float(p50), float(p99)))
print()
print("| workload | tool | req/s (median) | p50 ms | p99 ms | waiter/wrk req/s |")
print("|---|---|---:|---:|---:|---:|")
verdict = []
for wl in ("plain", "sleep"):
    med = {}
    for tool in ("wrk", "waiter"):
        runs = rows.get((wl, tool), [])
        if not runs:
            continue
        med[tool] = [statistics.median(r[i] for r in runs) for i in range(3)]
    for tool in ("wrk", "waiter"):
        if tool not in med:
            continue
        rps, p50, p99 = med[tool]
        ratio = med["waiter"][0] / med["wrk"][0] if tool == "waiter" and "wrk" in med else None
        print(f"| {wl} | {tool} | {rps:,.0f} | {p50:.2f} | {p99:.2f} | {'' if ratio is None else f'{ratio:.3f}'} |")
    if "wrk" in med and "waiter" in med:
        r = med["waiter"][0] / med["wrk"][0]
        verdict.append(f"{wl}: waiter bench = {r:.2f}x wrk ({'within' if abs(r - 1) <= 0.10 else 'NOT within'} 10%)")
print()
print("\n".join(verdict))
PY
