#!/usr/bin/env bash
# Runtime benchmarks: waiter-rt against tokio's current_thread runtime (and, for
# ping-pong, a bare mio loop). Builds in release, runs each benchmark RUNS
# times (default 3), and prints the medians and ratios as a Markdown table.
#
#   bench/rt.sh                 # everything, ~2-3 minutes
#   RUNS=1 PING_SECS=2 bench/rt.sh
#
# Pinning: timers run on CPU 0; ping-pong pins its server to CPU 0 and its
# client to CPU 1 itself; the pool benchmark runs on CPUs 0-1 (its workers are
# threads of the same process). Everything targets 127.0.0.1 only, and every
# run is under `timeout`, so the script always stops by itself.
# Raw output is kept in $OUT (default target/bench-rt).
set -euo pipefail

cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
PING_SECS=${PING_SECS:-5}
TARGET=${CARGO_TARGET_DIR:-target}
OUT=${OUT:-$TARGET/bench-rt}
EX=$TARGET/release/examples

mkdir -p "$OUT"
raw="$OUT/raw-$(date +%Y%m%d-%H%M%S).txt"

cargo build --release -q -p waiter-rt \
    --example million_timers --example ping_pong --example pool_roundtrip

ncpu=$(nproc)
pin() { # pin CPU-LIST CMD...: run pinned if taskset and enough CPUs exist
    local cpus=$1
    shift
    if command -v taskset >/dev/null && [ "$ncpu" -ge 2 ]; then
        taskset -c "$cpus" "$@"
    else
        "$@"
    fi
}

if [ "$(cut -d' ' -f1 /proc/loadavg | cut -d. -f1)" -ge 1 ]; then
    echo "warning: load average is $(cut -d' ' -f1-3 /proc/loadavg); figures may be noisy" >&2
fi

for i in $(seq 1 "$RUNS"); do
    echo "== run $i/$RUNS: million_timers" >&2
    pin 0 timeout 120 "$EX/million_timers" | tee -a "$raw" >&2
    echo "== run $i/$RUNS: ping_pong (${PING_SECS}s per server)" >&2
    timeout 120 "$EX/ping_pong" --secs "$PING_SECS" | tee -a "$raw" >&2
    echo "== run $i/$RUNS: pool_roundtrip" >&2
    pin 0,1 timeout 120 "$EX/pool_roundtrip" | tee -a "$raw" >&2
done

echo "raw output: $raw" >&2
echo
python3 - "$raw" "$RUNS" <<'EOF'
import statistics
import sys

raw, runs = sys.argv[1], sys.argv[2]
rows = {}  # (bench, figure) -> (better, {runtime: [values]})
order = []
for line in open(raw, encoding="utf-8"):
    if not line.startswith("@ "):
        continue
    bench, figure, better, *vals = line[2:].rstrip("\n").split("|")
    key = (bench, figure)
    if key not in rows:
        rows[key] = (better, {})
        order.append(key)
    for kv in vals:
        rt, v = kv.split("=", 1)
        rows[key][1].setdefault(rt, []).append(float(v))

cols = ["waiter", "waiter-sleep", "tokio", "mio"]
present = [c for c in cols if any(c in r[1] for r in rows.values())]


def fmt(v):
    if v is None:
        return ""
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 100:
        return f"{v:.1f}"
    return f"{v:.2f}"


def ratio(a, b):
    return f"{a / b:.2f}" if a is not None and b else ""


print(f"Medians of {runs} runs. Ratio = waiter / peer: for 'higher' rows above 1 is")
print("better for waiter, for 'lower' rows below 1 is. 'waiter-sleep' = waiter's")
print("`sleep` futures in spawned tasks (like-for-like with tokio).\n")
head = ["benchmark", "figure", "better"] + present + [
    "waiter/tokio", "waiter-sleep/tokio", "waiter/mio"]
print("| " + " | ".join(head) + " |")
print("|" + "|".join(["---"] * 3 + ["---:"] * (len(head) - 3)) + "|")
for key in order:
    better, vals = rows[key]
    med = {rt: statistics.median(v) for rt, v in vals.items()}
    w, s, t, m = (med.get(c) for c in ["waiter", "waiter-sleep", "tokio", "mio"])
    cells = [key[0], key[1], better] + [fmt(med.get(c)) for c in present]
    if better == "-":
        cells += ["", "", ""]
    else:
        cells += [ratio(w, t), ratio(s, t), ratio(w, m)]
    print("| " + " | ".join(cells) + " |")
EOF
