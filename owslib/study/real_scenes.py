"""The real-scene study's numbers: CamVid's known-class mIoU and RoadAnomaly's real anomalies, per run,
beside the published results that give them context (``07_real_scenes``).

Every number is read back from a run's ``metrics.json`` (CamVid's test split at the top level,
RoadAnomaly under ``anomaly_sets/road_anomaly``, its frames in ``per_image.csv``); nothing here
computes a metric. On them: the pre-registered replication's verdicts
(:func:`replication_answers`) and the seeds its plan takes from the pilot (:func:`seed_plan`).
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from owslib import stats
from owslib.io import read_json
from owslib.study.crossed import crossed_power, crossed_t
from owslib.study.replication import Replication, ReplicationQuestion, outcome
from owslib.study.results import run_fingerprint
from owslib.study.studyfile import Study, run_dir

log = logging.getLogger(__name__)

ANOMALY_SET = "road_anomaly"
#: Published numbers for context (other training data, resolution and backbones: not targets).
PUBLISHED = (
    (
        "CamVid test mIoU (11 classes)",
        "SegNet (Badrinarayanan et al. 2017), as reported by ENet",
        0.556,
    ),
    ("CamVid test mIoU (11 classes)", "ENet (Paszke et al. 2016)", 0.513),
    ("RoadAnomaly pixel AP", "RbA (Nayal et al., ICCV 2023, Swin-L)", 0.9028),
    ("RoadAnomaly FPR95", "RbA (Nayal et al., ICCV 2023, Swin-L)", 0.0492),
    ("RoadAnomaly pixel AP", "Mask2Anomaly (Rai et al., ICCV 2023)", 0.7970),
    ("RoadAnomaly FPR95", "Mask2Anomaly (Rai et al., ICCV 2023)", 0.1345),
)
#: The columns of :func:`run_rows`: CamVid's mIoU, then the scorer's RoadAnomaly numbers.
COLUMNS = (
    "variant",
    "seed",
    "camvid_miou",
    "ap",
    "fpr95",
    "auroc",
    "ap_per_frame",
    "siou",
    "ppv",
    "mean_f1",
)


def run_numbers(metrics: dict[str, Any], scorer: str = "fused") -> dict[str, float]:
    """One run's headline numbers (NaN where a section is missing)."""
    nan = float("nan")
    ra = metrics.get("anomaly_sets", {}).get(ANOMALY_SET, {})
    pooled = ra.get("anomaly", {}).get(scorer, {}).get("pooled", {})
    per_image = ra.get("anomaly", {}).get(scorer, {}).get("per_image", {})
    comp = ra.get("components", {}).get(scorer, {})
    return {
        "camvid_miou": metrics.get("miou", nan),
        "ap": pooled.get("aupr", nan),
        "fpr95": pooled.get("fpr95", nan),
        "auroc": pooled.get("auroc", nan),
        "ap_per_frame": per_image.get("aupr", nan),
        "siou": comp.get("siou", nan),
        "ppv": comp.get("ppv", nan),
        "mean_f1": comp.get("mean_f1", nan),
    }


def all_seeds(study: Study) -> tuple[int, ...]:
    """The pilot's seeds, then the replication's (if declared)."""
    return study.seeds + (study.replication.seeds if study.replication else ())


def run_rows(study: Study, results: str | Path, scorer: str = "fused") -> pd.DataFrame:
    """A row per finished run of the study (variant, seed, :data:`COLUMNS`' numbers)."""
    rows = []
    for variant in study.variants:
        for seed in all_seeds(study):
            metrics = read_json(run_dir(results, study.profile, variant, seed) / "metrics.json")
            if metrics is not None:
                rows.append({"variant": variant, "seed": seed} | run_numbers(metrics, scorer))
    return pd.DataFrame(rows, columns=list(COLUMNS))


def baseline_beside_published(rows: pd.DataFrame, baseline: str = "baseline") -> pd.DataFrame:
    """The baseline's mean ± SD over its seeds beside each published number of the same metric."""
    base = rows[rows["variant"] == baseline]
    ours = {
        "CamVid test mIoU (11 classes)": base["camvid_miou"],
        "RoadAnomaly pixel AP": base["ap"],
        "RoadAnomaly FPR95": base["fpr95"],
    }
    out = []
    for metric, values in ours.items():
        n = int(values.notna().sum())
        mean, sd = values.mean(), values.std(ddof=1) if n > 1 else float("nan")
        out.append(
            {
                "metric": metric,
                "method": f"ContMAV here ({baseline}, {n} seeds)",
                "value": mean,
                "sd": sd,
            }
        )
        out += [
            {"metric": m, "method": who, "value": v, "sd": float("nan")}
            for m, who, v in PUBLISHED
            if m == metric
        ]
    return pd.DataFrame(out, columns=["metric", "method", "value", "sd"])


