"""The answers as documents read them: the README's first-screen table and the answers in full in
``docs/results.md`` (``python -m owslib study --answers FILE`` writes the block between its markers),
each generated from the runs by :func:`owslib.study.answers.confirmatory_answers`."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from owslib import stats
from owslib.io import atomic_write_text
from owslib.study.answers import (
    confirmatory_answers,
    runs_long,
    screening_exploratory,
)
from owslib.study.confirm import Question, confirming_pairs
from owslib.study.real_answers import REAL_END, REAL_START, real_answers_markdown
from owslib.study.secondary import secondary_table, spread_words
from owslib.study.sentences import answer_body, endpoint_words, signed
from owslib.study.studyfile import Study

#: The lines around the README's table of answers.
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
    symbolic link stays one: its target is rewritten, and links are relative to its folder). A
    study declaring a replication writes its table between :data:`REAL_START` and
    :data:`REAL_END` instead."""
    path = Path(path).resolve()
    text = path.read_text(encoding="utf-8")
    blocks = (
        {(REAL_START, REAL_END): real_answers_markdown}
        if study.replication
        else {(BLOCK_START, BLOCK_END): answers_markdown, (FULL_START, FULL_END): answers_in_full}
    )
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
        names = " nor ".join(repr(first) for first, _ in blocks)
        raise ValueError(f"{path}: no line {names} to write under")
    atomic_write_text(path, text)
