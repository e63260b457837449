"""Qualitative examples: which test images to show, and one image through the model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from owslib.data import denormalize
from owslib.inference.scorers import anomaly_scores, available_scorers, main_scorer
from owslib.labels import unknown_mask
from owslib.models.outputs import SEM_LOGITS
from owslib.report.explorer_record import TARGET_KINDS

if TYPE_CHECKING:
    from owslib.engine.experiment import Experiment


def pick_examples(dataset, num_known: int, n: int) -> list[int]:
    """``n`` image indices showing unknown objects, taken in turn from each unknown class (the
    image where that class covers the most pixels first), from labels only; then the rest."""
    targets = [dataset.load_target(i) for i in range(len(dataset))]
    unknown_ids = sorted({int(v) for t in targets for v in np.unique(t) if num_known <= v < 255})
    rankings = [
        sorted(
            (i for i in range(len(targets)) if (targets[i] == c).any()),
            key=lambda i, c=c: -int((targets[i] == c).sum()),
        )
        for c in unknown_ids
    ]
    chosen: list[int] = []
    while len(chosen) < min(n, len(targets)) and any(rankings):
        for ranking in rankings:
            while ranking and ranking[0] in chosen:
                ranking.pop(0)
            if ranking and len(chosen) < n:
                chosen.append(ranking.pop(0))
    rest = [i for i in range(len(targets)) if i not in chosen]
    return chosen + rest[: max(0, n - len(chosen))]


@torch.no_grad()
def predict_example(
    exp: Experiment,
    dataset,
    index: int,
    *,
    scorers: tuple[str, ...] = (),
    target_kind: str = "classes",
) -> dict[str, Any]:
    """One image through the model: ``name``, ``image`` (uint8 HWC), ``target``, ``pred``,
    ``maps`` (one anomaly map per scorer) and ``unknown_mask``, as numpy arrays, and
    ``target_kind``. ``target_kind="anomaly"``: ``dataset``'s targets are anomaly labels (0 known,
    1 anomaly, 255 void: a SegmentMeIfYouCan-layout set), whose anomaly pixels are the unknown
    ones."""
    if target_kind not in TARGET_KINDS:
        raise ValueError(f"target_kind {target_kind!r}; choose one of {TARGET_KINDS}")
    image, target = dataset[index]
    exp.bare_model.eval()
    outputs = exp.bare_model(image.unsqueeze(0).to(exp.device))
    cfg = exp.cfg.loss
    scorers = scorers or available_scorers(exp.bare_model.output_keys)
    maps = anomaly_scores(outputs, exp.stats, xi=cfg.xi, min_std=cfg.min_std, scorers=scorers)
    t = target.numpy()
    unknown = t == 1 if target_kind == "anomaly" else unknown_mask(t, exp.split.num_known)
    return {
        "name": dataset.names[index] if hasattr(dataset, "names") else str(index),
        "image": denormalize(image),
        "target": t,
        "pred": outputs[SEM_LOGITS].max(dim=1).indices[0].cpu().numpy(),
        "maps": {name: m[0].cpu().numpy() for name, m in maps.items()},
        "unknown_mask": unknown,
        "target_kind": target_kind,
    }


def collect_examples(
    exp: Experiment, dataset, n: int, *, score: str = "", scorers: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    """:func:`predict_example` for ``n`` images chosen by :func:`pick_examples`; ``score`` holds the
    map of the scorer the qualitative panel shows (default: the main scorer on offer)."""
    scorers = scorers or available_scorers(exp.bare_model.output_keys)
    score = score or main_scorer(scorers)
    wanted = tuple(dict.fromkeys((score, *scorers)))
    examples = [
        predict_example(exp, dataset, i, scorers=wanted)
        for i in pick_examples(dataset, exp.split.num_known, n)
    ]
    return [ex | {"score": ex["maps"][score], "score_name": score} for ex in examples]
