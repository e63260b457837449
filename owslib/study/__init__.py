"""The study: its file (:mod:`.studyfile`: variants, seeds, notebooks), planning and training its
runs (:mod:`.plan`; one run is :mod:`owslib.runs`), papermill execution of the notebooks
(:mod:`.execute`), a notebook kernel's setup (:mod:`.kernel`), the runs' numbers read back
(:mod:`.results`) and their figures (:mod:`.figures`). The paired statistics are :mod:`owslib.comparison`.
"""

from owslib.study.kernel import Run, setup_run

__all__ = ["Run", "setup_run"]
