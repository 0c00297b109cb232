#!/usr/bin/env bash
# Big bodies in bounded memory: a 1 GiB upload streamed to disk and a
# 1 GiB download from disk (with sendfile, and read on the worker pool),
# each against a fresh `files` example server (crates/cli/examples/files.rs).
# Prints, per transfer, the server's RSS before, its peak RSS (VmHWM) after,
# and the throughput curl saw. Every transferred byte is compared.
#
#   bench/big-body.sh              # 1 GiB each way
#   SIZE_MIB=256 bench/big-body.sh # smaller
#
# Environment:
#   SIZE_MIB=1024  body size in MiB
#   TMP=/tmp       where the files go (needs 2 x SIZE_MIB free; removed on exit)
#   PORT=18610     first port used (three servers: PORT, PORT+1, PORT+2)
#   NO_VERIFY=1    skip the byte-for-byte comparisons
#
# Only 127.0.0.1 is used; every process started is killed on exit.
set -euo pipefail

cd "$(dirname "$0")/.."
SIZE_MIB=${SIZE_MIB:-1024}
PORT=${PORT:-18610}
TMP=${TMP:-/tmp}
TARGET=${CARGO_TARGET_DIR:-target}
BIN=$TARGET/release/examples/files

command -v curl >/dev/null || { echo "curl is required" >&2; exit 1; }
need_kib=$((2 * SIZE_MIB * 1024 + 65536))
free_kib=$(df -Pk "$TMP" | awk 'NR == 2 { print $4 }')
if [ "$free_kib" -lt "$need_kib" ]; then
    echo "need $((need_kib / 1024)) MiB free in $TMP, have $((free_kib / 1024)) MiB" >&2
    exit 1
fi

echo "building the files example (release)" >&2
cargo build --release -q -p waiter-cli --example files

WORK=$(mktemp -d "$TMP/waiter-big-body.XXXXXX")
SERVER_PID=
cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

status_kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

# start PORT [flags...]: a fresh server serving $WORK/files.
start() {
    local port=$1
    shift
    "$BIN" --port "$port" --dir "$WORK/files" "$@" >"$WORK/server.out" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 100); do
        grep -q listening "$WORK/server.out" 2>/dev/null && break
        sleep 0.05
    done
    grep -q listening "$WORK/server.out" || { cat "$WORK/server.out" >&2; exit 1; }
    BEFORE=$(status_kib "$SERVER_PID" VmRSS)
}

stop() {
    PEAK=$(status_kib "$SERVER_PID" VmHWM)
    kill "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
}

echo "generating $SIZE_MIB MiB of random bytes in $WORK" >&2
mkdir -p "$WORK/files"
head -c "$((SIZE_MIB * 1024 * 1024))" /dev/urandom >"$WORK/src.bin"

ROWS=()
row() { # name seconds-and-speed
    local secs=$1 speed=$2
    ROWS+=("| $NAME | $SIZE_MIB | $(awk -v s="$secs" -v b="$speed" -v r="$BEFORE" -v p="$PEAK" \
        'BEGIN { printf "%.2f | %.0f | %.1f | %.1f", s, b / 1048576, r / 1024, p / 1024 }') |")
}

# 1. Upload: the handler streams the body to $WORK/files/up.bin.
NAME="upload, streamed to disk"
start "$PORT"
read -r secs speed < <(curl -sS --fail -o "$WORK/upload.out" -T "$WORK/src.bin" \
    -w '%{time_total} %{speed_upload}\n' "http://127.0.0.1:$PORT/upload/up.bin")
stop
grep -q "\"bytes\":$((SIZE_MIB * 1024 * 1024))" "$WORK/upload.out" \
    || { echo "upload answered: $(cat "$WORK/upload.out")" >&2; exit 1; }
if [ "${NO_VERIFY:-0}" != 1 ]; then
    cmp "$WORK/src.bin" "$WORK/files/up.bin" || { echo "uploaded bytes differ" >&2; exit 1; }
fi
rm -f "$WORK/files/up.bin"
row "$secs" "$speed"

# 2. and 3. Download the file: sendfile, then read on the pool.
mv "$WORK/src.bin" "$WORK/files/down.bin"
for mode in sendfile pool; do
    flags=()
    port=$((PORT + 1))
    NAME="download, sendfile"
    if [ "$mode" = pool ]; then
        flags=(--no-sendfile)
        port=$((PORT + 2))
        NAME="download, read on the pool"
    fi
    start "$port" "${flags[@]}"
    read -r secs speed < <(curl -sS --fail -o /dev/null \
        -w '%{time_total} %{speed_download}\n' "http://127.0.0.1:$port/files/down.bin")
    if [ "${NO_VERIFY:-0}" != 1 ]; then
        curl -sS --fail "http://127.0.0.1:$port/files/down.bin" | cmp - "$WORK/files/down.bin" \
            || { echo "downloaded bytes differ" >&2; exit 1; }
    fi
    stop
    row "$secs" "$speed"
done

echo
echo "| transfer | MiB | seconds | MiB/s | server RSS before, MiB | server peak RSS, MiB |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
printf '%s\n' "${ROWS[@]}"