def frame_values(run: Path, anomaly_set: str, scorer: str) -> pd.Series | None:
    """A finished run's per-frame pixel AP of ``scorer`` on ``anomaly_set`` (from the set's
    ``per_image.csv``), indexed by frame; None where the run has none."""
    path = run / "anomaly_sets" / anomaly_set / "per_image.csv"
    if not (run / "metrics.json").is_file() or not path.is_file():
        return None
    table = pd.read_csv(path)
    column = f"{scorer}_aupr"
    if column not in table.columns:
        raise ValueError(f"{path}: no column {column!r} (the scorer {scorer!r} was not evaluated)")
    return table.set_index("image")[column]


def pair_runs(
    study: Study, results: str | Path, q: ReplicationQuestion, seeds: tuple[int, ...]
) -> list[tuple[int, Path, Path]]:
    """The seeds at which both the arm's and the comparator's runs are finished in the study's one
    setup: the fingerprint most of the finished runs of its variants share at ``seeds``. A run in
    another setup is left out, with a warning naming it (pairs never cross setups)."""
    found = {}
    for seed in seeds:
        for v in (q.arm, q.comparator):
            path = run_dir(results, study.profile, v, seed)
            if (path / "metrics.json").is_file():
                found[v, seed] = (path, run_fingerprint(path))
    if not found:
        return []
    common = Counter(fp for _, fp in found.values()).most_common(1)[0][0]
    for path, fp in found.values():
        if fp != common:
            log.warning(
                "%s: trained in another setup (fingerprint %s, not %s): left out", path, fp, common
            )
    return [
        (seed, found[q.arm, seed][0], found[q.comparator, seed][0])
        for seed in seeds
        if all(found.get((v, seed), (None, ""))[1] == common for v in (q.arm, q.comparator))
    ]


def frame_differences(
    study: Study,
    results: str | Path,
    q: ReplicationQuestion,
    seeds: tuple[int, ...],
    anomaly_set: str = ANOMALY_SET,
) -> pd.DataFrame:
    """``arm − comparator`` of a per-frame endpoint, seeds (rows) × frames (columns), for the
    seeds with both runs finished in one setup."""
    rows = {}
    for seed, a, c in pair_runs(study, results, q, seeds):
        arm, comp = frame_values(a, anomaly_set, q.scorer), frame_values(c, anomaly_set, q.scorer)
        if arm is None or comp is None:
            continue
        if set(arm.index) != set(comp.index):
            raise ValueError(f"{a} and {c}: their {anomaly_set} frames differ")
        if rows and set(arm.index) != set(next(iter(rows.values())).index):
            raise ValueError(f"{a}: its {anomaly_set} frames differ from the other seeds'")
        rows[seed] = arm - comp
    return pd.DataFrame(rows).T.sort_index() if rows else pd.DataFrame()


def seed_differences(
    study: Study,
    results: str | Path,
    q: ReplicationQuestion,
    seeds: tuple[int, ...],
    anomaly_set: str = ANOMALY_SET,
) -> pd.Series:
    """``arm − comparator`` per seed: mIoU, or a per-frame endpoint averaged over the frames."""
    if q.per_frame:
        return frame_differences(study, results, q, seeds, anomaly_set).mean(axis=1)
    out = {}
    for seed, a, c in pair_runs(study, results, q, seeds):
        out[seed] = read_json(a / "metrics.json")["miou"] - read_json(c / "metrics.json")["miou"]
    return pd.Series(out, dtype=float).sort_index()


