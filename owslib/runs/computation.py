"""What a run's fingerprint says of the code: the identity of what training and evaluation compute.

A run's setup record (:func:`owslib.runs.setup.observed`) names the code by ``source_sha256``. That
value is :data:`COMPUTATION` ``["source_sha256"]``: the hash of the computing code's syntax trees
(:func:`owslib.runs.setup.source_sha256`) *when what that code computes last changed*. It is carried
forward while the code's numbers stay the same, so restructuring, adding a dataset reader, a profile
or a metric section leaves every committed run's fingerprint as it was.

What keeps that honest is the **probe** (:func:`probe`): every variant of the study file trained
for one short epoch on a few generated scenes (a small model, a closed-set pretraining included),
then evaluated, every number of the result kept. ``computation.json`` beside this module records the
probe's numbers for the identity in force; ``tests/runs/test_computation.py`` recomputes them and
fails when the code computes anything else. Then either the change is undone, or the computation
is declared changed: ``python -m owslib.runs.computation --record`` sets the identity to the current
code's hash and records the new numbers (every committed run of the old identity goes stale, and
``make study`` retrains it). ``study --verify`` remains the check at full size: a committed run
retrained bit for bit.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from owslib.io import atomic_write_text
from owslib.paths import resolve
from owslib.runs.setup import COMPUTATION_RECORD as RECORD

#: The probe's scale: the smoke profile's small model on four generated training scenes, one epoch.
PROBE_OVERRIDES = {
    "synthetic__n_train": 4,
    "synthetic__n_val": 2,
    "synthetic__n_test": 2,
    "train__epochs": 1,
    "train__batch_size": 2,
    "model__pretrain_epochs": 1,
    "data__num_workers": 0,
    "train__device": "cpu",
    "eval__n_examples": 1,
}
#: Numbers the probe compares: relative and absolute tolerance (float32 kernels and thread counts
#: move the last bits; a change of what is computed moves far more).
RTOL, ATOL = 1e-4, 1e-6


def _record() -> dict[str, Any]:
    return json.loads(RECORD.read_text())


#: The identity in force (``source_sha256``, the date it was declared, and why).
COMPUTATION: dict[str, str] = {k: v for k, v in _record().items() if k != "probe"}


def numbers(tree: Any, prefix: str = "") -> dict[str, float]:
    """Every number of a nested result, keyed by its path (``anomaly/fused/pooled/aupr``)."""
    out: dict[str, float] = {}
    if isinstance(tree, dict):
        for k, v in tree.items():
            out |= numbers(v, f"{prefix}{k}/")
    elif isinstance(tree, (list, tuple)):
        for i, v in enumerate(tree):
            out |= numbers(v, f"{prefix}{i}/")
    elif isinstance(tree, (int, float)) and not isinstance(tree, bool):
        out[prefix.rstrip("/")] = float(tree)
    elif hasattr(tree, "tolist"):  # numpy arrays and scalars, tensors
        out |= numbers(tree.tolist(), prefix)
    return out


def probe_variant(name: str, overrides: dict[str, Any], root: Path) -> dict[str, float]:
    """One variant's numbers: its training losses and validation, then every number of its
    evaluation (``root`` holds the data, and the cache where ``$OWSLIB_CACHE`` points)."""
    from owslib.config import load_profile
    from owslib.data import ensure_embedded_dataset
    from owslib.engine.experiment import build_experiment, cache_dir
    from owslib.engine.loop import fit
    from owslib.engine.pretrain import ensure_pretrained_encoder
    from owslib.evaluation.passes import epoch_validation, evaluate

    cfg = load_profile("smoke", **PROBE_OVERRIDES, data__root=str(root / "data"), **overrides)
    ensure_embedded_dataset(root / "data", cfg.synthetic)
    exp = build_experiment(cfg, encoder=ensure_pretrained_encoder(cfg, cache_dir()))
    history = fit(exp, root / "runs" / name, validate=epoch_validation)
    result = evaluate(exp, exp.test_loader)
    losses = {k: v for k, v in numbers(history).items() if not k.endswith(("time_s", "lr"))}
    return {f"train/{k}": v for k, v in losses.items()} | numbers(result)


def probe(variants: dict[str, dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Every variant's numbers (:func:`probe_variant`), in one temporary folder."""
    with tempfile.TemporaryDirectory() as tmp:
        before = os.environ.get("OWSLIB_CACHE")
        os.environ["OWSLIB_CACHE"] = str(Path(tmp, "cache"))
        try:
            return {name: probe_variant(name, o, Path(tmp)) for name, o in variants.items()}
        finally:
            if before is None:
                del os.environ["OWSLIB_CACHE"]
            else:
                os.environ["OWSLIB_CACHE"] = before


