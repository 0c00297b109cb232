#!/usr/bin/env bash
# Two builds of the `hello` example, alternately, under the same wrk load:
# req/s and server CPU microseconds per request of each run. For telling a
# real change from this machine's run-to-run spread.
#
#   bench/http/ab.sh REV_A REV_B [RUNS] [SECS] [pipelined|keepalive]
#
# REV_A and REV_B are git revisions (HEAD for this checkout as committed);
# each is built in a temporary worktree. Server pinned to CPU 0, wrk -t1
# -c64 to CPU 1, 127.0.0.1 only; every run is bounded by SECS.
set -euo pipefail
cd "$(dirname "$0")/../.."
A=$1; B=$2; RUNS=${3:-3}; SECS=${4:-3}; MODE=${5:-pipelined}
PORT=${PORT:-18391}
# Worktrees build in a target directory of their own, so this checkout's
# binaries are never replaced by theirs.
TARGET=${CARGO_TARGET_DIR:-$PWD/target}/worktrees
DIRS=()
cleanup() { for d in "${DIRS[@]}"; do git worktree remove --force "$d" >/dev/null 2>&1 || true; done; }
trap cleanup EXIT
# Builds revision $1 in a worktree; leaves the binary's path in BIN.
build() {
    local d; d=$(mktemp -d /tmp/waiter-ab.XXXXXX); DIRS+=("$d")
    git worktree add -q --detach "$d" "$1"
    (cd "$d" && CARGO_TARGET_DIR=$TARGET cargo build --release -q -p waiter-cli --example hello)
    cp "$TARGET/release/examples/hello" "$d/hello-bin"
    BIN=$d/hello-bin
}
build "$A"; BIN_A=$BIN
build "$B"; BIN_B=$BIN
ARGS=(-t1 -c64 "-d${SECS}s")
[ "$MODE" = pipelined ] && ARGS+=(-s bench/http/pipeline.lua)
for i in $(seq "$RUNS"); do
    for pair in "A $BIN_A" "B $BIN_B"; do
        set -- $pair
        taskset -c 0 "$2" --port "$PORT" >/dev/null 2>&1 & P=$!
        sleep 0.3
        c0=$(awk '{print $14+$15}' "/proc/$P/stat")
        if [ "$MODE" = pipelined ]; then
            out=$(taskset -c 1 wrk "${ARGS[@]}" "http://127.0.0.1:$PORT/" -- 16)
        else
            out=$(taskset -c 1 wrk "${ARGS[@]}" "http://127.0.0.1:$PORT/")
        fi
        c1=$(awk '{print $14+$15}' "/proc/$P/stat")
        kill "$P"; wait "$P" 2>/dev/null || true
        reqs=$(echo "$out" | awk '/requests in/{print $1}')
        rps=$(echo "$out" | awk '/Requests\/sec/{print $2}')
        tck=$(getconf CLK_TCK)
        echo "$1 run $i: $rps req/s, $(python3 -c "print(round(($c1-$c0)*1e6/$tck/$reqs, 3))") us CPU/req"
    done
done
