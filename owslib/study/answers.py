"""The study's answers: the pre-registered confirmatory analysis of the finished runs (one verdict
per question), and the screening's exploratory q-values. What ``06_summary``, notebooks 02–05 and
the README's table of answers (:func:`answers_markdown`, ``python -m owslib study --answers``)
state, generated from the numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from owslib import stats
from owslib.study.arms import screening_state
from owslib.study.confirm import (
    Confirmatory,
    Question,
    confirming_pair_table,
    confirming_pairs,
    exploratory,
    power_table,
    verdicts,
)
from owslib.study.results import long_rows, run_fingerprint
from owslib.study.secondary import (
    fresh_power,
    image_spread,
    moved,
    secondary_effects,
)
from owslib.study.sentences import answer
from owslib.study.state import is_current, read_record, recorded_status
from owslib.study.studyfile import RunJob, Study, run_dir

# (a list laid out by meaning: the effect, the tests, the design, the context)
COLUMNS = [
    "question",
    "notebook",
    "endpoint",
    "arm",
    "comparator",
    "n_pairs",
    "mean",
    "lo",
    "hi",
    "sd",
    "p",
    "p_holm",
    "p_holm_min",
    "margin",
    "p_tost",
    "tost_lo",
    "tost_hi",
    "sd_screening",
    "sd_arm_screening",
    "power",
    "power_fresh",
    "tost_power_fresh",
    "detectable",
    "power_target",
    "alpha",
    "degenerate",
    "n_higher",
    "corr",
    "image_ratio",
    "n_images",
    "also",
    "verdict",
    "status",
]
#: The columns of the confirmation's pairs (``confirmatory_pairs.csv``): one row per question and
#: fresh seed, the two arms' values on the endpoint and their difference, the runs' setup.
PAIR_COLUMNS = [
    "question",
    "notebook",
    "endpoint",
    "arm",
    "comparator",
    "seed",
    "arm_value",
    "comparator_value",
    "diff",
    "fingerprint",
]


def runs_long(
    study: Study, results_dir: str | Path, variants: tuple[str, ...], seeds: tuple[int, ...]
) -> pd.DataFrame:
    """Every number of the current finished runs of ``variants`` at ``seeds`` (status
    ``finished``: a run the runner would retrain, of another config or setup, is left out), with
    their fingerprints."""
    rows = []
    for v in variants:
        for s in seeds:
            job = RunJob(v, s, run_dir(results_dir, study.profile, v, s))
            metrics = read_record(job.path / "metrics.json")  # damaged: raises, naming it
            if metrics and is_current(study, job):
                rows += long_rows(v, s, metrics, run_fingerprint(job.path))
    return pd.DataFrame(
        rows, columns=["variant", "seed", "metric", "scorer", "aggregation", "value", "fingerprint"]
    )


def unpaired(
    study: Study, results_dir: str | Path, q: Question, arms: tuple[str, str], long: pd.DataFrame
) -> list[str]:
    """Why confirming seeds that have both runs are not pairs: a run failed or stale (the runner
    retrains it), the endpoint missing or NaN; a run still to train is not listed."""
    metric, *rest = q.endpoint.split("/")
    out = []
    for s in study.confirmatory.seeds if study.confirmatory else ():
        why = []
        prints = set(long.loc[long["seed"] == s, "fingerprint"])
        if set(long.loc[long["seed"] == s, "variant"]) >= set(arms) and len(prints) > 1:
            why.append(f"runs of {len(prints)} setups")
        for v in arms:
            st = recorded_status(study, RunJob(v, s, run_dir(results_dir, study.profile, v, s)))
            if st in ("failed", "stale"):
                why.append(f"{v} {st}")
            elif st == "finished":
                rows = long[
                    (long["variant"] == v) & (long["seed"] == s) & (long["metric"] == metric)
                ]
                if rest:
                    rows = rows[(rows["scorer"] == rest[0]) & (rows["aggregation"] == rest[1])]
                if rows.empty or rows["value"].isna().all():
                    why.append(f"{v} has no {q.endpoint}")
        if why:
            out.append(f"seed {s} ({', '.join(why)})")
    return out


def confirmatory_answers(study: Study, results_dir: str | Path) -> pd.DataFrame:
    """One row per pre-registered question: its arms (by its rule), the paired effect on the fresh
    seeds, Holm across the questions, TOST, the verdict; or why it is not answered yet
    (``status``).

    The analysis is the pre-registered one, with no interim test: a question is analysed once
    both its arms have finished at every planned seed in one setup (``n_pairs`` = the planned
    seeds; a run of another setup is retrained by the runner, and a run that cannot be trained
    is a defect to mend, never a missing value). Until then its row carries the untested interim
    estimate (``mean``, ``lo``, ``hi``, for whoever reads the table; the notebooks show no effect,
    p-value or verdict) with status ``k of N confirming seeds done``. Holm runs across all the
    questions; one not analysed yet enters with p = 1 (``p_holm``, an upper bound of the final
    adjusted p) and with p = 0 (``p_holm_min``, a lower bound). An analysed question's verdict
    stands as soon as no outcome of the others can change it: ``better``/``worse`` with
    ``p_holm`` < α, or ``p_holm_min`` ≥ α (no difference can be shown, and TOST, unadjusted,
    decides between ``equivalent`` and ``inconclusive``); any other waits for the rest (status
    ``holm_waits``). ``table.attrs["pairs"]``: the analysed questions' pairs seed by seed (records
    with the columns :data:`PAIR_COLUMNS`: what the tests ran on, and what the forest plot draws; pandas
    copies ``attrs`` into frames derived from the table, where they still cover every question).
    """
    conf = study.confirmatory
    if conf is None:
        return pd.DataFrame(columns=COLUMNS)
    rows, diffs, questions, pairs, secondary = [], {}, {}, [], {}
    for q in conf.questions:
        row, analysed = _question(study, results_dir, q)
        rows.append(row)
        if analysed is not None:
            name = row["notebook"]
            diffs[name], questions[name] = analysed["diff"], q
            pairs += analysed["pairs"]
            secondary[name] = analysed["secondary"]
    table = pd.DataFrame(rows, columns=COLUMNS)
    if diffs:
        _add_verdicts(table, diffs, questions, conf)
    table.attrs["pairs"] = pairs
    table.attrs["secondary"] = secondary
    return table


def _question(study: Study, results_dir: str | Path, q: Question) -> tuple[dict, dict | None]:
    """One question's row of :func:`confirmatory_answers`, and what its analysis needs once every
    planned pair is there in one setup (its differences, pairs and secondary effects; else None)."""
    conf = study.confirmatory
    n_planned = len(conf.seeds)
    nb = study.notebook(q.notebook)
    row = {
        "question": nb.question or nb.name,
        "notebook": nb.name,
        "endpoint": q.endpoint,
        "margin": q.margin,
    }
    arms, why = screening_state(study, results_dir, q)
    if arms is None:
        return row | {"status": why}, None
    long = runs_long(study, results_dir, arms, conf.seeds)
    by_seed = confirming_pair_table(long, q, arms[0], arms[1], conf.seeds)
    d = by_seed["diff"].to_numpy()
    sd = screening_sd(study, results_dir, q)
    power, _ = fresh_power(q.margin, sd, n_planned, conf.alpha, len(conf.questions))
    row |= {
        "arm": arms[0],
        "comparator": arms[1],
        "n_pairs": len(d),
        "power": power,
        "sd_screening": sd,
        "alpha": conf.alpha,
        "sd_arm_screening": screening_sd(study, results_dir, q, arms),
    }
    prints = set(long["fingerprint"])
    if len(d) < n_planned:  # (pairs: both arms finished at a seed, in one setup)
        t = stats.paired_t(d, conf.alpha) if len(d) >= 2 else None
        interim = {"mean": t.mean, "lo": t.lo, "hi": t.hi} if t else {}
        stuck = unpaired(study, results_dir, q, arms, long)
        note = f"; not paired: {'; '.join(stuck)}" if stuck else ""
        return row | interim | {
            "status": f"{len(d)} of {n_planned} confirming seeds done{note}"
        }, None
    if len(prints) > 1:  # every pair of one setup, but not all pairs of the same one
        setups = f"{len(prints)} setups ({', '.join(sorted(prints))})"
        return row | {"status": f"the confirming runs are of {setups}: retrain them in one"}, None
    pairs = by_seed.assign(
        question=row["question"],
        notebook=nb.name,
        endpoint=q.endpoint,
        arm=arms[0],
        comparator=arms[1],
        fingerprint=next(iter(prints)),
    )[PAIR_COLUMNS].to_dict("records")
    sec = secondary_effects(long, q, arms[0], arms[1], conf.seeds, conf.alpha)
    dirs = [tuple(run_dir(results_dir, study.profile, v, s) for v in arms) for s in conf.seeds]
    spread = image_spread(dirs)
    top = sec[sec["primary"]].iloc[0]
    row |= {
        "status": "analysed",
        "n_higher": top["n_higher"],
        "corr": top["corr"],
        "image_ratio": spread["ratio"],
        "n_images": spread["n_images"],
        "also": moved(sec),
    }
    return row, {"diff": d, "pairs": pairs, "secondary": sec}


#: The columns :func:`_add_verdicts` fills for the analysed questions from :func:`verdicts`.
_VERDICT_COLUMNS = (
    "mean",
    "lo",
    "hi",
    "sd",
    "p",
    "p_holm",
    "p_holm_min",
    "p_tost",
    "tost_lo",
    "tost_hi",
    "degenerate",
    "verdict",
)


def _add_verdicts(table: pd.DataFrame, diffs: dict, questions: dict, conf: Confirmatory) -> None:
    """Holm across the questions (bounds while some are pending), TOST, the verdicts, and the
    power at the fresh seeds' SD, into ``table`` in place."""
    m = len(conf.questions)
    v = verdicts(diffs, questions, conf.alpha, family=m).set_index("question")
    low = verdicts(diffs, questions, conf.alpha, m, missing_p=0.0)
    v["p_holm_min"] = low.set_index("question")["p_holm"]
    analysed = table["status"] == "analysed"
    for col in _VERDICT_COLUMNS:
        table[col] = table[col].where(~analysed, table["notebook"].map(v[col]))
    pending = len(diffs) < m
    # sensitivity: the effect the fresh seeds' SD lets the design detect (at α/m, as planned)
    table["power_target"] = conf.power
    cases = list(zip(table["margin"], table["sd"], table["n_pairs"], analysed, strict=True))
    fresh = [
        fresh_power(mg, sd, int(n), conf.alpha, m) if ok else (np.nan,) * 2
        for mg, sd, n, ok in cases
    ]
    table["power_fresh"] = [f[0] for f in fresh]
    table["tost_power_fresh"] = [f[1] for f in fresh]
    table["detectable"] = [
        stats.detectable_effect(sd, int(n), conf.power, conf.alpha / m)
        if ok and sd > 0 and n >= 2
        else np.nan
        for _, sd, n, ok in cases
    ]
    settled = table["verdict"].isin(["better", "worse"]) | (table["p_holm_min"] >= conf.alpha)
    waits = analysed & ~settled & pending
    table.loc[waits, "verdict"] = np.nan
    table.loc[waits, "status"] = "holm_waits"