def _test(study, results, q: ReplicationQuestion, seeds, alpha: float, anomaly_set: str) -> dict:
    """One question's test on ``seeds``: crossed (seeds × frames random) or paired over seeds."""
    nan = float("nan")
    if q.per_frame:
        d = frame_differences(study, results, q, seeds, anomaly_set)
        if d.empty:
            return {"n_seeds": 0, "n_frames": 0, "mean": nan}
        c = crossed_t(d.to_numpy(), alpha, q.margin)
        out = {k: getattr(c, k) for k in ("mean", "lo", "hi", "p", "p_tost", "tost_lo", "tost_hi")}
        return out | {
            "n_seeds": c.n_seeds,
            "n_frames": c.n_frames,
            "sd_seed": float(d.mean(axis=1).std(ddof=1)) if c.n_seeds > 1 else nan,
            "components": (c.var_seed, c.var_frame, c.var_resid),
        }
    d = seed_differences(study, results, q, seeds).to_numpy()
    t = stats.paired_t(d, alpha)
    eq = stats.tost(d, q.margin, alpha) if t.n >= 2 else None
    return {
        "mean": t.mean,
        "lo": t.lo,
        "hi": t.hi,
        "p": t.p,
        "p_tost": eq.p if eq else nan,
        "tost_lo": eq.lo if eq else nan,
        "tost_hi": eq.hi if eq else nan,
        "n_seeds": t.n,
        "n_frames": 0,
        "sd_seed": t.sd,
    }


def _power(q: ReplicationQuestion, test: dict, alpha: float) -> float:
    """Power at the margin at the spread observed (the seeds and frames ``test`` had)."""
    n = test["n_seeds"]
    if n < 2 or not np.isfinite(test.get("sd_seed", float("nan"))) or test["sd_seed"] <= 0:
        return float("nan")
    if q.per_frame:
        return crossed_power(q.margin, *test["components"], n, test["n_frames"], alpha)
    return stats.paired_t_power(q.margin, test["sd_seed"], n, alpha)


def replication_answers(
    study: Study, results: str | Path, seeds: tuple[int, ...] | None = None
) -> pd.DataFrame:
    """The pre-registered replication's verdicts (``docs/real_scenes.md``), one row per question:
    the test on the replication's seeds (or ``seeds``), Holm across every declared question (one
    without pairs yet enters with p = 1), TOST within the margin, the verdict, the embedded
    verdict and what the one says of the other, and the power at the margin at the spread
    observed (α / number of questions)."""
    rep = _replication(study)
    seeds = rep.seeds if seeds is None else seeds
    tests = [_test(study, results, q, seeds, rep.alpha, rep.anomaly_set) for q in rep.questions]
    raw = [t.get("p", float("nan")) for t in tests]
    adjusted = stats.holm([1.0 if not np.isfinite(p) else p for p in raw])
    rows = []
    for q, t, p_holm in zip(rep.questions, tests, adjusted, strict=True):
        verdict = _verdict(t, float(p_holm), rep.alpha)
        rows.append(
            {
                "question": q.question,
                "arm": q.arm,
                "comparator": q.comparator,
                "endpoint": q.endpoint,
                "margin": q.margin,
                "n_seeds": t["n_seeds"],
                "n_frames": t["n_frames"],
                "mean": t["mean"],
                "lo": t.get("lo", float("nan")),
                "hi": t.get("hi", float("nan")),
                "p": t.get("p", float("nan")),
                "p_holm": float(p_holm),
                "p_tost": t.get("p_tost", float("nan")),
                "tost_lo": t.get("tost_lo", float("nan")),
                "tost_hi": t.get("tost_hi", float("nan")),
                "power": _power(q, t, rep.alpha / len(rep.questions)),
                "verdict": verdict,
                "embedded": q.embedded,
                "outcome": outcome(q.embedded, verdict),
            }
        )
    table = pd.DataFrame(rows)
    # Holm needs every question's p: a verdict stands once every question has all its seeds
    table["complete"] = bool((table["n_seeds"] == len(seeds)).all())
    return table


def _verdict(test: dict, p_holm: float, alpha: float) -> str:
    """better / worse where Holm's p < alpha (the sign says which; both endpoints grow with
    quality), equivalent where TOST's p < alpha, else inconclusive (fewer than 2 seeds too)."""
    if test["n_seeds"] < 2 or not np.isfinite(test.get("p", float("nan"))):
        return "inconclusive"
    if p_holm < alpha and test["mean"] != 0:
        return "better" if test["mean"] > 0 else "worse"
    return "equivalent" if test["p_tost"] < alpha else "inconclusive"


def _replication(study: Study) -> Replication:
    if study.replication is None:
        raise ValueError(f"{study.path}: declares no replication")
    return study.replication


