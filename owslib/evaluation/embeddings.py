"""A small, seeded sample of a trained model's per-pixel vectors by ground-truth class: what the
known-vs-unknown views of notebook 04 (PCA, norms, cosine separability) read, and the measurement
behind the choice of the InfoNCE embedding space (``loss__infonce_space``).

:func:`sample_embeddings` draws, per image and per ground-truth class present (known ``0..K-1`` and
unknown ``K..``; void and padding never), at most ``per_class`` pixels with a seeded generator, and
keeps for each drawn pixel its vector in every space (the contrastive decoder's ``embedding`` and
the semantic logits); at the end at most ``per_class`` vectors per class remain, drawn with the same
seed. :func:`write_embedding_sample` does this for a run folder from its checkpoint and writes
``embeddings.npz`` atomically; :func:`space_table` reduces a sample to the numbers the choice of a
space rests on.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from owslib.config import ExperimentConfig
from owslib.engine.checkpoint import load_checkpoint
from owslib.engine.experiment import build_experiment
from owslib.engine.loop import CHECKPOINT_NAME
from owslib.io import atomic_path
from owslib.models.outputs import SPACES

if TYPE_CHECKING:
    from owslib.engine.experiment import Experiment

log = logging.getLogger(__name__)

SAMPLE_FILE = "embeddings.npz"


@torch.no_grad()
def sample_embeddings(
    model: torch.nn.Module,
    loader: Iterable,
    *,
    num_labels: int,
    per_class: int = 200,
    seed: int = 0,
    device: torch.device | str = "cpu",
    max_images: int | None = None,
) -> dict[str, np.ndarray]:
    """``{"label": (N,), "embedding": (N, D), "semantic": (N, K)}`` for pixels of the ground-truth
    classes ``0..num_labels-1`` (known then unknown ids; every other value is skipped), at most
    ``per_class`` per class, drawn with ``seed``; float32 vectors, labels int16."""
    gen = torch.Generator().manual_seed(seed)
    labels, vectors = [], {name: [] for name in SPACES}
    seen = 0
    model.eval()
    for image, target in loader:
        outputs = model(image.to(device))
        for i in range(target.shape[0]):
            if max_images is not None and seen >= max_images:
                break
            seen += 1
            t = target[i].reshape(-1)
            flat = {n: outputs[key][i].flatten(1).T.float().cpu() for n, key in SPACES.items()}
            for c in torch.unique(t).tolist():
                if not 0 <= c < num_labels:
                    continue
                where = torch.nonzero(t == c).squeeze(1)
                pick = where[torch.randperm(len(where), generator=gen)[:per_class]]
                labels.append(torch.full((len(pick),), c, dtype=torch.int16))
                for n in SPACES:
                    vectors[n].append(flat[n][pick])
        if max_images is not None and seen >= max_images:
            break
    if not labels:
        raise ValueError("no labelled pixel of a known or unknown class in the sampled images")
    lab = torch.cat(labels)
    keep = torch.cat(
        [
            idx[torch.randperm(len(idx), generator=gen)[:per_class]]
            for c in torch.unique(lab).tolist()
            for idx in [torch.nonzero(lab == c).squeeze(1)]
        ]
    )
    keep = keep.sort().values
    out = {"label": lab[keep].numpy()}
    out |= {n: torch.cat(v)[keep].numpy().astype(np.float32) for n, v in vectors.items()}
    return out


def write_embedding_sample(
    run_dir: str | Path,
    exp: Experiment | None = None,
    *,
    per_class: int = 200,
    max_images: int = 40,
    force: bool = False,
) -> Path | None:
    """Sample the run's test split into ``run_dir/embeddings.npz`` (class names and the number of
    known classes stored beside the arrays; vectors as float16, or float32 per array where a
    value exceeds float16's range: :func:`compact_floats`) with the trained ``exp`` or, when
    None, the model restored from the run's checkpoint; the path, or None when neither is at hand
    (checkpoints are not committed). An existing sample is kept unless ``force``."""
    run_dir = Path(run_dir)
    out = run_dir / SAMPLE_FILE
    if out.exists() and not force:
        return out
    if exp is None:
        exp = _restore(run_dir)
        if exp is None:
            return None
    names = [*exp.split.known_names, *exp.split.unknown_names]
    # the whole split in its order (under DDP the test loader holds one rank's shard)
    loader = DataLoader(exp.test_loader.dataset, batch_size=exp.cfg.eval.batch_size)
    sample = sample_embeddings(
        exp.bare_model,
        loader,
        num_labels=len(names),
        per_class=per_class,
        seed=exp.cfg.train.seed,
        device=exp.device,
        max_images=max_images,
    )
    arrays = {k: compact_floats(v, k) for k, v in sample.items()}
    with atomic_path(out) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(
            fh, class_names=np.array(names), num_known=np.int16(exp.split.num_known), **arrays
        )
    log.info("wrote %s (%d vectors)", out, len(sample["label"]))
    return out


def compact_floats(array: np.ndarray, name: str = "array") -> np.ndarray:
    """A float32 array as float16 (half the file) when every finite value stays finite there
    (``|x| ≤ 65504``, after rounding); else as float32, logged: float16 would store inf."""
    if array.dtype != np.float32:
        return array
    with np.errstate(over="ignore"):
        half = array.astype(np.float16)
    if np.array_equal(np.isfinite(half), np.isfinite(array)):
        return half
    log.info(
        "%s: values beyond float16's range (max |x| = %.4g): stored as float32",
        name,
        float(np.abs(array[np.isfinite(array)]).max()),
    )
    return array


def _restore(run_dir: Path) -> Experiment | None:
    """The run's experiment with the trained weights of its checkpoint (model only)."""
    if not (run_dir / CHECKPOINT_NAME).exists():
        return None
    cfg = ExperimentConfig.from_dict(json.loads((run_dir / "config.json").read_text()))
    # the checkpoint holds every weight: no closed-set encoder is needed (nor trained) first
    exp = build_experiment(cfg.override(model__pretrain_epochs=0), device="cpu")
    ckpt = load_checkpoint(run_dir / CHECKPOINT_NAME, map_location="cpu")
    exp.bare_model.load_state_dict(ckpt["model"])
    return exp


