"""Seeded comparison of study variants: paired per-seed differences to the baseline and their
summaries.

Input is one long table with columns ``variant, seed, metric, scorer, aggregation, value``; every
variant is compared with the baseline *at the same seeds* (a paired design), so the seed-to-seed
noise shared by both runs cancels in the differences. The tests on a vector of such differences
(Student t, TOST, Holm and Benjamini–Hochberg, the verdict, power and sample size) live in
:mod:`owslib.stats`, where their edge cases are stated; import them from there.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

from owslib.stats import paired_t

log = logging.getLogger(__name__)

#: Columns of the long results table.
LONG_COLUMNS = ("variant", "seed", "metric", "scorer", "aggregation", "value")
#: Metrics where a smaller value is better; every other metric is higher-is-better.
LOWER_IS_BETTER = {"fpr95"}
#: Decimals of the values in the ``per_seed`` string of :func:`summarise`.
PER_SEED_DECIMALS = 3

_KEY = ["metric", "scorer", "aggregation"]
_GROUP = ["variant", *_KEY]
_SUMMARY_COLUMNS = [
    *_GROUP,
    *("mean", "std", "n", "delta", "delta_lo", "delta_hi", "delta_sd", "n_pairs", "n_unpaired"),
    *("per_seed", "significant", "better"),
]
_PAIR_COLUMNS = [*_GROUP, "seed", "value", "baseline_value", "diff", "n_unpaired"]


def better_direction(metric: str) -> Literal["higher", "lower"]:
    """``"lower"`` for metrics in :data:`LOWER_IS_BETTER` (e.g. ``fpr95``), else ``"higher"``."""
    return "lower" if metric in LOWER_IS_BETTER else "higher"


def metric_label(metric: str, scorer: str = "", aggregation: str = "") -> str:
    """``"aupr/fused/per_image"``; empty parts are left out (``"miou"``)."""
    return "/".join(p for p in (metric, scorer, aggregation) if p)


def validate_long(long: pd.DataFrame, baseline: str = "baseline") -> pd.DataFrame:
    """A cleaned copy of the long table, or a ValueError naming what is wrong.

    Empty/NaN ``scorer`` and ``aggregation`` become ``""`` (a CSV round trip reads ``""`` as NaN);
    seeds must be integers; rows with a NaN value are dropped with a warning (they count as absent).
    """
    missing = [c for c in LONG_COLUMNS if c not in long.columns]
    if missing:
        raise ValueError(f"long table is missing columns {missing}; expected {list(LONG_COLUMNS)}")
    df = long.loc[:, list(LONG_COLUMNS)].copy()
    # the setup a run was trained in (run.json's fingerprint; "" where unrecorded)
    df["fingerprint"] = (
        long["fingerprint"].astype(object).where(long["fingerprint"].notna(), "").astype(str)
        if "fingerprint" in long.columns
        else ""
    )
    for col in ("scorer", "aggregation"):
        df[col] = df[col].astype(object).where(df[col].notna(), "").astype(str)
    df["variant"] = df["variant"].astype(str)
    df["metric"] = df["metric"].astype(str)
    try:
        df["value"] = pd.to_numeric(df["value"]).astype(float)
        seed = pd.to_numeric(df["seed"])
    except (TypeError, ValueError) as exc:
        raise ValueError(f"long table: 'value' and 'seed' must be numeric ({exc})") from exc
    bad = seed.isna() | (seed != np.round(seed))
    if bad.any():
        raise ValueError(f"long table: seeds must be integers, got {long['seed'][bad].iloc[0]!r}")
    df["seed"] = seed.astype(int)
    dup = df.duplicated(subset=["variant", "seed", *_KEY], keep=False)
    if dup.any():
        row = df[dup].head(1).to_dict("records")[0]  # plain Python scalars for the message
        raise ValueError(
            "long table has duplicate rows for "
            + ", ".join(f"{c}={row[c]!r}" for c in ("variant", "seed", *_KEY))
            + f" ({int(dup.sum())} duplicated rows in all)"
        )
    if len(df) and not (df["variant"] == baseline).any():
        raise ValueError(
            f"long table has no rows for baseline variant {baseline!r}; "
            f"variants present: {list(pd.unique(df['variant']))}"
        )
    nan = df["value"].isna()
    if nan.any():
        log.warning(
            "dropping %d rows with a NaN value, e.g. %s",
            int(nan.sum()),
            df[nan].head(1).to_dict("records")[0],
        )
        df = df[~nan]
    return df.reset_index(drop=True)


def _order(df: pd.DataFrame, baseline: str, seen: pd.DataFrame) -> pd.DataFrame:
    """Baseline first, then variants and metric keys in the order first seen in ``seen`` (the long
    table); seeds ascending."""
    variants = [baseline, *(v for v in pd.unique(seen["variant"]) if v != baseline)]
    k_rank = {
        k: i for i, k in enumerate(dict.fromkeys(seen[_KEY].itertuples(index=False, name=None)))
    }
    keys = list(df[_KEY].itertuples(index=False, name=None))
    rank = pd.DataFrame(
        {
            "_v": df["variant"].map({v: i for i, v in enumerate(variants)}),
            "_k": [k_rank[k] for k in keys],
        },
        index=df.index,
    )
    if "seed" in df.columns:
        rank["_s"] = df["seed"]
    order = rank.sort_values(list(rank.columns), kind="mergesort").index
    return df.loc[order].reset_index(drop=True)


def _pairs(df: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """Outer join of each variant's (key, seed) rows with the baseline's, restricted to the keys the
    variant reports; ``_merge`` tells paired rows (``both``) from seeds present on one side only.

    Runs are paired only within one setup: a seed whose two runs have different fingerprints
    (run.json) is excluded, as unpaired, with a warning naming both."""
    others = df[df["variant"] != baseline]
    base = df.loc[df["variant"] == baseline, [*_KEY, "seed", "value", "fingerprint"]]
    base = base.rename(columns={"value": "baseline_value", "fingerprint": "baseline_fingerprint"})
    base = others[_GROUP].drop_duplicates().merge(base, on=_KEY)
    merged = others.merge(base, on=[*_GROUP, "seed"], how="outer", indicator=True)
    merged["_merge"] = merged["_merge"].astype(str)
    other_setup = (merged["_merge"] == "both") & (
        merged["fingerprint"] != merged["baseline_fingerprint"]
    )
    if other_setup.any():
        for (v, s, a, b), _ in merged[other_setup].groupby(
            ["variant", "seed", "fingerprint", "baseline_fingerprint"]
        ):
            log.warning(
                "%s seed %d (setup %s) is not paired with %s (setup %s): other setups",
                v,
                s,
                a or "unrecorded",
                baseline,
                b or "unrecorded",
            )
        merged.loc[other_setup, "_merge"] = "other_setup"
    merged["_unpaired"] = merged["_merge"] != "both"
    merged["n_unpaired"] = merged.groupby(_GROUP)["_unpaired"].transform("sum").astype(int)
    return merged


def paired_differences(long: pd.DataFrame, baseline: str = "baseline") -> pd.DataFrame:
    """Per-seed ``diff = value - baseline_value`` for every (variant ≠ baseline, metric, scorer,
    aggregation) at the seeds both have; ``n_unpaired`` counts, per group, the seeds dropped because
    only one side has them. A group with no common seed has no rows here."""
    df = validate_long(long, baseline)
    if df.empty:
        return pd.DataFrame(columns=_PAIR_COLUMNS)
    merged = _pairs(df, baseline)
    paired = merged[merged["_merge"] == "both"].copy()
    paired["diff"] = paired["value"] - paired["baseline_value"]
    return _order(paired, baseline, df)[_PAIR_COLUMNS]


def _per_seed(group: pd.DataFrame) -> str:
    g = group.sort_values("seed")
    return " ".join(
        f"{s}:{v:.{PER_SEED_DECIMALS}f}" for s, v in zip(g["seed"], g["value"], strict=True)
    )


def summarise(
    long: pd.DataFrame, baseline: str = "baseline", confidence: float = 0.95
) -> pd.DataFrame:
    """One row per (variant, metric, scorer, aggregation) with the variant's ``mean, std (ddof=1),
    n, per_seed`` and the paired ``delta`` to the baseline with its Student-t interval
    ``delta_lo, delta_hi`` and the SD of the paired differences ``delta_sd`` (the noise a
    comparison carries; not the baseline's ``std``) over ``n_pairs`` common seeds
    (``n_unpaired`` seeds dropped).

    The interval is :func:`paired_t`'s at alpha = 1 − confidence. ``significant``: the interval
    excludes 0 and is not degenerate (differences all equal give ``[delta, delta]``, not
    significant). ``better``: None unless significant, else whether delta points in
    :func:`better_direction`. The baseline's rows have NaN deltas and ``n_pairs = 0``.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence!r}")
    df = validate_long(long, baseline)
    if df.empty:
        return pd.DataFrame(columns=_SUMMARY_COLUMNS)
    grouped = df.groupby(_GROUP, sort=False)
    out = grouped["value"].agg(mean="mean", std=lambda v: v.std(ddof=1), n="count")
    out["per_seed"] = grouped[["seed", "value"]].apply(_per_seed)
    merged = _pairs(df, baseline)
    out["n_unpaired"] = merged.groupby(_GROUP)["n_unpaired"].first()
    paired = merged[merged["_merge"] == "both"]
    diffs = (paired["value"] - paired["baseline_value"]).groupby([paired[c] for c in _GROUP])
    tests = {key: paired_t(d.to_numpy(), alpha=1.0 - confidence) for key, d in diffs}
    ci = pd.DataFrame.from_dict(
        {k: (t.mean, t.lo, t.hi, t.sd, t.n, t.degenerate) for k, t in tests.items()},
        orient="index",
        columns=["delta", "delta_lo", "delta_hi", "delta_sd", "n_pairs", "_degenerate"],
    )
    ci = ci.reindex(out.index) if len(ci) else pd.DataFrame(index=out.index, columns=ci.columns)
    cols = ["delta", "delta_lo", "delta_hi", "delta_sd"]
    out[cols] = ci[cols].astype(float)
    out["n_pairs"] = ci["n_pairs"].fillna(0).astype(int)
    out["n_unpaired"] = out["n_unpaired"].fillna(0).astype(int)
    degenerate = ci["_degenerate"].astype(object).eq(True).to_numpy()
    out = out.reset_index()
    # A zero-width interval (all differences equal) has no noise estimate: never significant.
    out["significant"] = ((out["delta_lo"] > 0) | (out["delta_hi"] < 0)) & ~degenerate
    lower = out["metric"].map(better_direction) == "lower"
    improved = np.where(lower, out["delta"] < 0, out["delta"] > 0)
    out["better"] = pd.Series(
        [bool(i) if s else None for i, s in zip(improved, out["significant"], strict=True)],
        index=out.index,
        dtype=object,
    )
    return _order(out, baseline, df)[_SUMMARY_COLUMNS]


def noise_floor(long: pd.DataFrame, baseline: str = "baseline") -> pd.DataFrame:
    """The baseline's seed-to-seed ``std`` (ddof=1), with ``mean`` and ``n``, per (metric, scorer,
    aggregation): how much one run varies with its seed. It is not a comparison's yardstick: a
    paired Δ carries the SD of its paired differences (:func:`summarise`'s ``delta_sd``), about
    σ·√(2(1 − ρ)) for two arms of this σ whose runs at one seed correlate by ρ."""
    summary = summarise(long, baseline)
    rows = summary[summary["variant"] == baseline]
    return rows[[*_KEY, "mean", "std", "n"]].reset_index(drop=True)


def _num(x: float, decimals: int, sign: bool = False) -> str:
    return "n/a" if pd.isna(x) else f"{x:{'+' if sign else ''}.{decimals}f}"


def _cells(row: pd.Series, decimals: int) -> tuple[str, str]:
    spread = f"{_num(row['mean'], decimals)} ± {_num(row['std'], decimals)}"
    if row["n_pairs"] == 0:
        return spread, "—"
    lo, hi = _num(row["delta_lo"], decimals, True), _num(row["delta_hi"], decimals, True)
    interval = "[n/a]" if pd.isna(row["delta_lo"]) else f"[{lo}, {hi}]"
    return spread, f"{_num(row['delta'], decimals, True)} {interval}"


def format_table(
    summary: pd.DataFrame, metrics: Sequence[str] | None = None, decimals: int = 3
) -> pd.DataFrame:
    """A reader's table from :func:`summarise`: a ``variant`` column, then for each metric label
    (:func:`metric_label`, e.g. ``"aupr/fused/per_image"``) ``"<label> mean ± std"`` and
    ``"<label> Δ [lo, hi]"``. ``metrics`` selects labels, or bare metric names meaning all their
    labels (default: all, in order). ``"—"`` marks a missing value (the baseline's own Δ, a variant
    with no seed in common with the baseline, a metric the variant lacks); ``"n/a"`` an undefined
    number (the std or interval of a single seed). Pair with :func:`table_footnote`."""
    missing = [c for c in _SUMMARY_COLUMNS if c not in summary.columns]
    if missing:
        raise ValueError(f"summary is missing columns {missing}; pass the output of summarise()")
    labels = [metric_label(*k) for k in summary[_KEY].itertuples(index=False, name=None)]
    s = summary.assign(_label=labels)
    available = list(dict.fromkeys(labels))
    chosen = available if metrics is None else []
    for m in metrics or []:
        hit = [a for a in available if a == m or a.split("/")[0] == m]
        if not hit and not s.empty:
            raise ValueError(f"format_table: unknown metric {m!r}; available: {available}")
        chosen += [a for a in (hit or [m]) if a not in chosen]
    columns = ["variant", *(f"{c} {part}" for c in chosen for part in ("mean ± std", "Δ [lo, hi]"))]
    if s.empty:
        return pd.DataFrame(columns=columns)
    rows = {v: {"variant": v} for v in pd.unique(s["variant"])}
    for _, row in s[s["_label"].isin(chosen)].iterrows():
        spread, delta = _cells(row, decimals)
        rows[row["variant"]].update(
            {f"{row['_label']} mean ± std": spread, f"{row['_label']} Δ [lo, hi]": delta}
        )
    return pd.DataFrame(list(rows.values()), columns=columns).fillna("—").reset_index(drop=True)


def table_footnote(confidence: float = 0.95, n_seeds: int = 3) -> str:
    """The one-sentence convention printed under :func:`format_table`'s table."""
    return (
        f"mean ± std over {n_seeds} seeds; Δ = paired difference to the baseline at the same "
        f"seeds, {confidence * 100:g} % Student-t interval on the per-seed differences "
        "(n−1 degrees of freedom)."
    )
