"""Paired seed comparison: t intervals against hand-computed values and scipy, pairing, tables."""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from owslib import comparison
from owslib.comparison import (
    LONG_COLUMNS,
    LOWER_IS_BETTER,
    better_direction,
    format_table,
    noise_floor,
    paired_differences,
    summarise,
    table_footnote,
)
from owslib.stats import t_interval

T_2_975 = 4.302652729911275  # t_{2, 0.975}


def _long(values: dict[tuple[str, str, str, str], dict[int, float]]) -> pd.DataFrame:
    """{(variant, metric, scorer, aggregation): {seed: value}} -> long table."""
    rows = [(v, s, m, sc, ag, x) for (v, m, sc, ag), d in values.items() for s, x in d.items()]
    return pd.DataFrame(rows, columns=list(LONG_COLUMNS))


@pytest.fixture()
def long() -> pd.DataFrame:
    """Baseline, a (not significant on mIoU, better on fpr95), b (better mIoU, worse fpr95)."""
    return _long(
        {
            ("baseline", "miou", "", ""): {0: 0.50, 1: 0.52, 2: 0.51},
            ("baseline", "fpr95", "fused", "pooled"): {0: 0.10, 1: 0.12, 2: 0.11},
            ("a", "miou", "", ""): {0: 0.51, 1: 0.55, 2: 0.53},  # diffs .01 .03 .02
            ("a", "fpr95", "fused", "pooled"): {0: 0.05, 1: 0.08, 2: 0.06},  # -.05 -.04 -.05
            ("b", "miou", "", ""): {0: 0.55, 1: 0.58, 2: 0.56},  # .05 .06 .05
            ("b", "fpr95", "fused", "pooled"): {0: 0.15, 1: 0.18, 2: 0.16},  # .05 .06 .05
        }
    )


def _row(summary: pd.DataFrame, variant: str, metric: str) -> pd.Series:
    hit = summary[(summary["variant"] == variant) & (summary["metric"] == metric)]
    assert len(hit) == 1
    return hit.iloc[0]


def test_t_interval_hand_computed() -> None:
    mean, lo, hi = t_interval([0.01, 0.03, 0.02])
    half = T_2_975 * 0.01 / math.sqrt(3)
    assert half == pytest.approx(0.024841, abs=1e-6)
    assert (mean, lo, hi) == pytest.approx((0.02, 0.02 - half, 0.02 + half), abs=1e-12)


def test_t_interval_matches_ttest_rel() -> None:
    rng = np.random.default_rng(0)
    base = rng.normal(0.5, 0.02, size=5)
    var = base + rng.normal(0.01, 0.01, size=5)
    res = stats.ttest_rel(var, base)
    if not hasattr(res, "confidence_interval"):
        pytest.skip("scipy too old for TtestResult.confidence_interval")
    for conf in (0.9, 0.95, 0.99):
        ci = res.confidence_interval(confidence_level=conf)
        mean, lo, hi = t_interval(var - base, confidence=conf)
        assert mean == pytest.approx(float(np.mean(var - base)))
        assert (lo, hi) == pytest.approx((ci.low, ci.high), rel=1e-10)


def test_t_interval_small_n_and_bad_confidence() -> None:
    mean, lo, hi = t_interval([0.04])
    assert mean == pytest.approx(0.04) and math.isnan(lo) and math.isnan(hi)
    assert all(math.isnan(x) for x in t_interval([]))
    with pytest.raises(ValueError, match="confidence"):
        t_interval([0.1, 0.2], confidence=95)


def test_better_direction() -> None:
    assert "fpr95" in LOWER_IS_BETTER
    assert better_direction("fpr95") == "lower"
    assert better_direction("miou") == better_direction("aupr") == "higher"


def test_summarise_hand_computed(long: pd.DataFrame) -> None:
    s = summarise(long)
    base = _row(s, "baseline", "miou")
    assert (base["mean"], base["std"], base["n"]) == pytest.approx((0.51, 0.01, 3))
    assert math.isnan(base["delta"]) and base["n_pairs"] == 0 and base["better"] is None
    assert not base["significant"]

    a = _row(s, "a", "miou")
    half = T_2_975 * 0.01 / math.sqrt(3)
    assert (a["mean"], a["std"], a["n"]) == pytest.approx((0.53, 0.02, 3))
    assert (a["delta"], a["delta_lo"], a["delta_hi"]) == pytest.approx(
        (0.02, 0.02 - half, 0.02 + half)
    )
    assert a["n_pairs"] == 3 and a["n_unpaired"] == 0
    assert a["delta_sd"] == pytest.approx(0.01)  # SD of .01 .03 .02, not a's σ (0.02)
    assert math.isnan(base["delta_sd"])
    assert not a["significant"] and a["better"] is None  # interval [-0.0048, 0.0448] holds 0
    assert a["per_seed"] == "0:0.510 1:0.550 2:0.530"

    b = _row(s, "b", "miou")
    sd = float(np.std([0.05, 0.06, 0.05], ddof=1))
    assert b["delta"] == pytest.approx(0.16 / 3)
    assert b["delta_lo"] == pytest.approx(0.16 / 3 - T_2_975 * sd / math.sqrt(3))
    assert b["significant"] and b["better"] is True