def load_embedding_sample(path: str | Path) -> dict[str, np.ndarray]:
    """An ``embeddings.npz`` as float32 arrays plus ``class_names`` and ``num_known``."""
    with np.load(Path(path)) as z:
        out = {k: z[k] for k in z.files}
    for n in SPACES:
        out[n] = out[n].astype(np.float32)
    out["num_known"] = int(out["num_known"])
    return out


def space_table(samples: Mapping[str, Mapping[str, np.ndarray]], min_norm: float) -> pd.DataFrame:
    """Per sample (e.g. a variant) and space: the median L2 norm of known and unknown vectors, the
    share of unknown vectors below ``min_norm`` (the InfoNCE term skips them: they have no
    direction), and the cosine separability — AUROC of ``1 − max_k cos(v, μ_k)`` (μ_k the mean
    direction of known class k in the sample) for unknown against known vectors."""
    from sklearn.metrics import roc_auc_score

    rows = []
    for name, s in samples.items():
        unknown = s["label"] >= s["num_known"]
        for space in SPACES:
            v = s[space].astype(np.float64)
            norm = np.linalg.norm(v, axis=1)
            unit = v / np.maximum(norm, 1e-12)[:, None]
            known_labels = s["label"][~unknown]
            means = np.stack([unit[s["label"] == c].mean(0) for c in np.unique(known_labels)])
            means /= np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-12)
            score = 1.0 - (unit @ means.T).max(axis=1)
            rows.append(
                {
                    "variant": name,
                    "space": space,
                    "dim": v.shape[1],
                    "median norm known": float(np.median(norm[~unknown])),
                    "median norm unknown": float(np.median(norm[unknown]))
                    if unknown.any()
                    else np.nan,
                    f"unknown share below {min_norm:g}": float((norm[unknown] < min_norm).mean())
                    if unknown.any()
                    else np.nan,
                    "cosine AUROC": roc_auc_score(unknown, score) if unknown.any() else np.nan,
                }
            )
    return pd.DataFrame(rows)


def space_finding(table: pd.DataFrame) -> str:
    """One sentence per space from a :func:`space_table`: the mean cosine AUROC over the variants
    and the largest share of unknown vectors without a direction; then which space separates
    unknown from known better by direction (what a cosine InfoNCE acts on)."""
    if table.empty:
        return "No embedding sample here (the runs' checkpoints are not in this copy)."
    share = next(c for c in table.columns if c.startswith("unknown share below"))
    lines, auroc = [], {}
    for space, g in table.groupby("space", sort=False):
        auroc[space] = g["cosine AUROC"].mean()
        lines.append(
            f"- `{space}`: cosine AUROC {auroc[space]:.3f} (mean over {len(g)} variants); "
            f"median unknown/known norm {g['median norm unknown'].median():.3g} / "
            f"{g['median norm known'].median():.3g}; at most {g[share].max():.1%} of unknown "
            f"vectors {share.removeprefix('unknown share ')}."
        )
    best = max(auroc, key=auroc.get)
    lines.append(
        f"\nBy direction, unknown and known vectors are better separated in `{best}` "
        f"(AUROC {auroc[best]:.3f} against "
        + ", ".join(f"{auroc[s]:.3f} in `{s}`" for s in auroc if s != best)
        + ")."
    )
    return "\n".join(lines)
