"""The real-scene answers as a reader meets them: the secondary endpoints beside each verdict, the
sentence that states it, and the README's table of them (``python -m owslib study --study
notebooks/real_scenes.json --answers README.md`` writes the block between :data:`REAL_START` and
:data:`REAL_END`). Every word is generated from :func:`owslib.study.real_scenes.replication_answers`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from owslib import stats
from owslib.paths import resolve
from owslib.study.real_scenes import pair_runs, replication_answers, run_rows
from owslib.study.replication import ReplicationQuestion
from owslib.study.secondary import moved_entries
from owslib.study.sentences import signed
from owslib.study.studyfile import Study, load_study

REAL_START = (
    "<!-- the real-scene answers: `python -m owslib study --study notebooks/real_scenes.json "
    "--answers README.md` writes this table -->"
)
REAL_END = "<!-- end of the real-scene answers -->"
#: The real-scene study file.
REAL_STUDY = "notebooks/real_scenes.json"
#: The endpoints a verdict is shown beside (``run_rows`` columns), in words, the other domain's
#: first; lower FPR95 is better.
SECONDARY = {
    "camvid_miou": "CamVid mIoU",
    "ap_per_frame": "RoadAnomaly AP per frame",
    "ap": "RoadAnomaly AP pooled",
    "fpr95": "RoadAnomaly FPR95",
    "auroc": "RoadAnomaly AUROC",
    "siou": "RoadAnomaly sIoU",
    "mean_f1": "RoadAnomaly mean F1",
}
PRIMARY_COLUMN = {"miou": "camvid_miou", "aupr/fused/per_frame": "ap_per_frame"}


def endpoint_name(endpoint: str) -> str:
    """``CamVid mIoU`` or ``RoadAnomaly fused AP per frame``."""
    if endpoint == "miou":
        return "CamVid mIoU"
    return f"RoadAnomaly {endpoint.split('/')[1]} AP per frame"


def replication_secondary(
    study: Study, results: str | Path, q: ReplicationQuestion, seeds: tuple[int, ...]
) -> pd.DataFrame:
    """``arm − comparator`` on every endpoint of :data:`SECONDARY` over ``seeds`` (the seeds with
    both runs finished), each with its paired t interval over seeds (exploratory, uncorrected) and
    the seeds where the arm is higher; ``primary`` flags the question's endpoint."""
    paired = [seed for seed, _, _ in pair_runs(study, results, q, seeds)]  # one setup
    rows = run_rows(study, results, q.scorer or "fused")
    rows = rows[rows["seed"].isin(paired)]
    arm = rows[rows["variant"] == q.arm].set_index("seed")
    comp = rows[rows["variant"] == q.comparator].set_index("seed")
    common = arm.index.intersection(comp.index)
    out = []
    for column, words in SECONDARY.items():
        d = (arm.loc[common, column] - comp.loc[common, column]).dropna().to_numpy(float)
        if len(d) < 2:
            continue
        t = stats.paired_t(d)
        out.append(
            {
                "endpoint": words,
                "primary": column == PRIMARY_COLUMN.get(q.endpoint),
                "n_pairs": t.n,
                "mean": t.mean,
                "lo": t.lo,
                "hi": t.hi,
                "n_higher": int((d > 0).sum()),
                "n_lower": int((d < 0).sum()),
            }
        )
    columns = ["endpoint", "primary", "n_pairs", "mean", "lo", "hi", "n_higher", "n_lower"]
    return pd.DataFrame(out, columns=columns)


def also_moved(sec: pd.DataFrame) -> str:
    """The secondary endpoints whose interval excludes 0 (``CamVid mIoU −0.014 [−0.021, −0.007],
    lower on 9/10 seeds``; the first two, then how many more: a table cell stays short), or that
    none did."""
    moved = moved_entries(sec, name=str)  # the endpoints are in words already
    if not moved:
        return "none shown (every interval includes 0)"
    more = f"; {len(moved) - 2} more in 07" if len(moved) > 2 else ""
    return "; ".join(moved[:2]) + more


def planned(study: Study) -> int:
    """The seeds the replication plans per arm (0 while none is declared)."""
    return len(study.replication.seeds) if study.replication else 0


def answered(row: dict, n_planned: int) -> bool:
    """A verdict stands only once every question has every planned seed in (Holm needs them all;
    no interim look is pre-registered)."""
    return n_planned > 0 and bool(row["complete"]) and row["n_seeds"] == n_planned


def answer_sentence(row: dict, n_planned: int, alpha: float, m: int) -> str:
    """The verdict in one paragraph: effect, intervals, Holm and TOST p, the verdict, the embedded
    verdict and what this one says of it, the power at the margin at the spread observed."""
    what = f"`{row['arm']}` − `{row['comparator']}` on {endpoint_name(row['endpoint'])}"
    if not answered(row, n_planned):
        return (
            f"{what}: not answered yet ({row['n_seeds']} of {n_planned} seeds trained; a "
            "verdict waits for every question's seeds)."
        )
    design = (
        f"{row['n_seeds']} seeds × {row['n_frames']} frames, both random"
        if row["n_frames"]
        else f"{row['n_seeds']} seeds, paired"
    )
    level = f"{100 * (1 - alpha):g} %"
    return (
        f"{what}: {signed(row['mean'])} ({level} {signed(row['lo'])} to {signed(row['hi'])}; "
        f"{design}); Holm p = {row['p_holm']:.3g} over the {m} questions; TOST against "
        f"±{row['margin']:g}: p = {row['p_tost']:.3g} ({100 * (1 - 2 * alpha):g} % "
        f"{signed(row['tost_lo'])} to {signed(row['tost_hi'])}). **{row['verdict']}**; the "
        f"embedded answer was {row['embedded']}: **{row['outcome']}**. Power to detect "
        f"±{row['margin']:g} at the spread observed (α/{m}): {_percent(row['power'])}."
    )


