#!/usr/bin/env bash
# A one-node SLURM cluster on localhost for the integration tests (docs/SLURM.md).
#
#   scripts/slurm_local_cluster.sh start    # write the config, start munged, slurmctld, slurmd; wait for an idle node
#   scripts/slurm_local_cluster.sh status   # exit 0 when the daemons this script started run and the node answers
#   scripts/slurm_local_cluster.sh stop     # cancel queued jobs, then stop ONLY the daemons this script started
#
# Needs root and the Debian packages slurmctld, slurmd, slurm-client and munge
# (scripts/install_system_packages.sh). No systemd and no cgroups: the daemons are started by hand,
# their PIDs (with their kernel start times, so that a recycled PID is never killed) are recorded in
# $SEGPIPE_SLURM_DIR/pids, and `stop` signals those PIDs only.
#
# The configuration goes to /etc/slurm/slurm.conf because the executor plugin drops SLURM_CONF for
# the srun it runs inside each job. An existing slurm.conf that this script did not write (a real
# cluster node) is never touched: `start` refuses instead.
#
# Environment: SEGPIPE_SLURM_DIR (state, spool and logs; default /var/lib/segpipe-slurm),
# SEGPIPE_SLURM_WAIT (seconds to wait for the node to become idle or the daemons to exit; default 60).
set -euo pipefail

SLURM_CONF_PATH=/etc/slurm/slurm.conf
GRES_CONF_PATH=/etc/slurm/gres.conf
STATE_DIR=${SEGPIPE_SLURM_DIR:-/var/lib/segpipe-slurm}
PID_FILE=$STATE_DIR/pids
WAIT_S=${SEGPIPE_SLURM_WAIT:-60}
MARKER="# Written by segpipe scripts/slurm_local_cluster.sh: a one-node test cluster on localhost."
PARTITION=local
NODE=localhost

log() { echo "slurm_local_cluster: $*" >&2; }
die() { log "error: $*"; exit 1; }

# Kernel start time of a live process (field 22 of /proc/PID/stat); empty when it does not exist
# or is a zombie.
start_time() {
  local stat fields
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  read -r -a fields <<<"${stat##*) }"   # fields from 3 on: comm may contain spaces
  [ "${fields[0]}" != Z ] && [ "${fields[0]}" != X ] && echo "${fields[19]}"
  return 0
}

# True when the recorded process still runs (same PID and same start time).
recorded_alive() {
  local pid=$1 started=$2
  [ -n "$pid" ] && [ "$(start_time "$pid")" = "$started" ]
}

# Print the recorded "name pid start_time" lines (none when nothing was started).
recorded() { [ -f "$PID_FILE" ] && cat "$PID_FILE" || true; }

record() {  # name pid
  local started
  started=$(start_time "$2")
  [ -n "$started" ] || die "$1 (pid $2) exited at once; see $STATE_DIR/$1.log"
  echo "$1 $2 $started" >>"$PID_FILE"
}

ours() { [ -f "$1" ] && head -n 1 "$1" | grep -qxF "$MARKER"; }

node_state() { timeout 10 sinfo --noheader --nodes="$NODE" --format=%t 2>/dev/null | head -n 1 || true; }

