"""What each confirmatory answer comes with, on the same fresh seeds: its secondary endpoints
(exploratory, uncorrected: a trade-off shows where the primary endpoint is silent), on how many
seeds the arm came out higher, how much the two arms move together over the seeds, the spread of
the effect over the test images beside its spread over the seeds, and the power the design had
at the fresh seeds' own SD."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from owslib import stats
from owslib.study.confirm import Question, confirming_pair_table
from owslib.study.sentences import endpoint_words, signed

#: The endpoints every answer reports besides its primary one (the fused scorer, pooled).
SECONDARY = ("miou", "aupr/fused/pooled", "fpr95/fused/pooled", "auroc/fused/pooled")
#: The per-image number that stands in for a question's endpoint when the test images are
#: resampled (``per_image.csv``; mIoU has no per-image value there).
IMAGE_PROXY = "fused_aupr"


def secondary_effects(
    long: pd.DataFrame,
    q: Question,
    arm: str,
    comparator: str,
    seeds: tuple[int, ...],
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Per endpoint of :data:`SECONDARY` (the primary one included, flagged ``primary``):
    ``arm − comparator`` over ``seeds`` with its paired t interval (uncorrected), ``n_higher``
    (seeds where the arm's value is the larger) and ``corr`` (the two arms' correlation over the
    seeds: what pairing by seed buys)."""
    rows = []
    for endpoint in dict.fromkeys((q.endpoint, *SECONDARY)):
        pairs = confirming_pair_table(
            long, dataclasses.replace(q, endpoint=endpoint), arm, comparator, seeds
        )
        d = pairs["diff"].to_numpy(dtype=float)
        if len(d) < 2:
            continue
        t = stats.paired_t(d, alpha)
        a, b = pairs["arm_value"].to_numpy(float), pairs["comparator_value"].to_numpy(float)
        corr = float(np.corrcoef(a, b)[0, 1]) if a.std() > 0 and b.std() > 0 else np.nan
        rows.append(
            {
                "endpoint": endpoint,
                "primary": endpoint == q.endpoint,
                "n_pairs": t.n,
                "mean": t.mean,
                "lo": t.lo,
                "hi": t.hi,
                "p": t.p,
                "n_higher": int((d > 0).sum()),
                "corr": corr,
            }
        )
    return pd.DataFrame(
        rows,
        columns=["endpoint", "primary", "n_pairs", "mean", "lo", "hi", "p", "n_higher", "corr"],
    )


def image_spread(run_dirs: list[tuple[Path, Path]], column: str = IMAGE_PROXY) -> dict[str, float]:
    """The effect's variance over test images beside its variance over seeds, from the runs'
    ``per_image.csv`` (``run_dirs``: (arm, comparator) run folders, one pair per seed).

    ``d[s, i]`` = arm − comparator on image ``i`` at seed ``s``; resampling the images (a bootstrap
    over them) gives the mean effect a variance of var_i(mean_s d) / n_images, resampling the seeds
    var_s(mean_i d) / n_seeds; ``ratio`` is the first over the second. Images without a value
    (no unknown pixel: no AUPR) are left out. NaN where a file or the column is missing."""
    rows = []
    for a, b in run_dirs:
        try:
            x = pd.read_csv(a / "per_image.csv", index_col="image")[column]
            y = pd.read_csv(b / "per_image.csv", index_col="image")[column]
        except (OSError, KeyError, ValueError):
            return {"var_images": np.nan, "var_seeds": np.nan, "ratio": np.nan, "n_images": 0}
        rows.append((x - y).to_numpy(float))
    d = np.array(rows)
    keep = ~np.isnan(d).any(axis=0)
    d = d[:, keep]
    if d.shape[0] < 2 or d.shape[1] < 2:
        return {"var_images": np.nan, "var_seeds": np.nan, "ratio": np.nan, "n_images": 0}
    var_images = float(d.mean(axis=0).var(ddof=1) / d.shape[1])
    var_seeds = float(d.mean(axis=1).var(ddof=1) / d.shape[0])
    ratio = var_images / var_seeds if var_seeds > 0 else np.nan
    return {
        "var_images": var_images,
        "var_seeds": var_seeds,
        "ratio": ratio,
        "n_images": int(d.shape[1]),
    }


