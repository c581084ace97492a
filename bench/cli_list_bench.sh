#!/usr/bin/env bash
# Client benchmark (not a test): `hypersweep trials SWEEP --format csv` end to end (process start,
# connect, paging through ListTrials, CSV out) on a sweep of 10,000 trials held by a real
# hypersweepd with a file database on loopback. Target (issue 5): under 1 s.
# Usage: bench/cli_list_bench.sh [BUILD_DIR] [TRIALS] [RUNS]
set -euo pipefail
BUILD_DIR=${1:-build}
TRIALS=${2:-10000}
RUNS=${3:-5}
BIN=$(cd "$BUILD_DIR/bin" && pwd)
WORK=$(mktemp -d)
trap 'kill "$DPID" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"' EXIT

"$BIN/hypersweepd" --listen 127.0.0.1:0 --db "$WORK/sweeps.db" >"$WORK/d.log" 2>&1 &
DPID=$!
for _ in $(seq 100); do grep -qs "listening on" "$WORK/d.log" && break; sleep 0.1; done
ADDR=$(grep -o "listening on [0-9.]*:[0-9]*" "$WORK/d.log" | awk '{print $3}')
export HYPERSWEEP_SERVER=$ADDR

cat >"$WORK/spec.yaml" <<YAML
name: bench-$TRIALS
dataset: {synthetic: {}}
schedule: {one_cycle: {max_lr: 0.1}}
random: {trials: $TRIALS, params: {weight_decay: {log_uniform: [1e-6, 1e-2]}, momentum: {uniform: [0.8, 0.95]}}}
YAML
SWEEP=$("$BIN/hypersweep" submit "$WORK/spec.yaml" 2>/dev/null)

times=()
for _ in $(seq "$RUNS"); do
  start=$(date +%s.%N)
  rows=$("$BIN/hypersweep" trials "$SWEEP" --format csv | wc -l)
  end=$(date +%s.%N)
  times+=("$(echo "$end - $start" | bc)")
done
[ "$rows" -eq $((TRIALS + 1)) ] || { echo "expected $((TRIALS + 1)) lines, got $rows" >&2; exit 1; }
sorted=$(printf '%s\n' "${times[@]}" | sort -n)
median=$(echo "$sorted" | sed -n "$(((RUNS + 1) / 2))p")
best=$(echo "$sorted" | head -1)
printf 'hypersweep trials --format csv: %d trials, %d runs: median %.3f s, best %.3f s (%d CSV lines)\n' \
  "$TRIALS" "$RUNS" "$median" "$best" "$rows"
