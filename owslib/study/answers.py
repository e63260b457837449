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
from owslib.io import atomic_write_text
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
    verdicts,
)
from owslib.study.results import long_rows, run_fingerprint
from owslib.study.secondary import (
    fresh_power,
    image_spread,
    moved,
    secondary_effects,
    secondary_table,
    spread_words,
)
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
    rows, diffs, questions, n_planned, pairs = [], {}, {}, len(conf.seeds), []
    secondary: dict[str, pd.DataFrame] = {}
    for q in conf.questions:
        nb = study.notebook(q.notebook)
        row = {
            "question": nb.question or nb.name,
            "notebook": nb.name,
            "endpoint": q.endpoint,
            "margin": q.margin,
        }
        arms, why = screening_state(study, results_dir, q)
        if arms is None:
            rows.append(row | {"status": why})
            continue
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
            rows.append(
                row | interim | {"status": f"{len(d)} of {n_planned} confirming seeds done{note}"}
            )
            continue
        if len(prints) > 1:  # every pair of one setup, but not all pairs of the same one
            rows.append(
                row
                | {
                    "status": f"the confirming runs are of {len(prints)} setups "
                    f"({', '.join(sorted(prints))}): retrain them in one"
                }
            )
            continue
        diffs[nb.name], questions[nb.name] = d, q
        pairs += by_seed.assign(
            question=row["question"],
            notebook=nb.name,
            endpoint=q.endpoint,
            arm=arms[0],
            comparator=arms[1],
            fingerprint=next(iter(prints)),
        )[PAIR_COLUMNS].to_dict("records")
        sec = secondary_effects(long, q, arms[0], arms[1], conf.seeds, conf.alpha)
        secondary[nb.name] = sec
        dirs = [tuple(run_dir(results_dir, study.profile, v, s) for v in arms) for s in conf.seeds]
        spread = image_spread(dirs)
        top = sec[sec["primary"]].iloc[0]
        rows.append(
            row
            | {
                "status": "analysed",
                "n_higher": top["n_higher"],
                "corr": top["corr"],
                "image_ratio": spread["ratio"],
                "n_images": spread["n_images"],
                "also": moved(sec),
            }
        )
    table = pd.DataFrame(rows, columns=COLUMNS)
    if diffs:
        v = verdicts(diffs, questions, conf.alpha, family=len(conf.questions))
        v = v.set_index("question")
        low = verdicts(diffs, questions, conf.alpha, len(conf.questions), missing_p=0.0)
        v["p_holm_min"] = low.set_index("question")["p_holm"]
        analysed = table["status"] == "analysed"
        for col in (
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
        ):
            table[col] = table[col].where(~analysed, table["notebook"].map(v[col]))
        pending = len(diffs) < len(conf.questions)
        # sensitivity: the effect the fresh seeds' SD lets the design detect (at α/m, as planned)
        alpha_m = conf.alpha / len(conf.questions)
        table["power_target"] = conf.power
        fresh = [
            fresh_power(m, sd, int(n), conf.alpha, len(conf.questions)) if ok else (np.nan,) * 2
            for m, sd, n, ok in zip(
                table["margin"], table["sd"], table["n_pairs"], analysed, strict=True
            )
        ]
        table["power_fresh"] = [f[0] for f in fresh]
        table["tost_power_fresh"] = [f[1] for f in fresh]
        table["detectable"] = [
            stats.detectable_effect(sd, int(n), conf.power, alpha_m)
            if ok and sd > 0 and n >= 2
            else np.nan
            for sd, n, ok in zip(table["sd"], table["n_pairs"], analysed, strict=True)
        ]
        settled = table["verdict"].isin(["better", "worse"]) | (table["p_holm_min"] >= conf.alpha)
        waits = analysed & ~settled & pending
        table.loc[waits, "verdict"] = np.nan
        table.loc[waits, "status"] = "holm_waits"
    table.attrs["pairs"] = pairs
    table.attrs["secondary"] = secondary
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
BLOCK_START = "<!-- the answers: `python -m owslib study --answers README.md` writes this table -->"
BLOCK_END = "<!-- end of the answers -->"
#: The lines around the answers in full (docs/results.md).
FULL_START = (
    "<!-- the answers in full: `python -m owslib study --answers docs/results.md` writes this -->"
)
FULL_END = "<!-- end of the answers in full -->"


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


def screening_cell(
    study: Study,
    results_dir: str | Path,
    q: Question,
    arms: tuple[str, str] | None,
    explo: pd.DataFrame,
) -> str:
    """What the screening (exploratory) says on a question's endpoint: the head-to-head difference
    (uncorrected), or each variant against the notebook's baseline, best first, with its BH
    q-value over the screening (``explo``: :func:`screening_exploratory`); ``arms[0]``, the arm the
    confirmation tests, is marked."""
    nb, n_planned = study.notebook(q.notebook), len(study.seeds)
    if q.rule == "head_to_head":
        a, b = q.arms
        d = confirming_pairs(
            runs_long(study, results_dir, (a, b), study.seeds), q, a, b, study.seeds
        )
        if not len(d):
            return f"no screening seed has both `{a}` and `{b}` yet"
        t = stats.paired_t(d)
        return (
            f"`{a}` − `{b}`, {endpoint_words(q.endpoint)}, uncorrected: "
            f"{_effect(t.mean, t.lo, t.hi, t.n, n_planned)}"
        )
    metric, scorer, aggregation = (q.endpoint.split("/") + ["", ""])[:3]
    rows = (
        explo
        if explo.empty
        else explo[
            (explo["notebook"] == nb.name)
            & (explo["metric"] == metric)
            & (explo["scorer"] == scorer)
            & (explo["aggregation"] == aggregation)
            & (explo["n_pairs"] > 0)
        ]
    )
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


