"""The study's runner: which runs a study file asks for, in which order (:func:`planned_runs`),
what they will cost (:func:`describe`), and training them (:func:`train_runs`).

Missing runs train in order (finished ones are reused, failed ones recorded and skipped unless
``--rerun-failed``), logging which run of how many is training, its epochs and an estimate of the
time left. An array task's numbering is :mod:`owslib.study.tasks`; one run's process is
:mod:`owslib.study.processes`; the notebooks are rendered by :mod:`owslib.study.render`.
"""

from __future__ import annotations

import logging
import os
import statistics
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from owslib.config import ExperimentConfig
from owslib.data.validation import DatasetError
from owslib.engine.logging import format_duration
from owslib.evaluation.anomaly_sets import parse_anomaly_sets
from owslib.paths import resolve
from owslib.runs.lock import is_busy, lock_path
from owslib.runs.run import read_run_info
from owslib.runs.setup import IN_SETUP_VARIABLE
from owslib.runs.supersede import move_aside
from owslib.sources import missing_root_message
from owslib.study.arms import confirmation_runs, record_pick, screening_state
from owslib.study.estimate import (
    DEFAULT_PRETRAIN_S,
    encoders_to_pretrain,
    expected_run_s,
    finished_runs,
    host_speed,
)
from owslib.study.processes import (
    allow_starts,
    sigterm_interrupts,
    stop_children,
    train_here,
    train_in_setup,
)
from owslib.study.state import stale_reason, status
from owslib.study.studyfile import RunJob, Study, run_dir

log = logging.getLogger(__name__)


def one_job(study: Study, results_dir: str | Path, name: str) -> RunJob:
    """``VARIANT/seedK`` as a job of the study (any seed: a confirming run too)."""
    variant, _, seed = name.partition("/seed")
    if variant not in study.variants or not seed.isdigit():
        raise ValueError(
            f"--run {name!r}: expected VARIANT/seedK with a variant of {study.path} "
            f"({sorted(study.variants)})"
        )
    return RunJob(variant, int(seed), run_dir(results_dir, study.profile, variant, int(seed)))


def planned_runs(
    study: Study,
    results_dir: str | Path,
    *,
    only: tuple[str, ...] = (),
    seeds: tuple[int, ...] = (),
    phase: str = "all",
    record: dict[str, Any] | None = None,
) -> list[RunJob]:
    """The runs of the study (or of the notebooks / variants named in ``only``), in order:
    the screening's, then (``phase`` ``all`` or ``confirmation``) the pre-registered
    confirmation's, whose arms its rule picks from the finished screening.

    ``record``: a runner about to train them, with its ``-p`` overrides. Each question with a
    run in the list then has its pick recorded (:func:`~owslib.study.arms.record_pick`, judged as
    this runner trains) and uses the recorded arms; one whose screening this runner would retrain
    first has no confirming run yet."""
    notebooks = tuple(n for n in only if n in study.notebook_names)
    variants = tuple(n for n in only if n in study.variants)
    unknown = [n for n in only if n not in notebooks and n not in variants]
    if unknown:
        raise ValueError(
            f"--only {unknown}: neither a notebook ({study.notebook_names}) nor a variant "
            f"({sorted(study.variants)}) of {study.path}"
        )

    def wanted(v: str, s: int) -> bool:
        return (not variants or v in variants) and (not seeds or s in seeds)

    runs = (
        [(v, s) for v, s in study.runs(notebooks, variants) if wanted(v, s)]
        if phase in ("all", "screening")
        else []
    )
    if phase in ("all", "confirmation"):
        questions = (
            {q.notebook: q for q in study.confirmatory.questions} if study.confirmatory else {}
        )
        for name, planned in confirmation_runs(study, results_dir, notebooks).items():
            planned = [(v, s) for v, s in planned if wanted(v, s)]
            if planned and record is not None:
                arms = record_pick(study, results_dir, questions[name], record)
                if arms is None:
                    log.info(
                        "%s: this runner retrains the screening first; its confirming runs "
                        "come after it",
                        name,
                    )
                    continue
                planned = [(v, s) for s in study.confirmatory.seeds for v in arms if wanted(v, s)]
            runs += [r for r in planned if r not in runs]
        if study.replication:
            rep = study.replication  # fixed arms, nothing to pick: seed by seed, every arm
            planned = [(v, s) for s in rep.seeds for v in rep.arms if wanted(v, s)]
            runs += [r for r in planned if r not in runs]
    return [RunJob(v, s, run_dir(results_dir, study.profile, v, s)) for v, s in runs]


