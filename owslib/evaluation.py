"""Evaluation of a trained model under one stated protocol: closed-set mIoU,
anomaly metrics of every scorer in both aggregations, SegmentMeIfYouCan component metrics,
novel-class discovery and class similarity.

One streaming pass over the loader at the dataset's native resolution (the eval transforms never
resize) feeds a dataset-level confusion matrix, two :class:`~owslib.metrics.AnomalyMetric` per
scorer (pooled and per image; histograms, memory O(bins)), one small per-image row per image,
the class-similarity counts and the novel-class discovery state. Component metrics binarise at the
best pooled pixel-F1 threshold, known only at the end, so they take a second pass over the loader
(the model runs again; nothing per pixel is kept between images). Every number carries its
convention in ``metrics.json`` (:data:`CONVENTIONS`, ``protocol``).

Targets: ``target_kind="classes"`` — class indices (known ``0..K-1``, unknown ``K..K+U-1``, 255
void; Cityscapes layout, BDD-Anomaly); ``"anomaly"`` — 0 known, 1 anomaly, 255 void
(SegmentMeIfYouCan), for which mIoU, discovery and similarity are skipped.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, SequentialSampler

from owslib.discovery import (
    DEFAULT_SIMILARITY_LOOKUP,
    ClassSimilarity,
    NovelClassDiscovery,
    feature_source,
    parse_similarity_lookup,
)
from owslib.engine.distributed import ShardSampler
from owslib.engine.loop import autocast
from owslib.inference import (
    SCORER_DESCRIPTIONS,
    SCORERS,
    anomaly_scores,
    nearest_class,
    similar_class,
)
from owslib.labels import IGNORE_INDEX, PAD_INDEX, unknown_mask
from owslib.losses.class_stats import ClassStatistics
from owslib.metrics import AnomalyMetric, ConfusionMatrix
from owslib.metrics.components import TRACKS, ComponentMetric
from owslib.metrics.histogram import Workspace

if TYPE_CHECKING:
    from owslib.experiment import Experiment

log = logging.getLogger(__name__)

TARGET_KINDS = ("classes", "anomaly")
AGGREGATIONS = ("pooled", "per_image")
CONVENTIONS = {
    "miou": "known classes only; one dataset-level confusion matrix at native resolution (as "
    "cityscapesScripts); IoU = TP/(TP+FP+FN); void and unknown-class ground truth skipped; classes "
    "with neither ground truth nor prediction left out of the mean",
    "anomaly": "positive = anomaly (unknown-class) pixels; void/ignore pixels excluded; "
    "AUPR = step-wise average precision (sklearn); FPR95 = FPR at the first threshold (high to "
    "low) with TPR >= 0.95; AUROC = trapezoidal ROC area; best F1 = max pixel F1 (threshold: "
    "score >= it); streamed through score histograms, worst-case error in *_max_error",
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
    "scorers": SCORER_DESCRIPTIONS,
}


@dataclass(frozen=True)
class EvalOptions:
    """Every setting that changes a number; written into ``metrics.json`` as ``protocol``."""

    scorers: tuple[str, ...] = SCORERS
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
    component_scorers: tuple[str, ...] = ("fused",)
    component_track: str = "anomaly"  # anomaly (500/100 px) | obstacle (50/10 px)
    n_maps: int = 0  # images whose anomaly maps are written (evenly spaced), with out_dir
    seed: int = 0

    def __post_init__(self) -> None:
        if self.target_kind not in TARGET_KINDS:
            raise ValueError(f"target_kind {self.target_kind!r}; choose one of {TARGET_KINDS}")
        bad = (set(self.scorers) | set(self.component_scorers)) - set(SCORERS)
        if bad:
            raise ValueError(f"unknown scorers {sorted(bad)}; choose from {SCORERS}")
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
    for name in ("similarity_lookup", "similarity_underflow", "discovery_space", "discovery_pixels", "component_track",
                 "components", "open_world"):  # fmt: skip
        base[name] = getattr(ev, name)
    return EvalOptions(**(base | overrides))


def anomaly_labels(target: torch.Tensor, num_classes: int) -> torch.Tensor:
    """1 for unknown-class pixels (``K ≤ t < PAD_INDEX``), 0 for known ones, ``IGNORE_INDEX`` for
    void and padding."""
    lab = unknown_mask(target, num_classes).to(torch.uint8)
    return lab.masked_fill(target >= PAD_INDEX, IGNORE_INDEX)


def score_range(scorer: str, num_classes: int) -> tuple[float, float] | None:
    """The value range of a scorer, for the streaming histograms (None: open-ended)."""
    if scorer == "entropy":
        return (0.0, math.log(num_classes))
    if scorer == "max_logit":
        return None
    return (0.0, 1.0)


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def image_names(loader: Iterable) -> list[str] | None:
    """The names of the images ``loader`` visits, in its order, when known (else None): the
    dataset's names under a sequential sampler or a :class:`ShardSampler` (DDP evaluation)."""
    ds = getattr(loader, "dataset", None)
    names = getattr(ds, "names", None)
    sampler = getattr(loader, "sampler", None)
    if names is None or not isinstance(sampler, (SequentialSampler, ShardSampler)):
        return None
    return [names[i] for i in sampler]


