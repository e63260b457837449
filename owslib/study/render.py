"""Rendering a study's notebooks: each notebook's papermill parameters, and an execution that is
redone only when its source, its parameters or a run it reads changed."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

from owslib.study.execute import ParameterError, declared_parameters, execute, notebook_path
from owslib.study.studyfile import Study, run_dir

log = logging.getLogger(__name__)


def notebook_parameters(
    study: Study, names: list[str], parameters: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """Each notebook's papermill parameters: ``profile``, then every ``-p`` parameter it declares;
    a flat config key it does not declare goes into its ``config_overrides``. A parameter that no
    notebook takes raises :class:`~owslib.study.ParameterError`, naming it, before anything runs."""
    out: dict[str, dict[str, Any]] = {}
    used: set[str] = set()
    for name in names:
        declared = declared_parameters(notebook_path(name))
        params: dict[str, Any] = {"profile": study.profile}
        overrides: dict[str, Any] = {}
        for k, v in parameters.items():
            if k in declared:
                params[k] = v
                used.add(k)
            elif "__" in k and "config_overrides" in declared:
                overrides[k] = v
                used.add(k)
        if overrides:
            params["config_overrides"] = overrides
        out[name] = params
    strangers = sorted(set(parameters) - used - {"train_missing"})
    if strangers:
        raise ParameterError(f"no notebook of {names} declares parameter(s) {strangers}")
    return out


def render(
    study: Study,
    results_dir: str | Path,
    *,
    notebooks: tuple[str, ...] = (),
    parameters: dict[str, Any] | None = None,
    force: bool = False,
) -> list[Path]:
    """Execute the study's notebooks (all, or those named) in order; returns the executed copies.
    A notebook is executed again when its source, its parameters or a run it reads changed
    (compared by content, so a fresh clone re-renders nothing)."""
    names = [n for n in study.notebook_names if not notebooks or n in notebooks]
    per_notebook = notebook_parameters(study, names, parameters or {})
    out = []
    for i, name in enumerate(names, 1):
        log.info("notebook %d/%d: %s", i, len(names), name)

        def inputs(name: str = name) -> str:
            return runs_digest(study, name, results_dir)

        out.append(
            execute(name, per_notebook[name], results_dir=results_dir, force=force, inputs=inputs)
        )
    return out


def runs_read(
    study: Study, name: str, results_dir: str | Path
) -> tuple[set[tuple[str, int]], list[str]]:
    """The runs notebook ``name`` reads (the summary: every run): its screening runs and the
    confirming runs of its question (whose verdict it states); and the questions it states."""
    from owslib.study.arms import confirmation_runs

    spec = study.notebook(name)
    summary = name.endswith("summary")
    runs = set(study.runs((name,)) if spec.variants else (study.runs() if summary else []))
    questions = [q.notebook for q in study.confirmatory.questions] if study.confirmatory else []
    asked = questions if summary else [q for q in questions if q == name]
    if asked:  # (no notebooks named means every question's)
        for runs_of_question in confirmation_runs(study, results_dir, tuple(asked)).values():
            runs.update(runs_of_question)
    return runs, asked


def runs_digest(study: Study, name: str, results_dir: str | Path) -> str:
    """sha256 of the ``run.json`` and ``embeddings.npz`` files notebook ``name`` reads
    (:func:`runs_read`) and of the record of the arms its questions test."""
    from owslib.study.arms import arms_record

    runs, asked = runs_read(study, name, results_dir)
    digest = hashlib.sha256()
    for q in asked:
        record = arms_record(study, results_dir, q)
        digest.update(f"arms/{q}:".encode() + (record.read_bytes() if record.exists() else b"-"))
    for v, s in sorted(runs):
        folder = run_dir(results_dir, study.profile, v, s)
        for f in ("run.json", "embeddings.npz"):
            path = folder / f
            digest.update(f"{v}/{s}/{f}:".encode() + (path.read_bytes() if path.exists() else b"-"))
    return digest.hexdigest()


def incomplete(
    study: Study,
    results_dir: str | Path,
    notebooks: tuple[str, ...] = (),
    overrides: dict[str, Any] | None = None,
) -> list[str]:
    """What keeps the notebooks (all, or those named) from showing the whole study: each run
    they read that is not finished or is locked by a process training it, and each question
    whose confirmation's arms are not picked yet. Empty when the study is complete."""
    from owslib.runs.lock import is_busy
    from owslib.study.arms import screening_state
    from owslib.study.state import status
    from owslib.study.studyfile import RunJob

    names = [n for n in study.notebook_names if not notebooks or n in notebooks]
    runs: set[tuple[str, int]] = set()
    asked: set[str] = set()
    for name in names:
        read, questions = runs_read(study, name, results_dir)
        runs |= read
        asked |= set(questions)
    out = []
    for q in study.confirmatory.questions if study.confirmatory else ():
        if q.notebook in asked and screening_state(study, results_dir, q)[0] is None:
            out.append(f"{q.notebook}: the confirmation's arms are not picked yet")
    for v, s in sorted(runs):
        job = RunJob(v, s, run_dir(results_dir, study.profile, v, s))
        if is_busy(job.path):
            out.append(f"{job.label}: locked (a process is training it)")
        elif (st := status(study, job, overrides)) != "finished":
            out.append(f"{job.label}: {st}")
    return out
