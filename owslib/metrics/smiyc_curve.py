"""The SegmentMeIfYouCan leaderboard's binned pixel curve (AP, FPR95, AUROC), accumulated per frame.

Convention of the benchmark's pixel metric ("PixBinaryClass", 768 percentile bins; Chan et al.,
"SegmentMeIfYouCan: A Benchmark for Anomaly Segmentation", NeurIPS Datasets and Benchmarks 2021).
Label 1 = anomaly = positive, 0 = known, ``ignore_index`` skipped; a higher score is more anomalous.

* **Edges, per frame**, from its valid pixels: two guard edges ``min - eps`` and ``max + eps``,
  ``eps = max(0.01 * (max - min), 0.01)``; the anomaly scores' ``np.quantile`` (linear) at
  ``np.linspace(0, 1, min(q, n_anomaly))`` and the known scores' at ``np.linspace(0, 1,
  min(q, n_known))`` (``q = num_quantiles = 768 // 2``); sorted, duplicates removed.
* **Bins** are half-open ``[e_i, e_i+1)`` (``np.histogram``; its closed last bin never matters, as
  ``max + eps`` exceeds every score) and each bin's threshold is its lower edge: at threshold
  ``t`` a pixel is predicted anomalous iff the lower edge of its bin *in its own frame* is
  ``>= t``. Empty bins are kept (they only repeat a curve point).
* **Pooling**: the frames' edges differ and are *not* aligned. The ``(lower edge, anomaly count,
  known count)`` of every bin of every frame are sorted by edge from high to low and summed
  cumulatively into TP / FP; equal edges form one point. The pooled curve is therefore the exact
  ranking of the pixels with each score replaced by its bin's lower edge. A point ``TP = FP = 0``
  (threshold: top edge + 1) is prepended when the first point is not one; precision is 1 there.
* **AP** = ``sum_i (R_i - R_i-1) P_i`` over the points (step-wise, like scikit-learn); **FPR95** =
  the FPR of the first point with TPR >= 0.95; **AUROC** = trapezoid of TPR over FPR on the same
  binned curve (the benchmark computes it with ``np.trapz``); **best F1** = max ``2TP / (2TP + FP +
  FN)`` and its threshold (the benchmark's table reports it with AP and FPR95).

Frames without anomaly pixels (or without known pixels) are binned like any other, with the edges of
the class present only: their known (anomaly) pixels enter the pooled curve as false (true)
positives. A frame with no valid pixel adds nothing (the benchmark's own code fails on it).
Undefined results are NaN as in :mod:`owslib.metrics.anomaly`: AP and best F1 without any anomaly
pixel, AUROC and FPR95 unless both classes occur (the benchmark agrees, except that with no anomaly
pixel at all it reports FPR95 = 0 and best F1 = 0).

Where every score is an edge (each class of a frame has at most ``q`` pixels) the curve is the exact
one and AP equals ``average_precision_score`` (but for equal scores in different frames: NumPy's
interpolation may put an edge one rounding step below a score, ranking it below its twins).
Otherwise binning ties the scores inside a bin and moves them to its lower edge, and across frames
the edges interleave, so AP differs from the exact value, in either direction (typically by under
0.01 on full-size frames).

Differences from the benchmark's code, none of which changes a result on continuous scores: edges
and quantiles are computed in float64 (bit-identical to NumPy on float64 scores; the benchmark
interpolates reduced-precision scores partly in their own dtype); the benchmark always keeps its
first sorted entry as a point, which repeats a point (dropped here) or, when several frames share
the top edge (saturated scores), adds a partial point whose counts depend on NumPy's unstable tie
order (about 1e-3 of AP in our trials); here tied edges always form one point. State is one triple
per distinct edge: at most ``2q + 1`` per frame, independent of the pixel count but growing with the
number of frames (about 18 KB per frame at ``q = 384``), because the benchmark ranks all frames'
edges jointly.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch
from torch import Tensor

from owslib.labels import IGNORE_INDEX
from owslib.metrics.histogram import label_codes
from owslib.metrics.ranking import curve_metrics

CURVE_KEYS = ("thresholds", "tpr", "fpr", "precision", "recall")
#: Pending per-frame triples are merged once they outnumber the merged ones (and this floor).
_COMPACT_MIN = 2**16


def numpy_linspace01(num: int, device: torch.device | str | None = None) -> Tensor:
    """``np.linspace(0, 1, num)`` bit for bit (float64, ``num >= 1``)."""
    if num == 1:
        return torch.zeros(1, dtype=torch.float64, device=device)
    q = torch.arange(num, dtype=torch.float64, device=device) * (1.0 / (num - 1))
    q[-1] = 1.0
    return q


def numpy_quantiles(ordered: Tensor, num: int) -> Tensor:
    """``np.quantile(x, np.linspace(0, 1, num))`` (method "linear") of sorted float64 ``x``.

    Same arithmetic as NumPy (virtual index ``(n - 1) q``, ``a + (b - a) t`` below ``t = 0.5`` and
    ``b - (b - a)(1 - t)`` from there), so edges that fall on a score equal it exactly.
    """
    n = ordered.numel()
    virtual = (n - 1) * numpy_linspace01(num, ordered.device)
    prev = torch.floor(virtual)
    last = virtual >= n - 1
    lo = torch.where(last, n - 1, prev).long()
    hi = torch.where(last, n - 1, prev + 1).long()
    a, b, t = ordered[lo], ordered[hi], virtual - prev
    d = b - a
    return torch.where(t >= 0.5, b - d * (1 - t), a + d * t)


def percentile_edges(scores: Tensor, anomaly: Tensor, num_quantiles: int) -> Tensor:
    """Sorted unique bin edges of one frame's valid float64 ``scores`` (module docstring)."""
    vmin, vmax = torch.aminmax(scores)
    eps = torch.clamp_min((vmax - vmin) * 0.01, 0.01)
    parts = [torch.stack([vmin - eps, vmax + eps])]
    for values in (scores[anomaly], scores[~anomaly]):
        if values.numel():
            ordered = torch.sort(values).values
            parts.append(numpy_quantiles(ordered, min(num_quantiles, values.numel())))
    return torch.unique(torch.cat(parts))