class _Pass:
    """The accumulators of one evaluation pass (see the module docstring)."""

    def __init__(self, opts: EvalOptions, k: int, gt_names: Sequence[str], names, n_total, out_dir):
        self.opts, self.k, self.gt_names, self.names = opts, k, list(gt_names), names
        self.classes = opts.target_kind == "classes"
        self.conf = ConfusionMatrix(k) if self.classes else None
        ranges = {s: score_range(s, k) for s in opts.scorers}
        self.pooled = {s: AnomalyMetric(opts.bins, ranges[s]) for s in opts.scorers}
        self.per_image = {
            s: AnomalyMetric(opts.bins, ranges[s], aggregation="per_image") for s in opts.scorers
        }
        self.single = {
            s: AnomalyMetric(opts.bins, ranges[s], aggregation="per_image") for s in opts.scorers
        }
        shared = Workspace()  # the metrics update one after another: one set of scratch buffers
        for m in (*self.pooled.values(), *self.per_image.values(), *self.single.values()):
            m.workspace = shared
        self.rows: list[dict[str, Any]] = []
        self.sizes: set[tuple[int, int]] = set()
        self.n_images = 0
        self.open_world = self.classes and opts.open_world and len(gt_names) > k
        if self.open_world:
            self.feature_key, normalize = feature_source(opts.discovery_space)
            kw = dict(
                normalize=normalize,
                eta=opts.eta,
                max_pixels=opts.discovery_pixels,
                chunk=opts.discovery_chunk,
                max_classes=opts.discovery_max_classes,
                seed=opts.seed,
            )
            self.discovery = NovelClassDiscovery(len(gt_names), **kw)
            self.oracle = NovelClassDiscovery(len(gt_names), **kw)
            self.similarity = ClassSimilarity(len(gt_names), k)
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.map_at: set[int] = set()
        if self.out_dir is not None and opts.n_maps > 0:  # evenly spaced, else the first ones
            spaced = np.linspace(0, n_total - 1, opts.n_maps).round() if n_total else []
            self.map_at = {int(i) for i in spaced} or set(range(opts.n_maps))

    def name(self, i: int) -> str:
        if self.names is not None and i < len(self.names):
            return self.names[i]
        rank = dist.get_rank() if _distributed() else 0
        return f"{i:05d}" if rank == 0 else f"r{rank}-{i:05d}"

    def step(self, image, outputs, target, stats) -> None:
        opts, k = self.opts, self.k
        logits = outputs["sem_logits"]
        labels = anomaly_labels(target, k) if self.classes else target
        if self.classes:
            self.conf.update(logits.argmax(dim=1), target)
        need = set(opts.scorers) | ({"fused"} if self.open_world else set())
        nearest = None
        if need & {"gaussian", "fused"}:
            nearest = nearest_class(logits, stats, opts.min_std)
        order = tuple(s for s in SCORERS if s in need)
        maps = anomaly_scores(
            outputs, stats, xi=opts.xi, min_std=opts.min_std, scorers=order, nearest=nearest
        )
        for s in opts.scorers:
            self.pooled[s].update(maps[s], labels)
        for i in range(target.shape[0]):
            self._image_row(i, maps, labels)
        if self.open_world:
            similar = similar_class(*nearest, underflow=opts.similarity_underflow)
            self._open_world(outputs, target, maps["fused"], similar)
        if self.map_at:
            self._write_maps(image, target, labels, maps)
        self.n_images += target.shape[0]

    def _image_row(self, i: int, maps, labels) -> None:
        idx = self.n_images + i
        h, w = labels.shape[-2:]
        self.sizes.add((int(h), int(w)))
        row: dict[str, Any] = {"image": self.name(idx), "height": int(h), "width": int(w)}
        for s in self.opts.scorers:
            one = self.single[s]
            one.reset()
            one.update(maps[s][i : i + 1], labels[i : i + 1])
            res = one.compute()
            self.per_image[s].merge(one)
            row["n_pixels"], row["n_anomaly"] = res["n_pixels"], res["n_anomaly"]
            for key in ("aupr", "fpr95", "auroc"):
                row[f"{s}_{key}"] = res[key]
        self.rows.append(row)

    def _open_world(self, outputs, target, fused, similar) -> None:
        unknown_pred = fused > self.opts.delta
        unknown_gt = unknown_mask(target, self.k)
        self.similarity.update(similar, target, unknown_pred)
        if _distributed():
            return  # discovery is sequential over the whole set: not split across ranks
        feats = outputs[self.feature_key]
        self.discovery.update(feats, unknown_pred, target)
        self.oracle.update(feats, unknown_gt, target)

    def _write_maps(self, image, target, labels, maps) -> None:
        from owslib.report import save_anomaly_maps

        for i in range(target.shape[0]):
            if self.n_images + i not in self.map_at:
                continue
            ranges = {s: score_range(s, self.k) for s in self.opts.scorers}
            save_anomaly_maps(
                self.out_dir / "anomaly_maps",
                self.name(self.n_images + i),
                image[i],
                {s: maps[s][i] for s in self.opts.scorers},
                labels[i] == 1,
                ranges,
            )


