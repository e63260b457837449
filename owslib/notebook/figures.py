"""A notebook's figures, each saved beside the rendered notebook as PNG and SVG and shown inline
with alt text: the paired Δ, the anomaly maps, training curves, embeddings, a run's own figures."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from owslib.evaluation.embeddings import load_embedding_sample, space_table, write_embedding_sample
from owslib.labels import get_split
from owslib.losses.infonce import DEFAULT_MIN_NORM
from owslib.notebook.display import RUN_FIGURE_ALT, show_image, show_run_figure
from owslib.paths import resolve
from owslib.plots import save_figure
from owslib.plots.embeddings import embedding_pca, norm_histograms
from owslib.report.explorer_record import load_explorer_record, record_path
from owslib.report.run_figures import redraw_run_figure
from owslib.runs.run import RunResult
from owslib.study.figures import curves_figure, delta_figure, variant_map_figure
from owslib.study.results import short_label


class RunFigures:
    """The figures of :class:`~owslib.notebook.run.NotebookRun`."""

    def delta_figure(self, scorer: str = "fused", labels: tuple[str, ...] = ()) -> Path | None:
        """Paired Δ to the baseline per variant (``delta.png``/``.svg``), shown with alt text."""
        long = self.long_table()
        if self.baseline not in set(long["variant"]):
            return None
        labels = list(labels or self.headline(scorer))
        fig = delta_figure(long, labels, self.baseline)
        variants = [v for v in dict.fromkeys(long["variant"]) if v != self.baseline]
        return self.save(
            fig,
            "delta",
            f"Paired difference to {self.baseline} at the same seeds, one "
            f"panel per metric ({', '.join(map(short_label, labels))}): for each of "
            f"{', '.join(variants)} the mean Δ with its 95 % t-interval and the "
            "per-seed differences; the numbers are in the table above.",
        )

    def map_figure(
        self, scorer: str = "fused", n_images: int = 4, anomaly_set: str = ""
    ) -> Path | None:
        """Every variant's ``scorer`` map of the same test images at the first seed, one scale
        (``maps_<scorer>.png``/``.svg``; shown as a JPEG, a grid of photographs), from the runs'
        explorer records (with each map's per-image AUPR and the unknown objects outlined), else
        from the maps the runs saved. ``anomaly_set`` (e.g. ``"road_anomaly"``): that set's
        recorded frames, their anomalies outlined (``maps_<scorer>_<set>.png``)."""
        seed = self.study.seeds[0]
        dirs = {v: self.run_path(v, seed) for v in self.spec.variants}
        paths = {v: record_path(d, anomaly_set) for v, d in dirs.items()}
        records = {v: load_explorer_record(p) if p.is_file() else None for v, p in paths.items()}
        root = resolve(self.study.config(self.baseline, seed, **self.overrides).data.root)
        fig = variant_map_figure(
            records,
            scorer,
            self.scorer_range(scorer),
            n_images=n_images,
            run_dirs={v: p.parent for v, p in paths.items()},  # beside the maps each run saved
            data_root=None if anomaly_set else root,
        )
        if fig is None:
            return None
        what, outlined = (
            (f"{anomaly_set} frames", "its anomalies")
            if anomaly_set
            else ("test images", "the unknown objects")
        )
        return self.save(
            fig,
            f"maps_{scorer}_{anomaly_set}" if anomaly_set else f"maps_{scorer}",
            f"{scorer} anomaly maps of {len(fig.axes) // (len(dirs) + 1)} {what} "
            f"(rows) by {', '.join(dirs)} (columns) at seed {seed}, on one colour scale, "
            f"the first column the image with {outlined} outlined.",
            photo=True,
        )

    def curves_figure(self, term: str = "loss", log_scale: bool = True) -> Path:
        """The variants' training curves overlaid (first seed, ``curves_<term>.png``/``.svg``)."""
        seed = self.study.seeds[0]
        hist = {}
        for v in self.spec.variants:
            path = self.run_path(v, seed) / "history.csv"
            if path.is_file() and self.finished(v, seed):
                hist[v] = pd.read_csv(path)
        fig = curves_figure(hist, term, log_scale=log_scale)
        return self.save(
            fig,
            f"curves_{term}",
            f"Training curves of train {term} per epoch at "
            f"seed {seed}, one line per variant ({', '.join(hist) or 'none finished'})"
            f"{', log axis' if log_scale else ''}.",
        )

    def embedding_samples(self, variants: tuple[str, ...] = ()) -> dict[str, dict | None]:
        """Each variant's embedding sample at the first seed (``embeddings.npz`` of its run, drawn
        from the run's checkpoint when missing; None when neither is here)."""
        seed = self.study.seeds[0]
        paths = {
            v: write_embedding_sample(self.run_path(v, seed))
            for v in variants or self.spec.variants
        }
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
        self.save(
            embedding_pca(samples, space, palette, seed=seed),
            f"embedding_pca_{space}",
            f"PCA of the {space} space of known and unknown test pixels at seed {seed}, one "
            f"panel per variant ({shown_v}), points coloured by class.",
        )
        self.save(
            norm_histograms(samples, DEFAULT_MIN_NORM),
            "embedding_norms",
            f"Histograms of the vector norms of known and unknown test pixels in both spaces "
            f"for {shown_v}, with the InfoNCE term's min_norm marked.",
        )
        present = {v: s for v, s in samples.items() if s is not None}
        table = space_table(present, DEFAULT_MIN_NORM) if present else pd.DataFrame()
        self._write_md(
            "embedding_spaces",
            table,
            "Test pixels, first seed; cosine AUROC: unknown "
            "vs known by 1 - max cosine to the known class mean directions.",
        )
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
