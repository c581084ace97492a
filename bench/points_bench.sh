#!/usr/bin/env bash
# Points on demand (issue 16), end to end on a real hypersweepd with a file database on loopback:
# a grid sweep of POINTS trials (100 momenta x POINTS/10^4 weight decays x 100 seeds) is
# submitted, and we time what a user does with it queued: submit, `status`, the first page of
# `trials`, a coordinator restart (kill -9, then start until `status` answers), `cancel`; plus
# the coordinator's resident memory with the sweep queued (VmRSS, and its peak VmHWM) and the size
# of the database file. Targets: submit < 2 s, RSS < 300 MiB, restart < 2 s, status and the first
# page < 100 ms, cancel immediate; at 10^6 and 10^7 points. CLI times include process start.
# Usage: bench/points_bench.sh [BUILD_DIR] [POINTS...]   (default: 1000000 10000000)
set -euo pipefail
BUILD_DIR=${1:-build}
shift || true
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(1000000 10000000)
BIN=$(cd "$BUILD_DIR/bin" && pwd)
WORK=$(mktemp -d)
DPID=
trap '[ -n "$DPID" ] && kill -9 "$DPID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$WORK"' EXIT

now() { date +%s.%N; }
ms() { echo "($2 - $1) * 1000" | bc -l | xargs printf '%.0f'; }

# Starts hypersweepd on the database and waits until `status` of sweep $1 (or `list`) answers.
start_daemon() {
  : >"$WORK/d.log"
  "$BIN/hypersweepd" --listen 127.0.0.1:0 --db "$WORK/sweeps.db" >"$WORK/d.log" 2>&1 &
  DPID=$!
  for _ in $(seq 600); do grep -qs "listening on" "$WORK/d.log" && break; sleep 0.005; done
  HYPERSWEEP_SERVER=$(grep -o "listening on [0-9.]*:[0-9]*" "$WORK/d.log" | awk '{print $3}')
  export HYPERSWEEP_SERVER
}

rss_mib() { awk -v k="$1:" '$1 == k {printf "%.0f", $2 / 1024}' "/proc/$DPID/status"; }

printf '| points | submit | RSS queued (peak) | database | status | trials, first page | restart to serving | cancel |\n'
printf '|---:|---:|---:|---:|---:|---:|---:|---:|\n'
for POINTS in "${SIZES[@]}"; do
  rm -f "$WORK"/sweeps.db*
  decays=$((POINTS / 10000))
  {
    echo "name: points-$POINTS"
    echo "dataset: {synthetic: {}}"
    echo "schedule: {constant: {lr: 0.1}}"
    echo "epochs: 1"
    printf 'seeds: ['; seq -s ', ' 0 99 | tr -d '\n'; echo ']'
    printf 'grid:\n  momentum: ['; seq -s ', ' 0 0.005 0.495 | tr -d '\n'; echo ']'
    printf '  weight_decay: ['; seq -s ', ' 1 "$decays" | sed 's/\([0-9]\+\)/\1e-7/g' | tr -d '\n'; echo ']'
  } >"$WORK/spec.yaml"
  start_daemon
  t0=$(now)
  SWEEP=$("$BIN/hypersweep" submit "$WORK/spec.yaml" 2>/dev/null)
  t1=$(now)
  submit=$(ms "$t0" "$t1")
  "$BIN/hypersweep" status "$SWEEP" >/dev/null  # warm the page cache once
  t0=$(now); "$BIN/hypersweep" status "$SWEEP" >"$WORK/status.txt"; t1=$(now)
  status=$(ms "$t0" "$t1")
  grep -q "$POINTS" "$WORK/status.txt" || { echo "status does not show $POINTS trials" >&2; cat "$WORK/status.txt" >&2; exit 1; }
  t0=$(now); rows=$("$BIN/hypersweep" trials "$SWEEP" --limit 20 --format csv | wc -l); t1=$(now)
  page=$(ms "$t0" "$t1")
  [ "$rows" -eq 21 ] || { echo "first page: $rows lines" >&2; exit 1; }
  rss=$(rss_mib VmRSS); hwm=$(rss_mib VmHWM)
  db=$(du -sm "$WORK"/sweeps.db* | awk '{s += $1} END {print s}')
  kill -9 "$DPID"; wait "$DPID" 2>/dev/null || true
  t0=$(now)
  start_daemon
  until "$BIN/hypersweep" status "$SWEEP" >/dev/null 2>&1; do sleep 0.005; done
  t1=$(now)
  restart=$(ms "$t0" "$t1")
  t0=$(now); "$BIN/hypersweep" cancel "$SWEEP" >/dev/null; t1=$(now)
  cancel=$(ms "$t0" "$t1")
  "$BIN/hypersweep" status "$SWEEP" | grep -qi cancel || { echo "not cancelled" >&2; exit 1; }
  kill -9 "$DPID"; wait "$DPID" 2>/dev/null || true; DPID=
  printf '| %s | %s ms | %s MiB (%s) | %s MB | %s ms | %s ms | %s ms | %s ms |\n' \
    "$POINTS" "$submit" "$rss" "$hwm" "$db" "$status" "$page" "$restart" "$cancel"
done
