"""The confirmation's answers in words: the endpoint as a reader says it, signed differences, and
one sentence per question generated from its row of
:func:`owslib.study.answers.confirmatory_answers` (the verdict, the interval, the power, Holm and
TOST)."""

from __future__ import annotations

from typing import Any

import pandas as pd

_METRIC_WORDS = {"miou": "mIoU", "aupr": "AUPR", "fpr95": "FPR95", "auroc": "AUROC"}


def endpoint_words(endpoint: str) -> str:
    """``"aupr/fused/pooled"`` as a reader says it: ``"fused pooled AUPR"``."""
    metric, *rest = endpoint.split("/")
    return " ".join([*(r.replace("_", "-") for r in rest), _METRIC_WORDS.get(metric, metric)])


def signed(x: float) -> str:
    """``x`` to three decimals with its sign, a typographic minus as in the tables: ``−0.008``;
    one that rounds to zero is ``+0.000``, as the tables write it."""
    text = f"{x:+.3f}"
    return ("+0.000" if text == "-0.000" else text).replace("-", "−")


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and x == x


def _level(alpha: float) -> str:
    return f"{100 * (1 - alpha):g} %"


def answer(row: pd.Series, question: str) -> str:
    """One sentence per question, generated from its confirmatory row: the question in bold, then
    :func:`answer_body`."""
    return f"**{question}** — {answer_body(row)}"


def answer_body(row: pd.Series) -> str:
    """What a confirmatory row says: the verdict, the effect with its (1 − α) interval, the margin
    and the seeds; for ``equivalent`` the (1 − 2α) interval TOST decides on; for ``inconclusive``
    the power the design had at the margin; else why it is not answered yet."""
    status = row.get("status")
    if status not in ("analysed", "holm_waits"):
        waits = "; the verdict comes with the last" if "seeds done" in str(status) else ""
        arms = (
            f"{row['arm']} against {row['comparator']} on {endpoint_words(row['endpoint'])} (margin "
            f"±{row['margin']:g}), "
            if isinstance(row.get("arm"), str)
            else ""
        )
        return f"not answered yet: {arms}{status}{waits}."
    arm, comp, unit = row["arm"], row["comparator"], endpoint_words(row["endpoint"])
    alpha = float(row.get("alpha", 0.05))
    effect = (
        f"{arm} − {comp} = {signed(row['mean'])} ({_level(alpha)} interval {signed(row['lo'])} "
        f"to {signed(row['hi'])}) on {unit} over {row['n_pairs']} fresh seeds (margin "
        f"±{row['margin']:g})"
    )
    holm = f"Holm p = {row['p_holm']:.3g}"
    low = row.get("p_holm_min")
    if _number(low) and low < row["p_holm"]:  # other questions still training
        holm = (
            f"Holm p ≤ {row['p_holm']:.3g} whatever the other questions give"
            if row.get("verdict") in ("better", "worse")
            else f"Holm p ≥ {low:.3g} whatever the other questions give"
        )
    tests = f"{holm}, TOST p = {row['p_tost']:.3g}"
    if status == "holm_waits":
        return (
            f"not answered yet: {effect}; Holm across the questions waits for the "
            f"others' confirmation (its Holm-adjusted p is at most {row['p_holm']:.3g} now), "
            f"TOST p = {row['p_tost']:.3g}."
        )
    verdict = row["verdict"]
    if verdict == "inconclusive" and bool(row.get("degenerate", False)):
        return (
            f"inconclusive: every fresh seed gave the same difference, "
            f"{signed(row['mean'])} on {unit} over {row['n_pairs']} seeds, so no test applies "
            f"(the two arms may compute the same thing)."
        )
    said = {
        "better": f"{arm} is better than {comp}",
        "worse": f"{arm} is worse than {comp}",
        "equivalent": f"{arm} and {comp} are equivalent within the margin",
        "inconclusive": "inconclusive: neither a difference (Holm) nor equivalence (TOST) is shown",
    }[verdict]
    extra = ""
    if verdict == "equivalent":
        extra = (
            f"; its {_level(2 * alpha)} interval {signed(row['tost_lo'])} to "
            f"{signed(row['tost_hi'])} lies within the margin"
        )
    elif verdict == "inconclusive":
        extra = power_words(row)
    if verdict in ("better", "worse"):  # TOST asks another question: a difference is shown
        tests = holm
    return f"{said}: {effect}{seeds_higher(row)}{extra}; {tests}."


def seeds_higher(row: pd.Series) -> str:
    """``; higher on 9 of 14 seeds``, and for an effect whose spread over the test images exceeds
    its spread over the seeds, that it holds for these images."""
    text = ""
    if _number(row.get("n_higher")):
        text = f"; {row['arm']} higher on {int(row['n_higher'])} of {row['n_pairs']} seeds"
    ratio = row.get("image_ratio")
    if _number(ratio) and ratio > 1 and str(row.get("endpoint", "")).startswith("aupr/"):
        text += (
            f"; for these test images (resampling the {int(row['n_images'])} that hold unknown "
            f"pixels varies the effect {ratio:.2g}× as much as the seeds)"
        )
    if isinstance(row.get("also"), str) and row["also"]:
        text += f"; on the same seeds (exploratory, uncorrected): {row['also']}"
    return text


def power_words(row: pd.Series) -> str:
    """The power an inconclusive design had at the margin: at the fresh seeds' SD (what it had),
    and as planned at the screening's SD (labelled: a root mean square over all its variants, and
    the arm's own); TOST's at a zero difference; the effect the fresh SD lets it detect."""
    parts = []
    if _number(row.get("power_fresh")):
        parts.append(
            f"power at the margin (paired t at Holm's worst-case level) {100 * row['power_fresh']:.0f} % "
            f"at the fresh seeds' SD of paired differences ({row['sd']:.3f})"
        )
    if _number(row.get("power")) and _number(row.get("sd_screening")):
        own = row.get("sd_arm_screening")
        own = f"; the arm's own {own:.3f}" if _number(own) else ""
        parts.append(
            f"{100 * row['power']:.0f} % as planned at the screening's "
            f"({row['sd_screening']:.3f}, a root mean square over its variants{own})"
        )
    if _number(row.get("tost_power_fresh")):
        parts.append(
            f"TOST's power at a zero difference {100 * row['tost_power_fresh']:.0f} % "
            "at the fresh SD"
        )
    if _number(row.get("detectable")):
        parts.append(
            f"at the fresh SD the seeds detect {row['detectable']:.3f} with "
            f"{100 * row.get('power_target', 0.8):.0f} % power"
        )
    return "; " + "; ".join(parts) if parts else ""
