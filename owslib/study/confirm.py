"""The pre-registered confirmation: each question's primary endpoint, equivalence margin and the
rule that picks its arms from the screening, declared in the study file before any confirming
run is trained; the power table that sized it; and the verdicts on the fresh seeds.

``"confirmatory"`` in the study file::

    {"seeds": [100, ..., 113], "alpha": 0.05, "power": 0.8,
     "questions": [{"notebook": "03_loss_ablations", "endpoint": "miou", "margin": 0.02,
                    "rule": "best_screening"},
                   {"notebook": "05_synco_comparison", "endpoint": "aupr/fused/pooled",
                    "margin": 0.03, "rule": "head_to_head", "arms": ["synco_unknown", "synco_known"]}]}

Rules: ``best_screening`` — the notebook's variant with the best screening estimate on the
endpoint, against the notebook's baseline; ``head_to_head`` — ``arms[0]`` against ``arms[1]``.
Holm corrects the primary hypotheses (one per question); everything else is exploratory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from owslib import comparison, stats
from owslib.comparison import LOWER_IS_BETTER
from owslib.inference.scorers import SCORER_REGISTRY

#: The metrics the study compares, and their aggregations.
COMPARED = {
    "miou": ("",),
    "aupr": ("pooled", "per_image"),
    "fpr95": ("pooled", "per_image"),
    "auroc": ("pooled", "per_image"),
}
RULES = ("best_screening", "head_to_head")
_TOP = {"seeds", "alpha", "power", "questions", "description"}
_QUESTION = {"notebook", "endpoint", "margin", "rule", "arms", "higher_is_better", "why"}


@dataclass(frozen=True)
class Question:
    notebook: str
    endpoint: str
    margin: float
    rule: str = "best_screening"
    arms: tuple[str, ...] = ()
    higher_is_better: bool = True
    why: str = ""

    @property
    def higher_better(self) -> bool:
        """Whether a larger endpoint is the good direction (FPR95: smaller is better)."""
        return self.higher_is_better and self.endpoint.split("/")[0] not in LOWER_IS_BETTER


@dataclass(frozen=True)
class Confirmatory:
    seeds: tuple[int, ...]
    questions: tuple[Question, ...]
    alpha: float = 0.05
    power: float = 0.8
    description: str = ""


def check_endpoint(endpoint: str) -> None:
    """``metric`` or ``metric/scorer/aggregation`` as the study's tables name it; else raise."""
    metric, *rest = endpoint.split("/")
    if metric not in COMPARED:
        raise ValueError(
            f"endpoint {endpoint!r}: {metric!r} is not a compared metric ({sorted(COMPARED)})"
        )
    if metric == "miou":
        if rest:
            raise ValueError(f"endpoint {endpoint!r}: miou takes no scorer or aggregation")
        return
    if len(rest) != 2 or rest[0] not in SCORER_REGISTRY or rest[1] not in COMPARED[metric]:
        raise ValueError(
            f"endpoint {endpoint!r}: expected {metric}/SCORER/AGGREGATION with a "
            f"scorer of {sorted(SCORER_REGISTRY)} and an aggregation of "
            f"{COMPARED[metric]}"
        )


