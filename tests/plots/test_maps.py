"""Map grids and Δ panels a reader can read: the image with the unknown objects outlined, whole row
labels, titles of at least 8 pt at any number of columns, one colour scale, tick labels of
neighbouring panels apart; figures saved as PNG and SVG."""

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")

from owslib.plots import map_grid, save_figure  # noqa: E402
from owslib.plots.maps import PAGE_IN, map_rows  # noqa: E402
from owslib.study.figures import delta_figure  # noqa: E402

NAME = "falkenried_000000_000019"


def _texts(fig):
    return [
        t for ax in fig.axes for t in (ax.title, ax.xaxis.label, ax.yaxis.label) if t.get_text()
    ]


@pytest.mark.parametrize("n_columns", [2, 8])
def test_map_rows_outline_unknowns_and_keep_labels_whole_and_readable(n_columns):
    mask = np.zeros((8, 16), bool)
    mask[2:5, 4:9] = True
    columns = [f"variant_with_a_long_name_{i}" for i in range(n_columns)]
    row = {
        "name": NAME,
        "image": np.zeros((8, 16, 3), np.uint8),
        "unknown_mask": mask,
        "maps": {c: np.random.default_rng(i).random((8, 16)) for i, c in enumerate(columns)},
    }
    fig = map_rows(
        [row, {**row, "name": "b"}],
        columns,
        scorer="fused",
        value_range=(0, 1),
        notes={(0, columns[0]): "AUPR 0.500"},
    )
    axes = fig.axes[: 2 * (n_columns + 1)]
    assert axes[0].xaxis.label.get_text().replace("\n", "") == NAME  # not cut
    assert axes[0].get_title().replace("\n", " ") == "image, unknown outlined"
    assert all(len(ax.collections) >= 1 for ax in axes), "the unknown object outlined everywhere"
    assert min(t.get_fontsize() for t in _texts(fig)) >= 8
    maps = axes[1 : n_columns + 1]  # the first row's maps: one colour scale
    assert {(ax.images[0].norm.vmin, ax.images[0].norm.vmax) for ax in maps} == {(0.0, 1.0)}
    assert axes[1].get_xlabel() == "AUPR 0.500"
    frames = [{**row, "target_kind": "anomaly"}]  # an anomaly set's frame: its mask, the anomalies
    titled = map_rows(frames, columns, scorer="fused", value_range=(0, 1)).axes[0].get_title()
    assert titled.replace("\n", " ") == "image, anomalies outlined"
    # legible at 100 % zoom: a page shows the figure at most PAGE_IN wide, so every label keeps
    # at least 11 px there (8 pt at 120 dpi on a figure the page does not shrink)
    shrink = min(1.0, PAGE_IN / fig.get_figwidth())
    assert min(t.get_fontsize() for t in _texts(fig)) * 120 / 72 * shrink >= 11


def test_map_grid_titles_and_colourbar_ticks_are_at_least_8_pt():
    maps = {f"scorer_{i}": np.random.default_rng(i).random((8, 8)) for i in range(7)}
    fig = map_grid(np.zeros((8, 8, 3), np.uint8), maps, unknown_mask=np.eye(8, dtype=bool))
    assert min(t.get_fontsize() for t in _texts(fig)) >= 8
    ticks = [t for ax in fig.axes for t in ax.get_yticklabels() if t.get_text()]
    assert ticks and min(t.get_fontsize() for t in ticks) >= 8


def test_delta_panels_keep_their_labels_apart():
    rows = []
    for v, shift in (("baseline", 0.0), ("variant_with_a_long_name", -0.004), ("other", 0.06)):
        for s in range(3):
            for m, sc, a in (
                ("miou", "", ""),
                ("aupr", "fused", "pooled"),
                ("fpr95", "fused", "pooled"),
                ("auroc", "fused", "pooled"),
            ):
                rows.append(
                    dict(
                        variant=v,
                        seed=s,
                        metric=m,
                        scorer=sc,
                        aggregation=a,
                        value=0.5 + shift + 0.013 * s * (v != "baseline"),
                    )
                )
    labels = ["miou", "aupr/fused/pooled", "fpr95/fused/pooled", "auroc/fused/pooled"]
    fig = delta_figure(pd.DataFrame(rows), labels)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [ax.get_tightbbox(renderer) for ax in fig.axes]
    for left, right in zip(boxes[:-1], boxes[1:], strict=True):
        assert right.x0 - left.x1 > 5, "tick or axis labels of neighbouring panels touch"
    assert [ax.get_title() for ax in fig.axes] == [
        "miou",
        "aupr (fused, pooled)",
        "fpr95 (fused, pooled)",
        "auroc (fused, pooled)",
    ]


def test_a_figure_is_saved_as_png_and_svg(tmp_path):
    fig = map_grid(
        np.zeros((8, 8, 3), np.uint8), {"fused": np.random.default_rng(0).random((8, 8))}
    )
    path = save_figure(fig, tmp_path / "maps.png", formats=("png", "svg"))
    assert path == tmp_path / "maps.png" and path.read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "maps.svg").read_text().lstrip().startswith("<?xml")