def frame_bins(
    scores: Tensor, labels: Tensor, num_quantiles: int, ignore_index: int = IGNORE_INDEX
) -> tuple[Tensor, Tensor, Tensor] | None:
    """One frame's bins as float64 ``(lower_edges, anomaly_counts, known_counts)``, edges ascending.

    ``None`` when every pixel is ignored. Raises ``ValueError`` for bad labels, shapes or
    non-finite valid scores.
    """
    if scores.shape != labels.shape:
        raise ValueError(f"scores {tuple(scores.shape)} and labels {tuple(labels.shape)} differ")
    codes = label_codes(labels.reshape(-1), ignore_index)
    valid = codes != 0
    s = scores.reshape(-1)[valid].to(torch.float64)
    if s.numel() == 0:
        return None
    if not bool(torch.isfinite(s).all()):
        raise ValueError("SMIYCCurve: scores hold NaN or infinite values at non-ignored pixels")
    anomaly = codes[valid] == 2
    edges = percentile_edges(s, anomaly, num_quantiles)
    if edges.numel() < 2:
        raise ValueError(f"SMIYCCurve: scores near {float(s[0])} too large to separate guard edges")
    nb = edges.numel() - 1
    idx = (torch.searchsorted(edges, s, right=True) - 1).clamp_(0, nb - 1)
    pos = torch.bincount(idx[anomaly], minlength=nb).to(torch.float64)
    neg = torch.bincount(idx[~anomaly], minlength=nb).to(torch.float64)
    return edges[:-1], pos, neg


def merge_bins(triples: Tensor) -> Tensor:
    """Sum a ``(3, n)`` stack of (edge, anomaly count, known count) over equal edges (ascending)."""
    edges, inverse = torch.unique(triples[0], sorted=True, return_inverse=True)
    counts = triples.new_zeros(2, edges.numel()).index_add_(1, inverse, triples[1:])
    return torch.cat([edges[None], counts])