VERDICT_WORDS = {
    "better": "better",
    "worse": "worse",
    "equivalent": "equivalent",
    "inconclusive": "inconclusive",
}


def answer_cells(row: dict, q: Question) -> tuple[str, str, str]:
    """A question's short cells: the verdict (bold), the effect with its interval, endpoint and
    margin, and the secondary endpoints that moved on the same seeds (exploratory)."""
    if row.get("status") != "analysed" or not isinstance(row.get("verdict"), str):
        return "**not answered yet**", str(row.get("status", "")), ""
    effect = (
        f"`{row['arm']}` − `{row['comparator']}`: {signed(row['mean'])} "
        f"[{signed(row['lo'])}, {signed(row['hi'])}] {endpoint_words(q.endpoint)} "
        f"(margin ±{q.margin:g})"
    )
    return f"**{VERDICT_WORDS[row['verdict']]}**", effect, str(row.get("also") or "")


def answers_markdown(study: Study, results_dir: str | Path, link_from: str | Path = ".") -> str:
    """The README's table of answers, generated from the runs in ``results_dir``: per question
    short cells (the verdict, the effect with its 95 % interval, the secondary endpoints that
    moved on the same seeds, a link to the rendered notebook, relative to the folder
    ``link_from``); the long answers are :func:`answers_in_full`'s."""
    conf = study.confirmatory
    if conf is None:
        raise ValueError("the study file declares no confirmatory questions: no answers to write")
    table = confirmatory_answers(study, results_dir)
    lines = [
        "| question | answer | effect, 95 % interval (fresh seeds) | also moved (exploratory) | |",
        "|---|---|---|---|---|",
    ]
    for row, q in zip(table.to_dict("records"), conf.questions, strict=True):
        page = Path(results_dir) / q.notebook / study.profile / f"{q.notebook}.ipynb"
        link = Path(os.path.relpath(page, link_from)).as_posix()
        cells = [row["question"], *answer_cells(row, q), f"[{q.notebook.split('_')[0]}]({link})"]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def answers_in_full(study: Study, results_dir: str | Path, link_from: str | Path = ".") -> str:
    """The answers in full, one section per question: the verdict's sentence (power at the fresh
    seeds' SD and as planned), the secondary endpoints on the same seeds (a table: exploratory,
    uncorrected), the spread over test images beside the spread over seeds, and the screening
    with its BH q-values over the distinct comparisons."""
    conf = study.confirmatory
    if conf is None:
        raise ValueError("the study file declares no confirmatory questions: no answers to write")
    table = confirmatory_answers(study, results_dir)
    explo = screening_exploratory(study, results_dir)
    out = []
    for row, q in zip(table.to_dict("records"), conf.questions, strict=True):
        arms = (row["arm"], row["comparator"]) if isinstance(row.get("arm"), str) else None
        text = [
            f"### {row['question']}",
            f"**Answer** (confirmatory, fresh "
            f"{seeds_words(conf.seeds)}): {answer_body(pd.Series(row))}",
        ]
        sec = table.attrs["secondary"].get(q.notebook)
        if sec is not None:
            text += [
                f"**On the same seeds** ({row['arm']} − {row['comparator']}; fused scorer, "
                "pooled; exploratory, uncorrected):",
                secondary_table(sec),
                f"**Over test images**: {spread_words(row['image_ratio'], row['n_images'], q.endpoint)}.",
            ]
        family = explo.attrs.get("family", 0)
        text.append(
            f"**Screening** (exploratory, {seeds_words(study.seeds)}; BH q over its "
            f"{family} distinct comparisons): "
            f"{screening_cell(study, results_dir, q, arms, explo)}"
        )
        out.append("\n\n".join(text))
    return "\n\n".join(out) + "\n"


def write_answers(path: str | Path, study: Study, results_dir: str | Path) -> None:
    """Rewrite, in the file ``path``, the table of answers between :data:`BLOCK_START` and
    :data:`BLOCK_END` and/or the answers in full between :data:`FULL_START` and :data:`FULL_END`
    (whichever the file holds, at least one; atomically, the rest of the file untouched; a
    symbolic link stays one: its target is rewritten, and links are relative to its folder)."""
    path = Path(path).resolve()
    text = path.read_text(encoding="utf-8")
    blocks = {(BLOCK_START, BLOCK_END): answers_markdown, (FULL_START, FULL_END): answers_in_full}
    found = 0
    for (first, last), write in blocks.items():
        lines = text.splitlines(keepends=True)
        marks = [i for i, line in enumerate(lines) if line.strip() in (first, last)]
        if not marks:
            continue
        if [lines[i].strip() for i in marks] != [first, last]:
            raise ValueError(
                f"{path}: expected one line {first!r} and, below it, one line {last!r}"
            )
        start, end = marks
        block = write(study, results_dir, link_from=path.parent)
        text = "".join(lines[: start + 1]) + block + "".join(lines[end:])
        found += 1
    if not found:
        raise ValueError(f"{path}: no line {BLOCK_START!r} nor {FULL_START!r} to write under")
    atomic_write_text(path, text)
