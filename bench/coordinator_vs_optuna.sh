#!/usr/bin/env bash
# Coordinator vs Optuna: the same simulated lifecycle (acquire/ask, 10 epoch reports, finish/tell)
# with the same number of concurrent workers, both on a SQLite file. Prints both JSON lines and the
# ratio. Usage: bench/coordinator_vs_optuna.sh [BUILD_DIR] [WORKERS]
set -euo pipefail
BUILD=${1:-build}
WORKERS=${2:-64}
OUT=${OUT:-/tmp/hs-bench}
mkdir -p "$OUT"
# Each side starts with the page cache flushed, so neither pays for the other's (or an earlier
# run's) dirty pages: on a small VM that swung single runs by +-20%.
settle() { sync; sleep "${SETTLE_SECONDS:-5}"; }
settle
hs=$("$BUILD/bench/hypersweep_coordinator_bench" --mode throughput --workers "$WORKERS" \
      --trials 3000 --dir "$OUT" 2>/dev/null)
settle
op=$(/usr/bin/python3 "$(dirname "$0")/optuna_bench.py" --workers "$WORKERS" \
      --trials-per-worker $(( WORKERS >= 32 ? 4 : 25 )) --db "$OUT/optuna.db")
echo "$hs"
echo "$op"
/usr/bin/python3 - "$hs" "$op" <<'PY'
import json, sys
h, o = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(json.dumps({"trials_per_s_ratio": round(h["trials_per_s"] / o["trials_per_s"], 1),
                  "reports_per_s_ratio": round(h["reports_per_s"] / o["reports_per_s"], 1)}))
PY
