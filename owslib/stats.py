"""Paired statistics on a vector of per-seed differences: the Student t-test and its interval,
equivalence (TOST), the multiplicity adjustments (Holm, Benjamini–Hochberg), the study's verdict
and the power and sample-size helpers of a pre-registration. :mod:`owslib.comparison` builds the
differences from the study's long tables and offers the tests the study names (paired_t, tost,
holm, benjamini_hochberg, verdict) too.

Edge cases, the same everywhere: NaN differences (missing seeds) are dropped and ``n`` counts the
pairs used; fewer than 2 pairs give NaN p-values; differences that are all equal (sample sd below
:data:`ZERO_SD_RTOL` · max|d|, i.e. zero up to the rounding of ``value - baseline_value``) give
``p = nan`` and a *degenerate* interval ``[mean, mean]``: with no observed spread there is no
estimate of the noise, so nothing is declared significant.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import integrate, optimize, special, stats

#: Differences whose sample sd is at most this times their largest magnitude count as all equal
#: (sd = 0): ``0.55 - 0.50`` and ``0.57 - 0.52`` differ by ~1e-17 in floating point, which would
#: otherwise give t ~ 1e15 and a "significant" interval of zero width.
ZERO_SD_RTOL = 1e-9

Verdict = Literal["better", "worse", "equivalent", "inconclusive"]


def t_interval(
    diffs: Sequence[float] | np.ndarray, confidence: float = 0.95
) -> tuple[float, float, float]:
    """``(mean, lo, hi)``: mean ± t_{n-1, (1+confidence)/2} · s / √n of paired differences, s with
    ddof=1 (``scipy.stats.t.ppf``).

    n = 1 gives ``(d, nan, nan)``, n = 0 a NaN triple; NaN entries propagate. Equal differences
    give a zero-width interval, which :func:`paired_t` flags ``degenerate`` (not significant).
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence!r}")
    d = np.asarray(diffs, dtype=float)
    if d.ndim != 1:
        raise ValueError(f"diffs must be one-dimensional, got shape {d.shape}")
    n = d.size
    if n == 0:
        return (float("nan"),) * 3
    mean = float(d.mean())
    if n == 1:
        return mean, float("nan"), float("nan")
    half = float(stats.t.ppf((1.0 + confidence) / 2.0, n - 1)) * float(d.std(ddof=1)) / np.sqrt(n)
    return mean, mean - half, mean + half


def _check_alpha(alpha: float, upper: float = 1.0) -> None:
    if not 0.0 < alpha < upper:
        raise ValueError(f"alpha must lie in (0, {upper:g}), got {alpha!r}")


def _differences(diffs: Sequence[float] | np.ndarray) -> np.ndarray:
    """The finite entries of a 1-d vector of paired differences (NaN = missing seed, dropped)."""
    d = np.asarray(diffs, dtype=float)
    if d.ndim != 1:
        raise ValueError(f"diffs must be one-dimensional, got shape {d.shape}")
    if np.isinf(d).any():
        raise ValueError("diffs must be finite or NaN (a missing seed), got an infinite entry")
    return d[~np.isnan(d)]


def _moments(d: np.ndarray) -> tuple[float, float, bool]:
    """``(mean, sd, degenerate)`` of non-NaN differences; sd (ddof=1) is NaN for n < 2 and 0 for
    differences equal up to :data:`ZERO_SD_RTOL`, which are then ``degenerate``."""
    mean = float(d.mean()) if d.size else float("nan")
    if d.size < 2:
        return mean, float("nan"), False
    sd = float(d.std(ddof=1))
    if sd <= ZERO_SD_RTOL * float(np.abs(d).max()):
        return mean, 0.0, True
    return mean, sd, False


@dataclass(frozen=True)
class PairedT:
    """A two-sided one-sample t-test of paired differences against 0 (:func:`paired_t`).

    ``lo, hi``: the (1 − alpha) Student-t interval of the mean; ``sd`` with ddof=1; ``n`` the pairs
    used. ``degenerate``: all differences equal, so ``lo == hi == mean``, ``t`` and ``p`` NaN.
    """

    mean: float
    lo: float
    hi: float
    p: float
    n: int
    sd: float
    t: float = float("nan")
    degenerate: bool = False


