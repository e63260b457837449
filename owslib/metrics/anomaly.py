"""Pixel anomaly metrics: AUPR, FPR95, AUROC, best F1 — exact, and streamed through score histograms.

Conventions. Label 1 = anomaly = the *positive* class, 0 = known, ``ignore_index``
skipped; a higher score means "more anomalous" (pass ``-score`` for confidences).

* **AUPR** = average precision, step-wise like ``sklearn.metrics.average_precision_score``:
  ``sum_n (R_n - R_{n-1}) P_n`` over thresholds at the distinct score values (tied scores form one
  threshold).
* **FPR95** = false-positive rate at the *first* threshold, scanning from high to low score, whose
  TPR >= 0.95.
* **AUROC** = trapezoidal area under the ROC curve (= ``roc_auc_score``; ties count one half).
* **best F1** = max pixel F1 over thresholds, and the threshold (predict anomaly if score >= it).
* **pooled** aggregation ranks all pixels of the set together (SegmentMeIfYouCan, RbA);
  **per_image** averages the metrics of the images that contain both classes (Hendrycks et al.'s
  BDD-Anomaly code) and reports how many images were skipped.
* **Undefined values are NaN**, never an exception: AUROC and FPR95 need both classes, AUPR and best F1
  need at least one anomaly pixel (all-anomaly input gives AUPR = best F1 = 1); no valid pixel at all
  gives NaN everywhere. A per-image mean over zero usable images is NaN.

Two evaluation modes share one reduction (:func:`curve_metrics`, counts per threshold group):

* ``exact`` sorts every score (float64): matches scikit-learn to rounding, memory O(pixels).
* ``histogram`` (:class:`AnomalyMetric`, streaming): scores are counted into ``bins`` bins per class,
  memory O(bins) whatever the number of pixels; each bin edge is a threshold.

**Scores outside [0, 1]** (logits, energies) — the grid, see ``owslib/metrics/histogram.py``:
``range=None`` (default) adapts: the pooled accumulator keeps a dyadic grid (bin width ``2**e``)
fitted to the data seen so far and moves or coarsens it losslessly when a batch falls outside;
per-image histograms use each image's own [min, max]. ``range=(lo, hi)`` fixes a linear grid;
scores outside are clamped into the end bins (so ``±inf`` works too). No squashing transform is
applied: it would spend the bins where the transform is steep rather than where the scores are.

**Error bound.** Binning is monotone, so a histogram result is the exact result for scores tied
within each bin; only orderings *inside* a bin are lost. :func:`~owslib.metrics.ranking.
quantisation_error_bounds` turns this into guaranteed worst-case bounds, reported with every result
as ``*_max_error`` (e.g. AUROC ``<= sum_b pos_b neg_b / (2 P N)``, FPR95 ``<= neg_b* / N`` for the bin
``b*`` where TPR reaches 95 %). They shrink with the bin width, and grow when outliers stretch the
adaptive range or when a fixed ``range`` clamps many scores into an end bin.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor

from owslib.labels import IGNORE_INDEX
from owslib.metrics.histogram import (
    Workspace,
    check_finite,
    covering_grid,
    dyadic_bounds,
    dyadic_grid,
    histogram_counts,
    label_codes,
    occupied_bounds,
    regrid,
    valid_minmax,
)
from owslib.metrics.ranking import (
    COUNT_KEYS,
    IMAGE_KEYS,
    curve_metrics,
    exact_metrics,
    image_means,
    image_totals,
    quantisation_error_bounds,
)

Aggregation = Literal["pooled", "per_image"]
#: Pixels per histogram pass: bounds the scratch buffers (~13 bytes per pixel) of one update.
CHUNK_PIXELS = 2**22


class AnomalyMetric:
    """Streaming anomaly metrics over score histograms: memory O(``bins``), not O(pixels).

    ``update(scores, labels)`` takes a batch (tensors on any device, any shape; for ``per_image``
    the first dim indexes images), ``compute()`` returns the dict of :func:`anomaly_metrics`.
    ``range=None`` adapts the grid to the data, ``range=(lo, hi)`` fixes it and clamps outliers
    into the end bins (module docstring). State is tensors — ``hist`` (pooled: ``(2, bins)``
    int64, rows known / anomaly) or ``image_sums`` / ``image_counts`` (per image) — plus the
    dyadic ``grid`` ``(e, k0)``; :meth:`merge` adds another accumulator, :meth:`sync` all-reduces
    across DDP ranks.
    """

    def __init__(
        self,
        bins: int = 100_000,
        range: Sequence[float] | None = None,
        ignore_index: int = IGNORE_INDEX,
        aggregation: Aggregation = "pooled",
    ) -> None:
        if bins < 2:
            raise ValueError(f"AnomalyMetric: bins must be >= 2, got {bins}")
        if aggregation not in ("pooled", "per_image"):
            raise ValueError(f"aggregation must be 'pooled' or 'per_image', got {aggregation!r}")
        if range is not None:
            lo, hi = (float(v) for v in range)
            if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
                raise ValueError(f"AnomalyMetric: range must be finite with lo < hi, got {range}")
            range = (lo, hi)
        self.bins, self.range, self.ignore_index = bins, range, ignore_index
        self.workspace = Workspace()
        self.aggregation: Aggregation = aggregation
        self.reset()

    def reset(self, device: torch.device | str | None = None) -> None:
        """Forget everything seen (state on ``device``, default: where it was, else CPU)."""
        if device is None:
            device = self.hist.device if hasattr(self, "hist") else "cpu"
        self.hist = torch.zeros(
            2, self.bins if self.aggregation == "pooled" else 0, dtype=torch.int64, device=device
        )
        self.grid: tuple[int, int] | None = None
        self.image_sums = torch.zeros(len(IMAGE_KEYS), dtype=torch.float64, device=device)
        self.image_counts = torch.zeros(len(COUNT_KEYS), dtype=torch.int64, device=device)

    def _to(self, device: torch.device) -> None:
        if self.hist.device != device:
            state = (self.hist, self.image_sums, self.image_counts)
            self.hist, self.image_sums, self.image_counts = (t.to(device) for t in state)

    @torch.no_grad()
    def update(self, scores: Tensor | np.ndarray, labels: Tensor | np.ndarray) -> None:
        """Count one batch; labels 1 = anomaly, 0 = known, ``ignore_index`` skipped.

        Large batches are processed in chunks of :data:`CHUNK_PIXELS` (whole images for
        ``per_image``), so scratch memory is bounded whatever the batch size.
        """
        scores = torch.as_tensor(scores).detach()
        labels = torch.as_tensor(labels, device=scores.device)
        if scores.shape != labels.shape:
            raise ValueError(
                f"scores {tuple(scores.shape)} and labels {tuple(labels.shape)} differ"
            )
        if not scores.is_floating_point():
            scores = scores.to(torch.float64)
        self._to(scores.device)
        if self.aggregation == "pooled":
            s, y = scores.reshape(-1), labels.reshape(-1)
            chunks = [
                (s[i : i + CHUNK_PIXELS], y[i : i + CHUNK_PIXELS])
                for i in range(0, s.numel(), CHUNK_PIXELS)
            ]
            finite = False
            if self.range is None and chunks:
                lo, hi = (float(v) for v in torch.aminmax(s))
                finite = math.isfinite(lo) and math.isfinite(hi)
                if not (finite and self._inside(lo, hi)):
                    self._cover_chunks(chunks)
            for cs, cy in chunks:
                self._update_pooled(cs.view(1, -1), cy.view(1, -1), finite)
        elif scores.dim() == 0:
            raise ValueError("per_image aggregation needs a leading image dim")
        elif scores.numel() == 0:
            self.image_counts[1] += scores.shape[0]
        else:
            n = scores.shape[0]
            s, y = scores.reshape(n, -1), labels.reshape(n, -1)
            step = max(1, CHUNK_PIXELS // s.shape[1])
            for i in range(0, n, step):
                self._update_images(s[i : i + step], y[i : i + step])

    def _inside(self, lo: float, hi: float) -> bool:
        if self.grid is None:
            return False
        first, last = dyadic_bounds(self.grid, self.bins)
        return first <= lo and hi < last + math.ldexp(1.0, self.grid[0])

    def _cover_chunks(self, chunks: list[tuple[Tensor, Tensor]]) -> None:
        """Grow the dyadic grid to the valid scores of a batch (first batch, or one outside)."""
        lo, hi = math.inf, -math.inf
        for cs, cy in chunks:
            codes = label_codes(cy, self.ignore_index, self.workspace)
            check_finite(cs, codes, allow_inf=False)
            a, b = valid_minmax(cs, codes == 0)
            lo, hi = min(lo, float(a)), max(hi, float(b))
        if lo <= hi:  # else every pixel was ignored
            self._regrid(covering_grid(self.bins, lo, hi, (self.grid, self.hist)))

    def _regrid(self, new: tuple[int, int]) -> None:
        if self.grid is not None and new != self.grid and bool(self.hist.any()):
            self.hist = regrid(self.hist, self.grid, new)
        self.grid = new

    def _update_pooled(self, scores: Tensor, labels: Tensor, finite: bool) -> None:
        codes = label_codes(labels, self.ignore_index, self.workspace)
        if self.range is not None:
            finite = check_finite(scores, codes, allow_inf=True)
            lo, hi = self.range
            grid = (lo, self.bins / (hi - lo), 0)
        elif self.grid is None:
            return  # every pixel of the batch was ignored
        else:  # non-finite valid scores were rejected by _cover_chunks, ignored ones are masked
            e, k0 = self.grid
            grid = (0.0, math.ldexp(1.0, -e), k0)
        counts = histogram_counts(scores, codes, *grid, self.bins, self.workspace, finite)
        self.hist += counts[0]

    def _update_images(self, scores: Tensor, labels: Tensor) -> None:
        codes = label_codes(labels, self.ignore_index, self.workspace)
        if self.range is not None:
            finite = check_finite(scores, codes, allow_inf=True)
            lo, scale = self.range[0], self.bins / (self.range[1] - self.range[0])
        else:  # each image's own [min, max]
            finite = check_finite(scores, codes, allow_inf=False)
            mn, mx = valid_minmax(scores, codes == 0, dim=1)
            has = mn <= mx
            lo = torch.where(has, mn, 0.0)[:, None]
            scale = self.bins / torch.where(has, mx - mn, 0.0)[:, None]
            scale = torch.where(torch.isfinite(scale) & (scale > 0), scale, 1.0)
        counts = histogram_counts(scores, codes, lo, scale, 0, self.bins, self.workspace, finite)
        counts = counts.flip(-1)
        edges = lo + torch.arange(self.bins, device=scores.device, dtype=torch.float64) / scale
        pos, neg = counts[:, 1], counts[:, 0]
        res = curve_metrics(pos, neg, edges.flip(-1)) | quantisation_error_bounds(pos, neg)
        sums, n = image_totals(res, pos.sum(1) + neg.sum(1), pos.sum(1))
        self.image_sums += sums
        self.image_counts += n

    def edges(self) -> torch.Tensor:
        """The lower edge of every bin (the thresholds the metrics use), low to high."""
        return self._edges()

    def _edges(self) -> Tensor:
        i = torch.arange(self.bins, device=self.hist.device, dtype=torch.float64)
        if self.range is not None:
            return self.range[0] + i * ((self.range[1] - self.range[0]) / self.bins)
        e, k0 = self.grid if self.grid is not None else (0, 0)
        return (i + k0) * math.ldexp(1.0, e)

    def compute(self) -> dict[str, float]:
        """Metrics of everything seen so far (keys as :func:`anomaly_metrics`)."""
        if self.aggregation == "per_image":
            return image_means(self.image_sums, self.image_counts)
        counts = self.hist.flip(-1)
        pos, neg = counts[1], counts[0]
        res = curve_metrics(pos, neg, self._edges().flip(0)) | quantisation_error_bounds(pos, neg)
        out = {k: float(v) for k, v in res.items()}
        return out | {"n_pixels": int(counts.sum()), "n_anomaly": int(pos.sum())}

    def merge(self, other: AnomalyMetric) -> None:
        """Add ``other``'s counts to this accumulator (same bins, range, aggregation, ignore index)."""
        mine = (self.bins, self.range, self.aggregation, self.ignore_index)
        theirs = (other.bins, other.range, other.aggregation, other.ignore_index)
        if mine != theirs:
            raise ValueError(f"AnomalyMetric.merge: settings differ: {mine} vs {theirs}")
        dev = self.hist.device
        self.image_sums += other.image_sums.to(dev)
        self.image_counts += other.image_counts.to(dev)
        hist = other.hist.to(dev)
        if self.range is None and other.grid is not None and bool(hist.any()):  # align grids
            theirs = (other.grid, hist)
            self._regrid(
                covering_grid(self.bins, math.inf, -math.inf, (self.grid, self.hist), theirs)
            )
            hist = regrid(hist, other.grid, self.grid)
        self.hist += hist

    def sync(self, group: dist.ProcessGroup | None = None) -> None:
        """All-reduce the state over a ``torch.distributed`` group (no-op when not initialised).

        Adaptive grids are first aligned: every rank moves to the finest dyadic grid covering all
        ranks' counts (one MAX all-reduce of ``[e, -first, last]``), then the counts are summed.
        """
        if not (dist.is_available() and dist.is_initialized()):
            return
        if self.aggregation == "per_image":
            dist.all_reduce(self.image_sums, group=group)
            dist.all_reduce(self.image_counts, group=group)
            return
        if self.range is None:
            bounds = None if self.grid is None else occupied_bounds(self.hist, self.grid)
            info = [-math.inf] * 3 if bounds is None else [self.grid[0], -bounds[0], bounds[1]]
            t = torch.tensor(info, dtype=torch.float64, device=self.hist.device)
            dist.all_reduce(t, op=dist.ReduceOp.MAX, group=group)
            e, neg_first, last = t.tolist()
            if math.isfinite(e):
                self._regrid(dyadic_grid(-neg_first, last, self.bins, int(e)))
        dist.all_reduce(self.hist, group=group)


