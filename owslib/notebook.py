"""The one setup call of the study notebooks, and what a comparison notebook does with its runs.

``nb = notebook.setup(globals(), "03_loss_ablations")`` reads the notebook's parameters
(``profile``, ``results_dir``, ``study_file``), finds its variants in the study file and its output
folder ``results/<notebook>/<profile>/``. ``nb.ensure_runs()`` trains what is missing and reuses
the rest (one run per variant and seed, shared between notebooks); then ``nb.table()``,
``nb.delta_figure()``, ``nb.map_figure()`` and ``nb.curves_figure()`` give the comparison with the
baseline, paired by seed, and write it into the output folder (CSV, markdown, PNG).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from owslib import comparison
from owslib.config import load_profile
from owslib.evaluation.embeddings import (
    load_embedding_sample,
    space_finding,  # noqa: F401  (used by notebook 04)
    space_table,
    write_embedding_sample,
)
from owslib.inference.scorers import get_scorer
from owslib.io import atomic_write_text
from owslib.labels import get_split
from owslib.losses.infonce import DEFAULT_MIN_NORM
from owslib.models.cost import model_cost
from owslib.paths import resolve, shown
from owslib.plots import save_figure
from owslib.plots.embeddings import embedding_pca, norm_histograms
from owslib.report.tables import markdown_table
from owslib.study.figures import curves_figure, delta_figure, variant_map_figure
from owslib.study.kernel import configure_logging
from owslib.study.results import (  # noqa: F401  (re-exported for the notebooks)
    COMPARED,
    HEADLINE,
    contrast_findings,
    error_bounds,
    findings,
    format_pm,
    long_rows,
    present_labels,
    read_metrics,
    run_fingerprint,
    scorer_table,
    setup_note,
    setup_row,
    study_overview,
)
from owslib.study.run import RunResult, is_finished, read_run_info, run_experiment
from owslib.study.studyfile import STUDY_FILE, NotebookSpec, Study, load_study, run_dir
from owslib.widgets import AnomalyExplorer

log = logging.getLogger(__name__)


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

    def ensure_runs(
        self, *, load_model: bool = False, train_missing: bool = True
    ) -> dict[tuple[str, int], RunResult]:
        """Every (variant, seed) of this notebook: reused when finished, trained otherwise (with
        ``train_missing=False`` a missing run is listed and left out)."""
        todo = [(v, s) for s in self.study.seeds for v in self.spec.run_variants]
        self.missing = []
        for i, (v, s) in enumerate(todo, 1):
            cfg = self.study.config(v, s, **self.overrides)
            if not train_missing and not is_finished(self.run_path(v, s), cfg):
                self.missing.append(f"{v} seed {s}")
                continue
            log.info("run %d/%d: %s seed %d", i, len(todo), v, s)
            self.runs[v, s] = run_experiment(
                cfg, self.run_path(v, s), load_model=load_model,
                extra_info={"variant": v, "seed": s, "profile": self.study.profile},
            )  # fmt: skip
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
        """The reader's table (``comparison.md`` with its footnote): mean ± std and paired Δ."""
        long = self.long_table()
        summary = self.summary(long=long)
        labels = metrics or tuple(h.format(s=scorer) for h in HEADLINE)
        table = (comparison.format_table(summary, present_labels(summary, labels))
                 if len(summary) else pd.DataFrame())  # fmt: skip
        note = comparison.table_footnote(n_seeds=len(self.study.seeds))
        shown = error_bounds(long)
        shown = shown[[comparison.metric_label(m, sc, a) in labels for m, sc, a in
                       shown[["metric", "scorer", "aggregation"]].itertuples(index=False)]]  # fmt: skip
        if len(shown):  # shown under the table wherever it is displayed (table.attrs["note"])
            table.attrs["note"] = "Streamed error bounds above 1e-3 (largest over the seeds): " + (
                "; ".join(f"{r.variant} {comparison.metric_label(r.metric, r.scorer, r.aggregation)}"
                          f" ±{r.bound:.4f}" for r in shown.itertuples()) + ".")  # fmt: skip
            note += " " + table.attrs["note"]
        self._write_md("comparison", table, note)
        return table

    def _write_md(self, name: str, table: pd.DataFrame, note: str) -> None:

        body = "none" if table.empty else table.to_markdown(index=False)
        atomic_write_text(self.out_dir / f"{name}.md", f"{body}\n\n{note}\n")
        atomic_write_text(self.out_dir / f"{name}.csv", table.to_csv(index=False))

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

    def delta_figure(self, scorer: str = "fused", labels: tuple[str, ...] = ()):
        """Paired Δ to the baseline per variant (``delta.png``)."""
        if self.baseline not in set(self.long_table()["variant"]):
            return None
        fig = delta_figure(self.long_table(), list(labels or self.headline(scorer)), self.baseline)
        self.save(fig, "delta")
        return fig

    def map_figure(self, scorer: str = "fused", n_images: int = 4):
        """Every variant's ``scorer`` map of the same test images, one scale (``maps_<scorer>.png``)."""
        seed = self.study.seeds[0]
        dirs = {v: self.run_path(v, seed) for v in self.spec.variants}
        found = (dirs[self.baseline] / "anomaly_maps").glob(f"*_{scorer}.png")
        names = sorted(p.name.removesuffix(f"_{scorer}.png") for p in found)[:n_images]
        if not names:
            return None

        value_range = get_scorer(scorer).range(self.num_known) or (0.0, 1.0)
        root = resolve(self.study.config(self.baseline, seed, **self.overrides).data.root)
        import matplotlib.pyplot as plt

        fig = variant_map_figure(dirs, names, scorer, value_range, data_root=root)
        path = self.save(fig, f"maps_{scorer}")
        plt.close(fig)  # shown from its file, as a JPEG: a grid of photographs
        show_image(path, photo=True)
        return path

    def curves_figure(self, term: str = "loss", log_scale: bool = True):
        """The variants' training curves overlaid (seed of the first run, ``curves_<term>.png``)."""
        seed = self.study.seeds[0]
        hist = {}
        for v in self.spec.variants:
            path = self.run_path(v, seed) / "history.csv"
            if path.is_file() and self.finished(v, seed):
                hist[v] = pd.read_csv(path)
        fig = curves_figure(hist, term, log_scale=log_scale)
        self.save(fig, f"curves_{term}")
        return fig

    @property
    def num_known(self) -> int:

        return get_split(
            self.study.config(self.baseline, self.study.seeds[0]).data.split_preset
        ).num_known

    def scorers(self, aggregation: str = "pooled") -> pd.DataFrame:
        """Every scorer of every variant: mean ± std and paired Δ (``scorers_<aggregation>.md``)."""
        long = self.long_table()
        table = scorer_table(self.summary(long=long), aggregation, error_bounds(long))
        self._write_md(f"scorers_{aggregation}", table,
                       comparison.table_footnote(n_seeds=len(self.study.seeds)))  # fmt: skip
        return table

    def findings(self, scorer: str = "fused") -> str:
        """The comparison in sentences, from the numbers (see :func:`findings`)."""
        long = self.long_table()
        if self.baseline not in set(long["variant"]):
            return "no baseline runs yet"
        summary = comparison.summarise(long, baseline=self.baseline)
        floor = comparison.noise_floor(long, baseline=self.baseline)
        return findings(summary, self.baseline, self.headline(scorer), floor)

    def head_to_head(self, scorer: str = "fused") -> tuple[pd.DataFrame, str, str]:
        """The notebook's ``contrast`` (a, b) compared directly, paired by seed (Δ = a − b):
        ``(table, its footnote, the findings in sentences)`` beside the noise floor of the
        notebook's baseline; the table is also written as ``contrast.md``."""
        if not self.spec.contrast:
            return pd.DataFrame(), "", "no contrast declared for this notebook in the study file"
        a, b = self.spec.contrast
        long = self.long_table()
        if not {a, b} <= set(long["variant"]):
            return pd.DataFrame(), "", f"no runs of both {a} and {b} yet"
        floor = (comparison.noise_floor(long, baseline=self.baseline)
                 if self.baseline in set(long["variant"])
                 else pd.DataFrame(columns=["metric", "scorer", "aggregation", "std"]))  # fmt: skip
        labels = self.headline(scorer)
        summary, text = contrast_findings(long, a, b, labels, floor)
        table = comparison.format_table(summary, present_labels(summary, labels))
        note = comparison.table_footnote(n_seeds=len(self.study.seeds)) + f" Here Δ = {a} − {b}."
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
        self.save(embedding_pca(samples, space, palette, seed=seed), f"embedding_pca_{space}")
        self.save(norm_histograms(samples, DEFAULT_MIN_NORM), "embedding_norms")
        present = {v: s for v, s in samples.items() if s is not None}
        table = space_table(present, DEFAULT_MIN_NORM) if present else pd.DataFrame()
        self._write_md("embedding_spaces", table, "Test pixels, first seed; cosine AUROC: unknown "
                       "vs known by 1 - max cosine to the known class mean directions.")  # fmt: skip
        return table

    def save(self, fig, name: str):

        return save_figure(fig, self.out_dir / f"{name}.png")


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


