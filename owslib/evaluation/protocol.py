"""The evaluation protocol: every setting that changes a number, and the convention of each number.

:class:`EvalOptions` is written into ``metrics.json`` as ``protocol.options``; :data:`CONVENTIONS`
states each metric's definition beside it (the README's "Evaluation protocol" says the same).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from owslib.inference.discovery import DEFAULT_SIMILARITY_LOOKUP
from owslib.inference.scorers import get_scorer
from owslib.labels import IGNORE_INDEX, PAD_INDEX, unknown_mask
from owslib.metrics.components import TRACKS

TARGET_KINDS = ("classes", "anomaly")
AGGREGATIONS = ("pooled", "per_image")
CONVENTIONS = {
    "miou": "known classes only; one dataset-level confusion matrix at native resolution (as "
    "cityscapesScripts); IoU = TP/(TP+FP+FN); void and unknown-class ground truth skipped; classes "
    "with neither ground truth nor prediction left out of the mean",
    "anomaly": "positive = anomaly (unknown-class) pixels; void/ignore pixels excluded; "
    "AUPR = step-wise average precision (sklearn); FPR95 = FPR at the first threshold (high to "
    "low) with TPR >= 0.95; AUROC = trapezoidal ROC area; best F1 = max pixel F1 (threshold: "
    "score >= it; in the scorer's ranking: its rank map where it has one, e.g. gaussian ranks by "
    "1/2 min_k d_k, the same order as Eq. 12 without its saturation); streamed through score "
    "histograms, worst-case error in *_max_error",
    "pooled": "pooled: all valid pixels of the split ranked together (SegmentMeIfYouCan, RbA)",
    "per_image": "per_image: mean of per-image metrics over the images holding both known and "
    "anomaly pixels (Hendrycks et al., BDD-Anomaly code); n_skipped images without both",
    "components": "SegmentMeIfYouCan: binarised at the best pooled pixel-F1 threshold (score > "
    "threshold, as the benchmark); 8-connected components; predicted components < min_pred_size "
    "px dropped, ground-truth components < min_gt_size px ignored; sIoU (gt) and PPV are means "
    "over components; F1 at sIoU thresholds 0.25..0.75 (11) from summed counts, FP = predicted "
    "component with precision < threshold; mean_f1 = mean of the 11",
    "discovery": "leader clustering of unknown pixels (ContMAV §3.4): join the nearest discovered "
    "mean if closer than eta, else open a class; means persist over the dataset; per image a "
    "seeded subsample in raster order, then every unknown pixel assigned to its nearest mean; "
    "IoU of each unknown ground-truth class with the discovered class overlapping it most "
    "(known-class pixels in it are false positives; void excluded). pipeline = predicted unknown "
    "pixels (fused > delta); oracle = ground-truth unknown pixels",
    "similarity": "most similar known class = argmax_k s_k (Eq. 11); accuracy = share of an "
    "unknown class's pixels whose most similar class is in the lookup; pipeline = its pixels "
    "predicted unknown (fused > delta), oracle = all its pixels",
    "smiyc": "smiyc: the SegmentMeIfYouCan leaderboard's pixel curve: per frame 768 percentile "
    "bin edges (384 quantiles of the anomaly scores, 384 of the known ones, two guard edges; "
    "half-open bins, threshold = lower edge), the bins of all frames pooled into one curve; AP "
    "summed step-wise on it, FPR95 at its first point with TPR >= 0.95, AUROC by trapezoid",
}
#: Pixel-curve conventions: ``histogram`` (pooled and per-image, streamed with error bounds) and
#: ``smiyc`` (adds the SegmentMeIfYouCan leaderboard's binned curve beside them).
CURVES = ("histogram", "smiyc")


@dataclass(frozen=True)
class EvalOptions:
    """Every setting that changes a number; written into ``metrics.json`` as ``protocol``."""

    scorers: tuple[str, ...] = ()  # () = every registered scorer the model's outputs can feed
    target_kind: str = "classes"  # classes | anomaly (0 known / 1 anomaly / 255)
    xi: float = 1.0  # Eq. 13
    min_std: float = 1e-3  # floor on sigma_k in Eq. 11
    amp: bool = False
    bins: int = 100_000  # histogram bins of the streaming anomaly metrics
    delta: float = 0.6  # unknown if fused > delta (Eq. 14)
    open_world: bool = True  # novel-class discovery and class similarity (class targets)
    eta: float = 0.5  # discovery distance threshold
    discovery_space: str = "semantic_normalized"
    discovery_pixels: int = 20_000  # subsample per image
    discovery_chunk: int = 256
    discovery_max_classes: int = 256
    similarity_lookup: str = DEFAULT_SIMILARITY_LOOKUP
    similarity_underflow: str = "nearest"  # all s_k underflow: nearest class | first (code)
    components: bool = True  # SegmentMeIfYouCan component metrics (second pass)
    component_scorers: tuple[
        str, ...
    ] = ()  # () = the main scorer (owslib.inference.scorers.main_scorer)
    component_track: str = "anomaly"  # anomaly (500/100 px) | obstacle (50/10 px)
    # the frames' area relative to the benchmark's (resized frames): the track's sizes times this
    component_area_scale: float = 1.0
    curve: str = "histogram"  # histogram | smiyc (adds the leaderboard's binned pixel curve)
    # scorers whose maps are kept for the chosen images (() = the main scorer, gaussian, contrastive)
    map_scorers: tuple[str, ...] = ()
    n_maps: int = 0  # images whose anomaly maps are written (evenly spaced), with out_dir
    seed: int = 0

    def __post_init__(self) -> None:
        if self.target_kind not in TARGET_KINDS:
            raise ValueError(f"target_kind {self.target_kind!r}; choose one of {TARGET_KINDS}")
        for name in (*self.scorers, *self.component_scorers):
            get_scorer(name)  # raises naming the registered scorers
        if self.curve not in CURVES:
            raise ValueError(f"eval__curve={self.curve!r}; choose one of {CURVES}")
        if self.component_track not in TRACKS:
            raise ValueError(
                f"component_track {self.component_track!r}; choose from {sorted(TRACKS)}"
            )


def options_from_config(cfg: Any, **overrides: Any) -> EvalOptions:
    """:class:`EvalOptions` from an experiment config (``loss`` and ``eval`` sections)."""
    ev = cfg.eval
    base = {
        "xi": cfg.loss.xi,
        "min_std": cfg.loss.min_std,
        "amp": ev.amp,
        "bins": ev.histogram_bins,
        "delta": ev.delta,
        "eta": ev.eta,
        "n_maps": ev.n_examples,
        "seed": cfg.train.seed,
    }
    for name in (
        "similarity_lookup",
        "similarity_underflow",
        "curve",
        "discovery_space",
        "discovery_pixels",
        "component_track",
        "components",
        "open_world",
    ):
        base[name] = getattr(ev, name)
    return EvalOptions(**(base | overrides))


def anomaly_labels(target: torch.Tensor, num_classes: int) -> torch.Tensor:
    """1 for unknown-class pixels (``K ≤ t < PAD_INDEX``), 0 for known ones, ``IGNORE_INDEX`` for
    void and padding."""
    lab = unknown_mask(target, num_classes).to(torch.uint8)
    return lab.masked_fill(target >= PAD_INDEX, IGNORE_INDEX)


def resolution(scale: float) -> str:
    """How the evaluated frames relate to the files (``metrics.json``'s ``protocol/resolution``)."""
    if scale == 1.0:
        return "native (no resizing at evaluation)"
    return (
        f"resized by {scale:g} (image bilinear, antialiased; labels nearest); component sizes "
        f"of the track times {scale**2:g}"
    )
