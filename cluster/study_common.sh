# Sourced by slurm_study.sh and pbs_study.sh in the repository root, PROFILE set: the Python, and
# from the study file the number of array tasks of each phase (as `study --phase P --list`
# numbers them) and the study setup's threads a task.
OWSLIB_PYTHON=${OWSLIB_PYTHON:-$( [ -x .venv/bin/python ] && echo "$PWD/.venv/bin/python" || command -v python)}
export OWSLIB_PYTHON
COUNTS=$("$OWSLIB_PYTHON" -c '
import sys
from owslib.paths import STUDY_FILE
from owslib.study.studyfile import load_study
from owslib.study.tasks import study_tasks
study = load_study(STUDY_FILE, profile=sys.argv[1] or None)
print(len(study_tasks(study, "screening")), len(study_tasks(study, "confirmation")),
      study.setup.threads or 1)' "$PROFILE")
read -r N_SCREENING N_CONFIRMATION THREADS <<< "$COUNTS"
