#!/bin/bash
# Trial packing at the trainer level (docs/PERFORMANCE.md, "Trial packing"): for each workload,
# TRIALS trials x EPOCHS epochs split over two single-thread processes (two workers on two cores),
# unpacked (--pack 1) and in packs of K. Prints one line per run: wall seconds, trial-epochs per
# second (wall), CPU seconds (user + sys of both processes) and the larger peak RSS.
# Usage: bench/pack_bench.sh BUILD_DIR [WORKLOADS] [KS]
set -euo pipefail
build=${1:-build}
workloads=${2:-"tabular fmnist"}
ks=${3:-"1 2 4 8 16"}
bin=$build/bin/hypersweep_pack_bench
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for w in $workloads; do
  if [ "$w" = tabular ]; then trials=16 epochs=2; else trials=16 epochs=1; fi
  half=$((trials / 2))
  for k in $ks; do
    start=$(date +%s.%N)
    /usr/bin/time -f "%U %S" -o "$tmp/t0" "$bin" --workload "$w" --trials $half --first 0 \
      --pack "$k" --epochs $epochs > "$tmp/o0" &
    /usr/bin/time -f "%U %S" -o "$tmp/t1" "$bin" --workload "$w" --trials $half --first $half \
      --pack "$k" --epochs $epochs > "$tmp/o1" &
    wait
    end=$(date +%s.%N)
    python3 - "$w" "$k" "$trials" "$epochs" "$start" "$end" "$tmp" <<'PY'
import json, sys
w, k, trials, epochs, start, end, tmp = sys.argv[1:]
wall = float(end) - float(start)
cpu = sum(sum(map(float, open(f"{tmp}/t{i}").read().split()[-2:])) for i in (0, 1))
rss = max(json.loads(open(f"{tmp}/o{i}").read())["peak_rss_mb"] for i in (0, 1))
failed = sum(json.loads(open(f"{tmp}/o{i}").read())["failed"] for i in (0, 1))
te = int(trials) * int(epochs)
print(f"{w:8s} K={int(k):2d}  wall {wall:6.1f}s  {te / wall:6.2f} trial-epochs/s  "
      f"cpu {cpu:6.1f}s  {te / cpu:6.2f} trial-epochs/cpu-s  peak RSS {rss:.0f} MB  failed {failed}")
PY
  done
done