def _study(path: str | Path = "notebooks/study.json") -> dict[str, Any]:
    return json.loads(resolve(path).read_text())


def study_variants() -> dict[str, dict[str, Any]]:
    """The study file's variants and their overrides (the probe's cases)."""
    return {name: v.get("overrides", {}) for name, v in _study()["variants"].items()}


def probe_in_setup(names: Iterable[str]) -> dict[str, dict[str, float]]:
    """:func:`probe` of the named study variants in a process of the study's declared setup (its
    instruction-set caps and threads, as its runs are trained), so the bits are the runs' own."""
    from owslib.runs.setup import parse_setup

    env = os.environ | parse_setup("setup", _study().get("setup")).environment()
    cmd = [sys.executable, "-m", "owslib.runs.computation", "--json", *names]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"the computation probe failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


def differences(want: dict[str, float], have: dict[str, float], limit: int = 5) -> list[str]:
    """How two probes of one variant differ: keys missing on either side, numbers out of tolerance."""
    want, have = _computed(want), _computed(have)
    out = [f"{k}: recorded, not computed now" for k in sorted(set(want) - set(have))]
    out += [f"{k}: computed now, not recorded" for k in sorted(set(have) - set(want))]
    for k in sorted(set(want) & set(have)):
        a, b = want[k], have[k]
        if not (
            a == b
            or (math.isnan(a) and math.isnan(b))
            or math.isclose(a, b, rel_tol=RTOL, abs_tol=ATOL)
        ):
            out.append(f"{k}: recorded {a!r}, now {b!r}")
    return out[:limit] + ([f"… and {len(out) - limit} more"] if len(out) > limit else [])


def _computed(numbers: dict[str, float]) -> dict[str, float]:
    """The numbers a run computes, not the settings it records (``protocol/…``)."""
    return {k: v for k, v in numbers.items() if not k.startswith("protocol/")}


def recorded(names: Iterable[str] | None = None) -> dict[str, dict[str, float]]:
    """The recorded probe numbers (of ``names``, default every variant recorded)."""
    got = _record()["probe"]
    return got if names is None else {n: got[n] for n in names}


def record(reason: str) -> dict[str, Any]:
    """Declare the computation changed: the identity becomes the current code's hash, the probe's
    numbers are recomputed in the study's setup and written (:data:`RECORD`)."""
    from datetime import date

    from owslib.runs.setup import source_sha256

    out = {
        "source_sha256": source_sha256(),
        "declared": date.today().isoformat(),
        "reason": reason,
        "probe": probe_in_setup(study_variants()),
    }
    rows = [f'  "{k}": {json.dumps(v)}' for k, v in out.items() if k != "probe"]
    rows.append(
        '  "probe": {\n'
        + ",\n".join(
            f"    {json.dumps(n)}: {json.dumps(p, sort_keys=True)}" for n, p in out["probe"].items()
        )
        + "\n  }"
    )
    atomic_write_text(RECORD, "{\n" + ",\n".join(rows) + "\n}\n")  # a variant a line
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m owslib.runs.computation",
        description="Check (default) or record the computation probe.",
    )
    parser.add_argument(
        "--record", metavar="REASON", help="declare that what runs compute has changed, and why"
    )
    parser.add_argument(
        "--json",
        nargs="+",
        metavar="VARIANT",
        help="print these variants' probe numbers as JSON (in this process)",
    )
    args = parser.parse_args(argv)
    if args.json:
        logging.disable(logging.WARNING)
        variants = study_variants()
        print(json.dumps(probe({n: variants[n] for n in args.json})))
        return 0
    if args.record:
        out = record(args.record)
        print(f"computation {out['source_sha256'][:16]} recorded ({len(out['probe'])} variants)")
        return 0
    want = recorded()
    have = probe_in_setup(want)
    failed = 0
    for name in want:
        diff = differences(want[name], have[name])
        failed += bool(diff)
        print(f"{name}: {'the same' if not diff else '; '.join(diff)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
