"""The crossed seeds × frames analysis: hand-checkable cases and recovery of the variance components."""

from __future__ import annotations

import numpy as np
import pytest

from owslib.stats import paired_t
from owslib.study.crossed import crossed_t


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
