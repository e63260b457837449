"""The code's identity in every run's fingerprint, and the probe that keeps it honest."""

from __future__ import annotations

import json

import pytest

from owslib.runs import computation
from owslib.runs.setup import code_identity, fingerprint, observed


@pytest.mark.slow
def test_the_code_computes_what_its_declared_identity_recorded():
    """Every study variant, probed in the study's setup, gives the recorded numbers: the code's
    identity (and so every committed run's fingerprint) still names what the code computes."""
    want = computation.recorded()
    assert set(want) == set(computation.study_variants()), "a study variant has no recorded probe"
    have = computation.probe_in_setup(want)
    changed = {n: d for n in want if (d := computation.differences(want[n], have[n]))}
    assert not changed, (
        "what runs compute has changed; undo the change, or declare it with `python -m "
        f"owslib.runs.computation --record REASON` (every committed run goes stale): {changed}"
    )


def test_a_changed_number_and_a_missing_one_are_named():
    want = {"miou": 0.5, "train/0/loss": 1.0, "anomaly/fused/pooled/aupr": 0.25}
    same = {"miou": 0.5 + 1e-9, "train/0/loss": 1.0, "anomaly/fused/pooled/aupr": 0.25}
    assert computation.differences(want, same) == []
    moved = {"miou": 0.51, "train/0/loss": 1.0, "extra": 2.0}
    assert computation.differences(want, moved) == [
        "anomaly/fused/pooled/aupr: recorded, not computed now",
        "extra: computed now, not recorded",
        "miou: recorded 0.5, now 0.51",
    ]
    assert computation.differences({"a": float("nan")}, {"a": float("nan")}) == []


def test_numbers_flattens_a_result_into_paths():
    import numpy as np

    tree = {
        "miou": 0.5,
        "iou": [0.25, 0.75],
        "anomaly": {"fused": {"n": 3, "ok": True}},
        "arr": np.array([1.5]),
        "name": "x",
    }
    assert computation.numbers(tree) == {
        "miou": 0.5,
        "iou/0": 0.25,
        "iou/1": 0.75,
        "anomaly/fused/n": 3.0,
        "arr/0": 1.5,
    }


def test_the_fingerprint_of_the_committed_runs_is_unchanged():
    """The identity runs record is the confirmatory study's: a run of its setup fingerprints as
    the 153 committed runs do (cdfef8be552f1ba7)."""
    record = json.loads(computation.RECORD.read_text())
    assert record["source_sha256"] == code_identity()
    assert code_identity().startswith("5c02030b")
    committed = {
        "base_config_sha256": "5afa2bb68c38909781f94550f1a9cca366c7ba68be82eac3170dc67a566d8908",
        "encoder_sha256": "920f70139213b5644507f3bf8bc85261642971968c35890f7a2682b81902e97e",
        "isa": "avx2",
        "precision": "float32",
        "source_sha256": code_identity(),
        "threads": 1,
    }
    assert fingerprint(committed) == "cdfef8be552f1ba7"


def test_a_run_records_the_declared_identity_not_the_code_s_current_hash(monkeypatch):
    from owslib.config import load_profile
    from owslib.runs import setup

    monkeypatch.setattr(setup, "_installed_source_sha256", lambda: "moved-code")
    got = observed(load_profile("smoke"), "enc")
    assert got["source_sha256"] == code_identity() != "moved-code"