def show_image(path: str | Path, *, photo: bool = False, quality: int = 85) -> None:
    """Display a figure file inline. ``photo=True`` (panels of camera images and maps) shows it as
    a JPEG of ``quality``: about a fifth of the PNG's bytes in the rendered notebook, the file on
    disk unchanged; line plots stay PNG."""
    import io

    from IPython.display import Image, display
    from PIL import Image as PILImage

    path = resolve(path)
    if not photo:
        display(Image(filename=str(path)))
        return
    buf = io.BytesIO()
    with PILImage.open(path) as im:
        im.convert("RGB").save(buf, format="JPEG", quality=quality, optimize=True)
    display(Image(data=buf.getvalue(), format="jpeg"))


def show_table(table: pd.DataFrame, note: str = "", decimals: int = 4) -> None:
    """Display a table as markdown (:func:`owslib.report.tables.markdown_table`): no index column,
    ``decimals`` decimals, integer counts, each convention once as a numbered note, then ``note``;
    an empty table reads "none"."""
    from IPython.display import Markdown, display


    display(Markdown(markdown_table(table, note, decimals)))


def explorer(run: RunResult):
    """The JupyterLab anomaly explorer of a run (a static view first, for rendered copies); without
    a loaded model it says how to get one."""
    from IPython.display import Markdown, display

    if run.exp is None:
        display(Markdown(
            f"The explorer needs the trained model, and `{shown(run.run_dir)}` has no checkpoint (checkpoints "
            "are not committed). Retrain this run (about 3 minutes; the committed one is moved aside): "
            "`python -m owslib study --only baseline --seeds 0 --force --train-only`, then run this "
            "notebook again in JupyterLab."
        ))  # fmt: skip
        return None
    import matplotlib.pyplot as plt


    ex = AnomalyExplorer(run.exp, run.exp.test_loader.dataset)
    fig = ex.render(ex.index.value, ex.scorer.value, ex.delta.value)
    display(fig)
    plt.close(fig)
    return ex.widget
