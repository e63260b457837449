"""The crossed seeds × frames analysis: hand-checkable cases and recovery of the variance components."""

from __future__ import annotations

import numpy as np
import pytest

from owslib.stats import paired_t, paired_t_power
from owslib.study.crossed import crossed_power, crossed_t


def test_a_difference_that_varies_only_over_seeds_is_the_paired_t_over_seeds():
    seeds = np.array([0.01, 0.03, -0.02, 0.04])
    d = np.repeat(seeds[:, None], 5, axis=1)  # every frame the same within a seed
    got, want = crossed_t(d), paired_t(seeds)
    assert got.df == pytest.approx(3) and got.var_frame == 0 and got.var_resid == 0
    assert (got.mean, got.lo, got.hi, got.p) == pytest.approx((want.mean, want.lo, want.hi, want.p))


def test_a_difference_that_varies_only_over_frames_is_the_t_over_frames():
    frames = np.array([0.05, -0.01, 0.02, 0.00, 0.07, 0.01])
    d = np.repeat(frames[None, :], 3, axis=0)
    got, want = crossed_t(d), paired_t(frames)
    assert got.df == pytest.approx(5) and got.var_seed == 0
    assert (got.lo, got.hi, got.p) == pytest.approx((want.lo, want.hi, want.p))


def test_both_factors_widen_the_interval_and_the_components_are_recovered():
    rng = np.random.default_rng(0)
    s, f = 40, 60
    d = (
        0.02
        + rng.normal(0, 0.03, (s, 1))
        + rng.normal(0, 0.05, (1, f))
        + rng.normal(0, 0.02, (s, f))
    )
    got = crossed_t(d, margin=0.03)
    assert got.var_seed == pytest.approx(0.03**2, rel=0.5)
    assert got.var_frame == pytest.approx(0.05**2, rel=0.5)
    assert got.var_resid == pytest.approx(0.02**2, rel=0.1)
    seeds_only = paired_t(d.mean(axis=1))  # frames fixed: too narrow for new frames
    assert got.hi - got.lo > 1.5 * (seeds_only.hi - seeds_only.lo)
    assert got.tost_lo > got.lo and got.tost_hi < got.hi
    assert 0 < got.p_tost < 1 and got.n_seeds == s and got.n_frames == f


def test_equivalence_and_its_failure():
    d = (
        np.full((5, 8), 0.001)
        + np.linspace(-1e-3, 1e-3, 8)[None, :]
        + np.linspace(-1e-3, 1e-3, 5)[:, None]
    )
    assert crossed_t(d, margin=0.03).p_tost < 1e-6
    assert crossed_t(d + 0.05, margin=0.03).p_tost > 0.5


def test_degenerate_and_malformed_inputs():
    assert np.isnan(crossed_t(np.ones((1, 5))).lo) and np.isnan(crossed_t(np.ones((3, 4))).p)
    with pytest.raises(ValueError, match="complete seeds × frames"):
        crossed_t(np.array([[1.0, np.nan], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="complete seeds × frames"):
        crossed_t(np.ones(4))


def test_power_without_a_frame_component_is_the_paired_t_power():
    got = crossed_power(0.03, 0.04**2, 0.0, 0.0, 10, 60, alpha=0.0125)
    assert got == pytest.approx(paired_t_power(0.03, 0.04, 10, alpha=0.0125), rel=1e-6)


def test_the_frame_component_caps_what_more_seeds_buy():
    powers = [crossed_power(0.03, 0.02**2, 0.08**2, 0.0, n, 60, 0.0125) for n in (4, 16, 400)]
    assert powers[0] < powers[1] < powers[2]
    # with 60 frames the mean can never be known better than 0.08/√60 ≈ 0.010: short of 80 %
    assert powers[2] < 0.8
    assert crossed_power(0.03, 0.02**2, 0.0, 0.0, 400, 60, 0.0125) > 0.999


def test_power_matches_the_rejection_rate_of_the_test_it_describes():
    rng = np.random.default_rng(1)
    s, f, effect, comps = 6, 20, 0.02, (0.015**2, 0.03**2, 0.02**2)
    rejected = [
        crossed_t(
            effect
            + rng.normal(0, np.sqrt(comps[0]), (s, 1))
            + rng.normal(0, np.sqrt(comps[1]), (1, f))
            + rng.normal(0, np.sqrt(comps[2]), (s, f))
        ).p
        < 0.05
        for _ in range(2000)
    ]
    want = crossed_power(effect, *comps, s, f, 0.05)
    assert np.mean(rejected) == pytest.approx(want, abs=0.04)


def test_power_refuses_a_design_it_cannot_describe():
    with pytest.raises(ValueError, match="need ≥ 2 seeds"):
        crossed_power(0.03, 0.01, 0.01, 0.01, 1, 60)
    with pytest.raises(ValueError, match="variance of the mean is 0"):
        crossed_power(0.03, 0.0, 0.0, 0.0, 4, 60)
