#!/usr/bin/env bash
# HTTP benchmarks: waiter's `hello` example against hyper (tokio
# current_thread), may_minihttp (one worker), Node.js `http` and nginx (one
# worker), all in the same run, with wrk. Prints Markdown tables of medians
# and waiter/peer ratios.
#
#   bench/http.sh              # 4 workloads x 5 servers x 3 runs + idle test, ~13 min
#   QUICK=1 bench/http.sh      # smoke run, ~2 min: 1 run, 3 s, 3 workloads
#   FULL=1 bench/http.sh       # adds /sleep at 5,000 connections, ~17 min
#   python3 bench/http/run.py --report target/bench-http/raw-*.txt
#                              # print the tables again from raw figures
#
# Environment:
#   RUNS=3        runs per server and workload (medians are reported)
#   DURATION=10   seconds per measured wrk run (each after a WARMUP=1 s run)
#   QUICK=1       RUNS=1 DURATION=3, workloads ka64 pipe64 sleep1k
#   FULL=1        also sleep5k (/sleep at 5,000 connections)
#   WORKLOADS=".." subset of: ka64 ka256 pipe64 sleep1k sleep5k
#   SERVERS=".."  peers to include (waiter always is): hyper may node nginx,
#                 and floor (bench/http/floor-hello: not a server, the least
#                 any server can do per request; only when named here)
#   IDLE_CONNS=10000  idle keep-alive connections (0 skips the idle test)
#   IDLE_RUNS=1   idle-test runs per server
#   WAIT_QUIET=0  seconds to wait for the 1-minute load average to drop
#                 below 1.0 before measuring (0: only warn)
#   NO_INSTALL=1  do not apt-get install wrk/nginx even if missing
#   MAX_OTHER=25  a measurement during which other processes used more than
#                 this % of a CPU is redone (RETRIES=2 times at most, within
#                 RETRY_BUDGET=240 s in all); the quietest attempt is kept
#
# Servers run pinned to CPU 0 (taskset -c 0), wrk and the idle client to
# CPU 1, every one started fresh for each measurement. Only 127.0.0.1 is
# targeted; every wrk run and server is bounded in time, and every process
# started is killed on exit. The peers are standalone cargo projects in
# bench/http/*/ (not workspace members), built here in release.
# Raw figures and wrk output are kept in $OUT (default target/bench-http).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
TARGET=${CARGO_TARGET_DIR:-target}
export OUT=${OUT:-$TARGET/bench-http}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
export PIDFILE="$OUT/pids.$$"
: >"$PIDFILE"

cleanup() {
    local pid
    if [ -f "$PIDFILE" ]; then
        while read -r pid; do
            # Only our own children (the runner kills them itself; this is the
            # backstop for an interrupted run). Each server leads its session.
            if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
                kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
            fi
        done <"$PIDFILE"
        rm -f "$PIDFILE"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- tools ------------------------------------------------------------------
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
command -v taskset >/dev/null || missing+=(util-linux)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "${NO_INSTALL:-0}" = 1 ]; then
        echo "missing: ${missing[*]} (NO_INSTALL=1)" >&2
        exit 1
    fi
    echo "installing ${missing[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
fi
export PATH=$PATH:/usr/sbin
command -v node >/dev/null || { echo "node is required" >&2; exit 1; }
if [ "$(nproc)" -lt 2 ]; then
    echo "needs 2 CPUs (server on CPU 0, wrk on CPU 1)" >&2
    exit 1
fi

# --- build ------------------------------------------------------------------
echo "building waiter hello, hyper-hello, may-hello, floor-hello (release)" >&2
export WAITER_BIN=$ROOT/$TARGET/release/examples/hello
case $TARGET in /*) WAITER_BIN=$TARGET/release/examples/hello ;; esac
if ! cargo build --release -q -p waiter-cli --example hello; then
    # The workspace may be mid-edit by someone else; an existing binary is
    # still worth measuring, but say so loudly.
    [ -x "$WAITER_BIN" ] || exit 1
    echo "WARNING: building waiter failed; measuring the existing $WAITER_BIN" \
        "built $(date -r "$WAITER_BIN" '+%F %T')" >&2
fi
for peer in hyper-hello may-hello floor-hello; do
    cargo build --release -q --manifest-path "bench/http/$peer/Cargo.toml" \
        --target-dir "bench/http/$peer/target"
done
export HYPER_BIN=$ROOT/bench/http/hyper-hello/target/release/hyper-hello
export MAY_BIN=$ROOT/bench/http/may-hello/target/release/may-hello
export FLOOR_BIN=$ROOT/bench/http/floor-hello/target/release/floor-hello

# --- limits -----------------------------------------------------------------
ulimit -n "$(ulimit -Hn)"
echo "open files: $(ulimit -n)" >&2

# --- quiet machine ----------------------------------------------------------
load1() { cut -d' ' -f1 /proc/loadavg; }
quiet() { awk -v l="$(load1)" 'BEGIN { exit !(l < 1.0) }'; }
waited=0
while ! quiet && [ "$waited" -lt "${WAIT_QUIET:-0}" ]; do
    [ $((waited % 60)) = 0 ] && echo "waiting for load average < 1.0 (now $(load1))" >&2
    sleep 5
    waited=$((waited + 5))
done
if ! quiet; then
    echo "warning: load average is $(cut -d' ' -f1-3 /proc/loadavg); figures may be noisy" >&2
fi

python3 bench/http/run.py
