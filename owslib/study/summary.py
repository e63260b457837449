"""What ``06_summary`` shows besides the verdicts: :func:`study_overview` reads every run back
(the long table, the baseline's seed-to-seed spread, each comparison notebook's findings in
sentences),
:func:`summary_intro`, :func:`noise_floor_table` and :func:`summary_sections` write it out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from owslib import comparison
from owslib.io import atomic_write_text
from owslib.paths import resolve, shown
from owslib.study.arms import confirmation_runs
from owslib.study.documents import seeds_words
from owslib.study.results import (
    HEADLINE,
    contrast_findings,
    findings,
    findings_table,
    format_sigma,
    long_rows,
    read_metrics,
    run_fingerprint,
    short_label,
)
from owslib.study.state import status
from owslib.study.studyfile import STUDY_FILE, RunJob, load_study, run_dir


def study_overview(
    results_dir: str | Path = "results",
    profile: str | None = None,
    study_file: str | Path = STUDY_FILE,
) -> dict[str, Any]:
    """What the summary notebook shows, from ``results/`` only: the long table of every run, the
    baseline's seed-to-seed spread (``noise_floor``), and per comparison notebook its question,
    findings and rendered copy."""
    study = load_study(resolve(study_file), profile=profile)
    results = resolve(results_dir)
    rows = []
    runs = study.runs()
    for v, s in runs:
        m = read_metrics(run_dir(results, study.profile, v, s))
        if m is not None:
            rows += long_rows(v, s, m, run_fingerprint(run_dir(results, study.profile, v, s)))
    long = pd.DataFrame(rows, columns=[*comparison.LONG_COLUMNS, "fingerprint"])
    out = results / "summary" / study.profile
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "all_runs.csv", long.to_csv(index=False))
    floor = comparison.noise_floor(long) if "baseline" in set(long["variant"]) else pd.DataFrame()
    sections = []
    for spec in study.notebooks:
        if len(spec.variants) < 2:
            continue
        sub = long[long["variant"].isin(spec.variants)]
        if spec.baseline not in set(sub["variant"]):
            sections.append(
                {"notebook": spec.name, "question": spec.question, "findings": "no runs yet"}
            )
            continue
        summary = comparison.summarise(sub, baseline=spec.baseline)
        atomic_write_text(out / f"{spec.name}_summary.csv", summary.to_csv(index=False))
        labels = [h.format(s="fused") for h in HEADLINE]
        contrast = ""
        if spec.contrast and set(spec.contrast) <= set(sub["variant"]):
            _, contrast = contrast_findings(sub, *spec.contrast, labels)
        sections.append(
            {
                "contrast": contrast,
                **_ablation_section(spec, long, labels),
                "notebook": spec.name,
                "question": spec.question,
                "baseline": spec.baseline,
                "findings": findings(summary, spec.baseline, labels),
                "table": findings_table(summary, spec.baseline, labels),
                "rendered": f"../../{spec.name}/{study.profile}/{spec.name}.ipynb",
                "n_runs": int(sub.groupby(["variant", "seed"]).ngroups),
            }
        )
    expected = len(runs)
    done = int(long.groupby(["variant", "seed"]).ngroups) if not long.empty else 0
    confirming = sorted(
        {r for planned in confirmation_runs(study, results).values() for r in planned}
    )
    confirmed = sum(
        status(study, RunJob(v, s, run_dir(results, study.profile, v, s))) == "finished"
        for v, s in confirming
    )
    return {
        "study": study,
        "long": long,
        "noise_floor": floor,
        "sections": sections,
        "runs_done": done,
        "runs_expected": expected,
        "out_dir": out,
        "confirming_done": confirmed,
        "confirming_expected": len(confirming),
    }


def summary_intro(overview: dict[str, Any]) -> str:
    """What 06 says first: the study, how many runs finished, where its numbers come from (a path
    relative to the repository, or to the results folder when that lies outside it)."""
    study, out = overview["study"], Path(overview["out_dir"])
    where = f"`{shown(out / 'all_runs.csv')}`"
    if Path(shown(out)).is_absolute():
        where = f"`{out.relative_to(out.parents[1]) / 'all_runs.csv'}` in the results folder"
    runs = (
        f"**Runs finished:** screening {overview['runs_done']} of {overview['runs_expected']} "
        f"(profile `{study.profile}`, seeds {list(study.seeds)})"
    )
    conf = study.confirmatory
    if conf is None:
        return f"{study.description}\n\n{runs}; every number below comes from {where}."
    done, expected = overview.get("confirming_done", 0), overview.get("confirming_expected", 0)
    arms = "every question's two arms" if done == expected else "the arms picked so far"
    return (
        f"{study.description}\n\n{runs}; confirmation {done} of {expected} (fresh "
        f"{seeds_words(conf.seeds)}, {arms}). The screening's numbers come from {where}; the answers' from "
        f"the confirmation's run folders, tabled in `confirmatory.csv` (its pairs seed by "
        f"seed in `confirmatory_pairs.csv`), `power.csv` and `exploratory.csv` beside it."
    )


def noise_floor_table(
    floor: pd.DataFrame, scorers: tuple[str, ...] = ("", "fused")
) -> pd.DataFrame:
    """The baseline's mean and seed-to-seed σ per metric of ``scorers`` ("" for mIoU), σ to three
    decimals ("< 0.0005" where it rounds to zero)."""
    if floor.empty:
        return pd.DataFrame(columns=["metric", "mean", "σ", "n"])
    f = floor[floor["scorer"].isin(scorers)]
    return pd.DataFrame(
        {
            "metric": [
                short_label(comparison.metric_label(m, s, a))
                for m, s, a in f[["metric", "scorer", "aggregation"]].itertuples(index=False)
            ],
            "mean": f["mean"].astype(float).tolist(),
            "σ": [format_sigma(x) for x in f["std"]],
            "n": f["n"].astype(int).tolist(),
        }
    )


def summary_sections(overview: dict[str, Any], answers: pd.DataFrame | None = None) -> list[str]:
    """One markdown section per question of the study: the question as its heading, then the
    notebook that answers it (linked to its rendered copy), the findings, the head to head and
    the ablation where declared; with ``answers`` (:func:`confirmatory_answers`), the
    confirmation's arms and verdict first, so that no screening finding reads as the answer."""
    from owslib.study.sentences import answer_body

    said = {} if answers is None else {r["notebook"]: r for _, r in answers.iterrows()}
    out = []
    for s in overview["sections"]:
        link = f" ([rendered notebook]({s['rendered']}))" if "rendered" in s else ""
        meta = f"Notebook `{s['notebook']}`{link}"
        if s.get("baseline"):
            meta += f"; baseline `{s['baseline']}`; {s.get('n_runs', 0)} runs"
        text = f"### {s['question'] or s['notebook']}\n{meta}."
        if s["notebook"] in said:
            text += (
                f"\n\n**Confirmation** (fresh seeds; the answer): "
                f"{answer_body(said[s['notebook']])}\n\n**Screening** (exploratory):"
            )
        text += f"\n\n{s.get('table') or s['findings']}"
        if s.get("contrast"):
            text += f"\n\n**Head to head:**\n{s['contrast']}"
        if s.get("ablation"):
            text += f"\n\n**Ablation. {s['ablation_question']}**\n{s['ablation']}"
        out.append(text)
    return out


def _ablation_section(spec, long: pd.DataFrame, labels) -> dict[str, str]:
    """A notebook's ``ablation`` for the summary: its question and findings against ``of``."""
    a = spec.ablation
    sub = long[long["variant"].isin((a.of, *a.variants))] if a else long.iloc[:0]
    if a is None or a.of not in set(sub["variant"]) or len(set(sub["variant"])) < 2:
        return {}
    summary = comparison.summarise(sub, baseline=a.of)
    return {
        "ablation_question": a.question or f"Each of {list(a.variants)} against {a.of}",
        "ablation": findings(summary, a.of, labels),
    }