def anomaly_metrics(
    scores: Tensor | np.ndarray,
    labels: Tensor | np.ndarray,
    *,
    ignore_index: int = IGNORE_INDEX,
    aggregation: Aggregation = "pooled",
    mode: Literal["exact", "histogram"] = "exact",
    bins: int = 100_000,
    range: Sequence[float] | None = None,
) -> dict[str, float]:
    """Anomaly metrics of one set of pixel ``scores`` and ``labels`` (same shape, any layout).

    For ``aggregation="per_image"`` the first dim indexes images. ``mode="exact"`` sorts all scores
    (small sets, tests; matches scikit-learn to rounding); ``mode="histogram"`` is one
    :class:`AnomalyMetric` update with ``bins`` and ``range`` (large sets, bounded error). Returns
    the metrics of :data:`METRIC_KEYS`, their error bounds ``*_max_error`` (0 when exact),
    ``n_pixels`` and ``n_anomaly`` (valid pixels), and per image ``n_images`` (images used, holding
    both classes) and ``n_skipped``.
    """
    scores, labels = torch.as_tensor(scores), torch.as_tensor(labels)
    if mode == "histogram":
        metric = AnomalyMetric(bins, range, ignore_index, aggregation)
        metric.update(scores, labels)
        return metric.compute()
    if mode != "exact":
        raise ValueError(f"mode must be 'exact' or 'histogram', got {mode!r}")
    if aggregation not in ("pooled", "per_image"):
        raise ValueError(f"aggregation must be 'pooled' or 'per_image', got {aggregation!r}")
    if scores.shape != labels.shape:
        raise ValueError(f"scores {tuple(scores.shape)} and labels {tuple(labels.shape)} differ")
    labels = labels.to(scores.device)
    codes = label_codes(labels, ignore_index)
    if scores.numel():
        check_finite(scores, codes, allow_inf=True)
    return exact_metrics(scores, labels, ignore_index, per_image=aggregation == "per_image")
