"""The one setup call of the study notebooks, and what a comparison notebook does with its runs.

``nb = notebook.setup(globals(), "03_loss_ablations")`` reads the notebook's parameters
(``profile``, ``results_dir``, ``study_file``), finds its variants in the study file and its output
folder ``results/<notebook>/<profile>/``. ``nb.ensure_runs()`` trains what is missing and reuses
the rest (one run per variant and seed, shared between notebooks); then ``nb.table()``,
``nb.delta_figure()``, ``nb.map_figure()`` and ``nb.curves_figure()`` give the comparison with the
baseline, paired by seed, and write it into the output folder (CSV, markdown, every figure as
PNG and SVG); each figure is shown inline with alt text. ``nb.side_by_side()`` and
:func:`explorer` are the widgets, drawn from the runs' explorer records (no checkpoint needed).
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from owslib import comparison
from owslib.config import load_profile
from owslib.display import (  # noqa: F401  (re-exported: the notebooks call nb.show_table, …)
    RUN_FIGURE_ALT,
    explorer,
    say,
    show_figure,
    show_image,
    show_run_figure,
    show_table,
)
from owslib.evaluation.embeddings import (
    load_embedding_sample,
    space_finding,  # noqa: F401  (used by notebook 04)
    space_table,
    write_embedding_sample,
)
from owslib.inference.scorers import SCORER_REGISTRY, get_scorer
from owslib.io import atomic_write_text
from owslib.labels import get_split
from owslib.losses.infonce import DEFAULT_MIN_NORM
from owslib.models.cost import model_cost
from owslib.paths import resolve, shown
from owslib.plots import save_figure
from owslib.plots.embeddings import embedding_pca, norm_histograms
from owslib.report.explorer_record import RECORD_FILE, load_explorer_record
from owslib.report.run_figures import redraw_run_figure
from owslib.runs.run import RunResult, is_finished, read_run_info, run_experiment
from owslib.study.answers import (
    PAIR_COLUMNS,
    answer_sentences,
    answers_markdown,
    confirmatory_answers,
    exploratory_top,  # noqa: F401  (re-exported for the notebooks)
    notebook_verdict,
    power_now,  # fmt: skip
    screening_exploratory,
)
from owslib.study.figures import curves_figure, delta_figure, forest_figure, variant_map_figure
from owslib.study.kernel import configure_logging
from owslib.study.plan import train_runs
from owslib.study.results import (  # noqa: F401  (re-exported for the notebooks)
    COMPARED,
    HEADLINE,
    contrast_findings,
    error_bounds,
    findings,
    format_pm,
    format_sigma,
    long_rows,
    present_labels,
    read_metrics,
    reader_table,
    run_fingerprint,
    scorer_table,
    setup_note,
    setup_row,
    short_label,
)
from owslib.study.studyfile import STUDY_FILE, NotebookSpec, RunJob, Study, load_study, run_dir
from owslib.study.summary import (  # noqa: F401  (re-exported for the notebooks)
    noise_floor_table,
    study_overview,
    summary_intro,
    summary_sections,
)
from owslib.widgets import FigureBox, SideBySide

log = logging.getLogger(__name__)

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
class NotebookRun:
    """A study notebook's context: its spec in the study file, its runs and its output folder."""

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
                    cfg, self.run_path(v, s), load_model=load_model,
                    extra_info={"variant": v, "seed": s, "profile": self.study.profile},
                )  # fmt: skip
            (trained if f"{v} seed {s}" in trained_labels else reused).append(self.runs[v, s])
        loaded = sum(r.exp is not None for r in reused)
        how = f"{loaded} with the model loaded from its checkpoint" if loaded else "no model loaded"
        log.info("%d runs reused (metrics and figures read back; %s)%s, %d missing", len(reused),
                 how, f", {len(trained)} trained" if trained else "", len(self.missing))  # fmt: skip
        if self.missing:
            log.warning("%d of %d runs not finished yet (left out): %s", len(self.missing),
                        len(todo), ", ".join(self.missing))  # fmt: skip
        return self.runs

    def long_table(self) -> pd.DataFrame:
        """Every number of every run of this notebook (variant, seed, metric, scorer, aggregation,
        value), also written as ``runs_long.csv``."""
        rows = []
        for s in self.study.seeds:
            for v in self.spec.variants:
                m = read_metrics(self.run_path(v, s))
                if m is not None:
                    rows += long_rows(v, s, m, run_fingerprint(self.run_path(v, s)))
        long = pd.DataFrame(rows, columns=[*comparison.LONG_COLUMNS, "bound", "fingerprint"])
        self.out_dir.mkdir(parents=True, exist_ok=True)
        long.to_csv(self.out_dir / "runs_long.csv", index=False)
        return long

    def summary(self, confidence: float = 0.95, long: pd.DataFrame | None = None) -> pd.DataFrame:
        """Mean, std, n per variant and the paired Δ to the baseline with its interval (CSV), from
        ``long`` (read by :meth:`long_table` when None)."""
        long = self.long_table() if long is None else long
        if self.baseline not in set(long["variant"]):  # nothing to compare with yet
            return pd.DataFrame(columns=["variant", "metric", "scorer", "aggregation", "mean",
                                         "std", "n", "delta", "delta_lo", "delta_hi"])  # fmt: skip
        s = comparison.summarise(long, baseline=self.baseline, confidence=confidence)
        s.to_csv(self.out_dir / "summary.csv", index=False)
        return s

    def table(self, scorer: str = "fused", metrics: tuple[str, ...] = ()) -> pd.DataFrame:
        """Mean ± std and paired Δ [lo, hi] per variant under the full metric labels
        (``comparison.csv``); :meth:`headline_table` is the form a reader meets."""
        return self._comparison(scorer, metrics)[0]

    def headline_table(self, scorer: str = "fused",
                       metrics: tuple[str, ...] = ()) -> tuple[pd.DataFrame, str]:  # fmt: skip
        """The reader's comparison and its footnote (``comparison.md``): short headers ("aupr",
        "aupr Δ"), ✱ where the interval excludes 0, the conventions (seeds, interval, scorer,
        aggregation) and any streamed error bound above 1e-3 said once in the footnote."""
        return self._comparison(scorer, metrics)[1:]

    def _comparison(
        self, scorer: str, metrics: tuple[str, ...]
    ) -> tuple[pd.DataFrame, pd.DataFrame, str]:
        long = self.long_table()
        summary = self.summary(long=long)
        labels = metrics or tuple(self.headline(scorer))
        if not len(summary):
            self._write_md("comparison", pd.DataFrame(), "no runs paired with the baseline yet")
            return pd.DataFrame(), pd.DataFrame(), "no runs paired with the baseline yet"
        present = present_labels(summary, labels)
        full = comparison.format_table(summary, present)
        short, note = reader_table(summary, present, baseline=self.baseline,
                                   n_seeds=len(self.study.seeds))  # fmt: skip
        bounds = error_bounds(long)
        bounds = bounds[[comparison.metric_label(m, sc, a) in labels for m, sc, a in
                         bounds[["metric", "scorer", "aggregation"]].itertuples(index=False)]]  # fmt: skip
        if len(bounds):  # said under the table wherever it is displayed (table.attrs["note"])
            full.attrs["note"] = "Streamed error bounds above 1e-3 (largest over the seeds): " + (
                "; ".join(f"{r.variant} {short_label(comparison.metric_label(r.metric, r.scorer, r.aggregation))}"
                          f" ±{r.bound:.4f}" for r in bounds.itertuples()) + ".")  # fmt: skip
            note += " " + full.attrs["note"]
        self._write_md("comparison", short, note, csv=full)
        return full, short, note

    def _write_md(self, name: str, table: pd.DataFrame, note: str,
                  csv: pd.DataFrame | None = None) -> None:  # fmt: skip
        """``<name>.md`` (the table as shown, with its note) and ``<name>.csv`` (``csv``, else the
        same table)."""
        body = "none" if table.empty else table.to_markdown(index=False)
        atomic_write_text(self.out_dir / f"{name}.md", f"{body}\n\n{note}\n")
        atomic_write_text(
            self.out_dir / f"{name}.csv", (table if csv is None else csv).to_csv(index=False)
        )

    def descriptions(self) -> pd.DataFrame:
        v = self.study.variants
        return pd.DataFrame({"variant": list(self.spec.run_variants),
                             "description": [v[n].description for n in self.spec.run_variants]})  # fmt: skip

    def timing(self) -> pd.DataFrame:
        """Wall seconds of training and evaluation per run, from each ``run.json``."""
        rows = []
        for s in self.study.seeds:
            for v in self.spec.run_variants:
                info = read_run_info(self.run_path(v, s)) or {}
                rows.append({"variant": v, "seed": s, "train_s": info.get("train_s"),
                             "eval_s": info.get("eval_s"), "device": info.get("device", "")})  # fmt: skip
        return pd.DataFrame(rows)

    def setups(self) -> tuple[pd.DataFrame, str]:
        """Where each finished run was trained (:func:`setup_row`: its closed-set encoder, CPU,
        vector ISA and caps, threads, device; ``setups.md``) and :func:`setup_note` on it: whether each
        paired Δ compares runs that started from the same encoder."""
        rows = []
        for s in self.study.seeds:
            for v in self.spec.variants:
                info = read_run_info(self.run_path(v, s)) or {}
                if info.get("status") == "finished":
                    rows.append(setup_row(v, s, info))
        table = pd.DataFrame(rows, columns=["variant", "seed", "encoder", "cpu", "isa", "threads",
                                            "device"])  # fmt: skip
        note = setup_note(table, self.baseline)
        self._write_md("setups", table, note)
        return table, note

    def headline(self, scorer: str = "fused") -> list[str]:
        return [h.format(s=scorer) for h in HEADLINE]

    def delta_figure(self, scorer: str = "fused", labels: tuple[str, ...] = ()) -> Path | None:
        """Paired Δ to the baseline per variant (``delta.png``/``.svg``), shown with alt text."""
        long = self.long_table()
        if self.baseline not in set(long["variant"]):
            return None
        labels = list(labels or self.headline(scorer))
        fig = delta_figure(long, labels, self.baseline)
        variants = [v for v in dict.fromkeys(long["variant"]) if v != self.baseline]
        return self.save(fig, "delta", f"Paired difference to {self.baseline} at the same seeds, one "
                         f"panel per metric ({', '.join(map(short_label, labels))}): for each of "
                         f"{', '.join(variants)} the mean Δ with its 95 % t-interval and the "
                         "per-seed differences; the numbers are in the table above.")  # fmt: skip

    def map_figure(self, scorer: str = "fused", n_images: int = 4) -> Path | None:
        """Every variant's ``scorer`` map of the same test images at the first seed, one scale
        (``maps_<scorer>.png``/``.svg``; shown as a JPEG, a grid of photographs), from the runs'
        explorer records (with each map's per-image AUPR and the unknown objects outlined), else
        from the maps the runs saved."""
        seed = self.study.seeds[0]
        dirs = {v: self.run_path(v, seed) for v in self.spec.variants}
        records = {v: load_explorer_record(d / RECORD_FILE) if (d / RECORD_FILE).is_file() else None
                   for v, d in dirs.items()}  # fmt: skip
        root = resolve(self.study.config(self.baseline, seed, **self.overrides).data.root)
        fig = variant_map_figure(records, scorer, self.scorer_range(scorer), n_images=n_images,
                                 run_dirs=dirs, data_root=root)  # fmt: skip
        if fig is None:
            return None
        return self.save(fig, f"maps_{scorer}", f"{scorer} anomaly maps of {n_images} test images "
                         f"(rows) by {', '.join(dirs)} (columns) at seed {seed}, on one colour scale, "
                         "the first column the image with the unknown objects outlined.", photo=True)  # fmt: skip

    def scorer_range(self, scorer: str) -> tuple[float, float] | None:
        """The scorer's fixed value range (None: unbounded, or not a registered scorer)."""
        return get_scorer(scorer).range(self.num_known) if scorer in SCORER_REGISTRY else None

    def curves_figure(self, term: str = "loss", log_scale: bool = True) -> Path:
        """The variants' training curves overlaid (first seed, ``curves_<term>.png``/``.svg``)."""
        seed = self.study.seeds[0]
        hist = {}
        for v in self.spec.variants:
            path = self.run_path(v, seed) / "history.csv"
            if path.is_file() and self.finished(v, seed):
                hist[v] = pd.read_csv(path)
        fig = curves_figure(hist, term, log_scale=log_scale)
        return self.save(fig, f"curves_{term}", f"Training curves of train {term} per epoch at "
                         f"seed {seed}, one line per variant ({', '.join(hist) or 'none finished'})"
                         f"{', log axis' if log_scale else ''}.")  # fmt: skip

    def side_by_side(self, scorer: str = "fused") -> FigureBox | None:
        """Two variants' maps of one test image on one colour scale, with their per-image AUPR
        (:class:`owslib.widgets.SideBySide`), from the explorer records of this notebook's runs
        (notebook 01, which has one variant: of every run of the study) at every seed that has
        them (the confirmation's fresh seeds too), each variant with its own scorers; None, with
        one line saying why, when no run has a record yet."""
        variants = self.spec.variants if len(self.spec.variants) > 1 else tuple(self.study.variants)
        records = self.explorer_records(variants)
        if not records:
            say(
                "No explorer record among these runs yet: they predate `explorer.npz`, which "
                "every run now writes; the side-by-side view appears once they are retrained."
            )
            return None
        scorers = {s for path in records.values() for s in _record_scorers(path)}
        ranges = {s: self.scorer_range(s) for s in scorers}
        view = SideBySide(records, ranges=ranges, baseline=self.baseline)
        if scorer in view.scorer.options:
            view.scorer.value = scorer
        return view.widget

    def explorer_records(self, variants: tuple[str, ...]) -> dict[tuple[str, int], Path]:
        """``(variant, seed) -> explorer.npz`` of every finished run of ``variants`` that wrote one,
        at any seed (the study's and the confirmation's), seeds in order."""
        found = {}
        for v in variants:
            folder = self.run_path(v, 0).parent
            for path in folder.glob("seed*/" + RECORD_FILE):
                seed = int(path.parent.name.removeprefix("seed"))
                if self.finished(v, seed):
                    found[v, seed] = path
        return dict(sorted(found.items(), key=lambda kv: (kv[0][1], variants.index(kv[0][0]))))

    @property
    def num_known(self) -> int:
        return get_split(
            self.study.config(self.baseline, self.study.seeds[0]).data.split_preset
        ).num_known

    def scorers(self, aggregation: str = "pooled") -> pd.DataFrame:
        """Every scorer of every variant: mean ± std and paired Δ (``scorers_<aggregation>.md``,
        with :meth:`scorer_note` under it)."""
        long = self.long_table()
        table = scorer_table(self.summary(long=long), aggregation, error_bounds(long))
        self._write_md(f"scorers_{aggregation}", table, self.scorer_note(aggregation))
        return table

    def scorer_note(self, aggregation: str = "pooled") -> str:
        """The footnote of :meth:`scorers`: the conventions its short headers leave out."""
        over = ("pooled over all test pixels" if aggregation == "pooled" else
                "the mean over the test images holding both known and unknown pixels")  # fmt: skip
        return (f"aupr, fpr95, auroc {over}: mean ± std over {len(self.study.seeds)} seeds; "
                f"Δ = variant − `{self.baseline}`, paired by seed, with its 95 % Student-t interval; "
                f"✱: the interval excludes 0; bound: the largest streamed error bound over the seeds, "
                "where above 1e-3.")  # fmt: skip

    def verdict(self) -> str:
        """The closing sentence: the pre-registered question's verdict on the fresh seeds (or
        why it waits), generated from the runs (:func:`owslib.study.answers.notebook_verdict`)."""
        return notebook_verdict(self.study, self.results_dir, self.name)

    def findings(self, scorer: str = "fused") -> str:
        """The comparison in sentences, from the numbers (see :func:`findings`)."""
        long = self.long_table()
        if self.baseline not in set(long["variant"]):
            return "no baseline runs yet"
        summary = comparison.summarise(long, baseline=self.baseline)
        return findings(summary, self.baseline, self.headline(scorer))

    def head_to_head(self, scorer: str = "fused") -> tuple[pd.DataFrame, str, str]:
        """The notebook's ``contrast`` (a, b) compared directly, paired by seed (Δ = a − b):
        ``(table, its footnote, the findings in sentences)``, each Δ with the SD of its paired
        differences; the table is also written as ``contrast.md``."""
        if not self.spec.contrast:
            return pd.DataFrame(), "", "no contrast declared for this notebook in the study file"
        a, b = self.spec.contrast
        long = self.long_table()
        if not {a, b} <= set(long["variant"]):
            return pd.DataFrame(), "", f"no runs of both {a} and {b} yet"
        labels = self.headline(scorer)
        summary, text = contrast_findings(long, a, b, labels)
        table, note = reader_table(summary, present_labels(summary, labels), baseline=b,
                                   n_seeds=len(self.study.seeds))  # fmt: skip
        self._write_md("contrast", table, note)
        return table, note, text

    def ablation(self) -> NotebookRun | None:
        """The notebook's ``ablation`` (study file) as a comparison of its own: its variants and
        ``of`` (the baseline of this view), paired by seed, written into ``<out>/ablation/``; every
        method above works on it. None when the notebook declares none."""
        a = self.spec.ablation
        if a is None:
            return None
        spec = NotebookSpec(self.name, (a.of, *a.variants), a.question, baseline=a.of)
        return NotebookRun(self.name, self.study, spec, self.results_dir, self.out_dir / "ablation",
                           self.overrides, self.runs)  # fmt: skip

    def last_epoch_table(self, terms: tuple[str, ...]) -> pd.DataFrame:
        """Each variant's logged ``train_<term>`` at its last epoch, mean ± std over the seeds
        (``last_epoch.md``): e.g. how hard the negatives were once training ended."""
        rows = []
        for v in self.spec.variants:
            vals = {t: [] for t in terms}
            for s in self.study.seeds:
                path = self.run_path(v, s) / "history.csv"
                last = pd.read_csv(path).iloc[-1] if self.finished(v, s) else {}
                for t in terms:
                    if f"train_{t}" in last:
                        vals[t].append(float(last[f"train_{t}"]))
            row = {"variant": v}
            for t, xs in vals.items():
                x = pd.Series(xs, dtype=float)
                row[t] = format_pm(x.mean(), x.std())
            row["n"] = max((len(xs) for xs in vals.values()), default=0)
            rows.append(row)
        table = pd.DataFrame(rows)
        self._write_md("last_epoch", table, "Last training epoch's mean of each logged term; mean "
                       "± std over the seeds (n).")  # fmt: skip
        return table

    def cost_table(self, height: int = 512, width: int = 1024) -> pd.DataFrame:
        """Parameters and forward GFLOPs at ``height``×``width`` of every variant's network: the
        paper's (ResNet34-NBt1D, 19 classes) with the variant's model options, and this study's."""
        rows = []
        for v in self.spec.variants:
            model_keys = {k: val for k, val in self.study.variants[v].overrides.items()
                          if k.startswith("model__")}  # fmt: skip
            paper = model_cost(load_profile("paper", **model_keys).model, 19, height, width)
            cfg = self.study.config(v, self.study.seeds[0])
            ours = model_cost(cfg.model, self.num_known, cfg.data.crop_height, cfg.data.crop_width)
            rows.append({"variant": v, "paper network: parameters": paper["parameters"],
                         f"paper network: GFLOPs at {height}x{width}": round(paper["gflops"], 1),
                         "study network: parameters": ours["parameters"],
                         "study network: GFLOPs per image": round(ours["gflops"], 2)})  # fmt: skip
        table = pd.DataFrame(rows)
        self._write_md("cost", table, "GFLOPs of one forward pass (a multiply-add = 2 FLOPs), "
                       "counted by torch's FlopCounterMode on the meta device.")  # fmt: skip
        return table

    def embedding_samples(self, variants: tuple[str, ...] = ()) -> dict[str, dict | None]:
        """Each variant's embedding sample at the first seed (``embeddings.npz`` of its run, drawn
        from the run's checkpoint when missing; None when neither is here)."""
        seed = self.study.seeds[0]
        paths = {v: write_embedding_sample(self.run_path(v, seed))
                 for v in variants or self.spec.variants}  # fmt: skip
        return {v: load_embedding_sample(p) if p else None for v, p in paths.items()}

    def embedding_views(self, variants: tuple[str, ...] = (), space: str = "embedding"):
        """Known vs unknown embeddings of the variants (first seed): the PCA panels of ``space``,
        the norm histograms of both spaces (``embedding_pca_<space>.png``, ``embedding_norms.png``)
        and the table of :func:`owslib.evaluation.embeddings.space_table` (returned and written)."""
        samples = self.embedding_samples(variants)
        seed = self.study.seeds[0]
        cfg = self.study.config(self.baseline, seed, **self.overrides)
        palette = get_split(cfg.data.split_preset).palette
        shown_v = ", ".join(v for v, smp in samples.items() if smp is not None) or "no variant"
        self.save(embedding_pca(samples, space, palette, seed=seed), f"embedding_pca_{space}",
                  f"PCA of the {space} space of known and unknown test pixels at seed {seed}, one "
                  f"panel per variant ({shown_v}), points coloured by class.")  # fmt: skip
        self.save(norm_histograms(samples, DEFAULT_MIN_NORM), "embedding_norms",
                  f"Histograms of the vector norms of known and unknown test pixels in both spaces "
                  f"for {shown_v}, with the InfoNCE term's min_norm marked.")  # fmt: skip
        present = {v: s for v, s in samples.items() if s is not None}
        table = space_table(present, DEFAULT_MIN_NORM) if present else pd.DataFrame()
        self._write_md("embedding_spaces", table, "Test pixels, first seed; cosine AUROC: unknown "
                       "vs known by 1 - max cosine to the known class mean directions.")  # fmt: skip
        return table

    def run_figure(self, run: RunResult, name: str, *, photo: bool = False) -> Path:
        """A figure of ``run`` (:data:`owslib.runs.run.FIGURES`) drawn again from its committed
        files and saved beside the rendered notebook as ``<name>.png`` and ``<name>.svg``, shown
        with its alt text; the run's own PNG when its files do not hold what it shows."""
        fig = redraw_run_figure(run.run_dir, run.cfg, run.metrics, run.tables, run.history, name)
        who = f" Run {run.info.get('variant', run.run_dir.parent.name)}, {run.run_dir.name}."
        alt = RUN_FIGURE_ALT.get(name, name) + who
        if fig is None:
            show_run_figure(run, name, photo=photo)
            return run.run_dir / f"{name}.png"
        return self.save(fig, name, alt, photo=photo)

    def save(self, fig: plt.Figure, name: str, alt: str, *, photo: bool = False) -> Path:
        """Write ``fig`` beside the rendered notebook as ``<name>.png`` and ``<name>.svg``, show
        it inline with ``alt`` (a JPEG when ``photo``: a grid of photographs), close it."""
        path = save_figure(fig, self.out_dir / f"{name}.png", formats=("png", "svg"))
        plt.close(fig)
        show_image(path, photo=photo, alt=alt)
        return path


