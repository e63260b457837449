"""Open-world post-processing: novel-class discovery on unknown pixels and class similarity, with metrics.

Reference: Sodano et al., CVPR 2024, §3.4. The paper keeps "mean vectors of the
discovered classes": each unknown pixel joins the nearest one if its distance is below η (updating
that mean), else it opens a new class. It says nothing more; the choices owslib makes are
parameters, stated in every result:

* **Feature space** (``space``): ``semantic_normalized`` (default) — the L2-normalised semantic
  logits, the class-descriptor space the paper clusters in, normalised so that η = 0.5 is a
  meaningful distance (raw logits span tens of units, where η = 0.5 opens a class for almost every
  pixel); ``semantic`` (raw logits, the literal reading), ``embedding`` and
  ``embedding_normalized`` (the contrastive decoder's output).
* **Order and subsample**: the rule is sequential, hence order-dependent. Per image, at most
  ``max_pixels`` of its unknown pixels are drawn with a generator seeded by ``(seed, image
  number)`` and visited in raster order; means persist across images (the dataset is visited in
  loader order), so classes are discovered per dataset.
* **Chunked rule**: pixels are taken ``chunk`` at a time; a chunk is compared with the current
  means in one distance computation, the pixels within η join their nearest mean (the means are
  updated after the chunk), and each leftover opens a class in turn, the rest of the chunk being
  compared again. ``chunk=1`` is exactly the sequential rule; larger chunks differ only in that
  pixels of one chunk see the means from before that chunk (tested on separated clusters).
* **Cap**: once ``max_classes`` classes exist every further pixel joins its nearest class.
* **Metric**: every unknown pixel of the image (not only the subsample) is assigned to its nearest
  discovered mean. For each unknown ground-truth class ``u``, the discovered class ``c`` that
  overlaps it most gives ``IoU = |u ∩ c| / |u ∪ c|``, counted over non-void pixels: pixels of ``c``
  whose ground truth is a known class are false positives, pixels of ``u`` not predicted unknown
  (or assigned elsewhere) false negatives. Two ground-truth classes may pick the same discovered class.

Which pixels are unknown: the **pipeline** uses the predicted unknown pixels (fused score > δ,
Eq. 14); the **oracle** variant clusters the ground-truth unknown pixels instead, isolating
discovery from anomaly detection.

**Class similarity**: each pixel's most similar known class is ``argmax_k s_k`` (Eq. 11). Its
accuracy for an unknown class ``u`` is the fraction of ``u``'s pixels whose most similar class is
one of ``lookup[u]`` (e.g. motorcycle → car, train → truck for BDD-Anomaly*): over the pixels of
``u`` predicted unknown (pipeline) and over all pixels of ``u`` (oracle).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor

from owslib.labels import IGNORE_INDEX

log = logging.getLogger(__name__)

SPACES = ("semantic_normalized", "semantic", "embedding", "embedding_normalized")
#: Unknown class -> the known classes counted as correct, for BDD-Anomaly* (ContMAV, Table 4).
DEFAULT_SIMILARITY_LOOKUP = "motorcycle:car,train:truck"
#: Pixels per distance computation when assigning every unknown pixel (bounds scratch memory).
ASSIGN_CHUNK = 2**16


def feature_source(space: str) -> tuple[str, bool]:
    """The model output a discovery ``space`` reads and whether it L2-normalises it."""
    if space not in SPACES:
        raise ValueError(f"discovery space {space!r}; choose one of {SPACES}")
    return ("embedding" if space.startswith("embedding") else "sem_logits"), space.endswith(
        "normalized"
    )


def discovery_features(outputs: Mapping[str, Tensor], space: str) -> Tensor:
    """The per-pixel features clustered by novel-class discovery, (B, D, H, W) float32."""
    key, normalize = feature_source(space)
    f = outputs[key].float()
    return F.normalize(f, dim=1) if normalize else f


def parse_similarity_lookup(lookup: str | Mapping[str, Sequence[str] | str]) -> dict[str, tuple]:
    """``"motorcycle:car,train:truck"`` (alternatives with ``|``: ``"bicycle:motorcycle|person"``)
    or a mapping → ``{unknown name: (known names…)}``."""
    if isinstance(lookup, Mapping):
        return {k: (v,) if isinstance(v, str) else tuple(v) for k, v in lookup.items()}
    out: dict[str, tuple] = {}
    for item in filter(None, (s.strip() for s in lookup.split(","))):
        name, sep, targets = item.partition(":")
        if not sep or not name.strip() or not targets.strip():
            raise ValueError(
                f"similarity lookup entry {item!r}: expected UNKNOWN:KNOWN[|KNOWN…], "
                f"e.g. {DEFAULT_SIMILARITY_LOOKUP!r}"
            )
        out[name.strip()] = tuple(t.strip() for t in targets.split("|"))
    return out


def leader_cluster(
    x: Tensor, sums: Tensor, counts: Tensor, n: int, eta: float, chunk: int, max_classes: int
) -> int:
    """The (chunked) sequential leader rule; updates ``sums``/``counts`` in place, returns ``n``.

    ``x`` (N, D) are the pixels in visiting order, ``sums`` (C, D) float64 and ``counts`` (C,)
    the running sums of the ``n`` classes so far (C ≥ ``max_classes``). A pixel joins the nearest
    mean if its Euclidean distance is below ``eta``, else it opens a class (module docstring).
    """
    x = x.to(sums.dtype)
    for start in range(0, x.shape[0], chunk):
        rest = x[start : start + chunk]
        while rest.shape[0]:
            if n:
                d = torch.cdist(rest, sums[:n] / counts[:n, None])
                dmin, nearest = d.min(dim=1)
                join = dmin < eta if n < max_classes else torch.ones_like(dmin, dtype=torch.bool)
                sums.index_add_(0, nearest[join], rest[join])
                counts.index_add_(0, nearest[join], torch.ones_like(dmin[join]))
                rest = rest[~join]
                if not rest.shape[0]:
                    break
            sums[n], counts[n] = rest[0], 1.0
            n += 1
            rest = rest[1:]
    return n


class NovelClassDiscovery:
    """Dataset-level novel-class discovery and its IoU metric (module docstring for every rule).

    ``update(features, unknown, target)`` takes a batch: features (B, D, H, W), the mask of pixels
    to cluster (B, H, W) and class-index targets (known ``0..K-1``, unknown ``K..K+U-1``,
    ``ignore_index``). With ``normalize`` the features of the selected pixels are L2-normalised
    first (cheaper than normalising whole maps). State: the discovered classes' sums and counts
    (float64) and the overlap counts ground-truth class × discovered class.
    """

    def __init__(
        self,
        num_gt_classes: int,
        *,
        eta: float = 0.5,
        max_pixels: int = 20_000,
        chunk: int = 256,
        max_classes: int = 256,
        seed: int = 0,
        normalize: bool = False,
        ignore_index: int = IGNORE_INDEX,
    ) -> None:
        if eta <= 0 or max_pixels < 1 or chunk < 1 or max_classes < 1:
            raise ValueError("NovelClassDiscovery: eta, max_pixels, chunk, max_classes must be > 0")
        self.num_gt, self.eta, self.max_pixels, self.chunk = num_gt_classes, eta, max_pixels, chunk
        self.max_classes, self.seed, self.ignore_index = max_classes, seed, ignore_index
        self.normalize = normalize
        self.n = 0
        self.images = 0
        self.sums: Tensor | None = None
        self.counts = torch.zeros(max_classes, dtype=torch.float64)
        self.overlap = torch.zeros(num_gt_classes, max_classes, dtype=torch.int64)
        self.gt_pixels = torch.zeros(num_gt_classes, dtype=torch.int64)

    def cluster(self, x: Tensor) -> None:
        """Run the leader rule over pixels ``x`` (N, D), in the given order."""
        if self.sums is None:
            self.sums = torch.zeros(self.max_classes, x.shape[1], dtype=torch.float64)
        self.n = leader_cluster(
            x.detach().cpu(), self.sums, self.counts, self.n, self.eta, self.chunk, self.max_classes
        )

    @property
    def means(self) -> Tensor:
        """Means of the discovered classes (n, D), float64."""
        if self.sums is None:
            return torch.zeros(0, 0, dtype=torch.float64)
        return self.sums[: self.n] / self.counts[: self.n, None]

    def assign(self, x: Tensor) -> Tensor:
        """Index of the nearest discovered class of every pixel of ``x`` (N, D), on ``x``'s device."""
        means = self.means.to(x.device, torch.float32)
        return torch.cdist(x.float(), means).argmin(1)

    def _pixels(self, flat: Tensor, index: Tensor) -> Tensor:
        x = flat[:, index].T.float()  # (N, D)
        return F.normalize(x, dim=1) if self.normalize else x

    @torch.no_grad()
    def update(self, features: Tensor, unknown: Tensor, target: Tensor) -> None:
        """Cluster a batch image by image and count the overlaps of every unknown pixel."""
        valid = target != self.ignore_index
        t = target[valid].long().cpu()
        self.gt_pixels += torch.bincount(t, minlength=self.num_gt)[: self.num_gt]
        for f, mask, tgt in zip(features, unknown, target, strict=True):
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.images)
            self.images += 1
            where = mask.reshape(-1).nonzero().squeeze(1)  # raster order
            if not where.numel():
                continue
            flat = f.reshape(f.shape[0], -1)
            sub = where
            if where.numel() > self.max_pixels:
                pick = torch.randperm(where.numel(), generator=g)[: self.max_pixels].sort().values
                sub = where[pick.to(where.device)]
            self.cluster(self._pixels(flat, sub))
            ids = torch.cat(
                [self.assign(self._pixels(flat, w)).cpu() for w in where.split(ASSIGN_CHUNK)]
            )
            gt = tgt.reshape(-1)[where].long().cpu()
            keep = gt != self.ignore_index
            idx = gt[keep] * self.max_classes + ids[keep]
            counts = torch.bincount(idx, minlength=self.num_gt * self.max_classes)
            self.overlap += counts[: self.num_gt * self.max_classes].view_as(self.overlap)

    def compute(self, gt_names: Sequence[str], num_known: int) -> dict[str, object]:
        """Per unknown class (``gt_names[K:]``): IoU with its best-overlapping discovered class."""
        per_class: dict[str, dict[str, float | int | None]] = {}
        predicted = self.overlap.sum(0)
        for u in range(num_known, self.num_gt):
            gt = int(self.gt_pixels[u])
            row = self.overlap[u]
            best = int(row.argmax()) if bool(row.any()) else None
            inter = int(row[best]) if best is not None else 0
            union = gt + (int(predicted[best]) if best is not None else 0) - inter
            per_class[gt_names[u]] = {
                "iou": inter / union if union else math.nan,
                "discovered_class": best,
                "gt_pixels": gt,
                "intersection": inter,
            }
        ious = [v["iou"] for v in per_class.values() if not math.isnan(v["iou"])]
        return {
            "per_class": per_class,
            "mean_iou": sum(ious) / len(ious) if ious else math.nan,
            "n_discovered": self.n,
            "discovered_pixels": [int(v) for v in predicted[: self.n]],
        }


