"""How the notebooks' tables write numbers: no "-0.000", ✱ on intervals that exclude 0, short
headers with the conventions in a footnote, a σ that rounds to zero as its bound, a value shared by
every row said once above the table, "?" explained."""

import pandas as pd
import pytest

from owslib import comparison, notebook
from owslib.study.results import _delta, format_pm, format_sigma, reader_table, short_label


def _row(delta, lo, hi, significant=False):
    return pd.Series({"delta": delta, "delta_lo": lo, "delta_hi": hi, "significant": significant})


@pytest.mark.parametrize(
    ("value", "expected"),
    [(-0.0001, "0.000 ± 0.010"), (-0.0, "0.000 ± 0.010"), (0.4996, "0.500 ± 0.010")],
)
def test_a_mean_that_rounds_to_zero_has_no_minus_sign(value, expected):
    assert format_pm(value, 0.01) == expected
    assert format_pm(0.5, -0.0001) == "0.500 ± 0.000"


def test_a_delta_that_rounds_to_zero_reads_plus_zero():
    assert _delta(_row(-0.0001, -0.01, 0.01)) == "+0.000 [-0.010, +0.010]"
    assert _delta(_row(-0.0001, -0.0004, 0.0003)) == "+0.000 [+0.000, +0.000]"
    assert "-0.000" not in _delta(_row(-0.0004, -0.0004, 0.0002), mark=True)


def test_an_interval_that_excludes_zero_is_marked_and_never_printed_as_reaching_it():
    assert _delta(_row(0.02, 0.01, 0.03, True), mark=True) == "+0.020 [+0.010, +0.030] ✱"
    assert _delta(_row(0.02, 0.01, 0.03, True)) == "+0.020 [+0.010, +0.030]"  # sentences: unmarked
    assert _delta(_row(0.02, -0.01, 0.05, False), mark=True) == "+0.020 [-0.010, +0.050]"
    # an interval [-0.0006, -0.0004] is not "[-0.001, +0.000]": more decimals where needed
    assert (
        _delta(_row(-0.0005, -0.0006, -0.0004, True), mark=True) == "-0.0005 [-0.0006, -0.0004] ✱"
    )


def test_a_sigma_that_rounds_to_zero_reads_as_its_bound():
    assert format_sigma(0.0001) == "< 0.0005" and format_sigma(0.0) == "< 0.0005"
    assert format_sigma(0.0123) == "0.012" and format_sigma(float("nan")) == "n/a"


def test_headers_are_short_and_the_conventions_are_in_the_footnote():
    long = pd.DataFrame(
        [
            dict(
                variant=v,
                seed=s,
                metric=m,
                scorer=sc,
                aggregation=a,
                value=x + (0.05 + 0.002 * s * s if v == "b" else 0) + 0.01 * s,
            )
            for v in ("base", "b")
            for s in (0, 1, 2)
            for m, sc, a, x in (
                ("miou", "", "", 0.5),
                ("aupr", "fused", "pooled", 0.2),
                ("aupr", "gaussian", "per_image", 0.1),
            )
        ]
    )
    summary = comparison.summarise(long, baseline="base")
    table, note = reader_table(summary, ["miou", "aupr/fused/pooled"], baseline="base", n_seeds=3)
    assert list(table.columns) == ["variant", "miou", "miou Δ", "aupr", "aupr Δ"]
    assert table.loc[1, "aupr Δ"].endswith("✱") and table.loc[0, "aupr Δ"] == "—"
    assert (
        "Δ = variant − `base`" in note and "aupr: fused scorer, pooled over all test pixels" in note
    )
    mixed, note = reader_table(
        summary, ["aupr/fused/pooled", "aupr/gaussian/per_image"], baseline="base", n_seeds=3
    )
    assert list(mixed.columns)[1:] == [
        "aupr (fused, pooled)",
        "aupr (fused, pooled) Δ",
        "aupr (gaussian, per_image)",
        "aupr (gaussian, per_image) Δ",
    ]
    assert (
        short_label("fpr95/fused/pooled") == "fpr95 (fused, pooled)"
        and short_label("miou") == "miou"
    )


def test_a_value_in_every_row_is_said_once_above_the_table(monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda *o, **k: shown.extend(o))
    table = pd.DataFrame(
        {"variant": ["a", "b"], "seed": [0, 0], "cpu": ["EPYC", "EPYC"], "threads": ["?", "1"]}
    )
    notebook.show_table(table, "a note", compact=True)
    text = shown[0].data
    assert text.startswith("In every row: seed `0`; cpu `EPYC`.\n\n| variant   | threads ")
    assert "EPYC |" not in text and text.endswith("a note")


def test_setups_explain_an_unrecorded_value():
    setups = pd.DataFrame(
        [
            {
                "variant": "base",
                "seed": 0,
                "encoder": "e",
                "cpu": "EPYC",
                "isa": "AVX2",
                "threads": "?",
                "device": "cpu",
            },
            {
                "variant": "b",
                "seed": 0,
                "encoder": "e",
                "cpu": "EPYC",
                "isa": "AVX2",
                "threads": "1",
                "device": "cpu",
            },
        ]
    )
    note = notebook.setup_note(setups, "base")
    assert "“?” under threads: not recorded, the run's run.json predates that field." in note