def parse_confirmatory(
    where: str, spec: Any, notebooks: dict[str, tuple[str, ...]], screening_seeds: tuple[int, ...]
) -> Confirmatory | None:
    """Validate the study file's ``"confirmatory"`` (``notebooks``: each notebook's variants)."""
    if spec is None:
        return None
    if not isinstance(spec, dict) or set(spec) - _TOP:
        raise ValueError(
            f"{where}: unknown keys {sorted(set(spec) - _TOP)}; allowed {sorted(_TOP)}"
        )
    seeds = tuple(spec.get("seeds", ()))
    if not seeds or set(seeds) & set(screening_seeds):
        raise ValueError(
            f"{where}.seeds={list(seeds)}: fresh seeds are required, none of the "
            f"screening's {list(screening_seeds)}"
        )
    if len(set(seeds)) != len(seeds) or not all(_is_int(x) for x in seeds):
        raise ValueError(f"{where}.seeds={list(seeds)}: distinct integers")
    for key, default in (("alpha", 0.05), ("power", 0.8)):
        value = spec.get(key, default)
        if not _is_number(value) or not 0 < value < 1:
            raise ValueError(f"{where}.{key}={value!r}: a number between 0 and 1")
    questions = []
    for i, q in enumerate(spec.get("questions", [])):
        here = f"{where}.questions[{i}]"
        if not isinstance(q, dict) or set(q) - _QUESTION:
            raise ValueError(f"{here}: unknown keys {sorted(set(q) - _QUESTION)}")
        question = Question(**{**q, "arms": tuple(q.get("arms", ()))})
        if question.notebook not in notebooks:
            raise ValueError(f"{here}.notebook={question.notebook!r}: not a notebook of the study")
        if any(question.notebook == other.notebook for other in questions):
            raise ValueError(f"{here}.notebook={question.notebook!r}: one question per notebook")
        check_endpoint(question.endpoint)
        if not _is_number(question.margin) or not question.margin > 0:
            raise ValueError(f"{here}.margin={question.margin!r}: must be a number > 0")
        if not isinstance(question.higher_is_better, bool):
            raise ValueError(
                f"{here}.higher_is_better={question.higher_is_better!r}: true or false"
            )
        if question.rule not in RULES:
            raise ValueError(f"{here}.rule={question.rule!r}: one of {RULES}")
        if question.rule == "head_to_head" and (
            len(set(question.arms)) != 2
            or len(question.arms) != 2
            or not set(question.arms) <= set(notebooks[question.notebook])
        ):
            raise ValueError(
                f"{here}.arms={list(question.arms)}: two different variants of the notebook"
            )
        questions.append(question)
    return Confirmatory(
        seeds,
        tuple(questions),
        float(spec.get("alpha", 0.05)),
        float(spec.get("power", 0.8)),
        spec.get("description", ""),
    )


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and bool(np.isfinite(x))


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def screening_means(
    question: Question, variants: tuple[str, ...], baseline: str, long: pd.DataFrame
) -> dict[str, float]:
    """Each variant's mean difference to ``baseline`` on the question's endpoint over the seeds of
    ``long`` (pairs of one setup; a variant without a pair is left out)."""
    seeds = tuple(int(x) for x in long["seed"].unique()) if len(long) else ()
    return {
        v: float(np.mean(d))
        for v in variants
        if v != baseline and len(d := confirming_pairs(long, question, v, baseline, seeds))
    }


def select_arms(
    question: Question, variants: tuple[str, ...], baseline: str, long: pd.DataFrame
) -> tuple[str, str]:
    """The rule applied to the screening: ``(arm, comparator)``; for ``best_screening`` the
    variant whose mean difference to ``baseline`` is best in the endpoint's good direction."""
    if question.rule == "head_to_head":
        return question.arms[0], question.arms[1]
    means = screening_means(question, variants, baseline, long)
    if not means:
        raise ValueError(f"{question.notebook}: no screening run pairs with {baseline}")
    sign = 1.0 if question.higher_better else -1.0
    return max(means, key=lambda v: sign * means[v]), baseline


def power_table(
    question_sds: dict[str, tuple[Question, float]], conf: Confirmatory, n_seeds: int
) -> pd.DataFrame:
    """Per question: the screening's SD of paired differences, the margin in SDs, the power to
    detect an effect of the margin at the Holm-worst-case level α/m (m: every question of
    ``conf``, whether or not ``question_sds`` has its SD) with ``n_seeds``, the seeds that power
    needs, and the power of TOST to show equivalence within the margin when the true difference
    is 0."""
    m = max(len(conf.questions), len(question_sds))
    rows = []
    for name, (q, sd) in question_sds.items():
        rows.append(
            {
                "question": name,
                "endpoint": q.endpoint,
                "margin": q.margin,
                "sd_diff": sd,
                "margin_in_sd": q.margin / sd,
                "power_at_margin": stats.paired_t_power(q.margin, sd, n_seeds, conf.alpha / m),
                "seeds_for_power": stats.seeds_for_power(q.margin, sd, conf.power, conf.alpha / m),
                "tost_power": stats.tost_power(q.margin, sd, n_seeds, alpha=conf.alpha),
                "seeds_for_tost": stats.seeds_for_equivalence(
                    q.margin, sd, power=conf.power, alpha=conf.alpha
                ),
            }
        )
    return pd.DataFrame(rows)


def confirming_pairs(
    long: pd.DataFrame, q: Question, arm: str, comparator: str, seeds: tuple[int, ...]
) -> np.ndarray:
    """``arm − comparator`` on the question's endpoint at ``seeds`` (the screening's, to pick the
    arms; the confirmation's, to test them), each seed's two runs of one setup (:func:`owslib.comparison.paired_differences` pairs within a fingerprint)."""
    return confirming_pair_table(long, q, arm, comparator, seeds)["diff"].to_numpy()


