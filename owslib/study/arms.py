"""The confirmation's arms: each pre-registered question's two variants, picked by its rule from
the finished screening and, once picked, recorded in ``results/runs/<profile>/confirmation_arms/``
(one JSON file per question), so that retraining a screening run later cannot move a
confirmation under way to other arms. A ``best_screening`` question picks only when every
screening run of its notebook is current (:func:`~owslib.study.state.status` ``finished``) and
all of them share one setup fingerprint."""

from __future__ import annotations

import datetime
import logging
from pathlib import Path

import pandas as pd

from owslib.io import atomic_write_json, read_json
from owslib.study.confirm import Question, screening_means, select_arms
from owslib.study.results import long_rows, run_fingerprint
from owslib.study.state import is_current
from owslib.study.studyfile import RunJob, Study, run_dir

log = logging.getLogger(__name__)

ARMS_FOLDER = "confirmation_arms"


def arms_record(study: Study, results_dir: str | Path, notebook: str) -> Path:
    """Where a question's picked arms are recorded."""
    return Path(results_dir) / "runs" / study.profile / ARMS_FOLDER / f"{notebook}.json"


def recorded_arms(study: Study, results_dir: str | Path, q: Question) -> tuple[str, str] | None:
    """The arms recorded for ``q``, if they were picked by its present rule and endpoint."""
    rec = read_json(arms_record(study, results_dir, q.notebook))
    if not rec:
        return None
    arms = (rec.get("arm"), rec.get("comparator"))
    if (rec.get("rule"), rec.get("endpoint")) != (q.rule, q.endpoint) or not set(arms) <= set(
        study.notebook(q.notebook).variants
    ):
        log.warning("%s: the recorded arms %s were picked by rule %r on %r; the study file now "
                    "says %r on %r, so they are picked again", q.notebook, arms, rec.get("rule"),
                    rec.get("endpoint"), q.rule, q.endpoint)  # fmt: skip
        return None
    return arms  # type: ignore[return-value]


def pick_arms(study: Study, results_dir: str | Path,
              q: Question) -> tuple[tuple[str, str] | None, str, dict]:  # fmt: skip
    """``(arms, why_not, record)``: the rule applied to the finished screening now (ignoring any
    record); ``arms`` None with the reason while the screening cannot pick yet."""
    if q.rule == "head_to_head":
        return (q.arms[0], q.arms[1]), "", {}
    nb = study.notebook(q.notebook)
    rows, prints = [], set()
    for v in nb.variants:
        for s in study.seeds:
            job = RunJob(v, s, run_dir(results_dir, study.profile, v, s))
            if not is_current(study, job):
                return None, "the screening is unfinished", {}
            prints.add(run_fingerprint(job.path))
            rows += long_rows(v, s, read_json(job.path / "metrics.json") or {},
                              run_fingerprint(job.path))  # fmt: skip
    if len(prints) > 1:
        return None, f"the screening's runs are of {len(prints)} setups: retrain them in one", {}
    long = pd.DataFrame(rows)
    try:
        arm, comparator = select_arms(q, nb.variants, nb.baseline, long)
    except ValueError as e:  # no variant has the endpoint at a seed of its baseline
        return None, str(e), {}
    record = {"notebook": q.notebook, "rule": q.rule, "endpoint": q.endpoint, "arm": arm,
              "comparator": comparator, "screening_seeds": list(study.seeds),
              "screening_mean_difference": screening_means(q, nb.variants, nb.baseline, long),
              "fingerprint": prints.pop() if prints else ""}  # fmt: skip
    return (arm, comparator), "", record


def screening_state(study: Study, results_dir: str | Path,
                    q: Question) -> tuple[tuple[str, str] | None, str]:  # fmt: skip
    """``(arm, comparator)`` of a question (the recorded pick, else its rule applied to the
    screening now) and ``""``; or None and why the screening cannot pick yet."""
    recorded = recorded_arms(study, results_dir, q) if q.rule != "head_to_head" else None
    if recorded:
        return recorded, ""
    arms, why, _ = pick_arms(study, results_dir, q)
    return arms, why


def selected_arms(study: Study, results_dir: str | Path, q: Question, *,
                  record: bool = False) -> tuple[str, str] | None:  # fmt: skip
    """``(arm, comparator)`` of a question, or None while its screening cannot pick. With
    ``record`` (a runner about to train the confirmation) a ``best_screening`` pick is written to
    :func:`arms_record` the first time, and a recorded pick that the screening would now change is
    kept, with a warning."""
    if not record or q.rule == "head_to_head":
        return screening_state(study, results_dir, q)[0]
    recorded = recorded_arms(study, results_dir, q)
    arms, _, rec = pick_arms(study, results_dir, q)
    if recorded:
        if arms and arms != recorded:
            log.warning("%s: the screening now picks %s, but the confirmation was started with "
                        "the recorded %s (%s): kept, as pre-registered", q.notebook, arms,
                        recorded, arms_record(study, results_dir, q.notebook))  # fmt: skip
        return recorded
    if arms:
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        atomic_write_json(arms_record(study, results_dir, q.notebook), rec | {"picked": now})
        log.info("%s: the screening picks %s vs %s; recorded in %s", q.notebook, *arms,
                 arms_record(study, results_dir, q.notebook))  # fmt: skip
    return arms


def confirmation_runs(study: Study, results_dir: str | Path, notebooks: tuple[str, ...] = (), *,
                      record: bool = False) -> list[tuple[str, int]]:  # fmt: skip
    """The pre-registered confirmation's runs: per question, its two arms (:func:`selected_arms`)
    at every fresh seed; a question whose screening cannot pick yet has none."""
    conf = study.confirmatory
    out: list[tuple[str, int]] = []
    for q in conf.questions if conf else ():
        if notebooks and q.notebook not in notebooks:
            continue
        arms = selected_arms(study, results_dir, q, record=record)
        if arms is None:
            why = screening_state(study, results_dir, q)[1]
            log.info("%s: %s; its confirming runs come after it", q.notebook, why)
            continue
        out += [(v, s) for s in conf.seeds for v in arms if (v, s) not in out]
    return out
