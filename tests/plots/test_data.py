"""Data-prep sample grids a reader can read: every panel titled, a colour key naming the classes."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest

from owslib.data.summary import DatasetSummary, check_dataset
from owslib.plots import sample_grid, save_figure

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def embedded(smoke_root: Path) -> DatasetSummary:
    return check_dataset(smoke_root, "embedded")


def _names_shown(s: DatasetSummary, split: str, n: int) -> tuple[set[str], set[str]]:
    """Class names present in the first ``n`` labels of ``split``, and the unknown ones."""
    values = np.unique(np.concatenate([s.load_sample(split, i)[1].ravel() for i in range(n)]))
    rows = s.pixels.drop_duplicates("label").set_index("label")
    names = {rows.loc[v, "class"] for v in values}
    return names, {rows.loc[v, "class"] for v in values if v in s.unknown_ids}


def test_every_panel_is_titled_with_split_file_and_content(embedded: DatasetSummary) -> None:
    fig = sample_grid(embedded, 1)
    assert len(fig.axes) == 3 * len(embedded.samples)
    for ax, (split, what) in zip(
        fig.axes,
        [(sp, w) for sp in embedded.samples for w in ("image", "labels", "known/unknown mask")],
        strict=True,
    ):
        title = ax.get_title()
        assert title.strip()
        assert split in title and embedded.samples[split][0][0].name in title and what in title
    assert fig.get_suptitle()


def test_colour_key_names_the_classes_shown_and_marks_the_unknown(
    embedded: DatasetSummary, tmp_path: Path
) -> None:
    n = len(embedded.samples["test"])
    fig = sample_grid(embedded, n, splits=["test"])
    (legend,) = fig.legends
    texts = {t.get_text() for t in legend.get_texts()}
    names, unknown = _names_shown(embedded, "test", n)
    assert unknown, "the embedded test split holds unknown classes"
    assert texts == {f"{c} (unknown)" if c in unknown else c for c in names}
    fig.canvas.draw()
    box = legend.get_window_extent()
    assert not any(box.overlaps(ax.get_window_extent()) for ax in fig.axes)
    assert save_figure(fig, tmp_path / "grid.png").stat().st_size > 0


def test_unlabelled_samples_are_titled_and_need_no_key(embedded: DatasetSummary) -> None:
    image = embedded.samples["test"][0][0]
    fig = sample_grid(dataclasses.replace(embedded, samples={"test": [(image, None)]}))
    assert not fig.legends
    assert all(ax.get_title().strip() for ax in fig.axes)
    assert "none" in fig.axes[1].get_title()


def test_an_empty_summary_still_draws(embedded: DatasetSummary) -> None:
    fig = sample_grid(dataclasses.replace(embedded, samples={}))
    assert fig.axes and not fig.legends
