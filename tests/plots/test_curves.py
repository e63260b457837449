"""PR / ROC figures a reader can read: legend off the data, random-scorer baseline, labelled
TPR = 0.95 line, log-FPR axis."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from owslib.metrics.anomaly import AnomalyMetric
from owslib.metrics.curves import curve_points
from owslib.plots import pr_curves, roc_curves, save_figure

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _curves(n: int = 20_000, share: float = 0.05) -> dict[str, dict]:
    """Two scorers' curve points plus their pooled metrics, as ``report.files`` hands them over."""
    g = torch.Generator().manual_seed(0)
    labels = (torch.rand(n, generator=g) < share).long()
    out = {}
    for name, gap in (("weak", 0.5), ("strong", 2.0)):
        metric = AnomalyMetric(200, (0.0, 10.0), 255, "pooled")
        metric.update((torch.randn(n, generator=g) + gap * labels + 5).clamp(0, 9.99), labels)
        out[name] = curve_points(metric) | metric.compute()
    return out


def _points_only(curves: dict[str, dict]) -> dict[str, dict]:
    return {
        s: {k: c[k] for k in ("threshold", "tpr", "fpr", "precision")} for s, c in curves.items()
    }


def _assert_legend_off_the_data(fig) -> None:
    fig.canvas.draw()
    ax = fig.axes[0]
    legend = ax.get_legend()
    assert legend is not None
    box, axes_box = legend.get_window_extent(), ax.get_window_extent()
    assert not box.overlaps(axes_box), (box, axes_box)
    # a tight-bbox save keeps the whole legend
    assert fig.get_tightbbox().contains(*fig.dpi_scale_trans.inverted().transform(box.p1))


def _legend_texts(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def _horizontal_lines(ax, y: float) -> list:
    return [
        line
        for line in ax.get_lines()
        if len(line.get_ydata()) and np.allclose(np.asarray(line.get_ydata(), float), y)
    ]


@pytest.mark.parametrize("plot", [pr_curves, roc_curves])
def test_legend_sits_outside_the_axes_and_survives_a_tight_save(plot, tmp_path: Path) -> None:
    fig = plot(_curves())
    _assert_legend_off_the_data(fig)
    assert save_figure(fig, tmp_path / "fig.png").stat().st_size > 0


def test_pr_baseline_at_the_anomaly_share_from_the_pooled_counts() -> None:
    curves = _curves()
    share = curves["weak"]["n_anomaly"] / curves["weak"]["n_pixels"]
    ax = pr_curves(curves).axes[0]
    (line,) = _horizontal_lines(ax, share)
    assert "anomaly share" in line.get_label() and "random" in line.get_label()
    assert line.get_label() in _legend_texts(ax)
    assert any(t.startswith("strong (AP ") for t in _legend_texts(ax))


def test_pr_baseline_derived_from_the_last_curve_point_without_counts() -> None:
    curves = _curves()
    share = curves["weak"]["n_anomaly"] / curves["weak"]["n_pixels"]
    ax = pr_curves(_points_only(curves)).axes[0]
    (line,) = _horizontal_lines(ax, share)
    assert "anomaly share" in line.get_label()


def test_pr_explicit_anomaly_share_wins_and_missing_share_draws_no_baseline() -> None:
    ax = pr_curves(_curves(), anomaly_share=0.25).axes[0]
    assert len(_horizontal_lines(ax, 0.25)) == 1
    truncated = {
        "s": {
            "tpr": np.array([0.0, 0.5]),
            "fpr": np.array([0.0, 0.2]),
            "precision": np.array([1.0, 0.6]),
        }
    }
    ax = pr_curves(truncated, "a title").axes[0]
    assert not any("anomaly share" in line.get_label() for line in ax.get_lines())
    assert ax.get_title() == "a title"


def test_pr_differing_shares_get_one_baseline_each() -> None:
    curves = _curves()
    curves["weak"] = curves["weak"] | {"n_anomaly": 10, "n_pixels": 100}
    ax = pr_curves(curves).axes[0]
    assert len(_horizontal_lines(ax, 0.1)) == 1
    labels = [line.get_label() for line in ax.get_lines() if "anomaly share" in line.get_label()]
    assert len(labels) == 2 and any(lab.startswith("weak") for lab in labels)


@pytest.mark.parametrize("log_fpr", [False, True])
def test_roc_has_a_labelled_tpr_095_line(log_fpr: bool) -> None:
    ax = roc_curves(_curves(), log_fpr=log_fpr).axes[0]
    (line,) = _horizontal_lines(ax, 0.95)
    assert line.get_label() == "TPR 0.95 (FPR95)"
    assert "TPR 0.95 (FPR95)" in _legend_texts(ax)
    assert any(t.startswith("strong (FPR95 ") for t in _legend_texts(ax))


def test_roc_log_fpr_axis_drops_zero_and_starts_above_it() -> None:
    curves = _curves()
    linear = roc_curves(curves).axes[0]
    assert linear.get_xscale() == "linear" and linear.get_xlim() == (0.0, 1.0)
    fig = roc_curves(curves, log_fpr=True)
    fig.canvas.draw()
    ax = fig.axes[0]
    low, high = ax.get_xlim()
    assert ax.get_xscale() == "log" and 1e-6 <= low <= 1e-4 and high == 1.0
    for line in ax.get_lines():
        if line.get_label() == "TPR 0.95 (FPR95)":
            continue  # axhline: x in axes coordinates
        x = np.asarray(line.get_xdata(), float)
        assert x.size == 0 or x.min() > 0
    assert all(t.get_text() not in ("0", "$\\mathdefault{0}$") for t in ax.get_xticklabels())
    _assert_legend_off_the_data(fig)


def test_roc_log_fpr_limit_follows_the_smallest_positive_fpr() -> None:
    c = {"tpr": np.array([0.0, 0.3, 1.0]), "fpr": np.array([0.0, 3e-3, 1.0])}
    assert roc_curves({"s": c}, log_fpr=True).axes[0].get_xlim()[0] == pytest.approx(1e-4)
    c = {"tpr": np.array([0.0, 0.3, 1.0]), "fpr": np.array([0.0, 3e-9, 1.0])}
    assert roc_curves({"s": c}, log_fpr=True).axes[0].get_xlim()[0] == pytest.approx(1e-6)
    c = {"tpr": np.array([0.0, 0.3, 1.0]), "fpr": np.array([0.0, 2e-5, 1.0])}
    assert roc_curves({"s": c}, log_fpr=True).axes[0].get_xlim()[0] == pytest.approx(1e-5)


def test_the_same_figure_saved_twice_is_the_same_file(tmp_path):
    fig, ax = plt.subplots()
    ax.plot([0, 1, 2], [1.0, 0.5, 0.25], label="loss")
    ax.legend()
    first = {fmt: (tmp_path / "a").with_suffix(f".{fmt}") for fmt in ("png", "svg", "pdf")}
    save_figure(fig, tmp_path / "a.png", formats=("png", "svg", "pdf"))
    save_figure(fig, tmp_path / "b.png", formats=("png", "svg", "pdf"))  # later: another second
    for fmt, path in first.items():
        assert path.read_bytes() == path.with_name(f"b.{fmt}").read_bytes(), fmt
    assert b"<dc:date>" not in first["svg"].read_bytes()
    plt.close(fig)