def _forward(model: nn.Module, image: torch.Tensor, device: torch.device, amp: bool):
    with autocast(device, amp):
        outputs = model(image)
    return {key: v.float() for key, v in outputs.items()}


def _gather_rows(rows: list[dict[str, Any]], loader: Iterable) -> list[dict[str, Any]]:
    """Every rank's per-image rows, in the dataset's order where the names give it."""
    if not _distributed():
        return rows
    everyone: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(everyone, rows)
    rows = [r for part in everyone for r in part]
    names = getattr(getattr(loader, "dataset", None), "names", None)
    if names is not None:
        order = {n: i for i, n in enumerate(names)}
        rows.sort(key=lambda r: order.get(r["image"], len(order)))
    return rows


def _sync_device(metric: AnomalyMetric, device: torch.device) -> None:
    if not _distributed():
        return
    # NCCL reduces CUDA tensors only: move the (small) state to the evaluation device first
    metric.hist, metric.image_sums, metric.image_counts = (
        t.to(device) for t in (metric.hist, metric.image_sums, metric.image_counts)
    )
    metric.sync()


@torch.no_grad()
def _component_pass(model, stats, loader, opts, k, device, thresholds) -> dict[str, Any]:
    """Second pass: SegmentMeIfYouCan component metrics at each scorer's best-F1 threshold."""
    metrics = {s: ComponentMetric(t, track=opts.component_track) for s, t in thresholds.items()}
    for image, target in loader:
        target = target.to(device)
        labels = anomaly_labels(target, k) if opts.target_kind == "classes" else target
        # outputs and maps die with this call: the next forward does not hold them too
        maps = anomaly_scores(
            _forward(model, image.to(device), device, opts.amp),
            stats,
            xi=opts.xi,
            min_std=opts.min_std,
            scorers=tuple(metrics),
        )
        for s, m in metrics.items():
            m.update(maps[s], labels)
        del maps
    out = {}
    for s, m in metrics.items():
        m.sync(device=device)
        out[s] = m.compute() | {"convention": CONVENTIONS["components"]}
    return out


