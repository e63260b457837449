"""SegmentMeIfYouCan component metrics: sIoU (gt), PPV and F1 over sIoU thresholds, streamed per image.

Conventions of the benchmark (Chan et al., NeurIPS 2021 Datasets track; code
``SegmentMeIfYouCan/road-anomaly-benchmark``, ``metrics/instance_segmentation.py``):

* The anomaly map is **binarised** at one threshold for the whole set: the one of the best pooled
  pixel F1. As in the benchmark a pixel is predicted anomalous when ``score > threshold``
  (``inclusive=True`` uses ``>=``, owslib's ``best_f1_threshold`` convention); void pixels
  (``ignore_index``) are never predicted.
* Components are **8-connected** (``scipy.ndimage.label`` with a 3×3 structure).
* **Predicted** components smaller than ``min_pred_size`` pixels are dropped (500 on the anomaly
  track, 50 on the obstacle track); **ground-truth** components smaller than ``min_gt_size`` (100 /
  10) become void: their pixels leave the region of interest (ROI), so they count for nothing.
* **sIoU of a ground-truth component** ``k``: with ``P(k)`` the predicted components meeting it,
  ``|k ∩ ∪P(k)| / |k ∪ ∪P(k) \\ A(k)|`` where ``A(k)`` are the pixels of *other* ground-truth
  components (the adjustment that keeps one large prediction covering two objects from counting
  against both); all counted inside the ROI. It simplifies to ``I_k / (|k| + Σ_{j∈P(k)} |j \\ gt|)``.
* **Precision of a predicted component** ``j``: ``|j ∩ gt| / |j|`` inside the ROI; components lying
  wholly outside the ROI are not counted.
* At each sIoU threshold ``τ`` in ``0.25, 0.30, …, 0.75`` (11 steps): TP = ground-truth components
  with sIoU ≥ τ, FN = the others, FP = predicted components with precision < τ;
  ``F1(τ) = 2TP / (2TP + FN + FP)`` from counts summed over the images; **mean F1** averages the 11.
* **sIoU** and **PPV** reported for the set are means over all components of all images (not means
  of per-image means).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.distributed as dist
from scipy import ndimage
from torch import Tensor

from owslib.labels import IGNORE_INDEX

#: ``(min predicted component, min ground-truth component)`` in pixels, per benchmark track.
TRACKS: dict[str, tuple[int, int]] = {"anomaly": (500, 100), "obstacle": (50, 10)}
#: The benchmark's sIoU thresholds: ``np.linspace(0.25, 0.75, 11)``.
SIOU_THRESHOLDS: tuple[float, ...] = tuple(float(t) for t in np.linspace(0.25, 0.75, 11))
#: 8-connectivity.
STRUCTURE = np.ones((3, 3), dtype=np.uint8)


def image_components(
    pred: np.ndarray,
    labels: np.ndarray,
    *,
    min_pred_size: int,
    min_gt_size: int,
    ignore_index: int = IGNORE_INDEX,
) -> tuple[np.ndarray, np.ndarray]:
    """sIoU of every ground-truth component and precision of every predicted component of one image.

    ``pred`` is the binary prediction (H, W), ``labels`` the anomaly labels (0 known, 1 anomaly,
    ``ignore_index`` void). Returns ``(siou_gt, precision_pred)``, float64 arrays with one entry per
    counted component (module docstring for the rules).
    """
    labels = np.asarray(labels)
    valid = labels != ignore_index
    gt_cc, n_gt = ndimage.label(labels == 1, structure=STRUCTURE)
    pred_cc, n_pred = ndimage.label(np.asarray(pred, dtype=bool) & valid, structure=STRUCTURE)
    # drop small predicted components (size over the whole image), renumber the kept ones 1..n
    keep = np.bincount(pred_cc.ravel(), minlength=n_pred + 1) >= min_pred_size
    keep[0] = False
    relabel = np.zeros(n_pred + 1, dtype=np.int64)
    relabel[keep] = np.arange(1, int(keep.sum()) + 1)
    n_pred = int(keep.sum())
    # small ground-truth components become void
    small_gt = np.bincount(gt_cc.ravel(), minlength=n_gt + 1) < min_gt_size
    small_gt[0] = False
    roi = valid & ~small_gt[gt_cc]
    g, p = gt_cc[roi].astype(np.int64), relabel[pred_cc[roi]]
    touched = (g > 0) | (p > 0)
    pairs, count = np.unique(g[touched] * (n_pred + 1) + p[touched], return_counts=True)
    gi, pj = np.divmod(pairs, n_pred + 1)
    count = count.astype(np.float64)
    # pixels of each predicted component outside every gt component (inside the ROI)
    outside = np.bincount(pj[gi == 0], weights=count[gi == 0], minlength=n_pred + 1)
    both = (gi > 0) & (pj > 0)
    gt_size = np.bincount(gi, weights=count, minlength=n_gt + 1)[1:]
    inter_gt = np.bincount(gi[both], weights=count[both], minlength=n_gt + 1)[1:]
    extra_gt = np.bincount(gi[both], weights=outside[pj[both]], minlength=n_gt + 1)[1:]
    counted_gt = gt_size > 0  # components made void are outside the ROI
    siou = inter_gt[counted_gt] / (gt_size[counted_gt] + extra_gt[counted_gt])
    pred_size = np.bincount(pj, weights=count, minlength=n_pred + 1)[1:]
    inter_pred = np.bincount(pj[both], weights=count[both], minlength=n_pred + 1)[1:]
    counted_pred = pred_size > 0
    precision = inter_pred[counted_pred] / pred_size[counted_pred]
    return siou, precision


class ComponentMetric:
    """Streaming SegmentMeIfYouCan component metrics at a fixed score ``threshold``.

    ``update(scores, labels)`` takes one image (H, W) or a batch (B, H, W), tensors or arrays on any
    device (the labelling runs on CPU with scipy); ``compute()`` gives ``siou``, ``ppv``, ``f1``
    (per threshold), ``mean_f1`` and the counts. State is a few float64 tensors: :meth:`merge`
    adds another accumulator, :meth:`sync` all-reduces across DDP ranks.
    """

    def __init__(
        self,
        threshold: float,
        *,
        track: str = "anomaly",
        min_pred_size: int | None = None,
        min_gt_size: int | None = None,
        siou_thresholds: Sequence[float] = SIOU_THRESHOLDS,
        inclusive: bool = False,
        ignore_index: int = IGNORE_INDEX,
    ) -> None:
        if track not in TRACKS:
            raise ValueError(f"component track {track!r}; choose one of {sorted(TRACKS)}")
        if not math.isfinite(threshold):
            raise ValueError(f"ComponentMetric: threshold must be finite, got {threshold}")
        pred_size, gt_size = TRACKS[track]
        self.threshold, self.track, self.inclusive = float(threshold), track, inclusive
        self.min_pred_size = pred_size if min_pred_size is None else min_pred_size
        self.min_gt_size = gt_size if min_gt_size is None else min_gt_size
        self.siou_thresholds = tuple(float(t) for t in siou_thresholds)
        self.ignore_index = ignore_index
        n = len(self.siou_thresholds)
        # sums: [sum sIoU, n gt components, sum precision, n predicted components, n images]
        self.sums = torch.zeros(5, dtype=torch.float64)
        self.counts = torch.zeros(3, n, dtype=torch.float64)  # rows TP, FN, FP per threshold

    @torch.no_grad()
    def update(self, scores: Tensor | np.ndarray, labels: Tensor | np.ndarray) -> None:
        """Count the components of one image or of a batch of images (first dim)."""
        s = torch.as_tensor(scores).detach().cpu()
        y = torch.as_tensor(labels).cpu()
        if s.shape != y.shape:
            raise ValueError(f"scores {tuple(s.shape)} and labels {tuple(y.shape)} differ")
        if s.dim() == 2:
            s, y = s[None], y[None]
        if s.dim() != 3:
            raise ValueError(f"expected (H, W) or (B, H, W) inputs, got {tuple(s.shape)}")
        pred = s >= self.threshold if self.inclusive else s > self.threshold
        tau = torch.tensor(self.siou_thresholds, dtype=torch.float64)
        for p, lab in zip(pred.numpy(), y.numpy(), strict=True):
            siou, prec = image_components(
                p,
                lab,
                min_pred_size=self.min_pred_size,
                min_gt_size=self.min_gt_size,
                ignore_index=self.ignore_index,
            )
            siou_t, prec_t = torch.from_numpy(siou), torch.from_numpy(prec)
            self.sums += torch.tensor(
                [siou.sum(), siou.size, prec.sum(), prec.size, 1.0], dtype=torch.float64
            )
            tp = (siou_t[:, None] >= tau).sum(0)
            fp = (prec_t[:, None] < tau).sum(0)
            self.counts += torch.stack([tp, siou_t.numel() - tp, fp]).to(torch.float64)

    def compute(self) -> dict[str, object]:
        """``siou`` (mean over gt components), ``ppv`` (mean precision of predicted components),
        ``f1`` per sIoU threshold (keys ``"0.25"``…), ``mean_f1``, counts and the settings."""
        s = self.sums.tolist()
        tp, fn, fp = self.counts
        denom = 2 * tp + fn + fp
        f1 = torch.where(denom > 0, 2 * tp / denom.clamp_min(1), math.nan)
        return {
            "siou": s[0] / s[1] if s[1] else math.nan,
            "ppv": s[2] / s[3] if s[3] else math.nan,
            "mean_f1": float(f1.mean()),
            "f1": {f"{t:.2f}": v for t, v in zip(self.siou_thresholds, f1.tolist(), strict=True)},
            "tp_mean": float(tp.mean()),
            "fn_mean": float(fn.mean()),
            "fp_mean": float(fp.mean()),
            "n_gt_components": int(s[1]),
            "n_pred_components": int(s[3]),
            "n_images": int(s[4]),
            "threshold": self.threshold,
            "threshold_rule": "score >= threshold" if self.inclusive else "score > threshold",
            "track": self.track,
            "min_pred_size": self.min_pred_size,
            "min_gt_size": self.min_gt_size,
        }

    def merge(self, other: ComponentMetric) -> None:
        """Add ``other``'s counts (same thresholds and sizes)."""
        mine = (self.threshold, self.min_pred_size, self.min_gt_size, self.siou_thresholds)
        theirs = (other.threshold, other.min_pred_size, other.min_gt_size, other.siou_thresholds)
        if mine != theirs:
            raise ValueError(f"ComponentMetric.merge: settings differ: {mine} vs {theirs}")
        self.sums += other.sums
        self.counts += other.counts

    def sync(
        self, group: dist.ProcessGroup | None = None, device: torch.device | None = None
    ) -> None:
        """Sum the counts over a ``torch.distributed`` group (no-op when not initialised).

        ``device`` is where the collective runs (NCCL needs CUDA tensors); the state stays on CPU.
        """
        if not (dist.is_available() and dist.is_initialized()):
            return
        flat = torch.cat([self.sums, self.counts.reshape(-1)]).to(device or "cpu")
        dist.all_reduce(flat, group=group)
        flat = flat.cpu()
        self.sums = flat[:5].clone()
        self.counts = flat[5:].view_as(self.counts).clone()
