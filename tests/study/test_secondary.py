"""The statements that come with each answer: BH over distinct hypotheses, power at a given SD,
the one-sided bound of an SD, the secondary endpoints and the spread over test images."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from owslib import stats
from owslib.study.answers import with_distinct_q
from owslib.study.confirm import Question
from owslib.study.secondary import image_spread, moved, secondary_effects


def test_bh_counts_a_hypothesis_once_when_two_scorers_give_the_same_numbers():
    # three hypotheses, one reported twice (gaussian = gaussian_per_dim): the family is 3, not 4
    ex = pd.DataFrame(
        {
            "notebook": ["a"] * 4,
            "variant": ["v"] * 4,
            "metric": ["aupr"] * 4,
            "scorer": ["gaussian", "gaussian_per_dim", "fused", "entropy"],
            "aggregation": ["pooled"] * 4,
            "mean": [0.1, 0.1, 0.2, 0.3],
            "p": [0.01, 0.01, 0.02, 0.04],
        }
    )
    out = with_distinct_q(ex)
    assert out.attrs["family"] == 3
    # by hand: sorted p 0.01, 0.02, 0.04 → 0.01·3/1 = 0.03, 0.02·3/2 = 0.03, 0.04·3/3 = 0.04
    assert np.allclose(out["q_bh"], [0.03, 0.03, 0.03, 0.04])
    assert out["distinct"].tolist() == [True, False, True, True]
    # with the duplicate counted twice the q-values would be smaller: 0.02·4/3 < 0.03
    assert stats.benjamini_hochberg([0.01, 0.01, 0.02, 0.04])[2] < 0.03


def test_power_at_a_given_sd_and_the_one_sided_bound_of_an_sd():
    from scipy import stats as sps

    # paired t power by hand: noncentral t with 13 df, nc = 0.03 / 0.037 · √14, at α/4 two-sided
    nc, crit = 0.03 / 0.037 * np.sqrt(14), sps.t.ppf(1 - 0.0125 / 2, 13)
    by_hand = sps.nct.sf(crit, 13, nc) + sps.nct.cdf(-crit, 13, nc)
    assert abs(stats.paired_t_power(0.03, 0.037, 14, 0.0125) - by_hand) < 1e-12
    assert round(100 * by_hand) == 57
    # an SD from 3 values (2 df): one-sided 95 % upper bound √(2 / χ²₀.₀₅(2)) = √(2 / 0.1026) = 4.41×
    assert stats.sd_upper_bound(1.0, 3) == pytest.approx(4.415, abs=1e-3)
    assert stats.sd_upper_bound(1.0, 3, one_sided=False) == pytest.approx(6.285, abs=1e-3)


def _long(values: dict[tuple[str, str], list[float]]) -> pd.DataFrame:
    rows = []
    for (variant, endpoint), vals in values.items():
        metric, scorer, agg = (endpoint.split("/") + ["", ""])[:3]
        for seed, v in enumerate(vals):
            rows.append(
                dict(
                    variant=variant,
                    seed=seed,
                    metric=metric,
                    scorer=scorer,
                    aggregation=agg,
                    value=v,
                    fingerprint="f",
                )
            )
    return pd.DataFrame(rows)


def test_the_secondary_endpoints_show_a_trade_off_the_primary_one_is_silent_on():
    q = Question("04_infonce", "aupr/fused/pooled", 0.03)
    long = _long(
        {
            ("arm", "aupr/fused/pooled"): [0.21, 0.19, 0.22, 0.20],
            ("base", "aupr/fused/pooled"): [0.20, 0.20, 0.20, 0.20],
            ("arm", "miou"): [0.49, 0.48, 0.50, 0.49],
            ("base", "miou"): [0.50, 0.50, 0.51, 0.50],
        }
    )
    sec = secondary_effects(long, q, "arm", "base", (0, 1, 2, 3))
    assert sec["endpoint"].tolist() == ["aupr/fused/pooled", "miou"]
    miou = sec.set_index("endpoint").loc["miou"]
    assert miou["n_higher"] == 0 and miou["mean"] == pytest.approx(-0.0125)
    assert moved(sec).startswith("mIoU −0.013 [") and moved(sec).endswith("lower on 4/4 seeds")


def test_the_spread_over_test_images_beside_the_spread_over_seeds(tmp_path):
    # d[s, i] = arm − comparator; image means vary, seed means do not: a large ratio
    d = np.array([[0.1, -0.1, 0.2], [0.1, -0.1, 0.2], [0.12, -0.1, 0.19]])
    dirs = []
    for s, row in enumerate(d):
        a, b = tmp_path / f"a{s}", tmp_path / f"b{s}"
        for folder, vals in ((a, row), (b, np.zeros(3))):
            folder.mkdir()
            pd.DataFrame({"image": list("xyz"), "fused_aupr": vals}).to_csv(
                folder / "per_image.csv", index=False
            )
        dirs.append((a, b))
    got = image_spread(dirs)
    assert got["var_images"] == pytest.approx(d.mean(0).var(ddof=1) / 3)
    assert got["var_seeds"] == pytest.approx(d.mean(1).var(ddof=1) / 3)
    assert got["ratio"] > 100 and got["n_images"] == 3
