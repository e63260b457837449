"""The confirmation's arms: each pre-registered question's two variants, picked by its rule from
the finished screening and, once picked, recorded in ``results/runs/<profile>/confirmation_arms/``
(one JSON file per question), so that retraining a screening run later cannot move a
confirmation under way to other arms. A ``best_screening`` question picks only when every
screening run of its notebook is current (:func:`~owslib.study.state.status` ``finished``) and
all of them share one setup fingerprint; its comparator is the notebook's baseline."""

from __future__ import annotations

import datetime
import json
import logging
import os
from pathlib import Path
from typing import Any

import pandas as pd

from owslib.io import read_json
from owslib.study.confirm import Question, screening_means, select_arms
from owslib.study.results import long_rows, run_fingerprint
from owslib.study.state import is_current, read_record, status
from owslib.study.studyfile import RunJob, Study, run_dir

log = logging.getLogger(__name__)

ARMS_FOLDER = "confirmation_arms"
Arms = tuple[str, str]


def arms_record(study: Study, results_dir: str | Path, notebook: str) -> Path:
    """Where a question's picked arms are recorded."""
    return Path(results_dir) / "runs" / study.profile / ARMS_FOLDER / f"{notebook}.json"


def recorded_arms(study: Study, results_dir: str | Path, q: Question) -> Arms | None:
    """The arms recorded for ``q``, if they were picked by its present rule and endpoint (an
    unreadable record raises: it is never silently replaced)."""
    path = arms_record(study, results_dir, q.notebook)
    if not path.exists():
        return None
    rec = read_json(path)
    if not isinstance(rec, dict):
        raise ValueError(
            f"{path}: the recorded confirmation arms are unreadable; restore the "
            "file from git (it is never picked again once a confirmation started)"
        )
    nb = study.notebook(q.notebook)
    arms = (rec.get("arm"), rec.get("comparator"))
    if (
        (rec.get("rule"), rec.get("endpoint")) != (q.rule, q.endpoint)
        or arms[1] != nb.baseline
        or arms[0] not in nb.variants
        or arms[0] == nb.baseline
    ):
        log.warning(
            "%s: the recorded arms %s (rule %r on %r) do not fit the study file's question "
            "(rule %r on %r against %s); they are picked again",
            q.notebook,
            arms,
            rec.get("rule"),
            rec.get("endpoint"),
            q.rule,
            q.endpoint,
            nb.baseline,
        )
        return None
    return arms  # type: ignore[return-value]


def pick_arms(
    study: Study, results_dir: str | Path, q: Question, overrides: dict[str, Any] | None = None
) -> tuple[Arms | None, str, dict]:
    """``(arms, why_not, record)``: the rule applied to the finished screening now (ignoring any
    record); ``arms`` None with the reason while the screening cannot pick. A screening run
    counts when it is current: for a runner (``overrides``, its ``-p`` keys) as it would train,
    for a reader (None) under the study-wide config the run recorded."""
    if q.rule == "head_to_head":
        return (q.arms[0], q.arms[1]), "", {}
    nb = study.notebook(q.notebook)
    rows, prints = [], set()
    for v in nb.variants:
        for s in study.seeds:
            job = RunJob(v, s, run_dir(results_dir, study.profile, v, s))
            current = (
                is_current(study, job)
                if overrides is None
                else status(study, job, overrides) == "finished"
            )
            if not current:
                return None, "the screening is unfinished", {}
            prints.add(run_fingerprint(job.path))
            rows += long_rows(
                v, s, read_record(job.path / "metrics.json") or {}, run_fingerprint(job.path)
            )
    if len(prints) > 1:
        return None, f"the screening's runs are of {len(prints)} setups: retrain them in one", {}
    long = pd.DataFrame(rows)
    try:
        arm, comparator = select_arms(q, nb.variants, nb.baseline, long)
    except ValueError as e:  # no variant has the endpoint at a seed of its baseline
        return None, str(e), {}
    record = {
        "notebook": q.notebook,
        "rule": q.rule,
        "endpoint": q.endpoint,
        "arm": arm,
        "comparator": comparator,
        "screening_seeds": list(study.seeds),
        "screening_mean_difference": screening_means(q, nb.variants, nb.baseline, long),
        "fingerprint": prints.pop() if prints else "",
    }
    return (arm, comparator), "", record


def screening_state(study: Study, results_dir: str | Path, q: Question) -> tuple[Arms | None, str]:
    """``(arm, comparator)`` of a question (the recorded pick, else its rule applied to the
    screening now, :func:`pick_arms` as a reader) and ``""``; or None and why the screening
    cannot pick yet."""
    recorded = recorded_arms(study, results_dir, q) if q.rule != "head_to_head" else None
    if recorded:
        return recorded, ""
    arms, why, _ = pick_arms(study, results_dir, q)
    return arms, why


def _create_once(path: Path, obj: dict) -> bool:
    """Write ``obj`` to ``path`` only if no file is there (a whole file or none: written aside,
    then hard-linked into place, which fails when another process created it first)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    finally:
        tmp.unlink()


def record_pick(
    study: Study, results_dir: str | Path, q: Question, overrides: dict[str, Any]
) -> Arms | None:
    """For a runner about to train ``q``'s confirming runs: the recorded arms, or the rule's pick
    (judged as this runner would train, ``overrides``) written to :func:`arms_record` the first
    time. A recorded pick that the screening would now change is kept, with a warning."""
    if q.rule == "head_to_head":
        return q.arms[0], q.arms[1]
    path = arms_record(study, results_dir, q.notebook)
    recorded = recorded_arms(study, results_dir, q)
    arms, _, rec = pick_arms(study, results_dir, q, overrides)
    if recorded is None and arms is not None:
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        if _create_once(path, rec | {"picked": now}):
            log.info("%s: the screening picks %s vs %s; recorded in %s", q.notebook, *arms, path)
            return arms
        recorded = recorded_arms(study, results_dir, q)  # another process recorded it meanwhile
    if recorded and arms and arms != recorded:
        log.warning(
            "%s: the screening now picks %s, but the confirmation was started with the "
            "recorded %s (%s): kept, as pre-registered",
            q.notebook,
            arms,
            recorded,
            path,
        )
    return recorded


def confirmation_runs(
    study: Study,
    results_dir: str | Path,
    notebooks: tuple[str, ...] = (),
) -> dict[str, list[tuple[str, int]]]:
    """The pre-registered confirmation's runs, per question's notebook: its two arms
    (:func:`screening_state`) at every fresh seed; a question whose screening cannot pick yet has
    none (and is left out)."""
    conf = study.confirmatory
    out: dict[str, list[tuple[str, int]]] = {}
    for q in conf.questions if conf else ():
        if notebooks and q.notebook not in notebooks:
            continue
        arms, why = screening_state(study, results_dir, q)
        if arms is None:
            log.info("%s: %s; its confirming runs come after it", q.notebook, why)
            continue
        out[q.notebook] = [(v, s) for s in conf.seeds for v in arms]
    return out