def test_lower_is_better_for_fpr95(long: pd.DataFrame) -> None:
    s = summarise(long)
    a, b = _row(s, "a", "fpr95"), _row(s, "b", "fpr95")
    assert a["delta"] < 0 and a["significant"] and a["better"] is True
    assert b["delta"] > 0 and b["significant"] and b["better"] is False
    assert (a["scorer"], a["aggregation"]) == ("fused", "pooled")


def test_pairing_by_seed_with_shuffled_rows_and_missing_seed(long: pd.DataFrame) -> None:
    missing = (long["variant"] == "a") & (long["metric"] == "miou") & (long["seed"] == 1)
    shuffled = long[~missing].sample(frac=1.0, random_state=3).reset_index(drop=True)
    d = paired_differences(shuffled)
    am = d[(d["variant"] == "a") & (d["metric"] == "miou")]
    assert am["seed"].tolist() == [0, 2]
    assert am["diff"].to_numpy() == pytest.approx([0.01, 0.02])
    assert (am["n_unpaired"] == 1).all()
    assert set(d["variant"]) == {"a", "b"}  # the baseline is not paired with itself

    row = _row(summarise(shuffled), "a", "miou")
    assert (row["n_pairs"], row["n_unpaired"], row["n"]) == (2, 1, 2)
    assert row["delta"] == pytest.approx(0.015)
    assert row["per_seed"] == "0:0.510 2:0.530"


def test_row_order_does_not_matter_and_baseline_comes_first(long: pd.DataFrame) -> None:
    ordered = summarise(long)
    shuffled = summarise(long.iloc[::-1].reset_index(drop=True))
    assert shuffled["variant"].tolist()[:2] == ["baseline", "baseline"]
    assert list(pd.unique(shuffled["variant"])) == ["baseline", "b", "a"]  # b is seen first
    key = ["variant", "metric"]
    pd.testing.assert_frame_equal(
        ordered.sort_values(key).reset_index(drop=True),
        shuffled.sort_values(key).reset_index(drop=True),
    )


def test_single_pair_has_no_interval() -> None:
    long = _long(
        {
            ("baseline", "aupr", "msp", "per_image"): {0: 0.4},
            ("x", "aupr", "msp", "per_image"): {0: 0.45},
        }
    )
    row = _row(summarise(long), "x", "aupr")
    assert row["delta"] == pytest.approx(0.05) and row["n_pairs"] == 1
    assert math.isnan(row["delta_lo"]) and math.isnan(row["std"])
    assert not row["significant"] and row["better"] is None


def test_variant_without_common_seed() -> None:
    long = _long({("baseline", "miou", "", ""): {0: 0.5, 1: 0.6}, ("x", "miou", "", ""): {2: 0.7}})
    assert paired_differences(long).empty
    row = _row(summarise(long), "x", "miou")
    assert row["n_pairs"] == 0 and row["n_unpaired"] == 3 and math.isnan(row["delta"])


def test_validation_errors(long: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match=r"missing columns \['scorer', 'value'\]"):
        summarise(long.drop(columns=["scorer", "value"]))
    with pytest.raises(ValueError, match=r"duplicate.*variant='a', seed=0, metric='miou'"):
        summarise(pd.concat([long, long[(long["variant"] == "a")].iloc[:1]]))
    with pytest.raises(ValueError, match="'control'"):
        paired_differences(long, baseline="control")
    with pytest.raises(ValueError, match="seeds must be integers"):
        noise_floor(long.assign(seed=long["seed"] + 0.5))


def test_csv_round_trip_empty_scorer(long: pd.DataFrame) -> None:
    back = pd.read_csv(io.StringIO(long.to_csv(index=False)))  # "" comes back as NaN
    assert back["scorer"].isna().any()
    pd.testing.assert_frame_equal(summarise(back), summarise(long), check_dtype=False)


def test_nan_values_are_dropped_with_a_warning(
    long: pd.DataFrame, caplog: pytest.LogCaptureFixture
) -> None:
    long.loc[
        (long["variant"] == "a") & (long["metric"] == "miou") & (long["seed"] == 2), "value"
    ] = np.nan
    row = _row(summarise(long), "a", "miou")
    assert (row["n"], row["n_pairs"], row["n_unpaired"]) == (2, 2, 1)
    assert "NaN value" in caplog.text


def test_noise_floor(long: pd.DataFrame) -> None:
    nf = noise_floor(long)
    assert nf.columns.tolist() == ["metric", "scorer", "aggregation", "mean", "std", "n"]
    assert nf["metric"].tolist() == ["miou", "fpr95"]
    assert nf["std"].to_numpy() == pytest.approx([0.01, 0.01])


