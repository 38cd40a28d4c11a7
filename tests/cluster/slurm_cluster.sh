#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, for the SLURM test (tests/test_slurm.py) and for trying
# profiles/slurm by hand. Debian/Ubuntu packages slurmctld, slurmd, slurm-client and munge (installed
# with apt-get when missing and allowed: COCAPP_SLURM_INSTALL=1). Everything the cluster writes (config,
# state, spool, logs, pid files) is under one folder. Outside it: munge uses its installed key
# (/etc/munge/munge.key, created when absent), and /etc/slurm/slurm.conf is made a symbolic link to the
# folder's slurm.conf -- the job-step side of the executor plugin starts its srun without SLURM_CONF
# (snakemake-executor-plugin-slurm-jobstep drops every SLURM_* variable but the job's identity), so
# srun must find the config at the default path. A regular file there (a real cluster's config) is
# never replaced: the script stops instead. `stop` removes the link again.
#
#   tests/cluster/slurm_cluster.sh start DIR   start munged (if not running), slurmctld and slurmd
#   tests/cluster/slurm_cluster.sh stop DIR    stop the daemons this script started (their pid files)
#   export SLURM_CONF=DIR/slurm.conf           then sbatch/squeue/snakemake --executor slurm use it
#
# Runs as root (slurmd needs it to start job steps as the submitting user). Ports 16817/16818, so an
# existing cluster on the default ports is not disturbed.
set -euo pipefail

cmd=${1:?usage: slurm_cluster.sh start|stop DIR}
dir=$(realpath -m "${2:?usage: slurm_cluster.sh start|stop DIR}")

need() { command -v "$1" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin:/sbin" command -v "$1" >/dev/null 2>&1; }

install_if_missing() {
  local missing=()
  for b in slurmctld slurmd sbatch munged; do need "$b" || missing+=("$b"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "${COCAPP_SLURM_INSTALL:-0}" = 1 ] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurmctld slurmd slurm-client munge >/dev/null
  else
    echo "slurm_cluster.sh: missing ${missing[*]} (set COCAPP_SLURM_INSTALL=1 to apt-get install them)" >&2
    exit 3
  fi
}

start() {
  export PATH="$PATH:/usr/sbin:/sbin"
  install_if_missing
  mkdir -p "$dir/state" "$dir/spool" "$dir/log"
  # munge: one daemon per machine; start it only if none answers
  if ! munge -n </dev/null >/dev/null 2>&1; then
    if [ ! -s /etc/munge/munge.key ]; then
      (command -v mungekey >/dev/null && mungekey --create) || create-munge-key -f
    fi
    mkdir -p /run/munge && chown munge:munge /run/munge 2>/dev/null || true
    if id munge >/dev/null 2>&1; then
      runuser -u munge -- munged --pid-file="$dir/munged.pid" 2>/dev/null || munged --force --pid-file="$dir/munged.pid"
    else
      munged --force --pid-file="$dir/munged.pid"
    fi
    for _ in $(seq 50); do munge -n </dev/null >/dev/null 2>&1 && break; sleep 0.1; done
  fi
  local host cpus mem
  host=$(hostname -s)
  cpus=$(nproc)
  mem=$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
  cat >"$dir/slurm.conf" <<CONF
ClusterName=cocapp-test
SlurmctldHost=$host
SlurmctldPort=16817
SlurmdPort=16818
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MinJobAge=3600
SlurmdTimeout=60
InactiveLimit=0
KillWait=10
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
  local etc=/etc/slurm/slurm.conf
  if [ -e "$etc" ] && [ ! -L "$etc" ]; then
    echo "slurm_cluster.sh: $etc is a real file (a configured cluster?): not replacing it" >&2
    exit 4
  fi
  mkdir -p /etc/slurm && ln -sfn "$dir/slurm.conf" "$etc"
  export SLURM_CONF="$dir/slurm.conf"
  slurmctld -f "$dir/slurm.conf" -i
  slurmd -f "$dir/slurm.conf"
  for _ in $(seq 100); do
    state=$(sinfo -h -N -o %t 2>/dev/null | head -1 || true)
    case "$state" in idle*|mix*|alloc*) echo "slurm_cluster.sh: node $host $state (SLURM_CONF=$dir/slurm.conf)"; return 0 ;; esac
    sleep 0.3
  done
  echo "slurm_cluster.sh: the node did not come up; logs in $dir/log" >&2
  tail -5 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 || true
  return 1
}

stop() {
  [ "$(readlink /etc/slurm/slurm.conf 2>/dev/null)" = "$dir/slurm.conf" ] && rm -f /etc/slurm/slurm.conf
  for name in slurmd slurmctld munged; do
    pidfile="$dir/$name.pid"
    [ -s "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$pidfile"
  done
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: slurm_cluster.sh start|stop DIR" >&2; exit 2 ;;
esac
