"""``study --verify``: retrain a finished run in a temporary folder, in the setup its ``run.json``
records, and compare every number of its ``metrics.json`` and every row of ``history.csv``.

The answer is "bit-identical", or the first differing key (metrics) or epoch and column
(history). Wall-clock columns (``time_s``) are not compared.
"""

from __future__ import annotations

import csv
import dataclasses
import logging
import tempfile
from pathlib import Path
from typing import Any

from owslib.engine.logging import format_duration
from owslib.evaluation.protocol import EvalOptions
from owslib.io import read_json
from owslib.runs.run import read_run_info
from owslib.runs.setup import ISA_CAPS, PRECISIONS, Setup
from owslib.study.processes import train_in_setup
from owslib.study.studyfile import RunJob, Study, run_dir

log = logging.getLogger(__name__)

#: History columns that measure time, not what was computed.
TIME_COLUMNS = ("time_s",)


def recorded_setup(info: dict[str, Any], cfg: dict[str, Any]) -> Setup:
    """The setup a run recorded (``setup``), or what older runs recorded of it (the ISA caps and
    thread count of ``cpu_info``, the precision of their config)."""
    if "setup" in info:
        s = info["setup"]
        return Setup(
            s["precision"],
            s["isa"] if s["isa"] in ISA_CAPS else "",
            s["threads"],
            s.get("encoder_sha256", ""),
        )
    caps = info.get("cpu_isa_caps") or {}
    isa = next((n for n, c in ISA_CAPS.items() if c == caps), "")
    precision = "mixed" if cfg.get("train", {}).get("amp") else "float32"
    return Setup(precision, isa, int(info.get("cpu_threads") or 0), info.get("encoder_sha256", ""))


def _option_added_at_its_default(path: str, key: str, value: Any) -> bool:
    """An evaluation option that the protocol gained after the committed run, at its default:
    the protocol the run was evaluated with, so not a difference."""
    if path != "protocol/options/":
        return False
    field = next((f for f in dataclasses.fields(EvalOptions) if f.name == key), None)
    return field is not None and field.default == value


def first_difference(a: Any, b: Any, path: str = "") -> str | None:
    """The first key path where two JSON values differ (exactly), or None. An evaluation option
    only in the retrained run, at its default, is none (the protocol gained it later)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a and _option_added_at_its_default(path, k, b[k]):
                continue
            if k not in a or k not in b:
                return f"{path}{k} (only in {'the retrained' if k in b else 'the committed'} run)"
            found = first_difference(a[k], b[k], f"{path}{k}/")
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return next(
            (
                d
                for i, (x, y) in enumerate(zip(a, b, strict=True))
                if (d := first_difference(x, y, f"{path}{i}/"))
            ),
            None,
        )
    same = a == b or (a != a and b != b)  # NaN equals NaN here
    return None if same else f"{path.rstrip('/')}: {a!r} committed, {b!r} retrained"


def history_difference(committed: Path, retrained: Path) -> str | None:
    """The first epoch and column where two ``history.csv`` differ (time columns left out)."""

    def rows(p: Path) -> list[dict[str, str]]:
        with p.open(newline="") as f:
            return [
                {k: v for k, v in r.items() if k not in TIME_COLUMNS} for r in csv.DictReader(f)
            ]

    a, b = rows(committed), rows(retrained)
    if len(a) != len(b):
        return f"history.csv: {len(a)} epochs committed, {len(b)} retrained"
    for ra, rb in zip(a, b, strict=True):
        for k in sorted(set(ra) | set(rb)):
            if ra.get(k) != rb.get(k):
                return f"history.csv epoch {ra.get('epoch')} {k}: {ra.get(k)} committed, {rb.get(k)} retrained"
    return None


def verify_run(study: Study, results_dir: str | Path, variant: str, seed: int) -> str:
    """Retrain one finished run in its recorded setup and compare; one line saying the outcome."""
    label = f"{variant}/seed{seed}"
    src = run_dir(results_dir, study.profile, variant, seed)
    info = read_run_info(src) or {}
    if info.get("status") != "finished":
        return f"{label}: no finished run in {src}"
    cfg = read_json(src / "config.json") or {}
    setup = recorded_setup(info, cfg)
    overrides = {**(info.get("base_config") or {}), **PRECISIONS.get(setup.precision, {})}
    took = "an unrecorded time"
    if "train_s" in info:
        train_s, eval_s = info["train_s"], info.get("eval_s", 0.0)
        took = (
            f"{format_duration(train_s + eval_s)} (training {format_duration(train_s)}, "
            f"evaluation {format_duration(eval_s)})"
        )
    log.info(
        "%s: retraining in its recorded setup (%s, ISA %s, %s thread(s)); the committed run "
        "took %s on %s",
        label,
        setup.precision or "as configured",
        setup.isa or "native",
        setup.threads or "all",
        took,
        info.get("cpu", "an unrecorded CPU"),
    )
    with tempfile.TemporaryDirectory(prefix="owslib-verify-") as tmp:
        job = RunJob(variant, seed, run_dir(tmp, study.profile, variant, seed))
        outcome = train_in_setup(dataclasses.replace(study, setup=setup), job, overrides)
        if outcome != "trained":
            return f"{label}: the retraining {outcome} (see the log above)"
        again = read_run_info(job.path) or {}
        if again.get("encoder_sha256", "") != info.get("encoder_sha256", ""):
            return (
                f"{label}: started from another encoder ({again.get('encoder_sha256', '')[:12]} "
                f"retrained, {info.get('encoder_sha256', '')[:12]} committed)"
            )
        diff = first_difference(
            read_json(src / "metrics.json"), read_json(job.path / "metrics.json")
        )
        diff = diff and f"metrics.json {diff}"
        diff = diff or history_difference(src / "history.csv", job.path / "history.csv")
    return f"{label}: differs at {diff}" if diff else f"{label}: bit-identical"


def verify_runs(study: Study, results_dir: str | Path, target: str) -> list[str]:
    """``VARIANT`` (its finished runs at every seed) or ``VARIANT/seedK``."""
    variant, _, seed = target.partition("/seed")
    if variant not in study.variants or (seed and not seed.isdigit()):
        raise ValueError(
            f"--verify {target!r}: expected VARIANT or VARIANT/seedK with a variant of {study.path}"
        )
    conf = study.confirmatory
    seeds = (
        [int(seed)]
        if seed
        else [
            s
            for s in (*study.seeds, *(conf.seeds if conf else ()))
            if (read_run_info(run_dir(results_dir, study.profile, variant, s)) or {}).get("status")
            == "finished"
        ]
    )
    return [verify_run(study, results_dir, variant, s) for s in seeds] or [
        f"{target}: no finished run to verify"
    ]
