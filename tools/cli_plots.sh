#!/usr/bin/env bash
# Regenerates the README's example plots (docs/images/plot-*.svg) from a real run: hypersweepd on
# a temporary database, two workers, three small sweeps on synthetic data, one `hypersweep plot`
# of each kind. About a minute on 2 cores.
# Usage: tools/cli_plots.sh [BUILD_DIR] [OUT_DIR]
set -euo pipefail
BUILD_DIR=${1:-build}
OUT=${2:-docs/images}
BIN=$(cd "$BUILD_DIR/bin" && pwd)
WORK=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"' EXIT
mkdir -p "$OUT"

"$BIN/hypersweepd" --listen 127.0.0.1:0 --db "$WORK/sweeps.db" >"$WORK/d.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do grep -qs "listening on" "$WORK/d.log" && break; sleep 0.1; done
export HYPERSWEEP_SERVER=$(grep -o "listening on [0-9.]*:[0-9]*" "$WORK/d.log" | awk '{print $3}')
for w in w1 w2; do
  "$BIN/hypersweep-worker" --server "$HYPERSWEEP_SERVER" --worker-id $w --threads 1 \
    --checkpoint-dir "$WORK/ck" >"$WORK/$w.log" 2>&1 &
  PIDS+=($!)
done

COMMON='dataset: {synthetic: {samples: 6000, features: 20, classes: 2, noise: 1.0}}
model: {mlp: {hidden: [64, 64]}}
validation: {holdout: 0.25}'

cat >"$WORK/schedules.yaml" <<YAML
name: schedules
$COMMON
epochs: 8
batch_size: 64
seeds: [0, 1, 2]
grid:
  schedule:
    - {constant: {lr: 0.05}}
    - {one_cycle: {max_lr: 0.3}}
    - {cyclic: {base_lr: 0.01, max_lr: 0.3, step_size_up_epochs: 2}}
    - {cosine_restarts: {max_lr: 0.3, t_0_epochs: 2}}
YAML
cat >"$WORK/range.yaml" <<YAML
name: range-tests
$COMMON
epochs: 1
grid:
  batch_size: [32, 128, 512]
  schedule:
    - {lr_range_test: {min_lr: 1e-5, max_lr: 10, steps: 150}}
YAML
cat >"$WORK/batch.yaml" <<YAML
name: batch-sizes
$COMMON
epochs: 6
seeds: [0, 1]
schedule: {one_cycle: {max_lr: 0.2}}
grid:
  batch_size: [32, 128, 512]
YAML

for s in schedules range batch; do
  id=$("$BIN/hypersweep" submit "$WORK/$s.yaml" --wait)
  eval "ID_$s=$id"
done
"$BIN/hypersweep" plot "$ID_schedules" --kind curves --metric val_loss --out "$OUT/plot-curves.svg"
"$BIN/hypersweep" plot "$ID_schedules" --kind schedule --out "$OUT/plot-schedule.svg"
"$BIN/hypersweep" plot "$ID_range" --kind lr-finder --out "$OUT/plot-lr-finder.svg"
"$BIN/hypersweep" plot "$ID_batch" --kind time --metric val_accuracy --out "$OUT/plot-time.svg"
