"""Anomaly-detection figures: PR and ROC curves from streaming histograms, colourised anomaly maps."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib
import matplotlib.pyplot as plt
import numpy as np

from owslib.metrics.curves import curve_points  # noqa: F401  (re-exported)

#: Lowest and highest left limit of a log-FPR axis (see :func:`roc_curves`).
LOG_FPR_FLOOR = (1e-6, 1e-4)


def _legend_outside(ax: plt.Axes) -> None:
    """The legend to the right of the axes, off the data (constrained layout makes room for it)."""
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)


def _anomaly_share(c: Mapping[str, np.ndarray]) -> float | None:
    """The share of anomaly pixels behind one curve: ``n_anomaly / n_pixels`` when the entry holds
    the pooled counts, else the precision of the last point when it reaches TPR = FPR = 1 (the
    lowest threshold calls every pixel anomalous); ``None`` when neither is known."""
    if c.get("n_pixels") and "n_anomaly" in c:
        return float(c["n_anomaly"]) / float(c["n_pixels"])
    if not all(k in c for k in ("tpr", "fpr", "precision")) or not np.size(c["precision"]):
        return None
    tpr, fpr, precision = (np.asarray(c[k], dtype=np.float64) for k in ("tpr", "fpr", "precision"))
    if np.isclose(tpr[-1], 1.0) and np.isclose(fpr[-1], 1.0):
        return float(precision[-1])
    return None


def pr_curves(
    curves: Mapping[str, Mapping[str, np.ndarray]],
    title: str = "",
    *,
    anomaly_share: float | None = None,
) -> plt.Figure:
    """Precision-recall curves, one line per scorer (pooled pixels), AUPR in the legend if given.

    The precision of a random scorer, the anomaly share of the pixels, is drawn as a labelled
    horizontal baseline. ``anomaly_share`` None takes it from each entry: ``n_anomaly / n_pixels``
    where present (the pooled metrics :func:`owslib.report.files.write_curves` merges in), else the
    precision at the curve's last point when that point is TPR = FPR = 1 (what
    :func:`~owslib.metrics.curves.curve_points` ends on); no baseline when neither is known.
    Scorers of one evaluation share one baseline; differing shares get one line each.
    The legend sits to the right of the axes.
    """
    fig, ax = plt.subplots(figsize=(6.6, 4.2), layout="constrained")
    colours = {}
    for name, c in curves.items():
        label = f"{name} (AP {c['aupr']:.3f})" if "aupr" in c else name
        (line,) = ax.step(c["tpr"], c["precision"], where="post", label=label)
        colours[name] = line.get_color()
    if anomaly_share is not None:
        shares = {"": float(anomaly_share)}
    else:
        shares = {n: s for n, c in curves.items() if (s := _anomaly_share(c)) is not None}
    distinct = np.unique(np.round(list(shares.values()), 12))
    if len(distinct) == 1:
        ax.axhline(
            distinct[0],
            color="gray",
            lw=0.9,
            ls=":",
            label=f"anomaly share {distinct[0]:.3g} (random scorer)",
        )
    else:
        for name, share in shares.items():
            ax.axhline(
                share,
                color=colours[name],
                lw=0.9,
                ls=":",
                label=f"{name}: anomaly share {share:.3g}",
            )
    ax.set(xlabel="recall (TPR)", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02))
    ax.set_title(title or "PR curves (pooled pixels, anomaly = positive)", fontsize=9)
    _legend_outside(ax)
    return fig


def _log_fpr_limit(curves: Mapping[str, Mapping[str, np.ndarray]]) -> float:
    """Left limit of a log-FPR axis: the decade below the smallest positive FPR, within
    :data:`LOG_FPR_FLOOR`."""
    positive = [f[f > 0] for c in curves.values() if (f := np.asarray(c["fpr"], float)).size]
    smallest = min((p.min() for p in positive if p.size), default=LOG_FPR_FLOOR[1])
    return float(np.clip(10.0 ** np.floor(np.log10(smallest)), *LOG_FPR_FLOOR))


def roc_curves(
    curves: Mapping[str, Mapping[str, np.ndarray]],
    title: str = "",
    *,
    log_fpr: bool = False,
) -> plt.Figure:
    """ROC curves, one line per scorer, with the labelled TPR = 0.95 line FPR95 is read at and the
    random scorer's diagonal; the legend sits to the right of the axes.

    ``log_fpr`` draws the FPR axis in log scale (the low-FPR end, where scorers differ): points at
    FPR = 0 are dropped and the axis starts at the decade below the smallest positive FPR, clipped
    to :data:`LOG_FPR_FLOOR` (1e-6 … 1e-4).
    """
    fig, ax = plt.subplots(figsize=(6.6, 4.2), layout="constrained")
    for name, c in curves.items():
        label = f"{name} (FPR95 {c['fpr95']:.3f})" if "fpr95" in c else name
        fpr, tpr = np.asarray(c["fpr"], np.float64), np.asarray(c["tpr"], np.float64)
        if log_fpr:
            fpr, tpr = fpr[fpr > 0], tpr[fpr > 0]
        ax.plot(fpr, tpr, label=label)
    ax.axhline(0.95, color="gray", lw=0.7, ls="--", label="TPR 0.95 (FPR95)")
    if log_fpr:
        low = _log_fpr_limit(curves)
        diagonal = np.logspace(np.log10(low), 0.0, 100)
        ax.set_xscale("log")
        ax.set_xlim(low, 1.0)
    else:
        diagonal = np.array([0.0, 1.0])
        ax.set_xlim(0.0, 1.0)
    ax.plot(diagonal, diagonal, color="lightgray", lw=0.7, label="random scorer")
    xlabel = "false-positive rate" + (" (log)" if log_fpr else "")
    ax.set(xlabel=xlabel, ylabel="true-positive rate", ylim=(0, 1.02))
    ax.set_title(title or "ROC curves (pooled pixels)", fontsize=9)
    _legend_outside(ax)
    return fig


def anomaly_map_rgb(
    score: np.ndarray, value_range: tuple[float, float] | None = None, cmap: str = "magma"
) -> np.ndarray:
    """An anomaly map (H, W) as RGB uint8 (H, W, 3); ``value_range`` None uses the 1st-99th
    percentiles of the map (open-ended scorers such as MaxLogit)."""
    s = np.asarray(score, dtype=np.float64)
    lo, hi = value_range if value_range is not None else np.nanpercentile(s, [1, 99])
    x = np.clip((s - lo) / (hi - lo if hi > lo else 1.0), 0.0, 1.0)
    rgba = matplotlib.colormaps[cmap](np.nan_to_num(x), bytes=True)
    return np.ascontiguousarray(rgba[..., :3])
