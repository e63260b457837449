"""The real-scene analysis: paired differences observed on every (training seed, test frame) cell,
with seeds **and** frames random, so that an answer speaks of new seeds and new frames
(``docs/real_scenes.md``)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy import stats

from owslib.stats import t_test_power


@dataclass(frozen=True)
class CrossedT:
    """The mean of paired differences observed on every (seed, frame) cell, with seeds **and**
    frames random (:func:`crossed_t`): a claim about new training seeds and new test frames.

    ``se`` and ``df`` (Satterthwaite) come from the two-way ANOVA's mean squares; ``lo, hi`` the
    (1 − alpha) interval; ``p`` two-sided; ``tost_lo, tost_hi`` the (1 − 2·alpha) interval and
    ``p_tost`` the two one-sided tests against ±``margin`` (NaN without a margin); ``var_seed``,
    ``var_frame``, ``var_resid`` the variance components (method of moments, negatives at 0).
    """

    mean: float
    lo: float
    hi: float
    p: float
    se: float
    df: float
    n_seeds: int
    n_frames: int
    var_seed: float
    var_frame: float
    var_resid: float
    p_tost: float = float("nan")
    tost_lo: float = float("nan")
    tost_hi: float = float("nan")


def crossed_t(d: np.ndarray, alpha: float = 0.05, margin: float | None = None) -> CrossedT:
    """The mean of ``d`` (seeds × frames: arm − comparator at one training seed on one test frame)
    with both factors random, as a crossed two-way random-effects model without replication:
    ``d_sf = μ + a_s + b_f + e_sf``. Var(mean) = σ²_a/S + σ²_b/F + σ²_e/(SF), estimated by
    (MS_seed + MS_frame − MS_resid)/(SF) (the quasi-F of Clark 1973 for "the language-as-fixed-
    effect fallacy"), its degrees of freedom by Satterthwaite (1946); the t interval and test on
    them. A factor that does not vary (one seed, one frame) or a negative estimate leaves NaN.
    """
    if not 0.0 < alpha < (0.5 if margin is not None else 1.0):
        raise ValueError(f"alpha must be in (0, {0.5 if margin is not None else 1}), got {alpha}")
    d = np.asarray(d, dtype=np.float64)
    if d.ndim != 2 or np.isnan(d).any():
        raise ValueError(f"crossed_t: expected a complete seeds × frames array, got {d.shape}")
    s, f = d.shape
    mean = float(d.mean())
    nan = float("nan")
    if s < 2 or f < 2:
        return CrossedT(mean, nan, nan, nan, nan, nan, s, f, nan, nan, nan)
    seed_means, frame_means = d.mean(axis=1), d.mean(axis=0)
    ms_seed = f * float(((seed_means - mean) ** 2).sum()) / (s - 1)
    ms_frame = s * float(((frame_means - mean) ** 2).sum()) / (f - 1)
    resid = d - seed_means[:, None] - frame_means[None, :] + mean
    ms_resid = float((resid**2).sum()) / ((s - 1) * (f - 1))
    var = (ms_seed + ms_frame - ms_resid) / (s * f)
    comps = (max((ms_seed - ms_resid) / f, 0.0), max((ms_frame - ms_resid) / s, 0.0), ms_resid)
    if not var > 0:
        return CrossedT(mean, nan, nan, nan, nan, nan, s, f, *comps)
    terms = ((ms_seed, s - 1), (ms_frame, f - 1), (-ms_resid, (s - 1) * (f - 1)))
    df = (ms_seed + ms_frame - ms_resid) ** 2 / sum(m**2 / k for m, k in terms)
    se = float(np.sqrt(var))
    half = float(stats.t.ppf(1.0 - alpha / 2.0, df)) * se
    p = float(2.0 * stats.t.sf(abs(mean) / se, df))
    out = CrossedT(mean, mean - half, mean + half, p, se, float(df), s, f, *comps)
    if margin is None:
        return out
    p_low = float(stats.t.sf((mean + margin) / se, df))  # H0: mean ≤ −margin
    p_up = float(stats.t.cdf((mean - margin) / se, df))  # H0: mean ≥ +margin
    half2 = float(stats.t.ppf(1.0 - alpha, df)) * se
    return replace(out, p_tost=max(p_low, p_up), tost_lo=mean - half2, tost_hi=mean + half2)


def crossed_power(
    effect: float,
    var_seed: float,
    var_frame: float,
    var_resid: float,
    n_seeds: int,
    n_frames: int,
    alpha: float = 0.05,
) -> float:
    """Power of :func:`crossed_t`'s two-sided test at level ``alpha`` with ``n_seeds`` × ``n_frames``
    cells when the true mean difference is ``effect`` and the variance components are ``var_seed``,
    ``var_frame`` and ``var_resid``: the noncentral t with noncentrality effect / SE, SE² =
    σ²_seed/S + σ²_frame/F + σ²_resid/(SF), and the Satterthwaite degrees of freedom of the expected
    mean squares. The frame term does not shrink with more seeds: it bounds the power a plan can
    buy with seeds alone."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    s, f = int(n_seeds), int(n_frames)
    if s < 2 or f < 2 or min(var_seed, var_frame, var_resid) < 0:
        raise ValueError(
            f"crossed_power: need ≥ 2 seeds and frames and variances ≥ 0, got {s} × {f}, "
            f"({var_seed}, {var_frame}, {var_resid})"
        )
    a = var_seed / s + var_resid / (s * f)  # E[MS_seed] / (S·F)
    b = var_frame / f + var_resid / (s * f)  # E[MS_frame] / (S·F)
    c = var_resid / (s * f)  # E[MS_resid] / (S·F)
    var = a + b - c
    if not var > 0:
        raise ValueError("crossed_power: the variance of the mean is 0")
    df = var**2 / (a**2 / (s - 1) + b**2 / (f - 1) + c**2 / ((s - 1) * (f - 1)))
    return float(t_test_power(effect / float(np.sqrt(var)), df, alpha))
