"""The study's array tasks: its runs numbered by the study file and the phase alone, so that
``--index I`` means the same run from an array's submission to its end.

The screening's tasks are its runs in the study file's order (a real-scene study's: its pilot).
The confirmation's are numbered by question, fresh seed and arm slot (the picked arm, then its
comparator), each run once: a slot whose variant the study file fixes (a comparator, a
head-to-head arm) is known at submission; the arm a ``best_screening`` question picks is read from its recorded pick
(:func:`~owslib.study.arms.recorded_arms`) when the task starts, and a task whose arm is not
recorded yet raises :class:`NotPicked`. ``study --pick-arms`` records the picks between the two
arrays. A replication's tasks (``"replication"`` in the study file) follow, seed by seed, every
arm: their variants are fixed, so each is known at submission.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from owslib.runs.lock import is_busy
from owslib.study.arms import record_pick, recorded_arms, screening_state
from owslib.study.state import status
from owslib.study.studyfile import RunJob, Study, run_dir

log = logging.getLogger(__name__)

PHASES = ("screening", "confirmation", "all")


class NotPicked(RuntimeError):
    """A confirmation task whose arm the screening has not picked (recorded) yet."""


@dataclass(frozen=True)
class Task:
    """One array task: ``variant`` at ``seed``; ``variant`` None is the arm that ``question``'s
    rule picks from the screening."""

    phase: str
    seed: int
    variant: str | None
    question: str = ""

    @property
    def label(self) -> str:
        return f"{self.variant or f'<arm of {self.question}>'}/seed{self.seed}"


def study_tasks(
    study: Study, phase: str = "all", only: tuple[str, ...] = (), seeds: tuple[int, ...] = ()
) -> list[Task]:
    """The tasks of ``phase`` (``all``: the screening's, then the confirmation's), numbered by
    their position; ``only`` (notebooks or variants) and ``seeds`` narrow them."""
    notebooks = tuple(n for n in only if n in study.notebook_names)
    variants = tuple(n for n in only if n in study.variants)
    tasks: list[Task] = []
    if phase in ("all", "screening"):
        tasks += [Task("screening", s, v) for v, s in study.runs(notebooks, variants)]
    if phase in ("all", "confirmation") and study.confirmatory:
        conf = study.confirmatory
        for q in conf.questions:
            if notebooks and q.notebook not in notebooks:
                continue
            nb = study.notebook(q.notebook)
            fixed = q.rule == "head_to_head"
            for s in conf.seeds:
                slots = (q.arms[0], q.arms[1]) if fixed else (None, nb.baseline)
                tasks += [Task("confirmation", s, v, q.notebook) for v in slots]
    if phase in ("all", "confirmation") and study.replication:
        rep = study.replication  # fixed arms: every task known at submission
        tasks += [Task("confirmation", s, v, "replication") for s in rep.seeds for v in rep.arms]
    seen: set[tuple[str, int]] = set()
    out = []
    for t in tasks:
        if t.variant is not None and ((t.variant, t.seed) in seen):
            continue  # a comparator of several questions: one run, one task
        seen.add((t.variant or "", t.seed))
        if seeds and t.seed not in seeds:
            continue
        if variants and t.variant is not None and t.variant not in variants:
            continue
        out.append(t)
    return out


def resolve(study: Study, results_dir: str | Path, task: Task) -> RunJob:
    """The run of ``task``: its arm read from the recorded pick (:class:`NotPicked` if none)."""
    variant = task.variant
    if variant is None:
        q = next(q for q in study.confirmatory.questions if q.notebook == task.question)
        arms = recorded_arms(study, results_dir, q)
        if arms is None:
            _, why = screening_state(study, results_dir, q)
            raise NotPicked(
                f"{task.label}: {task.question}'s arm is not picked yet "
                f"({why or 'the screening could pick it'}; `study --pick-arms` records it)"
            )
        variant = arms[0]
    return RunJob(variant, task.seed, run_dir(results_dir, study.profile, variant, task.seed))


def pick_all(
    study: Study, results_dir: str | Path, overrides: dict[str, Any]
) -> tuple[list[str], bool]:
    """Record every question's pick from the finished screening (the job between the two
    arrays); returns one line per question and whether every question has its arms."""
    lines, ok = [], True
    for q in study.confirmatory.questions if study.confirmatory else ():
        arms = record_pick(study, results_dir, q, overrides)
        if arms is None:
            ok = False
            _, why = screening_state(study, results_dir, q)
            lines.append(f"{q.notebook}: not picked: {why or 'the screening is not current'}")
        else:
            lines.append(f"{q.notebook}: {arms[0]} vs {arms[1]}")
    return lines, ok


def wait_while_busy(path: Path, poll_s: float = 10.0) -> None:
    """Wait while another process holds ``path``'s run lock (a task sharing its run with
    another, or a first attempt still ending): the task ends when its run is finished."""
    log.warning("run %s: another process is training it; waiting for it to end", path)
    while is_busy(path):
        time.sleep(poll_s)


def list_tasks(
    study: Study,
    results_dir: str | Path,
    phase: str = "all",
    only: tuple[str, ...] = (),
    seeds: tuple[int, ...] = (),
    overrides: dict[str, Any] | None = None,
) -> list[str]:
    """``--list``: one line per array task of ``phase`` (:func:`study_tasks`,
    numbered as ``--index`` takes them: the number is fixed by the study file and the phase), its
    run's state, then one ``#`` line. A confirmation arm not picked yet shows as
    ``<arm of NOTEBOOK>``."""
    tasks = study_tasks(study, phase, only, seeds)
    lines, todo = [], 0
    for i, task in enumerate(tasks):
        try:
            job = resolve(study, results_dir, task)
        except NotPicked:
            lines.append(f"{i}\t<arm of {task.question}>\tseed {task.seed}\tnot picked yet\t-")
            todo += 1
            continue
        st = status(study, job, overrides)
        todo += st != "finished"
        lines.append(f"{i}\t{job.variant}\tseed {job.seed}\t{st}\t{job.path}")
    lines.append(
        f"# {len(tasks)} tasks of --phase {phase} (--index 0..{len(tasks) - 1}), {todo} to train; "
        "the confirmation's arms are picked from the finished screening (study --pick-arms)"
    )
    return lines