class ClassSimilarity:
    """Counts of (ground-truth class, most similar known class) over the pixels of a batch.

    Row 0 of :attr:`counts` holds the pipeline's pixels (predicted unknown), row 1 all pixels
    (oracle); each is ``(num_gt_classes, num_known)`` int64.
    """

    def __init__(self, num_gt_classes: int, num_known: int, ignore_index: int = IGNORE_INDEX):
        self.num_gt, self.num_known, self.ignore_index = num_gt_classes, num_known, ignore_index
        self.counts = torch.zeros(2, num_gt_classes, num_known, dtype=torch.int64)

    @torch.no_grad()
    def update(self, similar: Tensor, target: Tensor, predicted_unknown: Tensor) -> None:
        """``similar`` (B, H, W) known-class indices (argmax_k s_k), targets, the unknown mask."""
        valid = (target != self.ignore_index) & (target >= self.num_known)  # unknown classes only
        idx = target.long() * self.num_known + similar.long()
        n = self.num_gt * self.num_known
        for row, mask in enumerate((valid & predicted_unknown, valid)):
            c = torch.bincount(idx[mask], minlength=n)[:n].cpu()
            self.counts[row] += c.view(self.num_gt, self.num_known)

    def sync(self, group: dist.ProcessGroup | None = None, device: torch.device | None = None):
        """Sum the counts over a ``torch.distributed`` group (no-op when not initialised)."""
        if dist.is_available() and dist.is_initialized():
            c = self.counts.to(device or "cpu")
            dist.all_reduce(c, group=group)
            self.counts = c.cpu()

    def compute(
        self,
        gt_names: Sequence[str],
        lookup: Mapping[str, Sequence[str]],
    ) -> dict[str, object]:
        """Accuracy against ``lookup`` per unknown class (pipeline and oracle) and each unknown
        class's most similar known class. Lookup entries naming a class that is not an unknown /
        known class of this split are skipped (and logged)."""
        known = list(gt_names[: self.num_known])
        out: dict[str, dict[str, object]] = {}
        for u in range(self.num_known, self.num_gt):
            name = gt_names[u]
            totals = self.counts[:, u].sum(1)
            entry: dict[str, object] = {
                "pixels": int(totals[0]),
                "pixels_oracle": int(totals[1]),
                "most_similar": known[int(self.counts[1, u].argmax())] if totals[1] else None,
            }
            targets = lookup.get(name)
            if targets is not None:
                missing = [t for t in targets if t not in known]
                if missing:
                    log.warning(
                        "similarity lookup %s -> %s: %s not known here", name, targets, missing
                    )
                hit = [known.index(t) for t in targets if t in known]
                right = self.counts[:, u, hit].sum(-1)
                entry["targets"] = list(targets)
                entry["accuracy"] = float(right[0] / totals[0]) if totals[0] else math.nan
                entry["accuracy_oracle"] = float(right[1] / totals[1]) if totals[1] else math.nan
            out[name] = entry
        unused = sorted(set(lookup) - set(gt_names[self.num_known :]))
        if unused:
            log.info("similarity lookup entries %s are not unknown classes of this split", unused)
        return {"per_class": out}