def paired_t(diffs: Sequence[float] | np.ndarray, alpha: float = 0.05) -> PairedT:
    """Paired Student t-test: t = mean / (s / √n) with n − 1 degrees of freedom, two-sided p, and
    the interval mean ± t_{n-1, 1-alpha/2} · s / √n (the same numbers as ``scipy.stats.ttest_rel``
    on the two samples; Student 1908).

    NaN differences (missing seeds) are dropped. n < 2: NaN sd, interval and p. All differences
    equal (sd = 0): ``degenerate``, interval ``[mean, mean]``, p NaN — not significant.
    """
    _check_alpha(alpha)
    d = _differences(diffs)
    n = int(d.size)
    mean, sd, degenerate = _moments(d)
    if n < 2 or degenerate:
        edge = mean if degenerate else float("nan")
        return PairedT(mean, edge, edge, float("nan"), n, sd, degenerate=degenerate)
    se = sd / float(np.sqrt(n))
    t = mean / se
    half = float(stats.t.ppf(1.0 - alpha / 2.0, n - 1)) * se
    p = float(2.0 * stats.t.sf(abs(t), n - 1))
    return PairedT(mean, mean - half, mean + half, p, n, sd, float(t))


@dataclass(frozen=True)
class Tost:
    """Two one-sided t-tests of paired differences against ±``margin`` (:func:`tost`).

    ``p = max(p_lower, p_upper)``; ``lo, hi``: the (1 − 2·alpha) Student-t interval, which lies
    inside (−margin, margin) exactly when ``p < alpha``. ``degenerate`` as in :class:`PairedT`.
    """

    mean: float
    lo: float
    hi: float
    p: float
    p_lower: float
    p_upper: float
    n: int
    sd: float
    margin: float
    degenerate: bool = False


def tost(diffs: Sequence[float] | np.ndarray, margin: float, alpha: float = 0.05) -> Tost:
    """Equivalence of the mean paired difference to 0 within ±``margin`` by two one-sided tests
    (Schuirmann 1987): ``p_lower`` tests H0 mean ≤ −margin (t = (mean + margin) / se, upper tail),
    ``p_upper`` H0 mean ≥ +margin (t = (mean − margin) / se, lower tail), n − 1 df; equivalence at
    level alpha when ``p = max(p_lower, p_upper) < alpha``.

    ``margin`` must be > 0 and alpha < 0.5. NaN differences are dropped; n < 2 or all differences
    equal give NaN p-values (see :func:`paired_t`).
    """
    if not margin > 0.0 or not np.isfinite(margin):
        raise ValueError(f"margin must be a finite number > 0, got {margin!r}")
    _check_alpha(alpha, upper=0.5)
    d = _differences(diffs)
    n = int(d.size)
    mean, sd, degenerate = _moments(d)
    nan = float("nan")
    if n < 2 or degenerate:
        edge = mean if degenerate else nan
        return Tost(mean, edge, edge, nan, nan, nan, n, sd, float(margin), degenerate)
    se = sd / float(np.sqrt(n))
    p_lower = float(stats.t.sf((mean + margin) / se, n - 1))
    p_upper = float(stats.t.cdf((mean - margin) / se, n - 1))
    half = float(stats.t.ppf(1.0 - alpha, n - 1)) * se
    p = max(p_lower, p_upper)
    return Tost(mean, mean - half, mean + half, p, p_lower, p_upper, n, sd, float(margin))


