#!/bin/bash
# Submit the whole study to PBS Pro / OpenPBS in one command (the same four jobs as
# cluster/slurm_study.sh, see there): the screening's array (qsub -J), a job that finishes the
# screening and records the confirmation's arms, the confirmation's array, a job that finishes it
# and renders the notebooks; each waits on the one before (-W depend=…).
#
#   cluster/pbs_study.sh [--profile P] [--gpus N] [--mem M] [--time T] [-- extra qsub options]
#
# QSUB=… may stand in for qsub (the tests do).
set -euo pipefail
PROFILE="" GPUS=0 MEM=2gb TIME=24:00:00 EXTRA=()
while [ $# -gt 0 ]; do
  case $1 in
    --profile) PROFILE=$2; shift 2 ;;
    --gpus) GPUS=$2; shift 2 ;;
    --mem) MEM=$2; shift 2 ;;
    --time) TIME=$2; shift 2 ;;
    --) shift; EXTRA=("$@"); break ;;
    *) echo "usage: $0 [--profile P] [--gpus N] [--mem M] [--time T] [-- qsub options]" >&2; exit 2 ;;
  esac
done
cd "$(dirname "$0")/.."
source cluster/study_common.sh
QSUB=${QSUB:-qsub}
mkdir -p logs
SELECT="select=1:ncpus=$THREADS:mem=$MEM"
[ "$GPUS" -gt 0 ] && SELECT+=":ngpus=$GPUS"
JOB=cluster/pbs_study.pbs

submit() {  # MODE N DEPENDENCY…: the job id (an array of N tasks when N > 1)
  local mode=$1 n=$2; shift 2
  local array=()
  [ "$n" -gt 1 ] && array=(-J "0-$((n - 1))")  # PBS refuses a one-task array: a plain job
  "$QSUB" -N "owslib-$mode" -l "$SELECT" -l walltime="$TIME" -j oe -o logs/ -r y \
    -v MODE="$mode",PROFILE="$PROFILE",OWSLIB_PYTHON="$OWSLIB_PYTHON" "${array[@]}" "$@" \
    "${EXTRA[@]}" $JOB
}
S=$(submit screening "$N_SCREENING")
P=$(submit pick 1 -W depend=afterany:"$S")
C=$(submit confirmation "$N_CONFIRMATION" -W depend=afterok:"$P")
R=$(submit render 1 -W depend=afterany:"$C")
cat <<MSG
screening    $S  ($N_SCREENING tasks)
pick arms    $P  (after the screening)
confirmation $C  ($N_CONFIRMATION tasks, after $P)
render       $R  (after the confirmation)
watch:  qstat -t $S $P $C $R    logs in logs/
MSG
