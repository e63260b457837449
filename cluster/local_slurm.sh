#!/bin/bash
# End-to-end test of the study under a real scheduler (make test-cluster; root, Debian/Ubuntu):
# installs and starts a single-node SLURM (slurmctld + slurmd + munge on this host), submits the
# smoke study with the one command (cluster/slurm_study.sh --profile smoke --gpus 0) from a fresh
# clone, injects a scancel, a scontrol requeue and a kill -9 into screening tasks while their run
# trains, waits for the render job, and asserts that every run's metrics.json and every rendered
# notebook equal a local `study --profile smoke` (REF=<a clone where it ran> reuses one).
#   cluster/local_slurm.sh            WORK=/tmp/owslib-slurm  REF=/tmp/owslib-ref
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-/tmp/owslib-slurm}
REF=${REF:-/tmp/owslib-ref}
export OWSLIB_PYTHON=${OWSLIB_PYTHON:-$( [ -x "$REPO/.venv/bin/python" ] && echo "$REPO/.venv/bin/python" || command -v python3)}
say() { echo "== $(date +%T) $*"; }

start_slurm() {
  command -v slurmctld >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge; }
  local host cpus mem
  host=$(hostname -s); cpus=$(nproc); mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 2048 ))
  mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge
  cat > /etc/slurm/slurm.conf <<CONF
ClusterName=owslib
SlurmctldHost=$host
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
SlurmUser=root
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
JobCompType=jobcomp/filetxt
JobCompLoc=/var/log/slurm/jobcomp.log
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
MinJobAge=7200
ReturnToService=2
MpiDefault=none
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=cpu Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
  if ! pgrep -x munged >/dev/null; then
    [ -s /etc/munge/munge.key ] || { mkdir -p /etc/munge; dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null; }
    chown -R munge: /etc/munge /run/munge /var/lib/munge /var/log/munge 2>/dev/null || true
    chmod 400 /etc/munge/munge.key
    runuser -u munge -- /usr/sbin/munged
  fi
  pgrep -x slurmctld >/dev/null || slurmctld
  pgrep -x slurmd >/dev/null || slurmd
  for _ in $(seq 30); do sinfo -h -o %T 2>/dev/null | grep -q idle && break; sleep 1; done
  sinfo
}

# ACTION TASK_ID: wait until screening task TASK_ID's run saved its first checkpoint (epoch 1 of 2),
# then inject ACTION: the task's run resumes from it
inject() {
  local action=$1 task=$2 run=${RUNS[$2]}
  for _ in $(seq 1200); do [ -e "$run/checkpoints/last.pt" ] && break; sleep 0.25; done
  case $action in
    scancel) scancel "${S}_$task" ;;
    requeue) scontrol requeue "${S}_$task" ;;
    kill9) kill -9 "$(pgrep -f -- "--phase screening --index $task\$" | head -1)" ;;
  esac
  say "injected $action into screening task $task (${S}_$task) while $run trained"
}

start_slurm
if [ ! -d "$REF/.git" ]; then  # (a clone given, where the local study ran or runs)
  say "reference: a local study --profile smoke in $REF"
  rm -rf "$REF"; git clone -q "$REPO" "$REF"
  (cd "$REF" && "$OWSLIB_PYTHON" -m owslib study --profile smoke)
fi
rm -rf "$WORK"; git clone -q "$REPO" "$WORK"; cd "$WORK"
mapfile -t RUNS < <("$OWSLIB_PYTHON" -m owslib study --profile smoke --phase screening --list 2>/dev/null | awk '/^[0-9]/ {print $NF}')
START=$(date +%s)
cluster/slurm_study.sh --profile smoke --gpus 0 | tee /tmp/owslib-slurm-submit.txt
read -r S P C R < logs/owslib-study.jobs
inject scancel 1
inject requeue 2
inject kill9 3
say "waiting for the render job $R"
while squeue -h -j "$S,$P,$C,$R" 2>/dev/null | grep -q .; do sleep 5; done
say "the study ended after $(( $(date +%s) - START )) s"
for j in "$S" "$P" "$C" "$R"; do grep -h "JobId=$j[ _]" /var/log/slurm/jobcomp.log | sed -E 's/.*JobId=([^ ]+).*Name=([^ ]+).*JobState=([^ ]+).*StartTime=([^ ]+) EndTime=([^ ]+).*/\1 \2 \3 \4 \5/'; done
grep -q "JobId=$R .*JobState=COMPLETED" /var/log/slurm/jobcomp.log || { say "FAIL: the render job did not complete"; exit 1; }
"$OWSLIB_PYTHON" "$REPO/cluster/compare_results.py" "$REF/results" "$WORK/results" smoke
