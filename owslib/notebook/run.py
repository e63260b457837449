"""Setting up a study notebook: its parameters, its runs (reused or trained) and its output folder
(:func:`setup`, :class:`NotebookRun`)."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from owslib.inference.scorers import SCORER_REGISTRY, get_scorer
from owslib.labels import get_split
from owslib.notebook.compare import RunComparison
from owslib.notebook.figures import RunFigures
from owslib.notebook.tables import RunTables
from owslib.notebook.widgets import RunWidgets
from owslib.paths import resolve, shown
from owslib.runs.run import RunResult, is_finished, read_run_info, run_experiment
from owslib.study.kernel import configure_logging
from owslib.study.plan import train_runs
from owslib.study.studyfile import STUDY_FILE, NotebookSpec, RunJob, Study, load_study, run_dir

log = logging.getLogger("owslib.notebook")

#: Loggers quieted to warnings while finished runs are read back: a reused run says nothing but
#: the one line :meth:`NotebookRun.ensure_runs` logs for all (no per-run "reusing …", no dataset
#: scan or cache path when a model is loaded from its checkpoint).
READ_LOGGERS = ("owslib.runs.run", "owslib.engine", "owslib.data")


@contextlib.contextmanager
def _quiet(names: tuple[str, ...] = READ_LOGGERS):
    loggers = [logging.getLogger(n) for n in names]
    old = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for lg, level in zip(loggers, old, strict=True):
            lg.setLevel(level)


@dataclass
class NotebookRun(RunTables, RunComparison, RunFigures, RunWidgets):
    """A study notebook's context: its spec in the study file, its runs and its output folder.
    What it does with them is grouped by concern: tables (:class:`RunTables`), the comparison with
    the baseline (:class:`RunComparison`), figures (:class:`RunFigures`), widgets
    (:class:`RunWidgets`)."""

    name: str
    study: Study
    spec: NotebookSpec
    results_dir: Path
    out_dir: Path
    overrides: dict[str, Any] = field(default_factory=dict)
    runs: dict[tuple[str, int], RunResult] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)

    @property
    def baseline(self) -> str:
        return self.spec.baseline

    def run_path(self, variant: str, seed: int) -> Path:
        return run_dir(self.results_dir, self.study.profile, variant, seed)

    def finished(self, variant: str, seed: int) -> bool:
        """Whether the run's ``run.json`` says finished (a run still training, or interrupted,
        already has a partial ``history.csv``: it is not shown)."""
        return (read_run_info(self.run_path(variant, seed)) or {}).get("status") == "finished"

    def where(self, path: str | Path) -> str:
        """``path`` as a notebook shows it, in backticks: relative to the repository when inside
        it, else relative to the results folder; never the machine's absolute path."""
        text = shown(path)
        if not Path(text).is_absolute():
            return f"`{text}`"
        try:
            return f"`{Path(path).resolve().relative_to(self.results_dir.resolve())}` in the results folder"
        except ValueError:
            return f"`{Path(path).name}`"

    def ensure_runs(
        self, *, load_model: bool = False, train_missing: bool = True
    ) -> dict[tuple[str, int], RunResult]:
        """Every (variant, seed) of this notebook: reused when finished, trained otherwise (with
        ``train_missing=False`` a missing run is listed and left out). Reused runs are read
        quietly and summed up in one line ("21 runs reused (…), 0 missing")."""
        todo = [(v, s) for s in self.study.seeds for v in self.spec.run_variants]
        self.missing, reused, trained = [], [], []
        unfinished = [
            RunJob(v, s, self.run_path(v, s))
            for v, s in todo
            if not is_finished(self.run_path(v, s), self.study.config(v, s, **self.overrides))
        ]
        if unfinished and train_missing:  # in the study's setup, as `owslib study` trains them
            log.info("training %d missing runs", len(unfinished))
            done = train_runs(self.study, unfinished, rerun_failed=True, overrides=self.overrides)
            trained_labels = set(done["trained"])
        else:
            trained_labels = set()
        for v, s in todo:
            cfg = self.study.config(v, s, **self.overrides)
            if not is_finished(self.run_path(v, s), cfg):
                self.missing.append(f"{v} seed {s}")
                continue
            with _quiet():
                self.runs[v, s] = run_experiment(
                    cfg,
                    self.run_path(v, s),
                    load_model=load_model,
                    extra_info={"variant": v, "seed": s, "profile": self.study.profile},
                )
            (trained if f"{v} seed {s}" in trained_labels else reused).append(self.runs[v, s])
        loaded = sum(r.exp is not None for r in reused)
        how = f"{loaded} with the model loaded from its checkpoint" if loaded else "no model loaded"
        log.info(
            "%d runs reused (metrics and figures read back; %s)%s, %d missing",
            len(reused),
            how,
            f", {len(trained)} trained" if trained else "",
            len(self.missing),
        )
        if self.missing:
            log.warning(
                "%d of %d runs not finished yet (left out): %s",
                len(self.missing),
                len(todo),
                ", ".join(self.missing),
            )
        return self.runs

    @property
    def num_known(self) -> int:
        return get_split(
            self.study.config(self.baseline, self.study.seeds[0]).data.split_preset
        ).num_known

    def scorer_range(self, scorer: str) -> tuple[float, float] | None:
        """The scorer's fixed value range (None: unbounded, or not a registered scorer)."""
        return get_scorer(scorer).range(self.num_known) if scorer in SCORER_REGISTRY else None

    def ablation(self) -> NotebookRun | None:
        """The notebook's ``ablation`` (study file) as a comparison of its own: its variants and
        ``of`` (the baseline of this view), paired by seed, written into ``<out>/ablation/``; every
        method above works on it. None when the notebook declares none."""
        a = self.spec.ablation
        if a is None:
            return None
        spec = NotebookSpec(self.name, (a.of, *a.variants), a.question, baseline=a.of)
        return NotebookRun(
            self.name,
            self.study,
            spec,
            self.results_dir,
            self.out_dir / "ablation",
            self.overrides,
            self.runs,
        )


def setup(namespace: dict[str, Any], name: str) -> NotebookRun:
    """Resolve a study notebook's parameters (``profile``, ``results_dir``, ``study_file``)."""
    configure_logging()
    study_file = namespace.get("study_file") or STUDY_FILE
    study = load_study(resolve(study_file), profile=namespace.get("profile") or None)
    results = resolve(namespace.get("results_dir") or "results")
    out = results / name / study.profile
    out.mkdir(parents=True, exist_ok=True)
    overrides = dict(namespace.get("config_overrides") or {})
    if overrides:
        study.config(
            study.notebook(name).baseline if study.notebook(name).variants else "baseline",
            study.seeds[0],
            **overrides,
        )  # unknown keys raise here
    return NotebookRun(name, study, study.notebook(name), results, out, overrides)
