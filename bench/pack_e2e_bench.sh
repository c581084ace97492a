#!/usr/bin/env bash
# Trial packing end to end (issue 17, docs/PERFORMANCE.md "Trial packing, end to end"): a real
# hypersweepd on loopback and two hypersweep-worker processes, one slot and one thread each (two
# workers on the two cores, OPENBLAS_NUM_THREADS=1), run a 32-trial sweep (8 init seeds x 2
# momenta x 2 one-cycle max LRs: every trial its own batch order) with --pack 1 (unpacked, the
# baseline) and --pack K. The clock runs from submit to the sweep's end (`hypersweep watch`), so
# it includes leases, reports, checkpoints and finishes. Prints a Markdown table: wall seconds,
# trial-epochs per second, the ratio to --pack 1 of the same workload in the same run, and the
# larger worker's peak RSS.
#   (a) tabular: synthetic, 30 features, 60k rows (48k training rows after the 0.2 holdout),
#       weighted binary, MLP 30-100x4-1, batch 256, 3 epochs;
#   (b) fmnist: Fashion-MNIST (the embedded data), MLP 784-128x4-10, batch 256, 1 epoch.
# Usage: bench/pack_e2e_bench.sh [BUILD_DIR] [WORKLOADS] [KS]
#   (defaults: build, "tabular fmnist", "1 2 4 8 16"; KS must start with 1, the baseline)
set -euo pipefail
BUILD_DIR=${1:-build}
WORKLOADS=${2:-"tabular fmnist"}
KS=${3:-"1 2 4 8 16"}
BIN=$(cd "$BUILD_DIR/bin" && pwd)
WORK=$(mktemp -d)
DPID=
trap '[ -n "$DPID" ] && kill -9 "$DPID" 2>/dev/null; pkill -9 -f "$WORK" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$WORK"' EXIT
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

"$BIN/hypersweepd" --listen 127.0.0.1:0 --db "$WORK/sweeps.db" >"$WORK/d.log" 2>&1 &
DPID=$!
for _ in $(seq 1000); do grep -qs "listening on" "$WORK/d.log" && break; sleep 0.01; done
HYPERSWEEP_SERVER=$(grep -o "listening on [0-9.]*:[0-9]*" "$WORK/d.log" | awk '{print $3}')
export HYPERSWEEP_SERVER

spec() {  # workload name
  echo "name: pack-$1-$2"
  if [ "$1" = tabular ]; then
    echo "dataset: {synthetic: {samples: 60000, features: 30, classes: 2, weights: true}}"
    echo "model: {mlp: {hidden: [100, 100, 100, 100]}}"
    echo "epochs: 3"
  else
    echo "dataset: fashion_mnist"
    echo "model: {mlp: {hidden: [128, 128, 128, 128]}}"
    echo "epochs: 1"
  fi
  echo "batch_size: 256"
  echo "validation: {holdout: 0.2}"
  echo "seeds: [0, 1, 2, 3, 4, 5, 6, 7]"
  echo "grid:"
  echo "  momentum: [0.85, 0.95]"
  echo "  schedule: [{one_cycle: {max_lr: 0.05}}, {one_cycle: {max_lr: 0.1}}]"
}

echo "| workload | --pack | wall s | trial-epochs/s | vs --pack 1 | worker peak RSS |"
echo "|---|---:|---:|---:|---:|---:|"
for w in $WORKLOADS; do
  if [ "$w" = tabular ]; then epochs=3; else epochs=1; fi
  base=
  for k in $KS; do
    spec "$w" "$k" >"$WORK/spec.yaml"
    pids=()
    for i in 0 1; do
      /usr/bin/time -f "%M" -o "$WORK/rss.$i" "$BIN/hypersweep-worker" --worker-id "w$i" \
        --threads 1 --slots 1 --pack "$k" --acquire-wait-ms 500 \
        --checkpoint-dir "$WORK/ckpt" >"$WORK/w$i.log" 2>&1 &
      pids+=($!)
    done
    sleep 1  # both registered and polling
    t0=$(date +%s.%N)
    sweep=$("$BIN/hypersweep" submit "$WORK/spec.yaml")
    "$BIN/hypersweep" watch "$sweep" --format csv >"$WORK/watch.csv"
    t1=$(date +%s.%N)
    for p in "${pids[@]}"; do pkill -TERM -P "$p"; done  # the workers, not /usr/bin/time
    wait "${pids[@]}" || true
    ok=$("$BIN/hypersweep" trials "$sweep" --format csv | grep -c SUCCEEDED || true)
    if [ "$ok" -ne 32 ]; then
      echo "$w --pack $k: $ok of 32 trials succeeded" >&2
      cat "$WORK"/w*.log >&2
      exit 1
    fi
    rss=$(cat "$WORK/rss.0" "$WORK/rss.1" | sort -n | tail -1)
    read -r wall rate <<<"$(echo "$t0 $t1 $epochs" | awk '{w = $2 - $1; printf "%.1f %.2f", w, 32 * $3 / w}')"
    [ -n "$base" ] || base=$rate
    ratio=$(echo "$rate $base" | awk '{printf "%.2fx", $1 / $2}')
    echo "| $w | $k | $wall | $rate | $ratio | $((rss / 1024)) MB |"
  done
done
