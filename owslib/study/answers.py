"""The study's answers: the pre-registered confirmatory analysis of the finished runs (one verdict
per question), and the screening's exploratory q-values. What ``06_summary``, notebooks 02–05 and
the README's table of answers (:func:`answers_markdown`, ``python -m owslib study --answers``)
state, generated from the numbers."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from owslib import stats
from owslib.io import atomic_write_text, read_json
from owslib.study.arms import screening_state
from owslib.study.confirm import (
    Question,
    answer,
    answer_body,
    confirming_pair_table,
    confirming_pairs,
    endpoint_words,
    exploratory,
    power_table,
    signed,
    verdicts,  # fmt: skip
)
from owslib.study.results import long_rows, run_fingerprint
from owslib.study.state import is_current, recorded_status
from owslib.study.studyfile import RunJob, Study, run_dir

COLUMNS = ["question", "notebook", "endpoint", "arm", "comparator", "n_pairs", "mean", "lo", "hi",
           "sd", "sd_screening", "p", "p_holm", "p_holm_min", "margin", "p_tost", "tost_lo",
           "tost_hi", "power", "detectable", "power_target", "alpha", "degenerate", "verdict",
           "status"]  # fmt: skip
#: The columns of the confirmation's pairs (``confirmatory_pairs.csv``): one row per question and
#: fresh seed, the two arms' values on the endpoint and their difference, the runs' setup.
PAIR_COLUMNS = ["question", "notebook", "endpoint", "arm", "comparator", "seed", "arm_value",
                "comparator_value", "diff", "fingerprint"]  # fmt: skip


def runs_long(study: Study, results_dir: str | Path, variants: tuple[str, ...],
              seeds: tuple[int, ...]) -> pd.DataFrame:  # fmt: skip
    """Every number of the current finished runs of ``variants`` at ``seeds`` (status
    ``finished``: a run the runner would retrain, of another config or setup, is left out), with
    their fingerprints."""
    rows = []
    for v in variants:
        for s in seeds:
            job = RunJob(v, s, run_dir(results_dir, study.profile, v, s))
            metrics = read_json(job.path / "metrics.json")
            if metrics and is_current(study, job):
                rows += long_rows(v, s, metrics, run_fingerprint(job.path))
    return pd.DataFrame(rows, columns=["variant", "seed", "metric", "scorer", "aggregation",
                                       "value", "fingerprint"])  # fmt: skip


def unpaired(study: Study, results_dir: str | Path, q: Question, arms: tuple[str, str],
             long: pd.DataFrame) -> list[str]:  # fmt: skip
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
                rows = long[(long["variant"] == v) & (long["seed"] == s)
                            & (long["metric"] == metric)]  # fmt: skip
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
    rows, diffs, questions, n_planned, pairs = [], {}, {}, len(conf.seeds), []
    for q in conf.questions:
        nb = study.notebook(q.notebook)
        row = {"question": nb.question or nb.name, "notebook": nb.name, "endpoint": q.endpoint,
               "margin": q.margin}  # fmt: skip
        arms, why = screening_state(study, results_dir, q)
        if arms is None:
            rows.append(row | {"status": why})
            continue
        long = runs_long(study, results_dir, arms, conf.seeds)
        by_seed = confirming_pair_table(long, q, arms[0], arms[1], conf.seeds)
        d = by_seed["diff"].to_numpy()
        sd = screening_sd(study, results_dir, q)
        power = stats.paired_t_power(q.margin, sd, n_planned, conf.alpha / len(conf.questions)) \
            if sd == sd and sd > 0 and n_planned >= 2 else np.nan  # fmt: skip
        row |= {"arm": arms[0], "comparator": arms[1], "n_pairs": len(d), "power": power,
                "sd_screening": sd, "alpha": conf.alpha}  # fmt: skip
        prints = set(long["fingerprint"])
        if len(d) < n_planned:  # (pairs: both arms finished at a seed, in one setup)
            t = stats.paired_t(d, conf.alpha) if len(d) >= 2 else None
            interim = {"mean": t.mean, "lo": t.lo, "hi": t.hi} if t else {}
            stuck = unpaired(study, results_dir, q, arms, long)
            note = f"; not paired: {'; '.join(stuck)}" if stuck else ""
            rows.append(row | interim | {"status": f"{len(d)} of {n_planned} confirming seeds "
                                                   f"done{note}"})  # fmt: skip
            continue
        if len(prints) > 1:  # every pair of one setup, but not all pairs of the same one
            rows.append(row | {"status": f"the confirming runs are of {len(prints)} setups "
                                         f"({', '.join(sorted(prints))}): retrain them in one"})  # fmt: skip
            continue
        diffs[nb.name], questions[nb.name] = d, q
        pairs += by_seed.assign(question=row["question"], notebook=nb.name, endpoint=q.endpoint,
                                arm=arms[0], comparator=arms[1],
                                fingerprint=next(iter(prints)))[PAIR_COLUMNS].to_dict("records")  # fmt: skip
        rows.append(row | {"status": "analysed"})
    table = pd.DataFrame(rows, columns=COLUMNS)
    if diffs:
        v = verdicts(diffs, questions, conf.alpha, family=len(conf.questions))
        v = v.set_index("question")
        low = verdicts(diffs, questions, conf.alpha, len(conf.questions), missing_p=0.0)
        v["p_holm_min"] = low.set_index("question")["p_holm"]
        analysed = table["status"] == "analysed"
        for col in ("mean", "lo", "hi", "sd", "p", "p_holm", "p_holm_min", "p_tost", "tost_lo",
                    "tost_hi", "degenerate", "verdict"):  # fmt: skip
            table[col] = table[col].where(~analysed, table["notebook"].map(v[col]))
        pending = len(diffs) < len(conf.questions)
        # sensitivity: the effect the fresh seeds' SD lets the design detect (at α/m, as planned)
        alpha_m = conf.alpha / len(conf.questions)
        table["power_target"] = conf.power
        table["detectable"] = [
            stats.detectable_effect(sd, int(n), conf.power, alpha_m) if ok and sd > 0 and n >= 2
            else np.nan for sd, n, ok in zip(table["sd"], table["n_pairs"], analysed, strict=True)
        ]  # fmt: skip
        settled = table["verdict"].isin(["better", "worse"]) | (table["p_holm_min"] >= conf.alpha)
        waits = analysed & ~settled & pending
        table.loc[waits, "verdict"] = np.nan
        table.loc[waits, "status"] = "holm_waits"
    table.attrs["pairs"] = pairs
    return table


def answer_sentences(table: pd.DataFrame) -> list[str]:
    """The four answers, one sentence each (:func:`owslib.study.confirm.answer`)."""
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
        parts.append(exploratory(long, nb.baseline).assign(notebook=nb.name,
                                                           baseline=nb.baseline))  # fmt: skip
    if not parts:
        return pd.DataFrame()
    out = pd.concat(parts, ignore_index=True)
    out["q_bh"] = stats.benjamini_hochberg(out["p"].to_numpy())  # over every notebook
    return out


def exploratory_top(ex: pd.DataFrame, n: int = 25) -> pd.DataFrame:
    """The ``n`` smallest q-values of :func:`screening_exploratory`'s pooled metrics and mIoU,
    for display: comparisons that differ only in the scorer and give the very same numbers (two
    scorers that compute one score on this data, e.g. ``gaussian`` and ``gaussian_per_dim`` with
    a diagonal covariance) are one row, the scorers joined by " = ". The family, and with it every
    q-value, stays the whole table's."""
    if ex.empty:
        return ex
    pooled = ex[ex["aggregation"].isin(["", "pooled"])]
    same = [c for c in pooled.columns if c != "scorer"]
    merged = pooled.groupby(same, dropna=False, sort=False)["scorer"].agg(" = ".join)
    top = merged.reset_index()[list(pooled.columns)].sort_values("q_bh", kind="stable").head(n)
    return top.reset_index(drop=True)


