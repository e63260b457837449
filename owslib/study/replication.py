"""The pre-registered replication: the embedded study's answers tested again on other data, declared
in the study file's ``"replication"`` section before any of its runs is trained
(``notebooks/real_scenes.json``, ``docs/real_scenes.md``)::

    {"seeds": [200, ..., 209], "alpha": 0.05, "power": 0.8, "anomaly_set": "road_anomaly",
     "questions": [{"question": "02_trufor_fusion", "arm": "mlp_sum_semantic",
                    "comparator": "baseline", "endpoint": "aupr/fused/per_frame", "margin": 0.03,
                    "embedded": "inconclusive", "why": "..."}]}

Unlike the embedded confirmation nothing is picked from a screening: each question names its arm
and comparator (the embedded confirmation's), and ``embedded`` the verdict it replicates. Endpoints:
``miou`` (the test split's known-class mIoU, a paired t over seeds) or ``aupr/SCORER/per_frame``
(the scorer's pixel AP on each frame of ``anomaly_set``, averaged; analysed with seeds **and**
frames random, :func:`owslib.study.crossed.crossed_t`). Holm across the questions, TOST within
each margin. This module is the declaration; :mod:`owslib.study.real_scenes` computes the answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from owslib.inference.scorers import SCORER_REGISTRY

VERDICTS = ("better", "worse", "equivalent", "inconclusive")
_TOP = {"seeds", "alpha", "power", "anomaly_set", "questions", "description"}
_QUESTION = {"question", "arm", "comparator", "endpoint", "margin", "embedded", "why"}


@dataclass(frozen=True)
class ReplicationQuestion:
    question: str
    arm: str
    comparator: str
    endpoint: str
    margin: float
    embedded: str
    why: str = ""

    @property
    def per_frame(self) -> bool:
        """Whether the endpoint is observed frame by frame (seeds × frames analysis)."""
        return self.endpoint != "miou"

    @property
    def scorer(self) -> str:
        """The anomaly scorer of a per-frame endpoint ("" for mIoU)."""
        return self.endpoint.split("/")[1] if self.per_frame else ""


@dataclass(frozen=True)
class Replication:
    seeds: tuple[int, ...]
    questions: tuple[ReplicationQuestion, ...]
    anomaly_set: str = "road_anomaly"
    alpha: float = 0.05
    power: float = 0.8
    description: str = ""

    @property
    def arms(self) -> tuple[str, ...]:
        """Every variant a question compares, once, in question order."""
        return tuple(dict.fromkeys(v for q in self.questions for v in (q.arm, q.comparator)))


def outcome(embedded: str, real: str) -> str:
    """What a replication's verdict says of the embedded one (docs/real_scenes.md): ``replicated``
    (the same decided verdict), ``reversed`` (better where the embedded one was worse, or worse
    where it was better), ``contradicted`` (equivalent where the embedded one found a difference,
    or a difference where it showed equivalence), ``not shown`` (inconclusive here), and for an
    embedded ``inconclusive``: ``inconclusive in both`` or ``decided here``."""
    if embedded == "inconclusive":
        return "inconclusive in both" if real == "inconclusive" else "decided here"
    if real == "inconclusive":
        return "not shown"
    if real == embedded:
        return "replicated"
    return "reversed" if {real, embedded} == {"better", "worse"} else "contradicted"


def _check_endpoint(here: str, endpoint: Any) -> None:
    if endpoint == "miou":
        return
    parts = endpoint.split("/") if isinstance(endpoint, str) else []
    if len(parts) != 3 or parts[0] != "aupr" or parts[2] != "per_frame":
        raise ValueError(f"{here}.endpoint={endpoint!r}: 'miou' or 'aupr/SCORER/per_frame'")
    if parts[1] not in SCORER_REGISTRY:
        raise ValueError(
            f"{here}.endpoint={endpoint!r}: scorer {parts[1]!r} is not one of "
            f"{sorted(SCORER_REGISTRY)}"
        )


def _question(here: str, q: Any, variants: set[str]) -> ReplicationQuestion:
    if not isinstance(q, dict):
        raise ValueError(f"{here}: an object with keys {sorted(_QUESTION)}, got {q!r}")
    if set(q) - _QUESTION:
        raise ValueError(
            f"{here}: unknown keys {sorted(set(q) - _QUESTION)}; allowed {sorted(_QUESTION)}"
        )
    missing = sorted({"question", "arm", "comparator", "endpoint", "margin", "embedded"} - set(q))
    if missing:
        raise ValueError(f"{here}: missing {missing}")
    for key in ("arm", "comparator"):
        if q[key] not in variants:
            raise ValueError(
                f"{here}.{key}={q[key]!r}: not a variant of the study ({sorted(variants)})"
            )
    if q["arm"] == q["comparator"]:
        raise ValueError(f"{here}: arm and comparator are the same variant ({q['arm']!r})")
    _check_endpoint(here, q["endpoint"])
    margin = q["margin"]
    if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not margin > 0:
        raise ValueError(f"{here}.margin={margin!r}: a number > 0")
    if q["embedded"] not in VERDICTS:
        raise ValueError(f"{here}.embedded={q['embedded']!r}: one of {VERDICTS}")
    return ReplicationQuestion(**{**q, "margin": float(margin)})


def parse_replication(
    where: str, spec: Any, variants: set[str], pilot_seeds: tuple[int, ...]
) -> Replication | None:
    """Validate the study file's ``"replication"`` (``variants``: the study's; ``pilot_seeds``: the
    study's own seeds, which the replication's must not reuse)."""
    if spec is None:
        return None
    if not isinstance(spec, dict) or set(spec) - _TOP:
        raise ValueError(
            f"{where}: unknown keys {sorted(set(spec) - _TOP)}; allowed {sorted(_TOP)}"
        )
    seeds = tuple(spec.get("seeds", ()))
    if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise ValueError(f"{where}.seeds={list(seeds)}: a list of integers")
    if len(set(seeds)) != len(seeds) or set(seeds) & set(pilot_seeds):
        raise ValueError(
            f"{where}.seeds={list(seeds)}: distinct fresh seeds, none of the pilot's {list(pilot_seeds)}"
        )
    for key, default in (("alpha", 0.05), ("power", 0.8)):
        value = spec.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
            raise ValueError(f"{where}.{key}={value!r}: a number between 0 and 1")
    questions = [
        _question(f"{where}.questions[{i}]", q, variants)
        for i, q in enumerate(spec.get("questions", []))
    ]
    if not questions:
        raise ValueError(f"{where}.questions: at least one question")
    names = [q.question for q in questions]
    if len(set(names)) != len(names):
        raise ValueError(f"{where}.questions: each question once, got {names}")
    anomaly_set = spec.get("anomaly_set", "road_anomaly")
    if not isinstance(anomaly_set, str) or not anomaly_set:
        raise ValueError(f"{where}.anomaly_set={anomaly_set!r}: the name of an anomaly set")
    return Replication(
        seeds,
        tuple(questions),
        anomaly_set,
        float(spec.get("alpha", 0.05)),
        float(spec.get("power", 0.8)),
        spec.get("description", ""),
    )
