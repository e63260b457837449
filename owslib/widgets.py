"""Interactive exploration in JupyterLab: browse images, scorers and thresholds of a trained model."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

import ipywidgets as W
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display

from owslib.inference.scorers import available_scorers, main_scorer
from owslib.plots.training import colorize
from owslib.report import predict_example

if TYPE_CHECKING:
    from owslib.engine.experiment import Experiment


class AnomalyExplorer:
    """Image slider, scorer choice and threshold δ → image | ground truth | score | unknown mask.

    ``AnomalyExplorer(exp, exp.test_loader.dataset).widget`` displays it; predictions are cached
    per image. :meth:`render` draws one state without a frontend (used by tests and batch runs).
    """

    def __init__(self, exp: Experiment, dataset: Any, *, scorers: tuple[str, ...] = ()) -> None:
        scorers = scorers or available_scorers(exp.bare_model.output_keys)
        self.exp, self.dataset, self.scorers = exp, dataset, scorers
        self.index = W.IntSlider(0, 0, max(len(dataset) - 1, 0), description="image")
        self.scorer = W.Dropdown(
            options=list(scorers), value=main_scorer(scorers), description="scorer"
        )
        self.delta = W.FloatSlider(exp.cfg.eval.delta, min=0.0, max=1.0, step=0.01, description="δ")
        self.out = W.Output()
        self.scorer.observe(lambda _change: self._rescale(), names="value")
        for w in (self.index, self.scorer, self.delta):
            w.observe(lambda _change: self._redraw(), names="value")
        self.widget = W.VBox([W.HBox([self.index, self.scorer, self.delta]), self.out])
        self._predict = lru_cache(maxsize=32)(self._predict_uncached)
        self._redraw()

    def _predict_uncached(self, index: int) -> dict[str, Any]:
        return predict_example(self.exp, self.dataset, index, scorers=self.scorers)

    def render(self, index: int, scorer: str, delta: float) -> plt.Figure:
        p = self._predict(index)
        t = p["target"]
        unknown = p["unknown_mask"]
        score = p["maps"][scorer]
        fig, axes = plt.subplots(1, 4, figsize=(14, 2.6))
        axes[0].imshow(p["image"])
        axes[1].imshow(colorize(t, self.exp.split.palette))
        if unknown.any():
            axes[1].contour(unknown, levels=[0.5], colors="yellow", linewidths=0.8)
        im = axes[2].imshow(score, cmap="magma")
        fig.colorbar(im, ax=axes[2], fraction=0.04)
        flagged = score > delta
        overlay = np.zeros((*t.shape, 3))
        overlay[flagged & unknown] = (0.1, 0.8, 0.1)  # true positives: green
        overlay[flagged & ~unknown & (t != 255)] = (0.9, 0.1, 0.1)  # false positives: red
        overlay[~flagged & unknown] = (0.2, 0.3, 1.0)  # missed unknowns: blue
        axes[3].imshow(overlay)
        titles = (
            "image",
            "ground truth",
            f"{scorer} score",
            f"> {delta:.2f}: TP green, FP red, FN blue",
        )
        for ax, title in zip(axes, titles, strict=True):
            ax.set_title(title, fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
        fig.suptitle(getattr(self.dataset, "names", [str(index)] * (index + 1))[index], fontsize=9)
        return fig

    def _rescale(self) -> None:
        """Fit the threshold slider to the chosen scorer's range (MaxLogit, entropy exceed [0, 1])."""
        score = self._predict(self.index.value)["maps"][self.scorer.value]
        lo, hi = float(np.min(score)), float(np.max(score))
        lo, hi = min(lo, 0.0), max(hi, 1.0) if self.scorer.value not in ("max_logit",) else hi
        self.delta.max = max(hi, self.delta.min)
        self.delta.min = lo
        self.delta.max = hi if hi > lo else lo + 1.0
        self.delta.step = (self.delta.max - self.delta.min) / 200

    def _redraw(self) -> None:
        self.out.clear_output(wait=True)
        with self.out:
            fig = self.render(self.index.value, self.scorer.value, self.delta.value)
            display(fig)
            plt.close(fig)