def screening_sd(study: Study, results_dir: str | Path, q: Question) -> float:
    """The screening's SD of paired differences on a question's endpoint: for a head-to-head
    question its two arms, else the root mean square over the notebook's variant − baseline SDs
    (as the pre-registration sized the confirmation); NaN without two pairs."""
    nb = study.notebook(q.notebook)
    pairs = ([tuple(q.arms)] if q.rule == "head_to_head"
             else [(v, nb.baseline) for v in nb.variants if v != nb.baseline])  # fmt: skip
    variants = tuple(dict.fromkeys(v for p in pairs for v in p))
    long = runs_long(study, results_dir, variants, study.seeds)
    sds = [float(np.std(d, ddof=1)) for a, b in pairs
           if len(d := confirming_pairs(long, q, a, b, study.seeds)) >= 2]  # fmt: skip
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
BLOCK_START = "<!-- the answers: `python -m owslib study --answers README.md` writes this table -->"
BLOCK_END = "<!-- end of the answers -->"


def seeds_words(seeds: tuple[int, ...]) -> str:
    """``seeds 100–113`` for a run of consecutive seeds, else ``seeds 0, 2, 5``."""
    ordered = sorted(seeds)
    if len(ordered) > 2 and ordered == list(range(ordered[0], ordered[-1] + 1)):
        return f"seeds {ordered[0]}–{ordered[-1]}"
    return "seeds " + ", ".join(str(s) for s in ordered)


def _effect(mean: float, lo: float, hi: float, n: int, n_planned: int) -> str:
    """``+0.041 [+0.009, +0.072]``, with the seeds where fewer than planned."""
    seeds = f"{n} of {n_planned} seeds" if n < n_planned else ""
    if lo != lo or lo == hi:  # fewer than two pairs, or every seed the same difference
        why = "no interval" if lo != lo else "the same at every seed"
        return f"{signed(mean)} ({seeds or f'{n} seeds'}, {why})"
    return f"{signed(mean)} [{signed(lo)}, {signed(hi)}]" + (f" ({seeds})" if seeds else "")


