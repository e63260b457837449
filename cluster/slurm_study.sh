#!/bin/bash
# Submit the whole study to SLURM in one command, each job starting when the one before ended:
#   1. the screening's array (one run a task),
#   2. a job that trains what a cancelled or killed task left of the screening, then records each
#      confirmation question's arms (study --pick-arms),
#   3. the confirmation's array (numbered by question, seed and arm slot; the arm read from 2.),
#   4. a job that trains what a task left of the confirmation, then renders the notebooks
#      (refused, exit 1, while a run is missing).
# A task's --index means the same run from submission to the end (study --list --phase P).
#
#   cluster/slurm_study.sh [--profile P] [--gpus N] [--mem M] [--time T] [-- extra sbatch options]
#
# --gpus 0 (the default) for a CPU partition. Each task gets the study setup's threads as CPUs and
# --mem (default 2G: a run of the study's setup; --jobs auto counts the same). Logs go to logs/,
# appended to on a requeue. SBATCH=echo-like commands may stand in for sbatch (the tests do).
set -euo pipefail
PROFILE="" GPUS=0 MEM=2G TIME=24:00:00 EXTRA=()
while [ $# -gt 0 ]; do
  case $1 in
    --profile) PROFILE=$2; shift 2 ;;
    --gpus) GPUS=$2; shift 2 ;;
    --mem) MEM=$2; shift 2 ;;
    --time) TIME=$2; shift 2 ;;
    --) shift; EXTRA=("$@"); break ;;
    *) echo "usage: $0 [--profile P] [--gpus N] [--mem M] [--time T] [-- sbatch options]" >&2; exit 2 ;;
  esac
done
cd "$(dirname "$0")/.."
source cluster/study_common.sh
SBATCH=${SBATCH:-sbatch}
mkdir -p logs
RES=(--cpus-per-task="$THREADS" --mem="$MEM" --time="$TIME" --open-mode=append --requeue
     --kill-on-invalid-dep=yes --export=ALL,OWSLIB_PYTHON="$OWSLIB_PYTHON")
[ "$GPUS" -gt 0 ] && RES+=(--gres=gpu:"$GPUS")
JOB=cluster/slurm_study.sbatch

submit() {  # the job id of: sbatch OPTIONS… (one job or an array)
  "$SBATCH" --parsable "${RES[@]}" "${EXTRA[@]}" "$@" | cut -d';' -f1
}
S=$(submit --job-name=owslib-screening --array=0-$((N_SCREENING - 1)) \
  --output=logs/%x-%A_%a.out $JOB screening "$PROFILE")
P=$(submit --job-name=owslib-pick --dependency=afterany:"$S" --output=logs/%x-%j.out \
  $JOB pick "$PROFILE")
C=$(submit --job-name=owslib-confirmation --array=0-$((N_CONFIRMATION - 1)) \
  --dependency=afterok:"$P" --output=logs/%x-%A_%a.out $JOB confirmation "$PROFILE")
R=$(submit --job-name=owslib-render --dependency=afterany:"$C" --output=logs/%x-%j.out \
  $JOB render "$PROFILE")
cat <<MSG
screening    $S  ($N_SCREENING tasks)
pick arms    $P  (after the screening)
confirmation $C  ($N_CONFIRMATION tasks, after $P)
render       $R  (after the confirmation)
watch:  squeue -j $S,$P,$C,$R    sacct -j $S,$P,$C,$R -X -o JobID%20,JobName,State,Elapsed,ExitCode
logs:   tail -f logs/owslib-*.out
MSG
echo "$S $P $C $R" > logs/owslib-study.jobs