def answer_sentences(table: pd.DataFrame) -> list[str]:
    """The four answers, one sentence each (:func:`owslib.study.sentences.answer`)."""
    return [answer(row, row["question"]) for _, row in table.iterrows()]


def screening_exploratory(study: Study, results_dir: str | Path) -> pd.DataFrame:
    """Each comparison notebook's screening (its variants against its baseline at the screening
    seeds, one setup per pair), with BH q-values over all of them: exploratory."""
    parts = []
    for nb in study.notebooks:
        if len(nb.variants) < 2:
            continue
        long = runs_long(study, results_dir, nb.variants, study.seeds)
        if long.empty or nb.baseline not in set(long["variant"]):
            continue
        parts.append(exploratory(long, nb.baseline).assign(notebook=nb.name, baseline=nb.baseline))
    if not parts:
        return pd.DataFrame()
    out = pd.concat(parts, ignore_index=True)
    return with_distinct_q(out)


def with_distinct_q(ex: pd.DataFrame) -> pd.DataFrame:
    """BH q-values over the distinct hypotheses of ``ex``: comparisons that differ only in the
    scorer and give the very same numbers (two scorers that compute one score on this data, e.g.
    ``gaussian`` and ``gaussian_per_dim`` with a diagonal covariance) are one hypothesis, counted
    once in the family; each of their rows carries its q. ``distinct``: whether a row is the first
    of its hypothesis (``ex.attrs["family"]``: the family's size)."""
    same = [c for c in ex.columns if c not in ("scorer", "q_bh", "distinct")]
    first = ~ex.duplicated(subset=same, keep="first")
    key = pd.util.hash_pandas_object(ex[same], index=False)
    tested = first & ex["p"].notna()
    q = pd.Series(stats.benjamini_hochberg(ex.loc[tested, "p"].to_numpy()), index=key[tested])
    out = ex.assign(q_bh=key.map(q).to_numpy(), distinct=first.to_numpy())
    out.attrs["family"] = int(tested.sum())
    return out