def _pvalues(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    p = np.asarray(pvalues, dtype=float)
    if p.ndim != 1:
        raise ValueError(f"pvalues must be one-dimensional, got shape {p.shape}")
    if ((p < 0.0) | (p > 1.0)).any():
        raise ValueError(f"pvalues must lie in [0, 1] (or be NaN), got {p[(p < 0) | (p > 1)]}")
    return p


def _adjust(pvalues: Sequence[float] | np.ndarray, method: Literal["holm", "bh"]) -> np.ndarray:
    """Adjusted p-values in input order; NaN entries stay NaN and do not count in m."""
    p = _pvalues(pvalues)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    q = p[ok]
    m = q.size
    order = np.argsort(q, kind="stable")
    rank = np.arange(1, m + 1)
    if method == "holm":
        adj = np.maximum.accumulate((m - rank + 1) * q[order])
    else:
        adj = np.minimum.accumulate((m / rank * q[order])[::-1])[::-1]
    sorted_back = np.empty(m)
    sorted_back[order] = np.minimum(adj, 1.0)
    out[ok] = sorted_back
    return out


def holm(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (Holm 1979; family-wise error rate), in input order:
    with p_(1) ≤ … ≤ p_(m), adj_(i) = max_{j ≤ i} min(1, (m − j + 1) · p_(j)).

    NaN entries (a comparison without a p-value) stay NaN and are left out of the count m.
    """
    return _adjust(pvalues, "holm")


def benjamini_hochberg(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (Benjamini & Hochberg 1995; false discovery rate), in
    input order: with p_(1) ≤ … ≤ p_(m), adj_(i) = min_{j ≥ i} min(1, m / j · p_(j)), as
    ``scipy.stats.false_discovery_control(method="bh")``.

    NaN entries stay NaN and are left out of the count m.
    """
    return _adjust(pvalues, "bh")


def verdict(
    diffs: Sequence[float] | np.ndarray,
    margin: float,
    alpha: float = 0.05,
    p_adjusted: float | None = None,
    higher_is_better: bool = True,
) -> Verdict:
    """``"better" | "worse" | "equivalent" | "inconclusive"`` for paired differences
    (variant − baseline). The rule, in order:

    1. n < 2 pairs or all differences equal (:func:`paired_t` ``degenerate``): ``"inconclusive"``.
    2. p < alpha, where p is ``p_adjusted`` if given (e.g. this comparison's entry of
       :func:`holm` over the family) else the two-sided :func:`paired_t` p: ``"better"`` if the mean
       points in the good direction (> 0 when ``higher_is_better``, < 0 otherwise), else ``"worse"``.
    3. :func:`tost` p < alpha (unadjusted; ±``margin``): ``"equivalent"``.
    4. Otherwise ``"inconclusive"``.

    A difference both significant and inside the margin is reported ``better``/``worse`` (rule 2
    wins). ``margin`` must be > 0 (ValueError otherwise).
    """
    if not margin > 0.0 or not np.isfinite(margin):
        raise ValueError(f"margin must be a finite number > 0, got {margin!r}")
    _check_alpha(alpha, upper=0.5)
    test = paired_t(diffs, alpha)
    if test.n < 2 or test.degenerate:
        return "inconclusive"
    p = test.p if p_adjusted is None else float(p_adjusted)
    if p < alpha and test.mean != 0.0:
        return "better" if (test.mean > 0.0) == higher_is_better else "worse"
    if tost(diffs, margin, alpha).p < alpha:
        return "equivalent"
    return "inconclusive"


def _check_design(sd_diff: float, alpha: float) -> None:
    if not sd_diff > 0.0 or not np.isfinite(sd_diff):
        raise ValueError(f"sd_diff must be a finite number > 0, got {sd_diff!r}")
    _check_alpha(alpha)


def _t_power(effect: float, sd_diff: float, n: np.ndarray, alpha: float) -> np.ndarray:
    return t_test_power(effect / sd_diff * np.sqrt(n), n - 1, alpha)


def t_test_power(nc: float | np.ndarray, df: float | np.ndarray, alpha: float) -> np.ndarray:
    """Power of a two-sided t-test at level ``alpha`` with ``df`` degrees of freedom when the
    statistic's noncentrality is ``nc`` (true effect / its standard error); ValueError on a
    non-finite ``nc`` or ``df`` (a power computed from an infinite variance bound is no power)."""
    if not (np.all(np.isfinite(nc)) and np.all(np.isfinite(df)) and np.all(np.asarray(df) > 0)):
        raise ValueError(f"t_test_power: finite nc and df > 0 needed, got nc={nc!r}, df={df!r}")
    crit = stats.t.ppf(1.0 - alpha / 2.0, df)
    power = np.asarray(stats.nct.sf(crit, df, nc) + stats.nct.cdf(-crit, df, nc), dtype=float)
    if np.isnan(power).any():  # scipy's noncentral t fails at some (df, nc), e.g. df = 1, nc ≈ 28
        power = np.where(np.isnan(power), np.vectorize(_t_power_by_quadrature)(nc, df, crit), power)
    return power


def _t_power_by_quadrature(nc: float, df: float, crit: float) -> float:
    """The same power, P(|Z + nc| > crit · √(V / df)) with V ~ χ²(df), integrated over V."""

    def rejected(v: float) -> float:
        c = crit * np.sqrt(v / df)
        return stats.chi2.pdf(v, df) * (stats.norm.sf(c - nc) + stats.norm.cdf(-c - nc))

    return float(min(1.0, integrate.quad(rejected, 0.0, np.inf, limit=200)[0]))


def paired_t_power(effect: float, sd_diff: float, n: int, alpha: float = 0.05) -> float:
    """Power of the two-sided paired t-test (:func:`paired_t`) at level alpha with ``n`` pairs when
    the true mean difference is ``effect`` and the differences' sd is ``sd_diff``: exact, from the
    noncentral t with n − 1 df and noncentrality effect / sd_diff · √n (``scipy.stats.nct``),
    P(T > t_crit) + P(T < −t_crit). E.g. effect/sd = 0.5, n = 34 gives 0.808 (as G*Power).
    """
    _check_design(sd_diff, alpha)
    if int(n) != n or n < 2:
        raise ValueError(f"n must be an integer >= 2, got {n!r}")
    return float(_t_power(effect, sd_diff, np.asarray(int(n)), alpha))


def detectable_effect(sd_diff: float, n: int, power: float = 0.8, alpha: float = 0.05) -> float:
    """The smallest true mean difference the two-sided paired t-test detects with ``power`` at level
    alpha with ``n`` pairs whose differences have sd ``sd_diff`` (the inverse of
    :func:`paired_t_power` in the effect; a sensitivity analysis: what the design could see)."""
    _check_design(sd_diff, alpha)
    if not 0.0 < power < 1.0:
        raise ValueError(f"power must lie in (0, 1), got {power!r}")
    if int(n) != n or n < 2:
        raise ValueError(f"n must be an integer >= 2, got {n!r}")
    n_arr = np.asarray(int(n))
    hi = sd_diff
    while float(_t_power(hi, sd_diff, n_arr, alpha)) < power:
        hi *= 2.0
    return float(
        optimize.brentq(
            lambda e: float(_t_power(e, sd_diff, n_arr, alpha)) - power, 0.0, hi, xtol=1e-12
        )
    )


def seeds_for_power(
    effect: float, sd_diff: float, power: float = 0.8, alpha: float = 0.05, n_max: int = 200
) -> int:
    """Smallest number of seeds n (2 ≤ n ≤ ``n_max``) at which :func:`paired_t_power` reaches
    ``power``; ValueError if even ``n_max`` does not (e.g. ``effect`` = 0)."""
    _check_design(sd_diff, alpha)
    if not 0.0 < power < 1.0:
        raise ValueError(f"power must lie in (0, 1), got {power!r}")
    n = np.arange(2, max(int(n_max), 2) + 1)
    reached = np.flatnonzero(_t_power(effect, sd_diff, n, alpha) >= power)
    if not reached.size:
        raise ValueError(
            f"power {power} not reached with n_max={n_max} seeds for effect={effect}, "
            f"sd_diff={sd_diff} (power there: {paired_t_power(effect, sd_diff, n[-1], alpha):.3f})"
        )
    return int(n[reached[0]])


def tost_power(
    margin: float, sd_diff: float, n: int, true_diff: float = 0.0, alpha: float = 0.05
) -> float:
    """Power of :func:`tost` (equivalence within ±``margin`` at level alpha, ``n`` pairs) when the
    true mean difference is ``true_diff`` and the differences' sd is ``sd_diff``.

    Exact up to quadrature error (~1e-9), not an approximation: both one-sided tests reject iff
    mean ∈ (−margin + c·s/√n, margin − c·s/√n), c = t_{n-1, 1-alpha}; given the sample sd s this
    is a normal probability, integrated over v = s / sd_diff · √(n − 1), chi-distributed with
    n − 1 df (``scipy.integrate.quad``; the Owen 1965 integral, as in Phillips 1990). It is 0 when
    the interval can never fit (small n).
    """
    if not margin > 0.0 or not np.isfinite(margin):
        raise ValueError(f"margin must be a finite number > 0, got {margin!r}")
    _check_design(sd_diff, alpha)
    _check_alpha(alpha, upper=0.5)
    if int(n) != n or n < 2:
        raise ValueError(f"n must be an integer >= 2, got {n!r}")
    df = int(n) - 1
    a = margin * np.sqrt(n) / sd_diff  # the margin in standard errors of the mean
    b = true_diff * np.sqrt(n) / sd_diff
    k = float(stats.t.ppf(1.0 - alpha, df)) / np.sqrt(df)  # c · s / se = k · v
    log_norm = (df / 2.0 - 1.0) * np.log(2.0) + special.gammaln(df / 2.0)
    # Beyond a / k no sample sd lets both tests reject; beyond √df + 12 the chi density is < 1e-30.
    v_max = min(a / k, np.sqrt(df) + 12.0)

    def integrand(v: float) -> float:
        inside = special.ndtr(a - b - k * v) - special.ndtr(-a - b + k * v)
        log_pdf = (df - 1) * np.log(v) - v * v / 2.0 - log_norm if v > 0 else -np.inf
        return max(0.0, float(inside)) * float(np.exp(log_pdf))

    value, _ = integrate.quad(integrand, 0.0, v_max, epsabs=1e-11, epsrel=1e-10, limit=200)
    return float(min(max(value, 0.0), 1.0))


def seeds_for_equivalence(
    margin: float,
    sd_diff: float,
    true_diff: float = 0.0,
    power: float = 0.8,
    alpha: float = 0.05,
    n_max: int = 200,
) -> int:
    """Smallest number of seeds n (2 ≤ n ≤ ``n_max``) at which :func:`tost_power` (exact) reaches
    ``power``; ValueError if ``n_max`` does not (e.g. |true_diff| ≥ margin)."""
    if not 0.0 < power < 1.0:
        raise ValueError(f"power must lie in (0, 1), got {power!r}")
    n_max = max(int(n_max), 2)
    at_max = tost_power(margin, sd_diff, n_max, true_diff, alpha)
    if at_max < power:
        raise ValueError(
            f"power {power} not reached with n_max={n_max} seeds for margin={margin}, "
            f"sd_diff={sd_diff}, true_diff={true_diff} (power there: {at_max:.3f})"
        )
    for n in range(2, n_max):
        if tost_power(margin, sd_diff, n, true_diff, alpha) >= power:
            return n
    return n_max


def sd_upper_bound(sd: float, n: int, confidence: float = 0.95, one_sided: bool = True) -> float:
    """Upper confidence bound of a standard deviation ``sd`` estimated from ``n`` values (normal
    data: (n − 1)·s²/σ² is χ² with n − 1 df). One-sided by default, the bound a plan that must not
    under-size its seeds needs; ``one_sided=False`` gives the upper end of the two-sided interval.
    E.g. n = 3: 4.41 × sd one-sided, 6.28 × sd two-sided (95 %)."""
    _check_alpha(1.0 - confidence)
    if int(n) != n or n < 2:
        raise ValueError(f"n must be an integer >= 2, got {n!r}")
    tail = (1.0 - confidence) / (1.0 if one_sided else 2.0)
    return float(sd * np.sqrt((n - 1) / stats.chi2.ppf(tail, n - 1)))