def test_format_table(long: pd.DataFrame) -> None:
    t = format_table(summarise(long), decimals=2)
    assert t.columns.tolist() == [
        "variant",
        "miou mean ± std",
        "miou Δ [lo, hi]",
        "fpr95/fused/pooled mean ± std",
        "fpr95/fused/pooled Δ [lo, hi]",
    ]
    assert isinstance(t.index, pd.RangeIndex) and t.index.tolist() == [0, 1, 2]
    assert t["variant"].tolist() == ["baseline", "a", "b"]
    assert t.loc[0, "miou mean ± std"] == "0.51 ± 0.01"
    assert t.loc[0, "miou Δ [lo, hi]"] == "—"
    assert t.loc[1, "miou Δ [lo, hi]"] == "+0.02 [-0.00, +0.04]"
    assert format_table(summarise(long), decimals=4).loc[1, "miou Δ [lo, hi]"] == (
        "+0.0200 [-0.0048, +0.0448]"
    )
    only = format_table(summarise(long), metrics=["fpr95"])
    assert only.columns.tolist()[1:] == [
        "fpr95/fused/pooled mean ± std",
        "fpr95/fused/pooled Δ [lo, hi]",
    ]
    with pytest.raises(ValueError, match="unknown metric 'auroc'"):
        format_table(summarise(long), metrics=["auroc"])


def test_format_table_single_seed_and_missing_metric() -> None:
    long = _long(
        {
            ("baseline", "miou", "", ""): {0: 0.5},
            ("baseline", "aupr", "", ""): {0: 0.3},
            ("x", "miou", "", ""): {0: 0.6},
        }
    )
    t = format_table(summarise(long))
    x = t[t["variant"] == "x"].iloc[0]
    assert x["miou mean ± std"] == "0.600 ± n/a"
    assert x["miou Δ [lo, hi]"] == "+0.100 [n/a]"
    assert x["aupr mean ± std"] == x["aupr Δ [lo, hi]"] == "—"


def test_empty_input() -> None:
    empty = pd.DataFrame(columns=list(LONG_COLUMNS))
    s = summarise(empty)
    assert s.empty and {"delta", "n_pairs", "better"} <= set(s.columns)
    assert paired_differences(empty).empty and noise_floor(empty).empty
    table = format_table(s)
    assert table.empty and table.columns.tolist() == ["variant"]
    assert format_table(s, metrics=["miou"]).columns.tolist() == [
        "variant",
        "miou mean ± std",
        "miou Δ [lo, hi]",
    ]


def test_table_footnote() -> None:
    assert table_footnote(0.95, 3) == (
        "mean ± std over 3 seeds; Δ = paired difference to the baseline at the same seeds, "
        "95 % Student-t interval on the per-seed differences (n−1 degrees of freedom)."
    )
    assert "90 % Student-t" in table_footnote(0.9, 5) and "over 5 seeds" in table_footnote(0.9, 5)


def test_identical_differences_are_not_significant() -> None:
    # 0.55 - 0.50, 0.57 - 0.52, 0.61 - 0.56: equal up to ~1e-17; the interval has zero width
    long = _long(
        {
            ("baseline", "miou", "", ""): {0: 0.50, 1: 0.52, 2: 0.56},
            ("x", "miou", "", ""): {0: 0.55, 1: 0.57, 2: 0.61},
        }
    )
    row = _row(summarise(long), "x", "miou")
    assert row["delta"] == pytest.approx(0.05) and row["n_pairs"] == 3
    assert row["delta_lo"] == row["delta_hi"] == row["delta"]
    assert not row["significant"] and row["better"] is None
    with pytest.raises(ValueError, match="confidence"):
        summarise(long, confidence=95)


def test_runs_of_different_setups_are_not_paired(caplog):
    """A seed whose variant and baseline runs carry different setup fingerprints is excluded,
    counted as unpaired and named in a warning; runs of one setup pair as before."""
    rows = []
    for seed, (fb, fv) in enumerate([("A", "A"), ("A", "A"), ("A", "B")]):
        rows += [
            dict(
                variant="baseline",
                seed=seed,
                metric="miou",
                scorer="",
                aggregation="",
                value=0.5 + 0.01 * seed,
                fingerprint=fb,
            ),
            dict(
                variant="focal",
                seed=seed,
                metric="miou",
                scorer="",
                aggregation="",
                value=0.6 + 0.02 * seed,
                fingerprint=fv,
            ),
        ]
    long = pd.DataFrame(rows)
    with caplog.at_level("WARNING"):
        pairs = comparison.paired_differences(long)
    assert sorted(pairs["seed"]) == [0, 1]  # seed 2 crosses setups
    assert set(pairs["n_unpaired"]) == {1}
    assert "focal seed 2 (setup B) is not paired with baseline (setup A)" in caplog.text
    same = comparison.paired_differences(long.assign(fingerprint="A"))
    assert sorted(same["seed"]) == [0, 1, 2]
    unrecorded = comparison.paired_differences(long.drop(columns="fingerprint"))
    assert sorted(unrecorded["seed"]) == [0, 1, 2]  # tables without fingerprints: as before