def exploratory_top(ex: pd.DataFrame, n: int = 25) -> pd.DataFrame:
    """The ``n`` smallest q-values of :func:`screening_exploratory`'s pooled metrics and mIoU,
    for display: comparisons that differ only in the scorer and give the very same numbers are one
    row, the scorers joined by " = " (one hypothesis of the family: :func:`with_distinct_q`)."""
    if ex.empty:
        return ex
    pooled = ex[ex["aggregation"].isin(["", "pooled"])].drop(columns="distinct", errors="ignore")
    same = [c for c in pooled.columns if c != "scorer"]
    merged = pooled.groupby(same, dropna=False, sort=False)["scorer"].agg(" = ".join)
    top = merged.reset_index()[list(pooled.columns)].sort_values("q_bh", kind="stable").head(n)
    return top.reset_index(drop=True)


def screening_sd(
    study: Study, results_dir: str | Path, q: Question, arms: tuple[str, str] | None = None
) -> float:
    """The screening's SD of paired differences on a question's endpoint: for a head-to-head
    question (or given ``arms``) its two arms, else the root mean square over the notebook's
    variant − baseline SDs (as the pre-registration sized the confirmation); NaN without two
    pairs."""
    nb = study.notebook(q.notebook)
    pairs = (
        [tuple(arms or q.arms)]
        if arms or q.rule == "head_to_head"
        else [(v, nb.baseline) for v in nb.variants if v != nb.baseline]
    )
    variants = tuple(dict.fromkeys(v for p in pairs for v in p))
    long = runs_long(study, results_dir, variants, study.seeds)
    sds = [
        float(np.std(d, ddof=1))
        for a, b in pairs
        if len(d := confirming_pairs(long, q, a, b, study.seeds)) >= 2
    ]
    return float(np.sqrt(np.mean(np.square(sds)))) if sds else float("nan")


