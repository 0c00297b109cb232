#!/usr/bin/env bash
# User-space instructions per request of the `hello` example, counted by
# valgrind's callgrind (repeatable whatever else the machine is doing):
# the server runs under callgrind, serves a warm-up of 1,600 and then
# REQUESTS requests pipelined DEPTH deep on one connection
# (bench/http/pipeline_client.py), and the total count divided by all
# requests is printed (start-up included, about 0.5 % of the total at the
# default count).
#
#   bench/http/instructions.sh                 # this checkout
#   REV=<commit> bench/http/instructions.sh    # another commit, built in a worktree
#   DEPTH=1 REQUESTS=10000 bench/http/instructions.sh   # one request at a time
#   SERVER_BIN=bench/http/may-hello/target/release/may-hello bench/http/instructions.sh
#                                              # a peer built by bench/http.sh (any
#                                              # server taking --port), counted the same way
#   BROWSER=1 bench/http/instructions.sh       # requests with the 15 fields a browser
#                                              # sends for a page, not Host alone
#   SIM=1 bench/http/instructions.sh           # also simulate the caches and branch
#                                              # predictor: instruction-cache misses and
#                                              # mispredicted branches per request
#                                              # (valgrind's simple models: user space
#                                              # only, so the kernel's evictions are not
#                                              # in them; a layout change moves them)
#
# Installs valgrind with apt if missing. Only 127.0.0.1 is used.
set -euo pipefail
cd "$(dirname "$0")/../.."
REQUESTS=${REQUESTS:-32000}
DEPTH=${DEPTH:-16}
PORT=${PORT:-18390}
command -v valgrind >/dev/null || { if [ "$(id -u)" = 0 ]; then S=""; else S=sudo; fi; $S apt-get install -y -qq valgrind >/dev/null; }
SRC=$PWD
if [ -n "${REV:-}" ]; then
    SRC=$(mktemp -d /tmp/waiter-rev.XXXXXX)
    trap 'git worktree remove --force "$SRC" >/dev/null 2>&1 || true' EXIT
    git worktree add -q --detach "$SRC" "$REV"
fi
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
# Another revision builds in a target directory of its own: sharing one
# lets cargo leave the other checkout's binary in place of this one's.
[ -n "${REV:-}" ] && TARGET=$TARGET/worktrees
if [ -n "${SERVER_BIN:-}" ]; then
    BIN=$SERVER_BIN
else
    (cd "$SRC" && CARGO_TARGET_DIR=$TARGET cargo build --release -q -p waiter-cli --example hello)
    BIN=$TARGET/release/examples/hello
fi
OUT=$(mktemp -d /tmp/waiter-cg.XXXXXX)
SIM_OPTS=()
[ -n "${SIM:-}" ] && SIM_OPTS=(--cache-sim=yes --branch-sim=yes)
valgrind --tool=callgrind "${SIM_OPTS[@]}" --callgrind-out-file="$OUT/cg.out" \
    "$BIN" --port "$PORT" >"$OUT/log" 2>&1 &
VG=$!
for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
    sleep 0.2
done
CLIENT_OPTS=()
[ -n "${BROWSER:-}" ] && CLIENT_OPTS=(--browser)
python3 bench/http/pipeline_client.py --port "$PORT" --depth "$DEPTH" --requests 1600 "${CLIENT_OPTS[@]}" >/dev/null
python3 bench/http/pipeline_client.py --port "$PORT" --depth "$DEPTH" --requests "$REQUESTS" "${CLIENT_OPTS[@]}" >/dev/null
kill -INT "$VG"; sleep 2; kill "$VG" 2>/dev/null || true; wait "$VG" 2>/dev/null || true
TOTAL=$(grep -o 'Collected : [0-9]*' "$OUT/log" | awk '{print $3}')
N=$((REQUESTS + 1600))
echo "instructions: $TOTAL for $N requests: $((TOTAL / N)) per request"
if [ -n "${SIM:-}" ]; then
    per() { grep -o "$1 *[0-9,]*" "$OUT/log" | head -1 | tr -d , | awk -v n="$N" '{printf "%.2f", $NF / n}'; }
    echo "per request: $(per 'I1  misses:') instruction-cache (I1) misses, $(per 'Mispredicts:') mispredicted branches"
fi
echo "callgrind output: $OUT/cg.out (callgrind_annotate $OUT/cg.out)"