def fresh_power(margin: float, sd: float, n: int, alpha: float, m: int) -> tuple[float, float]:
    """``(power at the margin, TOST's power at a zero difference)`` with ``n`` pairs whose
    differences have SD ``sd``: the paired t at Holm's worst case α/m, TOST at α (as planned)."""
    if not (sd == sd and sd > 0 and n >= 2):
        return np.nan, np.nan
    return (
        stats.paired_t_power(margin, sd, n, alpha / m),
        stats.tost_power(margin, sd, n, alpha=alpha),
    )


def moved_entries(sec: pd.DataFrame, name: Callable[[str], str] | None = None) -> list[str]:
    """The secondary endpoints of ``sec`` whose interval excludes 0, each with the seeds it moved
    on: ``mIoU −0.014 [−0.021, −0.007], lower on 14/14 seeds`` (``name``: the endpoint's words,
    :func:`metric_name` by default; seeds lower: ``n_lower`` where ``sec`` counts them)."""
    name = name or metric_name
    out = []
    for r in sec[~sec["primary"]].itertuples():
        if r.lo > 0 or r.hi < 0:
            lower = getattr(r, "n_lower", r.n_pairs - r.n_higher)
            side = f"higher on {r.n_higher}" if r.mean > 0 else f"lower on {lower}"
            out.append(
                f"{name(r.endpoint)} {signed(r.mean)} [{signed(r.lo)}, {signed(r.hi)}], "
                f"{side}/{r.n_pairs} seeds"
            )
    return out


def moved(sec: pd.DataFrame) -> str:
    """The secondary endpoints whose interval excludes 0 (:func:`moved_entries`); or that none
    moved."""
    out = moved_entries(sec)
    if out:
        return "; ".join(out)
    names = ", ".join(metric_name(e) for e in sec.loc[~sec["primary"], "endpoint"])
    return f"none shown ({names}: every interval includes 0)" if names else "none recorded"


def metric_name(endpoint: str) -> str:
    """The metric of an endpoint as a reader names it (``fpr95/fused/pooled`` → ``FPR95``): the
    secondary endpoints all use the fused scorer, pooled, said once where they are shown."""
    return endpoint_words(endpoint.split("/")[0])


def secondary_table(sec: pd.DataFrame) -> str:
    """:func:`secondary_effects` as a markdown table a reader meets: endpoint, Δ [95 %], seeds
    higher, correlation of the arms over the seeds."""
    lines = [
        "| endpoint | Δ [95 % interval] | arm higher | arms' correlation |",
        "|---|---|---|---|",
    ]
    for r in sec.itertuples():
        name = endpoint_words(r.endpoint) + (" (primary)" if r.primary else "")
        corr = f"{r.corr:+.2f}".replace("-", "−") if r.corr == r.corr else "—"
        lines.append(
            f"| {name} | {signed(r.mean)} [{signed(r.lo)}, {signed(r.hi)}] | "
            f"{r.n_higher} of {r.n_pairs} seeds | {corr} |"
        )
    return "\n".join(lines)


def spread_words(ratio: float, n_images: int, endpoint: str = "aupr/fused/pooled") -> str:
    """What the test-image spread means for the claim (for an endpoint other than AUPR, the
    proxy's spread, said as such)."""
    if ratio != ratio:
        return "the spread over test images is not recorded for these runs"
    if not endpoint.startswith("aupr/"):
        return (
            f"not measured on {metric_name(endpoint)} (the runs record it per image only for "
            f"the anomaly scores); on per-image fused AUPR, resampling the {n_images} test "
            f"images varies the effect {ratio:.2g}× as much as resampling the seeds"
        )
    head = (
        f"resampling the {n_images} test images (per-image fused AUPR as a proxy) varies the "
        f"effect {ratio:.2g}× as much as resampling the seeds"
    )
    if ratio <= 0.5:
        return f"{head}: the interval, over seeds, is the wider source of doubt"
    wider = np.sqrt(1.0 + ratio)
    return (
        f"{head}: the interval speaks for these test images; for new images it would be "
        f"about {wider:.1f}× as wide"
    )