def _percent(x: float) -> str:
    return f"{100 * x:.0f} %" if np.isfinite(x) else "not estimable"


def real_answers_markdown(study: Study, results: str | Path, link_from: str | Path = ".") -> str:
    """The README's table of the real-scene answers: per question the verdict, the effect with
    its 95 % interval (seeds and frames random), the embedded verdict and what this one says of
    it, the secondary endpoints that moved; a question whose seeds are not all in says so."""
    if study.replication is None:
        raise ValueError(f"{study.path}: declares no replication: no real-scene answers to write")
    n = planned(study)
    table = replication_answers(study, results)
    page = Path(results) / "07_real_scenes" / study.profile / "07_real_scenes.ipynb"
    link = f"[07]({Path(os.path.relpath(page, link_from)).as_posix()})"
    lines = [
        "| question | on real scenes | effect, 95 % interval | embedded answer: here | "
        "also moved (exploratory) | |",
        "|---|---|---|---|---|---|",
    ]
    for row, q in zip(table.to_dict("records"), study.replication.questions, strict=True):
        if answered(row, n):
            verdict = f"**{row['verdict']}**"
            effect = (
                f"`{row['arm']}` − `{row['comparator']}`: {signed(row['mean'])} "
                f"[{signed(row['lo'])}, {signed(row['hi'])}] {endpoint_name(q.endpoint)} "
                f"(margin ±{q.margin:g})"
            )
            also = also_moved(replication_secondary(study, results, q, study.replication.seeds))
        else:
            verdict, also = "**not answered yet**", ""
            effect = f"{n} fresh seeds planned (the page counts those trained)"
        said = row["outcome"] if answered(row, n) else "—"
        cells = [q.question, verdict, effect, f"{row['embedded']}: {said}", also, link]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def status_line(study: Study, results: str | Path) -> str:
    """How far the real-scene study is: the pilot's runs and the replication's."""
    rows = run_rows(study, results)
    pilot = int(rows["seed"].isin(study.seeds).sum())
    text = f"pilot {pilot} of {len(study.variants) * len(study.seeds)} runs"
    if study.replication is None:
        return text + "; the replication is not declared yet"
    rep = study.replication
    done = int((rows["seed"].isin(rep.seeds) & rows["variant"].isin(rep.arms)).sum())
    return text + f"; replication {done} of {len(rep.arms) * len(rep.seeds)} runs"


def side_by_side_table(embedded: pd.DataFrame, real: pd.DataFrame, n_planned: int) -> pd.DataFrame:
    """Each question in both domains: the embedded confirmation's verdict and effect
    (:func:`~owslib.study.answers.confirmatory_answers`, matched on ``notebook``) beside the
    real-scene one (:func:`~owslib.study.real_scenes.replication_answers`) and what it says of it."""
    by_notebook = embedded.set_index("notebook")
    out = []
    for row in real.to_dict("records"):
        e = by_notebook.loc[row["question"]] if row["question"] in by_notebook.index else None
        done = answered(row, n_planned)
        out.append(
            {
                "question": row["question"],
                "arms": f"{row['arm']} − {row['comparator']}",
                "generated scenes": (
                    f"{e['verdict']}: {signed(e['mean'])} [{signed(e['lo'])}, {signed(e['hi'])}] "
                    f"{e['endpoint']}"
                    if e is not None
                    else "—"
                ),
                "real scenes": (
                    f"{row['verdict']}: {signed(row['mean'])} [{signed(row['lo'])}, "
                    f"{signed(row['hi'])}] {endpoint_name(row['endpoint'])}"
                    if done
                    else f"not answered yet ({row['n_seeds']} of {n_planned} seeds)"
                ),
                "the embedded answer here": row["outcome"] if done else "—",
            }
        )
    return pd.DataFrame(out)


def real_scenes_summary(
    results: str | Path, link_from: str | Path, study_file: str = REAL_STUDY
) -> str:
    """The real-scene answers as ``06_summary`` shows them: how far the study is, then its table
    (:func:`real_answers_markdown`), or that the replication is not declared yet."""
    study = load_study(resolve(study_file))
    status = f"Status: {status_line(study, results)}."
    if study.replication is None:
        return status
    return status + "\n\n" + real_answers_markdown(study, results, link_from)


def shown_runs(study: Study, rows: pd.DataFrame, table: pd.DataFrame | None) -> pd.DataFrame:
    """The runs a page may list one by one: the pilot's, and the replication's once its verdicts
    stand (``table``: :func:`~owslib.study.real_scenes.replication_answers`); before that a
    confirming run's numbers would be an interim look."""
    done = table is not None and len(table) and answered(table.iloc[0].to_dict(), planned(study))
    return rows if done else rows[rows["seed"].isin(study.seeds)]
