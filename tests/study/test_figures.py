"""The study's comparison figures with few runs: a term no finished run records yet."""

from __future__ import annotations

import warnings

import matplotlib.pyplot as plt
import pandas as pd

from owslib.study.figures import curves_figure


def test_curves_of_a_term_no_run_records_say_so_without_a_warning():
    histories = {"baseline": pd.DataFrame({"epoch": [0, 1], "train_loss": [1.0, 0.5]})}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib's "No artists with labels" would raise
        fig = curves_figure(histories, "hard")
    (ax,) = fig.axes
    assert ax.get_legend() is None and "no finished run records train_hard" in ax.texts[0].get_text()
    plt.close(fig)
    fig = curves_figure(histories, "loss")
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["baseline"]
    plt.close(fig)