def progress(
    study: Study, results_dir: str | Path, overrides: dict[str, Any] | None = None
) -> list[str]:
    """One line per comparison notebook: its screening's finished runs, then its pre-registered
    confirmation's (once the screening has chosen its arms)."""
    conf = study.confirmatory
    questions = {q.notebook: q for q in conf.questions} if conf else {}

    def finished(runs: list[tuple[str, int]]) -> str:
        n = sum(
            status(study, RunJob(v, s, run_dir(results_dir, study.profile, v, s)), overrides)
            == "finished"
            for v, s in runs
        )
        return f"{n}/{len(runs)}"

    lines = []
    for nb in study.notebooks:
        if len(nb.run_variants) < 2:
            continue
        text = f"# {nb.name}: screening {finished(study.runs((nb.name,)))} runs finished"
        q = questions.get(nb.name)
        arms, why = screening_state(study, results_dir, q) if q else (None, "")
        if q and arms is None:
            text += f"; its confirmation waits: {why}"
        elif q:
            runs = [(v, s) for s in conf.seeds for v in arms]
            text += f"; confirmation ({arms[0]} vs {arms[1]}) {finished(runs)}"
        lines.append(text)
    return lines


def describe(
    study: Study,
    all_jobs: list[RunJob],
    overrides: dict[str, Any] | None = None,
    jobs: int = 1,
    results_dir: str | Path | None = None,
) -> list[str]:
    """One line per run (``--dry-run`` / ``--list``) and the estimated time of the missing ones:
    each run at its setup's measured cost, ``jobs`` at a time, plus any closed-set encoder that
    must be pretrained first; with ``results_dir`` (``--dry-run``), first each notebook's
    :func:`progress`."""
    lines, todo = [], []
    for i, job in enumerate(all_jobs):
        st = status(study, job, overrides)
        if st != "finished":
            todo.append(job)
        lines.append(f"{i}\t{job.variant}\tseed {job.seed}\t{st}\t{job.path}")
    done = finished_runs(all_jobs)
    est = sum(expected_run_s(study, done, j) for j in todo) / max(jobs, 1)
    basis = (
        "from the finished runs, those of the study's setup and this CPU first"
        if done
        else f"no finished run yet: {format_duration(expected_run_s(study, done))} a run"
    )
    if jobs > 1:
        basis += f", {jobs} at a time"
    pretrain = encoders_to_pretrain(study, todo, overrides)
    if pretrain:
        recorded = [i["pretrain_s"] for _, i in done if "pretrain_s" in i]
        each = (
            statistics.median(recorded)
            if recorded
            else DEFAULT_PRETRAIN_S.get(study.profile, 1900.0)
        )
        est += each * len(pretrain)
        basis += (
            f"; first {len(pretrain)} closed-set encoder(s) to pretrain, about "
            f"{format_duration(each)} each"
        )
    if results_dir is not None:
        lines += progress(study, results_dir, overrides)
    lines.append(
        f"# {len(all_jobs)} runs, {len(todo)} to train: about {format_duration(est)} ({basis})"
    )
    return lines


#: What became of a run in :func:`train_runs`.
OUTCOMES = ("reused", "trained", "failed", "skipped", "busy", "interrupted")


def _queue(
    study: Study,
    all_jobs: list[RunJob],
    outcome: dict[str, list[str]],
    overrides: dict[str, Any],
    *,
    rerun_failed: bool,
    force: bool,
) -> tuple[list[RunJob], dict[int, list[str]]]:
    """The runs to train, and why each stale one (by queue position, from 1) is stale; the
    finished ones go to ``outcome["reused"]``, those that failed before (and are not retried)
    to ``outcome["skipped"]``."""
    todo = [j for j in all_jobs if force or status(study, j, overrides) != "finished"]
    outcome["reused"] = [j.label for j in all_jobs if j not in todo]
    queue: list[RunJob] = []
    stale: dict[int, list[str]] = {}
    for n, job in enumerate(todo, 1):
        st = status(study, job, overrides)
        if st == "failed" and not (rerun_failed or force):
            log.warning(
                "run %d/%d %s: failed before, skipped (--rerun-failed retries it)",
                n,
                len(todo),
                job.label,
            )
            outcome["skipped"].append(job.label)
            continue
        queue.append(job)
        if st == "stale":
            stale[len(queue)] = stale_reason(study, job, overrides)
    return queue, stale


class MissingDataError(DatasetError):
    """Runs must train and a dataset they read is not here (the message says how to get it)."""


def missing_data(cfg: ExperimentConfig) -> list[str]:
    """What a run of ``cfg`` reads and is not here: its dataset root (a real dataset; the embedded
    one is generated) and every anomaly set of ``eval__anomaly_sets``, each as the one line that
    says how to get it."""
    out = []
    root = resolve(cfg.data.root)
    if cfg.data.dataset != "embedded" and not root.exists():
        out.append(missing_root_message(root, cfg.data.dataset))
    for name, path in parse_anomaly_sets(cfg.eval.anomaly_sets).items():
        if not resolve(path).exists():
            out.append(missing_root_message(resolve(path), name))
    return out