def screening_cell(study: Study, results_dir: str | Path, q: Question,
                   arms: tuple[str, str] | None, explo: pd.DataFrame) -> str:  # fmt: skip
    """What the screening (exploratory) says on a question's endpoint: the head-to-head difference
    (uncorrected), or each variant against the notebook's baseline, best first, with its BH
    q-value over the screening (``explo``: :func:`screening_exploratory`); ``arms[0]``, the arm the
    confirmation tests, is marked."""
    nb, n_planned = study.notebook(q.notebook), len(study.seeds)
    if q.rule == "head_to_head":
        a, b = q.arms
        d = confirming_pairs(runs_long(study, results_dir, (a, b), study.seeds), q, a, b,
                             study.seeds)  # fmt: skip
        if not len(d):
            return f"no screening seed has both `{a}` and `{b}` yet"
        t = stats.paired_t(d)
        return (f"`{a}` − `{b}`, {endpoint_words(q.endpoint)}, uncorrected: "
                f"{_effect(t.mean, t.lo, t.hi, t.n, n_planned)}")  # fmt: skip
    metric, scorer, aggregation = (q.endpoint.split("/") + ["", ""])[:3]
    rows = explo if explo.empty else explo[
        (explo["notebook"] == nb.name) & (explo["metric"] == metric) & (explo["scorer"] == scorer)
        & (explo["aggregation"] == aggregation) & (explo["n_pairs"] > 0)]  # fmt: skip
    rows = rows.sort_values("mean", ascending=not q.higher_better) if len(rows) else rows
    if rows.empty:
        return f"no screening run pairs with `{nb.baseline}` yet"
    parts = []
    for r in rows.itertuples():
        tag = " (the confirmation's arm)" if arms and r.variant == arms[0] else ""
        qv = f"q {r.q_bh:.2f}" if r.q_bh == r.q_bh else "no q"
        parts.append(
            f"`{r.variant}`{tag} {_effect(r.mean, r.lo, r.hi, r.n_pairs, n_planned)}, {qv}"
        )
    return f"{endpoint_words(q.endpoint)} − `{nb.baseline}`: " + "; ".join(parts)


def answers_markdown(study: Study, results_dir: str | Path, link_from: str | Path = ".") -> str:
    """The README's table of answers, generated from the runs in ``results_dir``: per question the
    confirmatory verdict (or why it waits), what the screening says on the endpoint (exploratory),
    and a link to the rendered notebook (relative to the folder ``link_from``)."""
    conf = study.confirmatory
    if conf is None:
        raise ValueError("the study file declares no confirmatory questions: no answers to write")
    table = confirmatory_answers(study, results_dir)
    explo = screening_exploratory(study, results_dir)
    n_tests = int(explo["p"].notna().sum()) if len(explo) else 0
    lines = [
        f"| question | answer (confirmatory: fresh {seeds_words(conf.seeds)}, Holm over the "
        f"{len(conf.questions)} questions, TOST within the margin) | screening (exploratory: "
        f"{seeds_words(study.seeds)}, Δ [95 % interval], BH q over its {n_tests} comparisons) "
        "| notebook |",
        "|---|---|---|---|",
    ]
    for row, q in zip(table.to_dict("records"), conf.questions, strict=True):
        arms = (row["arm"], row["comparator"]) if isinstance(row.get("arm"), str) else None
        page = Path(results_dir) / q.notebook / study.profile / f"{q.notebook}.ipynb"
        link = Path(os.path.relpath(page, link_from)).as_posix()
        cells = [row["question"], answer_body(pd.Series(row)),
                 screening_cell(study, results_dir, q, arms, explo),
                 f"[{q.notebook.split('_')[0]}]({link})"]  # fmt: skip
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def write_answers(path: str | Path, study: Study, results_dir: str | Path) -> None:
    """Rewrite the table of answers between :data:`BLOCK_START` and :data:`BLOCK_END` in the file
    ``path`` (atomically; the rest of the file untouched; a symbolic link stays one: its target
    is rewritten, and the notebook links are relative to the target's folder)."""
    path = Path(path).resolve()
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    marks = [i for i, line in enumerate(lines) if line.strip() in (BLOCK_START, BLOCK_END)]
    if [lines[i].strip() for i in marks] != [BLOCK_START, BLOCK_END]:
        raise ValueError(f"{path}: expected one line {BLOCK_START!r} and, below it, one line "
                         f"{BLOCK_END!r} around the table of answers")  # fmt: skip
    block = answers_markdown(study, results_dir, link_from=path.parent)
    start, end = marks
    atomic_write_text(path, "".join(lines[: start + 1]) + block + "".join(lines[end:]))
