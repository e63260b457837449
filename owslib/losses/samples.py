"""Samples for contrastive terms from a training batch: class-balanced pixels and connected regions,
known (classes ``0..K-1``) and unknown (void), never padding or unknown-class pixels."""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage

from owslib.labels import IGNORE_INDEX
from owslib.losses._common import pixels_last
from owslib.losses.infonce import DEFAULT_MIN_NORM, nonzero_rows

#: 8-connectivity inside each plane of a (class, H, W) stack, no connection across planes.
_PLANAR_8 = np.zeros((3, 3, 3), dtype=bool)
_PLANAR_8[1] = True

#: ``(known samples (N, D), their classes (N,), unknown samples (M, D))``.
Samples = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def sample_pixels(
    features: torch.Tensor,
    target: torch.Tensor,
    num_classes: int,
    per_class: int,
    *,
    min_norm: float | None = DEFAULT_MIN_NORM,
) -> Samples:
    """At most ``per_class`` random pixels of each known class present, and of void.

    Pixels whose feature vector has norm ≤ ``min_norm`` are skipped before drawing: they carry no
    direction (the objectosphere loss drives void embeddings to zero norm). Padding (``PAD_INDEX``)
    and any label ≥ K other than void are never drawn. Samples keep the graph of ``features``.

    Shape: ``features`` (B, D, H, W), ``target`` (B, H, W) → known (N, D), labels (N,) in
    ``0..K-1`` (grouped by class), unknown (M, D); N ≤ K·per_class, M ≤ per_class.
    """
    _check_inputs(features, target, per_class)
    _, _, h, w = features.shape
    cat = _categories(target, num_classes)
    cat = cat.masked_fill(~nonzero_rows(pixels_last(features.detach()), min_norm), num_classes + 1)
    flat = cat.flatten()
    pick = _balanced_pick(flat, num_classes + 1, per_class)
    b, rest = pick // (h * w), pick % (h * w)
    z = pixels_last(features)[b, rest // w, rest % w]  # gathers rows, no copy of the whole map
    labels = flat[pick]
    known = labels < num_classes
    return z[known], labels[known], z[~known]


def sample_regions(
    features: torch.Tensor,
    target: torch.Tensor,
    num_classes: int,
    min_size: int,
    per_class: int,
    *,
    min_norm: float | None = DEFAULT_MIN_NORM,
) -> Samples:
    """Mean features of at most ``per_class`` random connected regions per known class, and of void.

    A region is an 8-connected component (per image) of one known class or of void with at least
    ``min_size`` pixels; its sample is the mean of its pixels' feature vectors (float32, on the
    graph of ``features``). Regions whose mean has norm ≤ ``min_norm`` are skipped before drawing
    (the objectosphere loss drives void embeddings to zero norm). Labelling runs with
    ``scipy.ndimage.label`` on the CPU copy of the (small) label map.

    Shape: as :func:`sample_pixels`.
    """
    _check_inputs(features, target, per_class)
    if min_size < 1:
        raise ValueError(f"min_size must be at least 1 pixel, got {min_size}")
    b, d = features.shape[:2]
    cat = _categories(target, num_classes)
    ids, region_cat = _connected_regions(cat, num_classes)
    r = region_cat.numel()
    ids = ids.flatten(1).masked_fill(ids.flatten(1) < 0, r)  # (B, HW); bucket r = no region
    sizes = torch.bincount(ids.flatten(), minlength=r + 1)[:r]
    sums = features.new_zeros(d, r + 1, dtype=torch.float32)
    for i in range(b):  # per image, so (D, HW) is a view: no copy of the feature map
        sums = sums.index_add(1, ids[i], features[i].reshape(d, -1).float())
    means = (sums[:, :r] / sizes.clamp_min(1)).T  # (R, D)
    eligible = (sizes >= min_size) & nonzero_rows(means.detach(), min_norm)
    region_cat = region_cat.masked_fill(~eligible, num_classes + 1)
    pick = _balanced_pick(region_cat, num_classes + 1, per_class)
    z, labels = means[pick], region_cat[pick]
    known = labels < num_classes
    return z[known], labels[known], z[~known]


def _categories(target: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Per pixel: its class ``0..K-1``, ``K`` for void, ``K+1`` for pixels never sampled."""
    t = target.long()
    rest = torch.where(t == IGNORE_INDEX, num_classes, num_classes + 1)
    return torch.where((t >= 0) & (t < num_classes), t, rest)


def _balanced_pick(category: torch.Tensor, num_categories: int, per_class: int) -> torch.Tensor:
    """Indices of at most ``per_class`` random members of each category ``0..C-1`` (C = none),
    grouped by category: a random permutation, stably sorted by category, cut at each rank."""
    n = category.numel()
    perm = torch.randperm(n, device=category.device)
    order = perm[torch.argsort(category[perm], stable=True)]
    grouped = category[order]
    counts = torch.bincount(category, minlength=num_categories + 1)
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.arange(n, device=category.device) - starts[grouped]
    return order[(grouped < num_categories) & (rank < per_class)]


def _connected_regions(cat: torch.Tensor, num_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """8-connected regions of one category (class or void) per image: ids (B, H, W) with −1 for
    none, numbered across the batch, and each region's category (R,); both on ``cat``'s device."""
    host = cat.to(torch.int16).cpu().numpy()
    ids = np.full(host.shape, -1, dtype=np.int64)
    cats, offset = [], 0
    for b, img in enumerate(host):  # per image: all its categories labelled in one call
        present = np.unique(img[img <= num_classes])
        if present.size == 0:
            continue
        planes, n = ndimage.label(img[None] == present[:, None, None], structure=_PLANAR_8)
        rid = planes.max(axis=0)  # a pixel lies in at most one plane
        has = rid > 0
        region_cat = np.zeros(n, dtype=np.int64)
        region_cat[rid[has] - 1] = img[has]
        ids[b][has] = rid[has] - 1 + offset
        cats.append(region_cat)
        offset += n
    region_cat = np.concatenate(cats) if cats else np.zeros(0, dtype=np.int64)
    return torch.from_numpy(ids).to(cat.device), torch.from_numpy(region_cat).to(cat.device)


def _check_inputs(features: torch.Tensor, target: torch.Tensor, per_class: int) -> None:
    if features.ndim != 4 or target.shape != (features.shape[0], *features.shape[2:]):
        raise ValueError(
            f"features must be (B, D, H, W) and target (B, H, W) of the same B, H, W; got "
            f"{tuple(features.shape)} and {tuple(target.shape)}"
        )
    if per_class < 1:
        raise ValueError(f"per_class must be at least 1, got {per_class}")