write_config() {
  local node_line cpus memory def_mem
  # slurmd -C prints this machine's hardware as a slurm.conf node line; keep it but name the node
  # localhost (slurmd runs with -N localhost) so that the config is the same on every machine.
  node_line=$(timeout 30 slurmd -C) || die "slurmd -C failed"
  node_line=$(grep '^NodeName=' <<<"$node_line" | head -n 1)
  node_line=${node_line#NodeName=* }
  cpus=$(sed -n 's/.*CPUs=\([0-9]*\).*/\1/p' <<<"$node_line")
  memory=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$node_line")
  [ -n "$cpus" ] && [ -n "$memory" ] || die "could not read CPUs/RealMemory from slurmd -C: $node_line"
  def_mem=$(( memory / cpus < 1024 ? memory / cpus : 1024 ))
  mkdir -p /etc/slurm
  cat >"$SLURM_CONF_PATH.tmp" <<EOF
$MARKER
# Started and stopped with: scripts/slurm_local_cluster.sh {start|stop|status}
ClusterName=segpipe-local
SlurmctldHost=$(hostname -s)(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
MpiDefault=none
# No systemd and no cgroups in containers: plain /proc process tracking, no task binding.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
# No slurmdbd: sacct refuses, so the Snakemake SLURM plugin must query job states with squeue,
# which sees finished jobs for MinJobAge seconds.
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MinJobAge=600
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=$def_mem
ReturnToService=2
StateSaveLocation=$STATE_DIR/ctld
SlurmdSpoolDir=$STATE_DIR/spool
SlurmctldPidFile=$STATE_DIR/slurmctld.pid
SlurmdPidFile=$STATE_DIR/slurmd.pid
SlurmctldLogFile=$STATE_DIR/slurmctld.log
SlurmdLogFile=$STATE_DIR/slurmd.log
# One placeholder GPU (gres.conf: File=/dev/null) so that --gpus requests can be scheduled and
# checked; it is not a device.
GresTypes=gpu
NodeName=$NODE NodeAddr=127.0.0.1 $node_line Gres=gpu:1 State=UNKNOWN
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
  mv "$SLURM_CONF_PATH.tmp" "$SLURM_CONF_PATH"
  printf '%s\nNodeName=%s Name=gpu File=/dev/null\n' "$MARKER" "$NODE" >"$GRES_CONF_PATH.tmp"
  mv "$GRES_CONF_PATH.tmp" "$GRES_CONF_PATH"
}

munge_works() { timeout 10 munge -n </dev/null 2>/dev/null | timeout 10 unmunge >/dev/null 2>&1; }

start_munge() {
  if munge_works; then
    log "munged already runs (not started here, will not be stopped)"
    return
  fi
  install -d -o munge -g munge -m 0700 /etc/munge
  if [ ! -s /etc/munge/munge.key ]; then
    mungekey --create --keyfile=/etc/munge/munge.key
  fi
  chown munge:munge /etc/munge/munge.key
  chmod 0400 /etc/munge/munge.key
  install -d -o munge -g munge -m 0755 /run/munge
  install -d -o munge -g munge -m 0700 /var/log/munge /var/lib/munge
  # setpriv execs munged as the munge user, so $! is munged's own PID.
  setpriv --reuid=munge --regid=munge --init-groups munged --foreground \
    </dev/null >>"$STATE_DIR/munged.log" 2>&1 &
  record munged $!
  local deadline=$((SECONDS + WAIT_S))
  until munge_works; do
    [ $SECONDS -lt $deadline ] || die "munged did not answer within ${WAIT_S}s; see $STATE_DIR/munged.log"
    sleep 0.5
  done
}

cmd_start() {
  [ "$(id -u)" -eq 0 ] || die "must run as root (it writes $SLURM_CONF_PATH and starts daemons)"
  local tool
  for tool in slurmctld slurmd sinfo squeue scancel munged munge unmunge mungekey setpriv; do
    command -v "$tool" >/dev/null || die "$tool not found: run scripts/install_system_packages.sh"
  done
  if cmd_status >/dev/null 2>&1; then
    log "already running"
    return 0
  fi
  if [ -s "$PID_FILE" ]; then
    log "a previous start left a partial cluster: stopping it first"
    cmd_stop
  fi
  if [ -e "$SLURM_CONF_PATH" ] && ! ours "$SLURM_CONF_PATH"; then
    die "$SLURM_CONF_PATH exists and was not written by this script (a real cluster?): move it away first"
  fi
  if [ -e "$GRES_CONF_PATH" ] && ! ours "$GRES_CONF_PATH"; then
    die "$GRES_CONF_PATH exists and was not written by this script: move it away first"
  fi
  # A fresh cluster every time: no job state or spool from an earlier run.
  rm -rf "$STATE_DIR/ctld" "$STATE_DIR/spool"
  install -d -m 0755 "$STATE_DIR" "$STATE_DIR/ctld" "$STATE_DIR/spool"
  : >"$PID_FILE"
  write_config
  if timeout 10 scontrol ping 2>/dev/null | grep -q 'is UP'; then
    die "a slurmctld not started by this script already answers on this host: stop it first"
  fi
  # From here on, any failure (errexit or die) stops what was started.
  trap 'start_failed' EXIT
  start_munge
  slurmctld -D -c </dev/null >>"$STATE_DIR/slurmctld.out" 2>&1 &
  record slurmctld $!
  slurmd -D -N "$NODE" </dev/null >>"$STATE_DIR/slurmd.out" 2>&1 &
  record slurmd $!
  local deadline=$((SECONDS + WAIT_S)) state=""
  while :; do
    state=$(node_state)
    [ "$state" = idle ] && break
    if [ $SECONDS -ge $deadline ] || ! all_recorded_alive; then
      log "node $NODE is '${state:-not answering}' after ${WAIT_S}s; last log lines:"
      tail -n 5 "$STATE_DIR/slurmctld.log" "$STATE_DIR/slurmd.log" >&2 2>/dev/null || true
      exit 1
    fi
    sleep 1
  done
  trap - EXIT
  log "up: partition $PARTITION, node $NODE idle ($(sed -n 's/.*\(CPUs=[0-9]*\).*\(RealMemory=[0-9]*\).*/\1 \2/p' "$SLURM_CONF_PATH"))"
}

start_failed() {
  local status=$?
  trap - EXIT
  log "start failed: stopping what was started"
  cmd_stop
  exit "$status"
}

all_recorded_alive() {
  local name pid started any=1
  while read -r name pid started; do
    any=0
    recorded_alive "$pid" "$started" || return 1
  done < <(recorded)
  return $any
}

cmd_status() {
  local name pid started ok=0
  if [ ! -s "$PID_FILE" ]; then
    echo "not running (no daemons started by this script)"
    return 3
  fi
  while read -r name pid started; do
    if recorded_alive "$pid" "$started"; then
      echo "$name: running (pid $pid)"
    else
      echo "$name: not running (recorded pid $pid)"
      ok=1
    fi
  done < <(recorded)
  local state
  state=$(node_state)
  echo "node $NODE: ${state:-not answering}"
  [ -n "$state" ] || ok=1
  return $ok
}

# Cancel every job of this private cluster and wait (bounded) until none runs, so that no
# slurmstepd outlives slurmd.
cancel_jobs() {
  local jobs deadline=$((SECONDS + WAIT_S))
  jobs=$(timeout 10 squeue --noheader --format=%i 2>/dev/null || true)
  [ -n "$jobs" ] || return 0
  log "cancelling jobs: $(echo $jobs)"
  # shellcheck disable=SC2086
  timeout 10 scancel $jobs 2>/dev/null || true
  while [ -n "$(timeout 10 squeue --noheader --states=RUNNING,COMPLETING,CONFIGURING --format=%i 2>/dev/null || true)" ]; do
    [ $SECONDS -lt $deadline ] || { log "jobs still running after ${WAIT_S}s"; return 0; }
    sleep 1
  done
}

stop_daemon() {  # name pid started
  local name=$1 pid=$2 started=$3 deadline
  recorded_alive "$pid" "$started" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + WAIT_S / 4 + 1))
  while recorded_alive "$pid" "$started"; do
    if [ $SECONDS -ge $deadline ]; then
      log "$name (pid $pid) ignored SIGTERM: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 1
      recorded_alive "$pid" "$started" && log "$name (pid $pid) survived SIGKILL"
      return 0
    fi
    sleep 0.2
  done
}

cmd_stop() {
  if [ ! -s "$PID_FILE" ]; then
    log "nothing to stop (no daemons started by this script)"
  else
    all_recorded_alive && cancel_jobs
    # Stop in reverse start order: slurmd, slurmctld, munged.
    local name pid started
    while read -r name pid started; do
      stop_daemon "$name" "$pid" "$started"
    done < <(recorded | tac)
    rm -f "$PID_FILE"
  fi
  ours "$SLURM_CONF_PATH" && rm -f "$SLURM_CONF_PATH"
  ours "$GRES_CONF_PATH" && rm -f "$GRES_CONF_PATH"
  log "stopped"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) echo "usage: $0 {start|stop|status}" >&2; exit 2 ;;
esac
