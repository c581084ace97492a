#!/usr/bin/env bash
# The hypersweep demo (make demo / make demo-quick): starts a coordinator on a temporary database and
# two workers on this machine, submits the experiments of examples/sweeps/smith-demo.yaml on
# Fashion-MNIST, shows progress, then writes demo-report/index.md with tables, findings and one
# SVG plot per experiment, and prints the summary.
#
# Usage: scripts/demo.sh [--quick] [--out DIR] [--keep-db FILE]     (BUILD_DIR defaults to build)
#   --keep-db FILE: also keep the sweeps (an online backup of the coordinator's database), e.g. to
#   browse them later: hypersweepd --db FILE & hypersweep dashboard
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
out=demo-report
keep_db=
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --out) out=$2; shift ;;
    --keep-db) keep_db=$2; shift ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "demo.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
bin=${BUILD_DIR:-build}/bin
for b in hypersweepd hypersweep-worker hypersweep hypersweep-demo-report; do
  [ -x "$bin/$b" ] || { echo "demo.sh: $bin/$b is missing; run make build" >&2; exit 2; }
done
[ -d /usr/share/datasets/fashion-mnist ] || {
  echo "demo.sh: /usr/share/datasets/fashion-mnist is missing; run make deps" >&2; exit 2; }

work=$(mktemp -d /tmp/hypersweep-demo.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
start=$(date +%s)
elapsed() { local s=$(( $(date +%s) - start )); printf '%02d:%02d' $((s / 60)) $((s % 60)); }

# The coordinator, on a free loopback port.
"$bin/hypersweepd" --listen 127.0.0.1:0 --db "$work/demo.db" --no-sync >"$work/hypersweepd.log" 2>&1 &
pids+=($!)
addr=""
for _ in $(seq 100); do
  addr=$(sed -n 's/^hypersweepd listening on \([0-9.]*:[0-9]*\).*/\1/p' "$work/hypersweepd.log")
  [ -n "$addr" ] && break
  sleep 0.1
done
[ -n "$addr" ] || { echo "demo.sh: hypersweepd did not start:" >&2; cat "$work/hypersweepd.log" >&2; exit 1; }
hs() { "$bin/hypersweep" --server "$addr" "$@"; }

# Two workers, one thread each (the machine's two cores).
for w in 1 2; do
  "$bin/hypersweep-worker" --server "$addr" --worker-id "demo-$w" --threads 1 \
    --checkpoint-dir "$work/checkpoints" >"$work/worker-$w.log" 2>&1 &
  pids+=($!)
done

# One sweep per YAML document; the quick variant takes the values marked "# quick: X".
awk -v dir="$work" 'BEGIN { n = 1 } /^---$/ { n++; next } { print > (dir "/spec-" n ".yaml") }' \
  examples/sweeps/smith-demo.yaml
ids=()
names=()
for f in $(ls "$work"/spec-*.yaml | sort -V); do
  if [ "$quick" = 1 ]; then
    sed -E -i 's/^([[:space:]]*(- |[A-Za-z_]+: )).*[[:space:]]#[[:space:]]quick:[[:space:]](.*)$/\1\3/' "$f"
  fi
  name=$(sed -n 's/^name: *\([^ #]*\).*/\1/p' "$f")
  id=$(hs submit "$f" 2>/dev/null)
  ids+=("$id")
  names+=("$name")
done
echo "demo: coordinator $addr, 2 workers, ${#ids[@]} sweeps submitted$([ "$quick" = 1 ] && echo ' (quick)')"

# Progress until every sweep has ended.
while :; do
  line=$(hs list --format csv | awk -F, 'NR > 1 { printf "%s %s  ", $2, $4; if ($3 == "RUNNING") r++ }
                                         END { printf "|%d", r }')
  running=${line##*|}
  if [ -t 1 ]; then printf '\r[%s] %s' "$(elapsed)" "${line%|*}"; else printf '[%s] %s\n' "$(elapsed)" "${line%|*}"; fi
  [ "$running" = 0 ] && break
  sleep 5
done
[ -t 1 ] && echo

# Exports, the range test's curve, and one plot per experiment.
mkdir -p "$out"
rm -f "$out"/*.json "$out"/*.svg "$out/index.md"
for i in "${!ids[@]}"; do
  hs export "${ids[$i]}" --format json >"$out/${names[$i]}.json"
done
lr_sweep=${ids[0]}
range_trial=$(hs trials "$lr_sweep" --format csv | awk -F, 'NR == 2 { print $1 }')
hs lr-curve "$range_trial" --format json >"$out/lr-curve.json"
plot() { hs plot "$1" --kind "$2" --metric "$3" --out "$out/$4.svg"; }
plot "${ids[0]}" lr-finder val_loss lr-range-test
plot "${ids[1]}" curves val_loss schedules
plot "${ids[1]}" schedule lr schedules-lr
plot "${ids[2]}" curves val_accuracy one-cycle
plot "${ids[3]}" time val_loss batch-sizes
plot "${ids[4]}" curves val_loss momentum-constant
plot "${ids[5]}" curves val_loss momentum-cycled
plot "${ids[6]}" curves val_loss weight-decay
"$bin/hypersweep-demo-report" "$out"
if [ -n "$keep_db" ]; then
  "$bin/hypersweepd" backup --db "$work/demo.db" --out "$keep_db"
  echo "demo: sweeps kept in $keep_db"
fi
echo "demo: finished in $(elapsed)"
