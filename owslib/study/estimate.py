"""How long the study's runs will take: each run at its setup's measured cost, from the finished
runs (``--dry-run``, the per-run ETA), plus any closed-set encoder that must be pretrained first."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from owslib.engine.autocast import cpu_info
from owslib.engine.experiment import cache_dir
from owslib.engine.pretrain import encoder_cache_path, shipped_encoders
from owslib.runs.run import read_run_info
from owslib.study.studyfile import RunJob, Study

#: Wall seconds of one run when no finished run of the profile says better: for ``quick`` the
#: median of the 36 screening runs in the declared setup (float32, AVX2 caps, 1 thread), trained
#: two at a time on 2 cores (an AMD EPYC, 2026-12).
DEFAULT_RUN_S = {"quick": 1070.0, "smoke": 8.0}


def finished_runs(all_jobs: list[RunJob]) -> list[tuple[str, dict[str, Any]]]:
    """(variant, ``run.json``) of every finished run that recorded its wall seconds, in the
    profile folders of ``all_jobs`` (``results/runs/<profile>/<variant>/seed<k>``): the jobs'
    own and every other run there, so that one run (``--run``, ``--index``) is estimated from
    the study's finished runs too."""
    folders = dict.fromkeys(j.path.parent.parent for j in all_jobs)
    found = [(p.parent.parent.name, p.parent) for f in folders for p in f.glob("*/seed*/run.json")]
    return [
        (v, i)
        for v, path in found
        if (i := read_run_info(path) or {}).get("status") == "finished" and "train_s" in i
    ]


def expected_run_s(
    study: Study,
    done: list[tuple[str, dict[str, Any]]],
    job: RunJob | None = None,
    here: list[tuple[str, dict[str, Any]]] | None = None,
) -> float:
    """Wall seconds a run is expected to take, from ``done`` (:func:`finished_runs`): the median
    of the finished runs in the study's declared setup (precision, ISA cap, threads) on this CPU,
    else in that setup anywhere, else on this CPU, else of every finished run — within each, those
    of ``job``'s variant first — else a default per profile (``job`` None: every variant). A CPU
    is its model and torch's vector ISA, as ``run.json`` records them.

    ``here``: the runs this process has trained (this host, now). Hosts of one CPU model differ
    in clock and load (twice, on our machines), so the estimate is then scaled by the median, over
    ``here``, of each run's measured time over its own estimate."""
    base = _median_run_s(study, done, job.variant if job is not None else None)
    if not here:
        return base
    return base * host_speed(study, done, here)


def host_speed(
    study: Study, done: list[tuple[str, dict[str, Any]]], here: list[tuple[str, dict[str, Any]]]
) -> float:
    """Median over the runs ``here`` (trained by this process) of measured / estimated wall
    seconds (:func:`expected_run_s` without ``here``): above 1 on a slower host than the finished
    runs were trained on."""
    return statistics.median(
        (i["train_s"] + i.get("eval_s", 0)) / _median_run_s(study, done, v) for v, i in here
    )


def _median_run_s(
    study: Study, done: list[tuple[str, dict[str, Any]]], variant: str | None
) -> float:
    cpu = cpu_info()
    same_cpu = [
        (v, i)
        for v, i in done
        if (i.get("cpu"), i.get("cpu_capability")) == (cpu["cpu"], cpu["cpu_capability"])
    ]
    declared = {
        k: v
        for k, v in (
            ("precision", study.setup.precision),
            ("isa", study.setup.isa),
            ("threads", study.setup.threads),
        )
        if v
    }

    def in_setup(pool: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
        return [
            (v, i)
            for v, i in pool
            if declared and all((i.get("setup") or {}).get(k) == x for k, x in declared.items())
        ]

    for pool in (in_setup(same_cpu), in_setup(done), same_cpu, done):
        tiers = [[i for v, i in pool if v == variant]] if variant is not None else []
        for runs in (*tiers, [i for _, i in pool]):
            if runs:
                return statistics.median(i["train_s"] + i.get("eval_s", 0) for i in runs)
    return DEFAULT_RUN_S.get(study.profile, 600.0)


#: Wall seconds of the closed-set encoder's pretraining when no finished run recorded it.
DEFAULT_PRETRAIN_S = {"quick": 1900.0, "smoke": 10.0}


def encoders_to_pretrain(
    study: Study, todo: list[RunJob], overrides: dict[str, Any] | None = None
) -> list[Path]:
    """The closed-set encoders the runs of ``todo`` need that are neither cached nor shipped."""
    missing: dict[Path, None] = {}
    for job in todo:
        cfg = study.config(job.variant, job.seed, **(overrides or {}))
        if cfg.model.pretrain_epochs > 0:
            path = encoder_cache_path(cfg, cache_dir())
            if not path.is_file() and not (shipped_encoders() / path.name).is_file():
                missing[path] = None
    return list(missing)