def answers(results_dir: str | Path = "results", profile: str | None = None,
            study_file: str | Path = STUDY_FILE) -> dict[str, Any]:  # fmt: skip
    """What 06_summary opens with: the table of answers with short cells (``first_screen``, as
    the README's), the confirmatory table and one sentence per question, the forest plot (None
    until a question is analysed; saved as ``forest.png``/``.svg`` beside the tables), the power table from the screening in
    ``results_dir``, and the screening's comparisons with BH q-values (exploratory). The tables
    are written to ``<results>/summary/<profile>/`` as ``confirmatory.csv``,
    ``confirmatory_pairs.csv`` (the tests' data: each question's pairs seed by seed),
    ``power.csv`` and ``exploratory.csv`` (their paths: ``files``)."""
    study, results = load_study(resolve(study_file), profile=profile), resolve(results_dir)
    table = confirmatory_answers(study, results)
    pairs = pd.DataFrame(table.attrs.get("pairs", []), columns=PAIR_COLUMNS)
    forest = forest_figure(table, {nb: g["diff"].tolist() for nb, g in pairs.groupby("notebook")})
    folder = results / "summary" / study.profile
    folder.mkdir(parents=True, exist_ok=True)
    if forest is not None:  # shown where the notebook says (show_figure), not also by the backend
        save_figure(forest, folder / "forest", formats=("png", "svg"))
        plt.close(forest)
    page = results / "06_summary" / study.profile  # the rendered summary's folder: its links
    out = {"table": table, "sentences": answer_sentences(table), "forest": forest,
           "first_screen": answers_markdown(study, results, link_from=page),
           "pairs": pairs, "power": power_now(study, results),
           "exploratory": screening_exploratory(study, results)}  # fmt: skip
    out["files"] = {k: folder / f"{n}.csv" for k, n in
                    (("table", "confirmatory"), ("pairs", "confirmatory_pairs"), ("power", "power"),
                     ("exploratory", "exploratory"))}  # fmt: skip
    for key, path in out["files"].items():
        atomic_write_text(path, out[key].to_csv(index=False))
    return out


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
        study.config(study.notebook(name).baseline if study.notebook(name).variants else "baseline",
                     study.seeds[0], **overrides)  # unknown keys raise here  # fmt: skip
    return NotebookRun(name, study, study.notebook(name), results, out, overrides)


def _record_scorers(path: Path) -> list[str]:
    import numpy as np

    with np.load(path, allow_pickle=False) as z:
        return [str(x) for x in z["scorers"]]