def power_now(study: Study, results_dir: str | Path) -> pd.DataFrame:
    """The power table with the SDs of the screening in ``results_dir`` (the pre-registered one,
    from the earlier screening, is in docs/confirmatory.md)."""
    conf = study.confirmatory
    if conf is None:
        return pd.DataFrame()
    sds = {q.notebook: (q, screening_sd(study, results_dir, q)) for q in conf.questions}
    known = {k: v for k, v in sds.items() if v[1] == v[1] and v[1] > 0}  # (α/m: m of conf)
    return power_table(known, conf, len(conf.seeds)) if known else pd.DataFrame()


def notebook_verdict(study: Study, results_dir: str | Path, notebook: str) -> str:
    """The closing sentence of a comparison notebook: its pre-registered question's verdict (or
    why it waits), and that everything else in the notebook is exploratory."""
    table = confirmatory_answers(study, results_dir)
    rows = table[table["notebook"] == notebook]
    if rows.empty:
        return (
            "This notebook's question has no pre-registered confirmation: every number here is "
            "exploratory."
        )
    (sentence,) = answer_sentences(rows)
    return (
        f"{sentence}\n\nEverything else in this notebook (other metrics, scorers, variants, the "
        "screening seeds) is exploratory: screening intervals are not verdicts."
    )


#: The lines that open and close the table of answers ``study --answers FILE`` rewrites in FILE.
