"""Evaluation of a trained model under one stated protocol (:mod:`owslib.evaluation.protocol`): closed-set
mIoU, anomaly metrics of every scorer in both aggregations, SegmentMeIfYouCan component metrics,
novel-class discovery and class similarity. It computes and returns; :mod:`owslib.report` writes.

One streaming pass over the loader at the dataset's native resolution (the eval transforms never
resize) feeds a dataset-level confusion matrix, two :class:`~owslib.metrics.AnomalyMetric` per
scorer (pooled and per image; histograms, memory O(bins)), one small per-image row per image,
the class-similarity counts and the novel-class discovery state. Component metrics binarise at the
best pooled pixel-F1 threshold, known only at the end, so they take a second pass over the loader
(the model runs again; nothing per pixel is kept between images). Every number carries its
convention in ``metrics.json`` (:data:`~owslib.evaluation.protocol.CONVENTIONS`, ``protocol``).

Targets: ``target_kind="classes"`` — class indices (known ``0..K-1``, unknown ``K..K+U-1``, 255
void; Cityscapes layout, BDD-Anomaly); ``"anomaly"`` — 0 known, 1 anomaly, 255 void
(SegmentMeIfYouCan), for which mIoU, discovery and similarity are skipped.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, SequentialSampler, Subset

from owslib.data import denormalize
from owslib.distributed import ShardSampler
from owslib.engine.autocast import autocast
from owslib.evaluation.protocol import (
    AGGREGATIONS,
    CONVENTIONS,
    EvalOptions,
    anomaly_labels,
    options_from_config,
    resolution,
)
from owslib.evaluation.result import Evaluation, result_metrics
from owslib.inference.discovery import ClassSimilarity, NovelClassDiscovery, feature_source
from owslib.inference.gaussian import similar_class
from owslib.inference.scorers import ScoreInputs, available_scorers, get_scorer, main_scorer
from owslib.labels import unknown_mask
from owslib.losses.class_stats import ClassStatistics
from owslib.metrics import AnomalyMetric, ConfusionMatrix
from owslib.metrics.components import TRACKS, ComponentMetric
from owslib.metrics.curves import curve_points
from owslib.metrics.histogram import Workspace
from owslib.metrics.smiyc_curve import SMIYCCurve
from owslib.models.outputs import EMBEDDING, SEM_LOGITS

if TYPE_CHECKING:
    from owslib.engine.experiment import Experiment

__all__ = [
    "AGGREGATIONS",
    "CONVENTIONS",
    "EvalOptions",
    "Evaluation",
    "anomaly_labels",
    "evaluate",
    "evaluate_model",
    "options_from_config",
]

log = logging.getLogger(__name__)


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def _picture_rule(dataset) -> Callable[[int], bool] | None:
    """``dataset``'s ``may_picture`` (index → whether its licence allows a committed picture),
    looked up through a :class:`torch.utils.data.Subset` (``--max-images``); None: every image."""
    if isinstance(dataset, Subset):
        inner = _picture_rule(dataset.dataset)
        return None if inner is None else (lambda i: inner(dataset.indices[i]))
    return getattr(dataset, "may_picture", None)


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

    def __init__(self, opts: EvalOptions, k: int, gt_names: Sequence[str], names, n_total):
        self.opts, self.k, self.gt_names, self.names = opts, k, list(gt_names), names
        self.classes = opts.target_kind == "classes"
        self.conf = ConfusionMatrix(k) if self.classes else None
        self.ranges = {s: get_scorer(s).ranking_range(k) for s in opts.scorers}
        self.pooled = {s: AnomalyMetric(opts.bins, self.ranges[s]) for s in opts.scorers}
        self.per_image = {
            s: AnomalyMetric(opts.bins, self.ranges[s], aggregation="per_image")
            for s in opts.scorers
        }
        self.single = {
            s: AnomalyMetric(opts.bins, self.ranges[s], aggregation="per_image")
            for s in opts.scorers
        }
        shared = Workspace()  # the metrics update one after another: one set of scratch buffers
        for m in (*self.pooled.values(), *self.per_image.values(), *self.single.values()):
            m.workspace = shared
        use_smiyc = opts.curve == "smiyc" and not _distributed()
        self.smiyc = {s: SMIYCCurve() for s in opts.scorers} if use_smiyc else {}
        self.out_of_range: dict[str, int] = {}
        self.rows: list[dict[str, Any]] = []
        self.maps: list[dict[str, Any]] = []
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
        self.map_at: set[int] = set()
        if opts.n_maps > 0:  # evenly spaced, else the first ones
            spaced = np.linspace(0, n_total - 1, opts.n_maps).round() if n_total else []
            self.map_at = {int(i) for i in spaced} or set(range(opts.n_maps))

    @staticmethod
    def global_index(i: int) -> int:
        """The dataset index of this process's ``i``-th image (:class:`ShardSampler` gives rank r
        the images r, r + W, r + 2W, … under DDP)."""
        if not _distributed():
            return i
        return dist.get_rank() + i * dist.get_world_size()

    def name(self, i: int) -> str:
        """The name of this process's ``i``-th image (``names`` are in this process's order)."""
        if self.names is not None and i < len(self.names):
            return self.names[i]
        return f"{self.global_index(i):05d}"

    def step(self, image, outputs, target, stats) -> None:
        opts, k = self.opts, self.k
        labels = anomaly_labels(target, k) if self.classes else target
        if self.classes:
            self.conf.update(outputs[SEM_LOGITS].max(dim=1).indices, target)
        inputs = ScoreInputs(outputs, stats, opts.xi, opts.min_std)
        ranks = {s: get_scorer(s).ranking(inputs) for s in opts.scorers}
        self._check_ranges(ranks)
        for s in opts.scorers:
            self.pooled[s].update(ranks[s], labels)
        for i in range(target.shape[0]):
            self._image_row(i, ranks, labels)
        if self.open_world:
            fused = get_scorer("fused").fn(inputs)
            similar = similar_class(*inputs.nearest, underflow=opts.similarity_underflow)
            self._open_world(outputs, target, fused, similar)
        if self.map_at:
            self._keep_maps(image, labels, inputs)
        self.n_images += target.shape[0]

    def _check_ranges(self, ranks: dict[str, torch.Tensor]) -> None:
        """Count values outside a bounded scorer's declared range (they land in the end bins)."""
        for s, r in ranks.items():
            bounds = self.ranges[s]
            if bounds is None or r.numel() == 0:
                continue
            lo, hi = torch.aminmax(r)
            if lo < bounds[0] - 1e-6 or hi > bounds[1] + 1e-6:
                if s not in self.out_of_range:
                    log.warning(
                        "scorer %s: values outside its declared range %s (min %.4g, max %.4g); "
                        "they are counted in the end bins",
                        s,
                        bounds,
                        float(lo),
                        float(hi),
                    )
                self.out_of_range[s] = self.out_of_range.get(s, 0) + 1

    def _image_row(self, i: int, ranks, labels) -> None:
        idx = self.n_images + i
        h, w = labels.shape[-2:]
        self.sizes.add((int(h), int(w)))
        row: dict[str, Any] = {"image": self.name(idx), "height": int(h), "width": int(w)}
        for s in self.opts.scorers:
            one = self.single[s]
            one.reset()
            one.update(ranks[s][i : i + 1], labels[i : i + 1])
            res = one.compute()
            self.per_image[s].merge(one)
            if s in self.smiyc:  # one frame = one image, as the benchmark
                self.smiyc[s].update(ranks[s][i], labels[i])
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

    def _keep_maps(self, image, labels, inputs: ScoreInputs) -> None:
        """The anomaly maps (values, not ranks) of the chosen images, for the report to write."""
        for i in range(labels.shape[0]):
            if self.global_index(self.n_images + i) not in self.map_at:
                continue
            self.maps.append(
                {
                    "index": self.global_index(self.n_images + i),
                    "name": self.name(self.n_images + i),
                    "image": denormalize(image[i]),
                    "maps": {
                        s: get_scorer(s).fn(inputs)[i].cpu().numpy() for s in self.opts.map_scorers
                    },
                    "ranges": {s: get_scorer(s).range(self.k) for s in self.opts.map_scorers},
                    "unknown_mask": (labels[i] == 1).cpu().numpy(),
                }
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


def _gather_maps(maps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every rank's chosen anomaly maps on the main process, in dataset order (others: none)."""
    if not _distributed():
        return maps
    everyone: list[Any] = [None] * dist.get_world_size() if dist.get_rank() == 0 else None
    dist.gather_object(maps, everyone, dst=0)
    if dist.get_rank() != 0:
        return []
    return sorted((m for part in everyone for m in part), key=lambda m: m["index"])


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
    """Second pass: SegmentMeIfYouCan component metrics at each scorer's best-F1 threshold (in the
    scorer's ranking, where the threshold was found)."""
    pred, gt = (round(n * opts.component_area_scale) for n in TRACKS[opts.component_track])
    metrics = {
        s: ComponentMetric(t, track=opts.component_track, min_pred_size=pred, min_gt_size=gt)
        for s, t in thresholds.items()
    }
    for image, target in loader:
        target = target.to(device)
        labels = anomaly_labels(target, k) if opts.target_kind == "classes" else target
        # outputs and maps die with this call: the next forward does not hold them too
        inputs = ScoreInputs(
            _forward(model, image.to(device), device, opts.amp), stats, opts.xi, opts.min_std
        )
        for s, m in metrics.items():
            m.update(get_scorer(s).ranking(inputs), labels)
        del inputs
    out = {}
    for s, m in metrics.items():
        m.sync(device=device)
        out[s] = m.compute() | {"convention": CONVENTIONS["components"]}
    return out


def resolve_options(opts: EvalOptions, output_keys: Sequence[str]) -> EvalOptions:
    """``opts`` with the scorer lists filled in for a model with ``output_keys``."""
    available = available_scorers(tuple(output_keys))
    scorers = opts.scorers or available
    missing = [s for s in scorers if s not in available]
    if missing:
        raise ValueError(f"scorers {missing} read outputs this model lacks ({list(output_keys)})")
    components = opts.component_scorers or (main_scorer(scorers),)
    maps = opts.map_scorers or tuple(
        dict.fromkeys(
            s for s in (main_scorer(scorers), "fused", "gaussian", "contrastive") if s in scorers
        )
    )
    return replace(
        opts,
        scorers=tuple(scorers),
        component_scorers=tuple(components),
        map_scorers=tuple(s for s in maps if s in scorers),
    )


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
    names: Sequence[str] | None = None,
    protocol: dict[str, Any] | None = None,
    **overrides: Any,
) -> Evaluation:
    """Run the model over ``loader`` (batches ``(image, target)``) and return an
    :class:`~owslib.evaluation.result.Evaluation`: the metrics dict (as ``metrics.json``), with the
    per-image rows, the PR/ROC curve points and the anomaly maps of ``options.n_maps`` images as
    attributes; :func:`owslib.report.write_evaluation` writes them. Nothing is written here.

    ``options`` (with keyword ``overrides``, e.g. ``bins=1000``) fixes the protocol; ``protocol``
    adds descriptive entries (dataset, split, …) to ``metrics["protocol"]``.
    """
    keys = tuple(getattr(model, "output_keys", (SEM_LOGITS, EMBEDDING)))
    opts = resolve_options(replace(options or EvalOptions(), **overrides), keys)
    model.eval()
    stats = stats.to(device)
    n_total = len(loader.dataset) if hasattr(loader, "dataset") else None
    gt_names = list(class_names) + list(unknown_names)
    run = _Pass(opts, num_classes, gt_names, names or image_names(loader), n_total)
    may_picture = _picture_rule(getattr(loader, "dataset", None))
    if may_picture is not None:  # a frame whose licence allows no picture is scored, not drawn
        run.map_at = {i for i in run.map_at if may_picture(i)}
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
    metrics = result_metrics(run, opts, protocol, len(rows) if _distributed() else run.n_images)
    result = Evaluation(
        metrics, rows=rows, curves=run_curves(run, metrics), maps=_gather_maps(run.maps)
    )
    pooled = {s: r["pooled"] for s, r in metrics.get("anomaly", {}).items()}
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


def run_curves(run: _Pass, metrics: dict[str, Any]) -> dict[str, dict[str, np.ndarray]]:
    """PR/ROC points of every scorer with anomalies, from its pooled histogram."""
    return {s: curve_points(run.pooled[s]) for s in metrics.get("anomaly", {})}


def epoch_validation(exp: Experiment) -> dict[str, float]:
    """The per-epoch check ``fit(validate=...)`` runs every ``train__eval_every`` epochs: mIoU and
    fused pooled AUROC on the validation split; one scorer, no component pass, no discovery."""
    val = evaluate(
        exp, exp.val_loader, scorers=("fused",), components=False, open_world=False, n_maps=0
    )
    row = {"val_miou": val["miou"]}
    fused = val.get("anomaly", {}).get("fused", {})
    if "pooled" in fused:
        row["val_auroc"] = fused["pooled"]["auroc"]
    return row


def evaluate(
    exp: Experiment,
    loader: DataLoader,
    *,
    scorers: tuple[str, ...] = (),
    **overrides: Any,
) -> Evaluation:
    """:func:`evaluate_model` with everything taken from an :class:`~owslib.engine.experiment.Experiment`."""
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
        "resolution": resolution(cfg.data.eval_scale),
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
        protocol=protocol,
    )