def seed_plan(
    study: Study,
    results: str | Path,
    questions: tuple[ReplicationQuestion, ...],
    alpha: float = 0.05,
    power: float = 0.8,
    minimum: int = 10,
    cap: int = 16,
    anomaly_set: str = ANOMALY_SET,
) -> pd.DataFrame:
    """The replication's seeds, planned on the pilot (the study's own seeds) by the rule of
    ``docs/real_scenes.md``: per question, the spread of the pilot's paired differences replaced
    by its one-sided 95 % upper confidence bound, then the fewest seeds (``minimum`` … ``cap``)
    whose test at α / (number of questions) has ``power`` at the margin. Per-frame endpoints: the
    variance of a seed's frame-averaged difference (bound at S − 1 df) and the frame component
    (bounded by MS_frame / S at F − 1 df), :func:`~owslib.study.crossed.crossed_power` on them
    with the residual as estimated (:func:`_pilot_components`); mIoU:
    the paired t on the seeds' SD (bound at S − 1 df). ``seeds`` is the plan (``cap`` where the
    power is out of reach: ``power_planned`` then says what ``cap`` buys)."""
    level = alpha / len(questions)
    rows = []
    for q in questions:
        frames = (
            frame_differences(study, results, q, study.seeds, anomaly_set) if q.per_frame else None
        )  # read once: the seeds' averages and the crossed analysis both come from it
        d = (
            frames.mean(axis=1)
            if frames is not None
            else seed_differences(study, results, q, study.seeds, anomaly_set)
        )
        n, nan = len(d), float("nan")
        sd = float(d.std(ddof=1)) if n > 1 else nan
        row = {
            "question": q.question,
            "endpoint": q.endpoint,
            "margin": q.margin,
            "pilot_seeds": n,
            "pilot_mean": float(d.mean()) if n else nan,
            "sd_seed": sd,
            "sd_seed_ucb": stats.sd_upper_bound(sd, n) if n > 1 else nan,
            "sd_frame": nan,
            "sd_frame_ucb": nan,
            "sd_resid": nan,
        }
        if n > 1 and frames is not None:
            row |= _pilot_components(crossed_t(frames.to_numpy()))
        powers = {
            k: _planned_power(q, row, k, level) if n > 1 else nan for k in range(minimum, cap + 1)
        }
        reached = [k for k, p in powers.items() if p >= power]
        k = reached[0] if reached else cap
        rows.append(row | {"seeds": k, "power_planned": powers[k], "reached": bool(reached)})
    return pd.DataFrame(rows)


def _pilot_components(c) -> dict[str, float]:
    """The pilot's crossed analysis as the plan bounds it (one-sided 95 %, ``docs/real_scenes.md``):
    the variance of a seed's frame-averaged difference, MS_seed / F, bounded at S − 1 df; the
    frame component bounded conservatively by MS_frame / S (σ²_frame + σ²_resid / S: never 0,
    never infinite) at F − 1 df; the residual as estimated (it has (S − 1)(F − 1) df)."""
    s, f = c.n_seeds, c.n_frames
    ms_seed = f * c.var_seed + c.var_resid
    ms_frame = s * c.var_frame + c.var_resid
    seed_mean = _var_upper_bound(ms_seed / f, s - 1)
    frame = _var_upper_bound(ms_frame / s, f - 1)
    return {
        "frames": f,
        "sd_seed_ucb": float(np.sqrt(seed_mean)),
        "sd_frame": float(np.sqrt(c.var_frame)),
        "sd_frame_ucb": float(np.sqrt(frame)),
        "sd_resid": float(np.sqrt(c.var_resid)),
    }


def _var_upper_bound(estimate: float, df: float, confidence: float = 0.95) -> float:
    """One-sided upper confidence bound of a variance estimated with ``df`` degrees of freedom."""
    return float(estimate * df / scipy_stats.chi2.ppf(1.0 - confidence, df))


def _planned_power(q: ReplicationQuestion, row: dict[str, Any], k: int, level: float) -> float:
    """The power at the margin with ``k`` seeds at the bounds of ``row`` (:func:`seed_plan`): for
    a per-frame endpoint the crossed test's, its seed component the bound of a seed's average
    less the residual's share (so the variance of the mean and its df are the model's)."""
    if q.per_frame:
        resid = row["sd_resid"] ** 2
        seed = max(row["sd_seed_ucb"] ** 2 - resid / row["frames"], 0.0)
        frame = row["sd_frame_ucb"] ** 2
        return crossed_power(q.margin, seed, frame, resid, k, row["frames"], level)
    return stats.paired_t_power(q.margin, row["sd_seed_ucb"], k, level)