def train_runs(
    study: Study,
    all_jobs: list[RunJob],
    *,
    rerun_failed: bool = False,
    force: bool = False,
    overrides: dict[str, Any] | None = None,
    jobs: int = 1,
) -> dict[str, list[str]]:
    """Train every job that is not finished (``overrides``: flat config keys applied to every
    run); returns the labels per outcome.

    Each run trains in the study's declared setup (:class:`~owslib.runs.setup.Setup`): in this
    process when it already has it, else in a process of its own started with the setup's
    environment; ``jobs`` runs at a time (each then in its own process), their log lines
    prefixed with the run's name.
    """
    overrides = overrides or {}
    for warning in study.setup.machine_warnings():
        log.warning("study setup %s: %s", study.setup, warning)
    in_place = bool(os.environ.get(IN_SETUP_VARIABLE)) or (
        jobs <= 1 and not study.setup.differences()
    )
    if os.environ.get(IN_SETUP_VARIABLE) and study.setup.differences():
        log.warning(
            "this run's process differs from the study's setup: %s",
            "; ".join(study.setup.differences()),
        )

    outcome = {k: [] for k in OUTCOMES}
    queue, stale = _queue(
        study, all_jobs, outcome, overrides, rerun_failed=rerun_failed, force=force
    )
    if queue:  # say once, before any run starts, that the data to train them is not here
        missing = missing_data(study.config(queue[0].variant, queue[0].seed, **overrides))
        if missing:
            raise MissingDataError(
                f"{len(queue)} run(s) of {study.path} must train and need data that is not "
                f"here: " + "; ".join(missing)
            )
    here: list[tuple[str, dict[str, Any]]] = []  # the runs this process trained, for the ETA

    def train(n_job: tuple[int, RunJob]) -> str:
        n, job = n_job
        try:
            result = _train_one(
                study,
                queue[n - 1 :],
                len(queue),
                finished_runs(all_jobs),
                overrides,
                jobs=jobs,
                in_place=in_place,
                here=list(here),
                supersede="forced re-run" if force else stale.get(n),
            )
            info = read_run_info(job.path) or {}
            if result == "trained" and "train_s" in info:
                here.append((job.variant, info))
            return result
        except Exception as e:  # this run's trouble (a move, a process); the others go on
            log.error("run %s failed: %s: %s", job.label, type(e).__name__, e)
            return "failed"

    allow_starts()
    try:
        with sigterm_interrupts(), ThreadPoolExecutor(max_workers=max(jobs, 1)) as pool:
            try:  # in this process: one after the other, in the main thread (Ctrl-C stops it)
                results = (map if in_place else pool.map)(train, enumerate(queue, 1))
                for job, result in zip(queue, results, strict=True):
                    outcome[result].append(job.label)
            except BaseException:  # Ctrl-C or SIGTERM: no new run starts, the running ones stop
                pool.shutdown(wait=False, cancel_futures=True)
                stop_children()
                raise
    finally:
        allow_starts()
    return outcome


def _train_one(
    study: Study,
    left_jobs: list[RunJob],
    total: int,
    done: list[tuple[str, dict[str, Any]]],
    overrides: dict[str, Any],
    *,
    jobs: int,
    in_place: bool,
    supersede: str | list[str] | None,
    here: list[tuple[str, dict[str, Any]]] | None = None,
) -> str:
    """Train the first of ``left_jobs`` (the rest of a queue of ``total``, for the time left;
    ``done``: the finished runs; ``here``: those this process trained, which scale the time left
    to this host's speed); a run found busy or finished by another process meanwhile is
    left alone. Returns the outcome: ``trained``, ``failed``, ``busy``, ``interrupted``, ``reused``."""
    job, label = left_jobs[0], f"run {total - len(left_jobs) + 1}/{total}"
    if is_busy(job.path):
        log.warning(
            "%s %s: being trained by another process, left alone (%s)",
            label,
            job.label,
            lock_path(job.path),
        )
        return "busy"
    left = sum(expected_run_s(study, done, j, here) for j in left_jobs) / max(jobs, 1)
    speed = (
        f"; this host at {host_speed(study, done, here):.2f}× the finished runs' time"
        if here
        else ""
    )
    log.info(
        "%s: %s -> %s (about %s%s%s%s)",
        label,
        job.label,
        job.path,
        format_duration(left),
        " left in the study" if total > 1 else "",
        speed,
        "" if done else "; a guess: no finished run here to measure from",
    )
    if supersede and job.path.exists():  # moved aside when its retraining starts
        forced = supersede == "forced re-run"
        now = status(study, job, overrides)  # (another runner may have retrained it meanwhile)
        if now == "finished" and not forced:
            log.info("%s %s: finished meanwhile by another process, reused", label, job.label)
            return "reused"
        if forced or now == "stale":
            move_aside(job.path, job.path.parents[3], supersede)
    if in_place:
        return train_here(study, job, overrides)
    return train_in_setup(study, job, overrides)
