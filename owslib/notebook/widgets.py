"""Interactive views in JupyterLab: the anomaly explorer (one run's test images, scorers and
threshold δ) and the side-by-side view (two runs' maps of one image on one colour scale).

Both draw from a run's explorer record (``explorer.npz``, committed with the run), so they work on
a fresh clone without a checkpoint; the explorer browses every test image through the model when
one is loaded. Each widget is one output that is also its own static picture (:class:`FigureBox`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as W
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

from owslib.inference.scorers import available_scorers, main_scorer
from owslib.paths import shown
from owslib.plots.inline import figure_bundle
from owslib.plots.maps import map_rows, shared_range
from owslib.plots.training import colorize
from owslib.report import predict_example
from owslib.report.explorer_record import load_explorer_record, record_path
from owslib.study.figures import format_score, image_aupr

if TYPE_CHECKING:
    from owslib.engine.experiment import Experiment


class FigureBox(W.VBox):
    """A VBox that is also a picture of its current state, in one output: its display bundle holds
    the widget view (what JupyterLab or VS Code shows with a live kernel: the widget alone) and a
    JPEG with alt text (``image/jpeg`` and an ``<img alt>``: what a rendered copy shows where no
    kernel drives the widget, e.g. nbconvert without the widget state, GitHub, a plain viewer),
    and the alt text as ``text/plain`` instead of ``VBox(children=…)``. Which one is shown is the
    frontend's choice by the bundle's mime types, not a guess made in the kernel."""

    def __init__(
        self,
        children: Sequence[W.Widget],
        picture: Callable[[], tuple[plt.Figure, str]],
        view: Any = None,
    ) -> None:
        super().__init__(list(children))
        self._picture = picture
        self.view = view  # the object that draws it (its ``render`` method)

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        live = super()._repr_mimebundle_(**kwargs) or {}
        fig, alt = self._picture()
        data, metadata = figure_bundle(fig, alt, photo=True)  # panels of images: a JPEG
        plt.close(fig)
        return {**data, **{k: v for k, v in live.items() if k != "text/plain"}}, metadata


def _show(out: W.Output, fig: plt.Figure, alt: str) -> None:
    """Replace what ``out`` shows with ``fig`` (closed once drawn): an ``<img alt>`` of a JPEG, so
    the live picture carries its alt text too (JupyterLab's image renderer reads no alt from the
    metadata), with the alt text as ``text/plain``."""
    data, _ = figure_bundle(fig, alt, photo=True)
    plt.close(fig)
    out.clear_output(wait=True)
    with out:
        display({"text/html": data["text/html"], "text/plain": alt}, raw=True)


class AnomalyExplorer:
    """Image, scorer and threshold δ → image | ground truth | score | flagged pixels.

    ``AnomalyExplorer(exp, exp.test_loader.dataset)`` browses every test image through the model;
    :meth:`from_record` the images of a run's explorer record, without a model. ``.widget``
    displays it; :meth:`render` draws one state without a frontend (tests, the static picture).
    ``target_kind="anomaly"`` (an anomaly set's frames, or its record): the ground truth is the
    anomaly mask alone, so the second panel is the closed-set prediction, shown and not scored,
    with the anomalies outlined.
    """

    def __init__(
        self,
        exp: Experiment,
        dataset: Any,
        *,
        scorers: tuple[str, ...] = (),
        target_kind: str = "classes",
    ) -> None:
        scorers = scorers or available_scorers(exp.bare_model.output_keys)
        self.exp, self.dataset = exp, dataset
        names = list(getattr(dataset, "names", range(len(dataset))))
        what = "frames of the anomaly set" if target_kind == "anomaly" else "test images"
        self._build(
            partial(predict_example, exp, dataset, scorers=scorers, target_kind=target_kind),
            names,
            scorers,
            exp.split.palette,
            exp.cfg.eval.delta,
            f"the model: all {len(names)} {what}",
            target_kind,
        )

    @classmethod
    def from_record(
        cls,
        examples: Sequence[dict[str, Any]],
        palette: np.ndarray,
        *,
        delta: float = 0.5,
        source: str = "",
    ) -> AnomalyExplorer:
        """The explorer over a run's recorded examples (:func:`load_explorer_record`), with the
        record's ground truth (its ``target_kind``)."""
        self = cls.__new__(cls)
        self.exp, self.dataset = None, None
        names = [ex["name"] for ex in examples]
        scorers = tuple(examples[0]["maps"])
        kind = examples[0].get("target_kind", "classes")
        what = "frames" if kind == "anomaly" else "test images"
        self._build(
            examples.__getitem__,
            names,
            scorers,
            palette,
            delta,
            source or f"the run's explorer record: its {len(names)} recorded {what}",
            kind,
        )
        return self

    def _build(
        self,
        predict: Callable[[int], dict[str, Any]],
        names: list,
        scorers: tuple[str, ...],
        palette: np.ndarray,
        delta: float,
        source: str,
        target_kind: str = "classes",
    ) -> None:
        self.names, self.scorers, self.palette, self.source = names, scorers, palette, source
        self.target_kind = target_kind
        self._predict = lru_cache(maxsize=32)(predict)
        self.index = W.IntSlider(0, 0, max(len(names) - 1, 0), description="image")
        self.scorer = W.Dropdown(
            options=list(scorers), value=main_scorer(scorers), description="scorer"
        )
        self.delta = W.FloatSlider(delta, min=0.0, max=1.0, step=0.01, description="δ")
        self.out = W.Output()
        self.scorer.observe(lambda _change: self._rescale(), names="value")
        for w in (self.index, self.scorer, self.delta):
            w.observe(lambda _change: self._redraw(), names="value")
        note = W.HTML(f"<small>From {source}.</small>")
        self.widget = FigureBox(
            [W.HBox([self.index, self.scorer, self.delta]), note, self.out], self._picture, self
        )
        self._redraw()

    def render(self, index: int, scorer: str, delta: float) -> plt.Figure:
        p = self._predict(index)
        t = p["target"]
        unknown = p["unknown_mask"]
        score = p["maps"][scorer]
        anomaly = self.target_kind == "anomaly"
        fig, axes = plt.subplots(1, 4, figsize=(14, 2.8))
        axes[0].imshow(p["image"])
        # an anomaly set's ground truth is its anomaly mask: no class labels to colour or to score
        # a prediction against, so the prediction is shown beside the outlined anomalies
        axes[1].imshow(colorize(p["pred"] if anomaly else t, self.palette))
        if unknown.any():
            axes[1].contour(unknown, levels=[0.5], colors="yellow", linewidths=0.8)
        im = axes[2].imshow(score, cmap="magma")
        fig.colorbar(im, ax=axes[2], fraction=0.04).ax.tick_params(labelsize=8)
        flagged = score > delta
        overlay = np.zeros((*t.shape, 3))
        overlay[flagged & unknown] = (0.1, 0.8, 0.1)  # true positives: green
        overlay[flagged & ~unknown & (t != 255)] = (0.9, 0.1, 0.1)  # false positives: red
        overlay[~flagged & unknown] = (0.2, 0.3, 1.0)  # missed unknowns: blue
        axes[3].imshow(overlay)
        titles = (
            "image",
            "closed-set prediction (not scored:\nno class labels), anomalies outlined"
            if anomaly
            else "ground truth, unknown outlined",
            f"{scorer} score",
            f"> {delta:.2f}: TP green, FP red, FN blue",
        )
        for ax, title in zip(axes, titles, strict=True):
            ax.set_title(title, fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
        fig.suptitle(f"{self.names[index]} (image {index + 1} of {len(self.names)})", fontsize=9)
        return fig

    def alt(self) -> str:
        i = self.index.value
        second, unknowns = (
            (
                "the closed-set prediction (not scored: the set has no class labels) with the "
                "annotated anomalies outlined",
                "anomalies",
            )
            if self.target_kind == "anomaly"
            else ("its ground truth with the unknown objects outlined", "unknowns")
        )
        return (
            f"Anomaly explorer, image {i + 1} of {len(self.names)} ({self.names[i]}) from "
            f"{self.source}: the image, {second}, the {self.scorer.value} score and the pixels "
            f"above δ = {self.delta.value:.2f} (true positives green, false positives red, "
            f"missed {unknowns} blue)."
        )

    def _picture(self) -> tuple[plt.Figure, str]:
        return self.render(self.index.value, self.scorer.value, self.delta.value), self.alt()

    def _rescale(self) -> None:
        """Fit the threshold slider to the chosen scorer's range (MaxLogit, entropy exceed [0, 1])."""
        score = self._predict(self.index.value)["maps"][self.scorer.value]
        lo, hi = min(float(np.min(score)), 0.0), float(np.max(score))
        hi = max(hi, 1.0) if self.scorer.value != "max_logit" else hi
        self.delta.max = max(hi, self.delta.min)
        self.delta.min = lo
        self.delta.max = hi if hi > lo else lo + 1.0
        self.delta.step = (self.delta.max - self.delta.min) / 200

    def _redraw(self) -> None:
        _show(self.out, *self._picture())


Record = Sequence[dict[str, Any]]


class SideBySide:
    """Two runs' ``scorer`` maps of one test image, on one colour scale (the scorer's fixed range,
    else the 1st-99th percentiles of both maps), beside the image with the unknown objects
    outlined, each with its per-image AUPR. ``records`` maps ``(variant, seed)`` to a run's
    explorer record, or the path of its ``explorer.npz`` (read when first shown); ``ranges`` the
    scorers' fixed ranges (None: unbounded); ``anomaly_set``: the records are of that set's
    frames (its anomalies outlined, the AUPR against its anomaly mask). ``.widget`` displays it;
    :meth:`render` draws one state without a frontend."""

    def __init__(
        self,
        records: Mapping[tuple[str, int], Record | str | Path],
        *,
        ranges: Mapping[str, tuple[float, float] | None] | None = None,
        baseline: str = "",
        anomaly_set: str = "",
    ) -> None:
        if not records:
            raise ValueError("SideBySide needs at least one run's explorer record")
        self._records = dict(records)
        self.ranges = dict(ranges or {})
        self.anomaly_set = anomaly_set
        variants = list(dict.fromkeys(v for v, _ in self._records))
        left = baseline if baseline in variants else variants[0]
        right = next((v for v in variants if v != left), left)
        self.a = W.Dropdown(options=variants, value=left, description="left")
        self.b = W.Dropdown(options=variants, value=right, description="right")
        self.seed = W.Dropdown(options=sorted({s for _, s in self._records}), description="seed")
        self.image = W.Dropdown(description="image")
        self.scorer = W.Dropdown(description="scorer")
        self.out = W.Output()
        self._refresh()
        for w in (self.a, self.b, self.seed):
            w.observe(lambda _change: self._refresh(), names="value")
        for w in (self.image, self.scorer):
            w.observe(lambda _change: self._redraw(), names="value")
        rows = [W.HBox([self.a, self.b, self.seed]), W.HBox([self.image, self.scorer]), self.out]
        self.widget = FigureBox(rows, self._picture, self)
        self._redraw()

    def examples(self, variant: str, seed: int) -> dict[str, dict[str, Any]]:
        """The recorded examples of a run by image name (empty when it has no record)."""
        rec = self._records.get((variant, seed))
        if isinstance(rec, (str, Path)):
            rec = self._records[variant, seed] = load_explorer_record(rec)
        return {ex["name"]: ex for ex in rec or ()}

    def aupr(self, variant: str, seed: int, image: str, scorer: str) -> float:
        """The per-image AUPR of a run's recorded map (from its 8-bit record)."""
        ex = self.examples(variant, seed)[image]
        return image_aupr(ex["maps"][scorer], ex)

    def render(self, a: str, b: str, seed: int, image: str, scorer: str) -> plt.Figure:
        ea, eb = self.examples(a, seed).get(image), self.examples(b, seed).get(image)
        first = ea or eb
        if first is None:
            raise KeyError(f"neither {a} nor {b} at seed {seed} recorded image {image!r}")
        cols = [a, b] if a != b else [f"{a} (left)", f"{b} (right)"]
        maps, notes = {}, {}
        for col, variant, ex in zip(cols, (a, b), (ea, eb), strict=True):
            if ex is not None and scorer in ex["maps"]:
                maps[col] = ex["maps"][scorer]
                notes[0, col] = f"AUPR on this image: {format_score(image_aupr(maps[col], ex))}"
            else:
                notes[0, col] = f"{variant} has no {scorer} scorer" if ex else "image not recorded"
        value_range = self.ranges.get(scorer) or shared_range(list(maps.values()))
        row = {
            "name": image,
            "image": first["image"],
            "unknown_mask": first["unknown_mask"],
            "maps": maps,
            "target_kind": first.get("target_kind"),
        }
        fig = map_rows([row], cols, scorer=scorer, value_range=value_range, notes=notes)
        where = f", a {self.anomaly_set} frame" if self.anomaly_set else ""
        fig.suptitle(
            f"seed {seed}{where}: {a} and {b} on one colour scale (AUPR from the runs' 8-bit "
            "explorer records)",
            fontsize=9,
        )
        return fig

    def alt(self) -> str:
        a, b, seed, image, scorer = self._state()
        has = {v: scorer in self.examples(v, seed).get(image, {}).get("maps", {}) for v in (a, b)}
        auprs = "; ".join(
            f"{v} AUPR {format_score(self.aupr(v, seed, image, scorer))}"
            if has[v]
            else f"{v} has no {scorer} scorer"
            for v in dict.fromkeys((a, b))
        )
        what, outlined = (
            (f"{self.anomaly_set} frame", "its anomalies")
            if self.anomaly_set
            else ("image", "the unknown objects")
        )
        return (
            f"Side by side, seed {seed}, {what} {image}: the image with {outlined} "
            f"outlined, and the {scorer} maps of {a} and {b} on one colour scale ({auprs})."
        )

    def _state(self) -> tuple[str, str, int, str, str]:
        return self.a.value, self.b.value, self.seed.value, self.image.value, self.scorer.value

    def _refresh(self) -> None:
        """The images both chosen runs recorded (either one's, when only one has) and every
        scorer of either run: one the other lacks is drawn as a cell saying so."""
        ea, eb = (
            self.examples(self.a.value, self.seed.value),
            self.examples(self.b.value, self.seed.value),
        )
        names = [n for n in ea if n in eb] or list(ea) or list(eb)
        scorers = list(dict.fromkeys([*_scorers(ea), *_scorers(eb)]))
        image, scorer = self.image.value, self.scorer.value
        self._busy = True  # one redraw for the whole change, not one per option set
        try:
            self.image.options = names
            self.image.value = image if image in names else (names or [None])[0]
            self.scorer.options = scorers
            fallback = main_scorer(tuple(scorers)) if scorers else None
            self.scorer.value = scorer if scorer in scorers else fallback
        finally:
            self._busy = False
        self._redraw()

    def _picture(self) -> tuple[plt.Figure, str]:
        return self.render(*self._state()), self.alt()

    def _redraw(self) -> None:
        if (
            getattr(self, "_busy", False)
            or not hasattr(self, "widget")
            or None in (self.image.value, self.scorer.value)
        ):
            return
        _show(self.out, *self._picture())


def _scorers(examples: dict[str, dict[str, Any]]) -> list[str]:
    return list(next(iter(examples.values()))["maps"]) if examples else []


class RunWidgets:
    """The widgets of :class:`~owslib.notebook.run.NotebookRun`, drawn from its runs' explorer
    records."""

    def side_by_side(self, scorer: str = "fused", anomaly_set: str = "") -> FigureBox | None:
        """Two variants' maps of one test image on one colour scale, with their per-image AUPR
        (:class:`SideBySide`), from the explorer records of this notebook's runs
        (notebook 01, which has one variant: of every run of the study) at every seed that has
        them (the confirmation's fresh seeds too), each variant with its own scorers; None, with
        one line saying why, when no run has a record yet. ``anomaly_set`` (e.g.
        ``"road_anomaly"``): the records of that set's frames instead of the test images."""
        variants = self.spec.variants if len(self.spec.variants) > 1 else tuple(self.study.variants)
        records = self.explorer_records(variants, anomaly_set)
        if not records:
            display(Markdown(_no_record_line(anomaly_set, shown(self.study.path))))
            return None
        scorers = {s for path in records.values() for s in _record_scorers(path)}
        ranges = {s: self.scorer_range(s) for s in scorers}
        view = SideBySide(records, ranges=ranges, baseline=self.baseline, anomaly_set=anomaly_set)
        if scorer in view.scorer.options:
            view.scorer.value = scorer
        return view.widget

    def explorer_records(
        self, variants: tuple[str, ...], anomaly_set: str = ""
    ) -> dict[tuple[str, int], Path]:
        """``(variant, seed) -> explorer.npz`` of every finished run of ``variants`` that wrote one,
        at any seed (the study's and the confirmation's), seeds in order; ``anomaly_set``: its
        record of that set (:func:`~owslib.report.explorer_record.record_path`)."""
        found = {}
        in_run = record_path("", anomaly_set).as_posix()
        for v in variants:
            folder = self.run_path(v, 0).parent
            for path in folder.glob(f"seed*/{in_run}"):
                seed = int(path.relative_to(folder).parts[0].removeprefix("seed"))
                if self.finished(v, seed):
                    found[v, seed] = path
        return dict(sorted(found.items(), key=lambda kv: (kv[0][1], variants.index(kv[0][0]))))


def _no_record_line(anomaly_set: str, study_file: str) -> str:
    """Why the side-by-side view is not shown: no run has the record it draws from."""
    if not anomaly_set:
        return (
            "No explorer record among these runs yet: they predate `explorer.npz`, which "
            "every run now writes; the side-by-side view appears once they are retrained."
        )
    return (
        f"No explorer record of `{anomaly_set}` among these runs yet: `python -m owslib study "
        f"--study {study_file} --records` writes them from the runs' checkpoints (every run "
        "evaluated on an anomaly set now writes its own)."
    )


def _record_scorers(path: Path) -> list[str]:
    import numpy as np

    with np.load(path, allow_pickle=False) as z:
        return [str(x) for x in z["scorers"]]
