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
    assert (
        ax.get_legend() is None and "no finished run records train_hard" in ax.texts[0].get_text()
    )
    plt.close(fig)
    fig = curves_figure(histories, "loss")
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["baseline"]
    plt.close(fig)


def test_the_forest_plot_draws_questions_with_every_seed_done_and_says_which_wait_for_holm():
    from owslib.study.figures import forest_figure

    base = {
        "arm": "a",
        "comparator": "b",
        "endpoint": "miou",
        "n_pairs": 14,
        "margin": 0.02,
        "mean": 0.01,
        "lo": 0.0,
        "hi": 0.02,
    }
    table = pd.DataFrame(
        [
            base | {"question": "Q1", "status": "analysed", "verdict": "better"},
            base | {"question": "Q2", "status": "holm_waits", "verdict": None},
            base | {"question": "Q3", "status": "5 of 14 confirming seeds done", "verdict": None},
        ]
    )
    fig = forest_figure(table)
    titles = [ax.get_title(loc="left") for ax in fig.axes]
    assert len(titles) == 2 and titles[0].startswith("Q1") and titles[0].endswith(": better")
    assert titles[1].endswith("no verdict until Holm has all")  # an interim Q3 is not drawn
    assert "thin bar 95 % interval, thick bar 90 % interval (TOST)" in fig.axes[-1].get_xlabel()
    assert not [ln for ln in fig.axes[0].lines if ln.get_linewidth() == 4]  # no TOST interval
    plt.close(fig)
    table["tost_lo"], table["tost_hi"], table["alpha"] = 0.004, 0.016, 0.05
    fig = forest_figure(table)
    (thick,) = [ln for ln in fig.axes[0].lines if ln.get_linewidth() == 4]
    assert list(thick.get_xdata()) == [0.004, 0.016]
    assert not [ln for ln in fig.axes[0].lines if ln.get_gid() == "seeds"]  # no seeds given
    plt.close(fig)
    table["notebook"] = ["nb1", "nb2", "nb3"]
    fig = forest_figure(table, {"nb1": [0.03, -0.01, 0.01], "nb3": [0.5]})
    (seeds,) = [ln for ln in fig.axes[0].lines if ln.get_gid() == "seeds"]
    assert list(seeds.get_xdata()) == [0.03, -0.01, 0.01]  # each seed's difference, as given
    assert not [ln for ln in fig.axes[1].lines if ln.get_gid() == "seeds"]  # nb2: none given
    assert fig.axes[-1].get_xlabel().endswith("ticks below: each seed")
    plt.close(fig)
    fig = forest_figure(table, {"nb3": [0.5]})  # seeds only for a question not drawn: no mention
    assert not fig.axes[-1].get_xlabel().endswith("ticks below: each seed")
    plt.close(fig)
    assert forest_figure(table.iloc[2:]) is None