@torch.no_grad()
def evaluate_model(
    model: nn.Module,
    stats: ClassStatistics,
    loader: Iterable,
    *,
    num_classes: int,
    class_names: Sequence[str],
    device: torch.device,
    unknown_names: Sequence[str] = (),
    options: EvalOptions | None = None,
    out_dir: str | Path | None = None,
    names: Sequence[str] | None = None,
    protocol: dict[str, Any] | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """Run the model over ``loader`` (batches ``(image, target)``) and return the metrics dict.

    ``options`` (with keyword ``overrides``, e.g. ``bins=1000``) fixes the protocol; ``protocol``
    adds descriptive entries (dataset, split, …) to ``metrics["protocol"]``. With ``out_dir`` the
    per-image metrics (``per_image.csv``), PR/ROC curves (``curves.csv``, ``pr_curves.png``,
    ``roc_curves.png``) and anomaly maps of ``options.n_maps`` images (``anomaly_maps/``) are
    written there; ``metrics.json`` and the tables are written by
    :func:`owslib.report.write_metrics`.
    """
    opts = replace(options or EvalOptions(), **overrides)
    model.eval()
    stats = stats.to(device)
    n_total = len(loader.dataset) if hasattr(loader, "dataset") else None
    gt_names = list(class_names) + list(unknown_names)
    run = _Pass(opts, num_classes, gt_names, names or image_names(loader), n_total, out_dir)
    for image, target in loader:
        image, target = image.to(device), target.to(device)
        run.step(image, _forward(model, image, device, opts.amp), target, stats)
    if run.conf is not None:
        run.conf.sync()
    for m in (*run.pooled.values(), *run.per_image.values()):
        _sync_device(m, device)
    if run.open_world:
        run.similarity.sync(device=device)
    rows = _gather_rows(run.rows, loader)
    result = _result(run, opts, protocol, len(rows))
    pooled = {s: r["pooled"] for s, r in result.get("anomaly", {}).items()}
    if out_dir is not None and (not _distributed() or dist.get_rank() == 0):
        from owslib.plots.curves import curve_points
        from owslib.report import write_curves, write_per_image

        out_dir = Path(out_dir)
        write_per_image(out_dir / "per_image.csv", rows)
        curves = {s: curve_points(run.pooled[s]) for s in pooled}
        result["files"] = {"per_image": "per_image.csv"} | write_curves(out_dir, curves, pooled)
        if run.map_at:
            result["files"]["anomaly_maps"] = "anomaly_maps/"
    del run  # frees the accumulators' scratch buffers before the second pass
    thresholds = {
        s: pooled[s]["best_f1_threshold"]
        for s in opts.component_scorers
        if s in pooled and math.isfinite(pooled[s]["best_f1_threshold"])
    }
    if opts.components and thresholds:
        result["components"] = _component_pass(
            model, stats, loader, opts, num_classes, device, thresholds
        )
    return result


def _result(run: _Pass, opts: EvalOptions, protocol, n_rows: int) -> dict[str, Any]:
    n_images = n_rows if _distributed() else run.n_images
    result: dict[str, Any] = {
        "protocol": {
            "target_kind": opts.target_kind,
            "resolution": "native (no resizing at evaluation)",
            "image_sizes": sorted(f"{h}x{w}" for h, w in run.sizes),
            **(protocol or {}),
            "options": asdict(opts),
        },
        "conventions": CONVENTIONS,
        "n_images": n_images,
    }
    if run.conf is not None:
        cm = run.conf.compute()
        names = run.gt_names[: run.k]
        result |= {
            "miou": float(cm["miou"]),
            "pixel_acc": float(cm["acc"]),
            "mean_acc": float(cm["mean_acc"]),
            "iou": {n: float(v) for n, v in zip(names, cm["iou"].tolist(), strict=True)},
        }
    anomaly = {}
    for s in opts.scorers:
        pooled = run.pooled[s].compute()
        if pooled.get("n_anomaly", 0) > 0:
            anomaly[s] = {
                "pooled": pooled | {"convention": CONVENTIONS["pooled"]},
                "per_image": run.per_image[s].compute() | {"convention": CONVENTIONS["per_image"]},
            }
    if anomaly:
        result["anomaly"] = anomaly
    if run.open_world:
        lookup = parse_similarity_lookup(opts.similarity_lookup)
        result["similarity"] = run.similarity.compute(run.gt_names, lookup) | {
            "lookup": opts.similarity_lookup,
            "convention": CONVENTIONS["similarity"],
        }
        if _distributed():
            result["discovery"] = {
                "skipped": "not run under DDP: discovery is sequential over the whole set; "
                "evaluate the checkpoint in one process (python -m owslib evaluate) to run it"
            }
        else:
            result["discovery"] = {
                "pipeline": run.discovery.compute(run.gt_names, run.k),
                "oracle": run.oracle.compute(run.gt_names, run.k),
                "space": opts.discovery_space,
                "eta": opts.eta,
                "convention": CONVENTIONS["discovery"],
            }
    return result


def evaluate(
    exp: Experiment,
    loader: DataLoader,
    *,
    scorers: tuple[str, ...] = SCORERS,
    out_dir: str | Path | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """:func:`evaluate_model` with everything taken from an :class:`~owslib.experiment.Experiment`."""
    ds = loader.dataset
    if not getattr(ds, "evaluable", True):
        raise ValueError(
            f"{getattr(ds, 'root', '')} [{getattr(ds, 'split', '?')}]: this split's labels are "
            "placeholders (the official Cityscapes test split); evaluate on val instead"
        )
    cfg = exp.cfg
    protocol = {
        "dataset": cfg.data.dataset,
        "split": getattr(ds, "split", None),
        "split_preset": exp.split.name,
        "known_classes": list(exp.split.known_names),
        "unknown_classes": list(exp.split.unknown_names),
        "train_heldout": {
            "mode": cfg.data.heldout_in_train,
            "images_dropped": list(getattr(exp.train_loader.dataset, "heldout_dropped", [])),
        },
    }
    return evaluate_model(
        exp.bare_model,
        exp.stats,
        loader,
        num_classes=exp.split.num_known,
        class_names=exp.split.known_names,
        unknown_names=exp.split.unknown_names,
        device=exp.device,
        options=options_from_config(cfg, scorers=scorers, **overrides),
        out_dir=out_dir,
        protocol=protocol,
    )
