#!/usr/bin/env bash
# A throwaway single-node Slurm cluster for tests: munged, slurmctld and slurmd, all state, sockets,
# logs and pid files under DIR, so nothing in /etc or /run is used or changed.
#
#   slurm_cluster.sh start DIR   writes DIR/slurm.conf, starts the three daemons, waits for the node
#                                to be idle; prints "SLURM_CONF=DIR/slurm.conf"
#   slurm_cluster.sh stop DIR    cancels every job of this cluster, waits for them, then stops the
#                                daemons it started (by the pids in DIR, never by name)
#
# Needs root (slurmd runs jobs as their users) and the Debian packages slurm-wlm and munge
# (`make slurm-deps`; installed here with apt-get when missing). proctrack/linuxproc and
# task/none: no cgroups, so it runs in containers.
set -euo pipefail

cmd=${1:?usage: slurm_cluster.sh start|stop DIR}
dir=${2:?usage: slurm_cluster.sh start|stop DIR}
dir=$(realpath -m "$dir")
export SLURM_CONF=$dir/slurm.conf
# The last cluster started on this machine, so a run that was killed before it could stop its
# daemons gets them stopped by the next one.
registry=/tmp/hypersweep-slurm-test.last

log() { echo "slurm_cluster: $*" >&2; }

# Kills the process in a pid file if it is still the daemon we started (its command line names
# `expect`), waiting up to 15 s before SIGKILL.
stop_pidfile() {
  local pidfile=$1 expect=$2 pid i
  [ -s "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  if ! { tr '\0' ' ' < "/proc/$pid/cmdline"; } 2> /dev/null | grep -q -- "$expect"; then return 0; fi
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 150); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  log "$expect (pid $pid) ignored SIGTERM; killing it"
  kill -KILL "$pid" 2>/dev/null || true
}

# A TCP port nobody listens on (checked against /proc/net/tcp{,6}).
free_port() {
  local port hex
  while :; do
    port=$((20000 + RANDOM % 30000))
    hex=$(printf ':%04X ' "$port")
    if ! grep -q " [0-9A-F]*$hex" /proc/net/tcp /proc/net/tcp6 2>/dev/null; then
      echo "$port"
      return
    fi
  done
}

stop() {
  local d=$1 i
  [ -d "$d" ] || return 0
  if [ -s "$d/slurmctld.pid" ] && kill -0 "$(cat "$d/slurmctld.pid")" 2>/dev/null; then
    SLURM_CONF=$d/slurm.conf scancel --full --quiet --user="$(id -un)" 2>/dev/null || true
    # Jobs get SIGTERM, then SIGKILL after KillWait; wait for them so no job process outlives us.
    for i in $(seq 60); do
      [ -z "$(SLURM_CONF=$d/slurm.conf squeue --noheader --format=%i 2>/dev/null |
        grep -v '^$' || true)" ] && break
      sleep 1
    done
  fi
  stop_pidfile "$d/slurmd.pid" slurmd
  stop_pidfile "$d/slurmctld.pid" slurmctld
  stop_pidfile "$d/munged.pid" munged
  # Job processes that outlived the daemons: slurmstepd and the jobs it ran carry this cluster's
  # SLURM_CONF in their environment. Skip this script and its ancestors (the test that runs it).
  local keep=" " p=$$ proc
  while [ -n "$p" ] && [ "$p" != 0 ]; do
    keep+="$p "
    p=$(awk '/^PPid:/{print $2}' "/proc/$p/status" 2>/dev/null)
  done
  for proc in /proc/[0-9]*; do
    p=${proc#/proc/}
    case "$keep" in *" $p "*) continue ;; esac
    if { tr '\0' '\n' < "$proc/environ"; } 2> /dev/null | grep -qx "SLURM_CONF=$d/slurm.conf"; then
      log "killing leftover job process $p: $({ tr '\0' ' ' < "$proc/cmdline"; } 2> /dev/null)"
      kill -KILL "$p" 2>/dev/null || true
    fi
  done
  if [ "$(cat "$registry" 2>/dev/null)" = "$d" ]; then rm -f "$registry"; fi
}

start() {
  local host cpus ctld_port slurmd_port i
  [ "$(id -u)" = 0 ] || { log "needs root (slurmd runs jobs as their users)"; exit 3; }
  if ! command -v munged > /dev/null || ! command -v slurmctld > /dev/null ||
    ! command -v slurmd > /dev/null || ! command -v sbatch > /dev/null; then
    # What `make slurm-deps` does, for a ctest run without make.
    log "installing slurm-wlm and munge (Debian packages)"
    apt-get update -q > /dev/null < /dev/null &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends slurm-wlm munge \
        > /dev/null < /dev/null || { log "could not install slurm-wlm and munge"; exit 3; }
  fi
  for tool in munged slurmctld slurmd sbatch squeue scancel sinfo; do
    command -v "$tool" > /dev/null || { log "$tool not found: run 'make slurm-deps'"; exit 3; }
  done
  if [ -s "$registry" ]; then
    log "stopping the daemons of an earlier run in $(cat "$registry")"
    stop "$(cat "$registry")"
  fi
  mkdir -p "$dir"/{munge,state,spool,jobs}
  chmod 700 "$dir/munge"
  echo "$dir" > "$registry"

  dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
  chmod 400 "$dir/munge/munge.key"
  munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.sock" \
    --pid-file="$dir/munged.pid" --log-file="$dir/munged.log" --seed-file="$dir/munge/seed"

  host=$(hostname -s)
  # More CPUs than the machine has (config_overrides), so the coordinator job and two single-CPU
  # worker tasks run at once even on a 2-core machine.
  cpus=${SLURM_TEST_CPUS:-4}
  ctld_port=$(free_port)
  slurmd_port=$(free_port)
  cat > "$SLURM_CONF" <<EOF
ClusterName=hstest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.sock
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
# Start jobs whose dependency was just met within seconds, not at the next minute's pass.
SchedulerParameters=sched_interval=2,bf_interval=2
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
KillWait=30
MinJobAge=600
PlugStackConfig=$dir/plugstack.conf
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=1000 State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
  : > "$dir/plugstack.conf"
  slurmctld -i -f "$SLURM_CONF"
  slurmd -N "$host" -f "$SLURM_CONF"
  for i in $(seq 300); do
    if sinfo --noheader --format=%t 2>/dev/null | grep -qx idle; then
      echo "SLURM_CONF=$SLURM_CONF"
      return 0
    fi
    sleep 0.1
  done
  log "the node did not become idle in 30 s"
  sinfo -N -l >&2 || true
  tail -n 20 "$dir/slurmctld.log" "$dir/slurmd.log" >&2 || true
  stop "$dir"
  exit 1
}

case "$cmd" in
  start) start ;;
  stop) stop "$dir" ;;
  *) log "unknown command $cmd"; exit 2 ;;
esac