def confirming_pair_table(
    long: pd.DataFrame, q: Question, arm: str, comparator: str, seeds: tuple[int, ...]
) -> pd.DataFrame:
    """:func:`confirming_pairs` seed by seed: ``seed``, ``arm_value``, ``comparator_value`` and
    ``diff`` (their difference), in seed order."""
    metric, *rest = q.endpoint.split("/")
    rows = long[
        long["variant"].isin([arm, comparator])
        & long["seed"].isin(seeds)
        & (long["metric"] == metric)
    ]
    if rest:
        rows = rows[(rows["scorer"] == rest[0]) & (rows["aggregation"] == rest[1])]
    columns = ["seed", "arm_value", "comparator_value", "diff"]
    if rows.empty or comparator not in set(rows["variant"]):
        return pd.DataFrame(columns=columns, dtype=float)
    pairs = comparison.paired_differences(rows, baseline=comparator)
    pairs = pairs[pairs["variant"] == arm].rename(
        columns={"value": "arm_value", "baseline_value": "comparator_value"}
    )
    return pairs[columns].sort_values("seed").reset_index(drop=True)


def verdicts(
    diffs: dict[str, np.ndarray],
    questions: dict[str, Question],
    alpha: float = 0.05,
    family: int | None = None,
    missing_p: float = 1.0,
) -> pd.DataFrame:
    """The confirmatory analysis: paired t per question, Holm across the questions, TOST within
    each margin, and the verdict (``better`` / ``worse`` / ``equivalent`` / ``inconclusive``).

    ``family``: the number of primary hypotheses when some are not in ``diffs`` yet; each missing
    one enters Holm with p = ``missing_p``. Holm's adjusted p-values never decrease when another
    raw p-value grows, so with ``missing_p=1`` they are upper bounds of the final ones (a
    ``better``/``worse`` found then stands) and with ``missing_p=0`` lower bounds (an adjusted p
    at least α then stands too: the verdict is TOST's alone)."""
    names = list(diffs)
    tests = {n: stats.paired_t(diffs[n], alpha) for n in names}
    missing = max(0, (family or len(names)) - len(names))
    # a question without a p-value (fewer than 2 pairs, equal differences) stays in the family
    raw = [1.0 if np.isnan(tests[n].p) else tests[n].p for n in names]
    adjusted = stats.holm(raw + [float(missing_p)] * missing)[: len(names)]
    rows = []
    for n, p_holm in zip(names, adjusted, strict=True):
        q, t = questions[n], tests[n]
        eq = stats.tost(diffs[n], q.margin, alpha) if t.n >= 2 else None
        rows.append(
            {
                "question": n,
                "endpoint": q.endpoint,
                "n_pairs": t.n,
                "mean": t.mean,
                "lo": t.lo,
                "hi": t.hi,
                "sd": t.sd,
                "p": t.p,
                "p_holm": p_holm,
                "margin": q.margin,
                "p_tost": eq.p if eq else np.nan,
                "tost_lo": eq.lo if eq else np.nan,
                "tost_hi": eq.hi if eq else np.nan,
                "degenerate": t.degenerate,
                "alpha": alpha,
                "verdict": stats.verdict(diffs[n], q.margin, alpha, p_holm, q.higher_better),
            }
        )
    return pd.DataFrame(rows)


def exploratory(long: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """Every variant − ``baseline`` comparison of a long table (each metric, scorer and
    aggregation) with its paired t p-value and Benjamini–Hochberg q-value over the whole family:
    exploratory numbers, never verdicts."""
    pairs = comparison.paired_differences(long, baseline)
    rows = []
    for (v, m, sc, agg), g in pairs.groupby(
        ["variant", "metric", "scorer", "aggregation"], sort=False
    ):
        t = stats.paired_t(g["diff"].to_numpy())
        rows.append(
            {
                "variant": v,
                "metric": m,
                "scorer": sc,
                "aggregation": agg,
                "n_pairs": t.n,
                "mean": t.mean,
                "lo": t.lo,
                "hi": t.hi,
                "p": t.p,
            }
        )
    out = pd.DataFrame(
        rows,
        columns=["variant", "metric", "scorer", "aggregation", "n_pairs", "mean", "lo", "hi", "p"],
    )
    out["q_bh"] = stats.benjamini_hochberg(out["p"].to_numpy()) if len(out) else []
    return out
