"""Paired tests over seeds: t-test and TOST against scipy, Holm/BH by hand and against scipy,
verdicts, power against textbook values and Monte Carlo, and the edge cases (equal differences,
fewer than 2 pairs, missing seeds)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from scipy import stats

from owslib.stats import (
    PairedT,
    Tost,
    benjamini_hochberg,
    detectable_effect,
    holm,
    paired_t,
    paired_t_power,
    seeds_for_equivalence,
    seeds_for_power,
    tost,
    tost_power,
    verdict,
)

T_2_975 = 4.302652729911275  # t_{2, 0.975}


def _pair(seed: int, n: int, shift: float, noise: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    base = rng.normal(0.5, 0.02, size=n)
    return base + rng.normal(shift, noise, size=n), base


# --- paired t -------------------------------------------------------------------------------


def test_paired_t_hand_computed() -> None:
    r = paired_t([0.01, 0.03, 0.02])
    half = T_2_975 * 0.01 / math.sqrt(3)
    assert (r.mean, r.lo, r.hi, r.sd, r.n) == pytest.approx(
        (0.02, 0.02 - half, 0.02 + half, 0.01, 3)
    )
    t = 0.02 / (0.01 / math.sqrt(3))
    assert r.t == pytest.approx(t)
    assert r.p == pytest.approx(1.0 - t / math.sqrt(2.0 + t * t))  # two-sided p for 2 df
    assert not r.degenerate
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.p = 0.0  # type: ignore[misc]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("alpha", [0.01, 0.05, 0.1])
def test_paired_t_matches_scipy(seed: int, alpha: float) -> None:
    var, base = _pair(seed, 5, 0.01, 0.01)
    r = paired_t(var - base, alpha)
    rel = stats.ttest_rel(var, base)
    one = stats.ttest_1samp(var - base, 0.0)
    assert r.t == pytest.approx(float(rel.statistic), rel=1e-10)
    assert r.p == pytest.approx(float(rel.pvalue), rel=1e-10)
    assert r.p == pytest.approx(float(one.pvalue), rel=1e-10)
    ci = rel.confidence_interval(confidence_level=1.0 - alpha)
    assert (r.lo, r.hi) == pytest.approx((ci.low, ci.high), rel=1e-10)
    assert (r.p < alpha) == (r.lo > 0 or r.hi < 0)


def test_paired_t_missing_seeds_are_dropped() -> None:
    r = paired_t([0.01, np.nan, 0.03, 0.02, np.nan])
    assert r == paired_t([0.01, 0.03, 0.02])
    assert r.n == 3


@pytest.mark.parametrize("diffs", [[0.05, 0.05, 0.05], [0.55 - 0.50, 0.57 - 0.52, 0.61 - 0.56]])
def test_equal_differences_are_degenerate_not_significant(diffs: list[float]) -> None:
    # The second vector differs by ~1e-17 in floating point, where scipy reports p ~ 1e-31.
    r = paired_t(diffs)
    assert r.degenerate and r.sd == 0.0 and r.n == 3
    assert r.lo == r.hi == r.mean == pytest.approx(0.05)
    assert math.isnan(r.p) and math.isnan(r.t)
    e = tost(diffs, margin=0.1)
    assert e.degenerate and math.isnan(e.p) and e.lo == e.hi == e.mean
    assert verdict(diffs, margin=0.1) == "inconclusive"
    assert verdict(diffs, margin=0.01) == "inconclusive"


def test_all_zero_differences_are_degenerate() -> None:
    r = paired_t([0.0, 0.0, 0.0, 0.0])
    assert r.degenerate and (r.mean, r.lo, r.hi) == (0.0, 0.0, 0.0) and math.isnan(r.p)
    assert verdict([0.0] * 4, margin=0.01) == "inconclusive"


@pytest.mark.parametrize("diffs", [[], [0.04], [np.nan, 0.04, np.nan], [np.nan]])
def test_fewer_than_two_pairs(diffs: list[float]) -> None:
    r = paired_t(diffs)
    n = sum(not math.isnan(d) for d in diffs)
    assert r.n == n and not r.degenerate
    assert all(math.isnan(x) for x in (r.lo, r.hi, r.p, r.sd, r.t))
    assert math.isnan(r.mean) if n == 0 else r.mean == pytest.approx(0.04)
    e = tost(diffs, margin=0.1)
    assert e.n == n and math.isnan(e.p)
    assert verdict(diffs, margin=0.1) == "inconclusive"


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="one-dimensional"):
        paired_t(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="finite"):
        paired_t([0.1, np.inf, 0.2])
    with pytest.raises(ValueError, match="alpha"):
        paired_t([0.1, 0.2], alpha=5)
    with pytest.raises(ValueError, match="alpha"):
        tost([0.1, 0.2], margin=1.0, alpha=0.5)


# --- TOST ---------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_tost_matches_two_one_sided_scipy_tests(seed: int) -> None:
    var, base = _pair(seed, 6, 0.002, 0.01)
    d = var - base
    margin, alpha = 0.015, 0.05
    r = tost(d, margin, alpha)
    lower = stats.ttest_1samp(d, -margin, alternative="greater")
    upper = stats.ttest_1samp(d, margin, alternative="less")
    assert r.p_lower == pytest.approx(float(lower.pvalue), rel=1e-10)
    assert r.p_upper == pytest.approx(float(upper.pvalue), rel=1e-10)
    assert r.p == max(r.p_lower, r.p_upper)
    ci = stats.ttest_1samp(d, 0.0).confidence_interval(confidence_level=1.0 - 2 * alpha)
    assert (r.lo, r.hi) == pytest.approx((ci.low, ci.high), rel=1e-10)
    assert (r.p < alpha) == (-margin < r.lo and r.hi < margin)
    assert r.n == 6 and r.margin == margin and isinstance(r, Tost)


def test_tost_equivalent_and_not() -> None:
    d = [0.001, -0.002, 0.0015, -0.001, 0.0005]
    assert tost(d, margin=0.02).p < 0.01
    assert tost(d, margin=0.0005).p > 0.2  # the 90 % interval is ±0.0014


@pytest.mark.parametrize("margin", [0.0, -0.01, float("nan"), float("inf")])
def test_margin_must_be_positive(margin: float) -> None:
    with pytest.raises(ValueError, match="margin"):
        tost([0.01, 0.02, 0.03], margin)
    with pytest.raises(ValueError, match="margin"):
        verdict([0.01, 0.02, 0.03], margin)
    with pytest.raises(ValueError, match="margin"):
        tost_power(margin, 1.0, 10)
    with pytest.raises(ValueError, match="margin"):
        seeds_for_equivalence(margin, 1.0)


# --- multiplicity ---------------------------------------------------------------------------


def test_holm_hand_computed() -> None:
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])  # clipped at 1
    assert holm([0.02]) == pytest.approx([0.02])
    assert holm([]).shape == (0,)


def test_benjamini_hochberg_hand_computed() -> None:
    # sorted .005 .01 .03 .04, m/j·p = .02 .02 .04 .04, running min from the top
    assert benjamini_hochberg([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert benjamini_hochberg([0.01, 0.02, 0.03, 0.04, 0.05]) == pytest.approx([0.05] * 5)
    assert benjamini_hochberg([0.9, 0.8]) == pytest.approx([0.9, 0.9])


def test_nan_pvalues_stay_nan_and_do_not_count() -> None:
    h = holm([0.01, np.nan, 0.04, 0.03])
    assert math.isnan(h[1])
    assert h[[0, 2, 3]] == pytest.approx([0.03, 0.06, 0.06])  # m = 3, not 4
    b = benjamini_hochberg([np.nan, 0.01, 0.04, 0.03, 0.005])
    assert math.isnan(b[0]) and b[1:] == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert np.isnan(holm([np.nan, np.nan])).all()


def test_adjustments_against_scipy_and_monotone() -> None:
    rng = np.random.default_rng(4)
    for m in (1, 2, 7, 30):
        p = np.concatenate([rng.uniform(0, 0.05, m // 2), rng.uniform(0, 1, m - m // 2)])
        p = rng.permutation(p)
        h, b = holm(p), benjamini_hochberg(p)
        order = np.argsort(p)
        assert (np.diff(h[order]) >= 0).all() and (np.diff(b[order]) >= 0).all()
        assert (h >= p).all() and (b >= p).all() and (h <= 1).all() and (b <= 1).all()
        assert (b <= h + 1e-15).all()  # BH never stricter than Holm
        if hasattr(stats, "false_discovery_control"):
            assert b == pytest.approx(stats.false_discovery_control(p, method="bh"), rel=1e-12)


def test_adjustments_refuse_bad_pvalues() -> None:
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        holm([0.1, 1.5])
    with pytest.raises(ValueError, match="one-dimensional"):
        benjamini_hochberg([[0.1, 0.2]])


# --- verdict ------------------------------------------------------------------------------

UP = [0.05, 0.06, 0.05, 0.055]  # clearly > 0
FLAT = [0.001, -0.002, 0.0015, -0.001, 0.0005]  # ≈ 0, tight
NOISY = [0.03, -0.02, 0.04, -0.01]  # neither


def test_verdict_four_outcomes() -> None:
    assert verdict(UP, margin=0.01) == "better"
    assert verdict(UP, margin=0.01, higher_is_better=False) == "worse"
    assert verdict([-d for d in UP], margin=0.01) == "worse"
    assert verdict([-d for d in UP], margin=0.01, higher_is_better=False) == "better"
    assert verdict(FLAT, margin=0.02) == "equivalent"
    assert verdict(NOISY, margin=0.01) == "inconclusive"
    assert verdict(FLAT, margin=0.0005) == "inconclusive"


def test_verdict_with_adjusted_p() -> None:
    p = paired_t(UP).p
    assert p < 0.05
    adjusted = holm([p, 0.04, 0.03])[0]
    assert adjusted == pytest.approx(3 * p)
    assert verdict(UP, margin=0.01, p_adjusted=adjusted) == "better"
    assert verdict(UP, margin=0.01, p_adjusted=0.2) == "inconclusive"  # not within ±0.01 either
    assert verdict(UP, margin=0.2, p_adjusted=0.2) == "equivalent"
    assert verdict(UP, margin=0.01, p_adjusted=float("nan")) == "inconclusive"


def test_verdict_significant_inside_margin_is_better() -> None:
    d = [0.010, 0.011, 0.0105, 0.0095, 0.0102]
    assert paired_t(d).p < 0.05 and tost(d, margin=0.05).p < 0.05
    assert verdict(d, margin=0.05) == "better"


def test_verdict_missing_seeds() -> None:
    assert verdict([*UP, np.nan], margin=0.01) == "better"
    assert verdict([np.nan, 0.05, np.nan], margin=0.01) == "inconclusive"


# --- power --------------------------------------------------------------------------------


def test_paired_t_power_textbook_values() -> None:
    # G*Power, one-sample/paired t, two-tailed alpha 0.05, power 0.8: d = 0.5 → 34 (0.8078),
    # d = 0.8 → 15 (0.8213), d = 1 → 10 (0.8031)
    assert paired_t_power(0.5, 1.0, 34) == pytest.approx(0.8078, abs=1e-4)
    assert paired_t_power(0.8, 1.0, 15) == pytest.approx(0.8213, abs=1e-4)
    assert seeds_for_power(0.5, 1.0) == 34
    assert seeds_for_power(0.8, 1.0) == 15
    assert seeds_for_power(0.01, 0.01) == 10  # only effect / sd matters
    assert seeds_for_power(-0.01, 0.01) == 10
    assert paired_t_power(0.0, 1.0, 5, alpha=0.05) == pytest.approx(0.05)


def test_paired_t_power_monte_carlo() -> None:
    rng = np.random.default_rng(0)
    n, effect, sd, draws = 6, 0.02, 0.02, 4000
    d = rng.normal(effect, sd, size=(draws, n))
    t = d.mean(1) / (d.std(1, ddof=1) / math.sqrt(n))
    simulated = float(np.mean(2 * stats.t.sf(np.abs(t), n - 1) < 0.05))
    assert paired_t_power(effect, sd, n) == pytest.approx(simulated, abs=0.025)  # ~3.5 SE


def test_power_where_scipy_s_noncentral_t_fails_and_the_detectable_effect() -> None:
    # two seeds (df = 1), noncentrality 20·√2: scipy's nct cdf gives NaN there; the power still comes
    assert math.isnan(stats.nct.cdf(-stats.t.ppf(0.9875, 1), 1, 20.0 * math.sqrt(2)))
    rng = np.random.default_rng(1)
    n, sd, alpha, draws = 2, 1.0, 0.025, 200_000
    effect = 20.0
    d = rng.normal(effect, sd, size=(draws, n))
    t = d.mean(1) / (d.std(1, ddof=1) / math.sqrt(n))
    simulated = float(np.mean(2 * stats.t.sf(np.abs(t), n - 1) < alpha))
    assert paired_t_power(effect, sd, n, alpha) == pytest.approx(simulated, abs=0.005)
    # the detectable effect inverts the power, in the scale of the SD, at any n
    for n, sd in ((2, 1e-4), (6, 0.02), (14, 0.037)):
        e = detectable_effect(sd, n, 0.8, 0.0125)
        assert paired_t_power(e, sd, n, 0.0125) == pytest.approx(0.8, abs=1e-9)
        assert detectable_effect(2 * sd, n, 0.8, 0.0125) == pytest.approx(2 * e, rel=1e-6)
    with pytest.raises(ValueError, match="power"):
        detectable_effect(0.02, 6, 1.0)


def test_seeds_for_power_unreachable_and_bad_args() -> None:
    with pytest.raises(ValueError, match="not reached"):
        seeds_for_power(0.0, 1.0)
    with pytest.raises(ValueError, match="n_max=5"):
        seeds_for_power(0.5, 1.0, n_max=5)
    with pytest.raises(ValueError, match="sd_diff"):
        paired_t_power(0.5, 0.0, 10)
    with pytest.raises(ValueError, match="n must"):
        paired_t_power(0.5, 1.0, 1)
    with pytest.raises(ValueError, match="power"):
        seeds_for_power(0.5, 1.0, power=1.0)


def _tost_monte_carlo(margin: float, sd: float, n: int, true: float, draws: int) -> float:
    rng = np.random.default_rng(1)
    d = rng.normal(true, sd, size=(draws, n))
    mean, se = d.mean(1), d.std(1, ddof=1) / math.sqrt(n)
    p = np.maximum(
        stats.t.sf((mean + margin) / se, n - 1), stats.t.cdf((mean - margin) / se, n - 1)
    )
    return float(np.mean(p < 0.05))


@pytest.mark.parametrize(("n", "true"), [(3, 0.0), (10, 0.0), (10, 0.3)])
def test_tost_power_monte_carlo(n: int, true: float) -> None:
    exact = tost_power(1.0, 1.0, n, true_diff=true)
    assert exact == pytest.approx(_tost_monte_carlo(1.0, 1.0, n, true, 4000), abs=0.025)
    # the marginal noncentral-t bound P(T1 > c) + P(T2 < -c) - 1 is below the exact power
    df, c, a, b = n - 1, stats.t.ppf(0.95, n - 1), math.sqrt(n), true * math.sqrt(n)
    bound = stats.nct.sf(c, df, a + b) + stats.nct.cdf(-c, df, b - a) - 1.0
    assert exact >= bound - 1e-9


def test_seeds_for_equivalence() -> None:
    n = seeds_for_equivalence(1.0, 1.0)
    assert tost_power(1.0, 1.0, n) >= 0.8 > tost_power(1.0, 1.0, n - 1)
    assert n == 11
    assert seeds_for_equivalence(0.02, 0.02) == n  # only margin / sd matters
    assert seeds_for_equivalence(1.0, 1.0, true_diff=0.3) > n
    assert tost_power(1.0, 1.0, 30, true_diff=1.0) <= 0.05 + 1e-9  # on the margin: at most alpha
    with pytest.raises(ValueError, match="not reached"):
        seeds_for_equivalence(1.0, 1.0, true_diff=1.0)


def test_result_types() -> None:
    r, e = paired_t([0.1, 0.2, 0.4]), tost([0.1, 0.2, 0.4], 0.5)
    assert isinstance(r, PairedT) and isinstance(e, Tost)
    assert all(
        type(getattr(x, f.name)) in (float, int, bool)
        for x in (r, e)
        for f in dataclasses.fields(x)
    )
    assert isinstance(paired_t_power(0.5, 1.0, 10), float)
    assert isinstance(seeds_for_power(0.5, 1.0), int)


def test_the_statistics_have_one_import_path():
    import owslib.comparison as comparison
    import owslib.stats as st

    for name in ("paired_t", "tost", "holm", "benjamini_hochberg", "verdict"):
        assert callable(getattr(st, name))
    assert not hasattr(comparison, "tost") and not hasattr(comparison, "verdict")