class SMIYCCurve:
    """Streaming accumulator of the benchmark's binned pixel curve (one update per frame).

    State: ``bins`` (``(3, T)`` float64: distinct lower edges ascending, anomaly and known counts)
    plus the triples of frames not yet merged into it; it lives on the device of the last frame.
    """

    def __init__(self, num_quantiles: int = 384, ignore_index: int = IGNORE_INDEX) -> None:
        if num_quantiles < 1:
            raise ValueError(f"SMIYCCurve: num_quantiles must be >= 1, got {num_quantiles}")
        self.num_quantiles, self.ignore_index = num_quantiles, ignore_index
        self.reset()

    def reset(self, device: torch.device | str | None = None) -> None:
        """Forget everything seen (state on ``device``, default: where it was, else CPU)."""
        if device is None:
            device = self.bins.device if hasattr(self, "bins") else "cpu"
        self.bins = torch.zeros(3, 0, dtype=torch.float64, device=device)
        self.pending: list[Tensor] = []
        self.n_pending = self.n_frames = self.n_pixels = self.n_anomaly = 0

    @torch.no_grad()
    def update(self, scores: Tensor | np.ndarray, labels: Tensor | np.ndarray) -> None:
        """Bin one frame (any shape; labels 0 known, 1 anomaly, ``ignore_index`` skipped)."""
        scores = torch.as_tensor(scores).detach()
        labels = torch.as_tensor(labels, device=scores.device)
        if self.bins.device != scores.device:
            self.bins = self.bins.to(scores.device)
            self.pending = [p.to(scores.device) for p in self.pending]
        self.n_frames += 1
        binned = frame_bins(scores, labels, self.num_quantiles, self.ignore_index)
        if binned is None:
            return
        edges, pos, neg = binned
        self.pending.append(torch.stack([edges, pos, neg]))
        self.n_pending += edges.numel()
        self.n_pixels += int(pos.sum() + neg.sum())
        self.n_anomaly += int(pos.sum())
        if self.n_pending > max(_COMPACT_MIN, self.bins.shape[1]):
            self._compact()

    def _compact(self) -> None:
        if self.pending:
            self.bins = merge_bins(torch.cat([self.bins, *self.pending], dim=1))
            self.pending, self.n_pending = [], 0

    def _descending(self) -> tuple[Tensor, Tensor, Tensor]:
        """Edges and counts from the highest edge to the lowest (one zero group when empty)."""
        self._compact()
        bins = self.bins.flip(-1)
        if bins.shape[1] == 0:
            bins = self.bins.new_zeros(3, 1)
        return bins[0], bins[1], bins[2]

    def compute(self) -> dict[str, float]:
        """``aupr``, ``fpr95``, ``auroc``, ``best_f1`` (+ ``_threshold``) and the counts
        ``n_frames`` (frames seen), ``n_pixels`` and ``n_anomaly`` (valid pixels)."""
        edges, pos, neg = self._descending()
        res = {k: float(v) for k, v in curve_metrics(pos, neg, edges).items()}
        counts = {"n_frames": self.n_frames, "n_pixels": self.n_pixels, "n_anomaly": self.n_anomaly}
        return res | counts

    def curve(self) -> dict[str, np.ndarray]:
        """The pooled curve, from the highest threshold to the lowest: ``thresholds``, ``tpr``,
        ``fpr``, ``precision``, ``recall`` (float64; rates NaN where a class is absent)."""
        edges, pos, neg = self._descending()
        tp, fp = pos.cumsum(0), neg.cumsum(0)
        if self.n_pixels and bool(tp[0] + fp[0] > 0):  # start at (0, 0) above the top edge
            zero = tp.new_zeros(1)
            tp, fp = torch.cat([zero, tp]), torch.cat([zero, fp])
            edges = torch.cat([edges[:1] + 1, edges])
        tpr, fpr = tp / tp[-1], fp / fp[-1]
        predicted = tp + fp
        precision = torch.where(predicted > 0, tp / predicted.clamp_min(1), 1.0)
        out = (edges, tpr, fpr, precision, tpr.clone())
        return {k: v.cpu().numpy() for k, v in zip(CURVE_KEYS, out, strict=True)}


def smiyc_curve_metrics(
    frames: Iterable[tuple[Tensor | np.ndarray, Tensor | np.ndarray]],
    num_quantiles: int = 384,
    ignore_index: int = IGNORE_INDEX,
) -> dict[str, float]:
    """:meth:`SMIYCCurve.compute` over ``(scores, labels)`` frames, one update per frame."""
    metric = SMIYCCurve(num_quantiles, ignore_index)
    for scores, labels in frames:
        metric.update(scores, labels)
    return metric.compute()
