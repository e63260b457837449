"""Notebook 01's figures drawn again from a committed run's files (no model, no checkpoint) and
saved beside the rendered notebook as PNG and SVG."""

import dataclasses

import matplotlib
import pytest

matplotlib.use("Agg")

from owslib import notebook  # noqa: E402
from owslib.runs.run import FIGURES  # noqa: E402


@pytest.fixture(scope="module")
def nb_run(tmp_path_factory):
    nb = notebook.setup({"profile": "quick"}, "01_baseline_contmav")
    nb = dataclasses.replace(nb, out_dir=tmp_path_factory.mktemp("01"))
    nb.ensure_runs(train_missing=False)
    return nb, nb.runs[nb.baseline, nb.study.seeds[0]]


def test_every_run_figure_is_drawn_again_and_saved_as_png_and_svg(nb_run, monkeypatch):
    nb, run = nb_run
    shown = []
    monkeypatch.setattr(
        "owslib.notebook.figures.show_image", lambda path, **kw: shown.append((path, kw))
    )
    for name in FIGURES:
        path = nb.run_figure(run, name, photo=name in ("qualitative", "scorers_side_by_side"))
        assert path.parent == nb.out_dir and path.with_suffix(".svg").is_file(), name
    assert all(kw["alt"].startswith(notebook.RUN_FIGURE_ALT[p.stem][:20]) for p, kw in shown)
