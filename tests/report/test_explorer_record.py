"""The explorer record: a few test images' maps, quantised to 8 bits, read back within 1/255."""

from __future__ import annotations

import numpy as np
import pytest

from owslib.report.explorer_record import (
    load_explorer_record,
    record_path,
    write_explorer_record,
)


def test_the_record_round_trips_within_its_quantisation(tmp_path):
    rng = np.random.default_rng(0)
    examples = [
        {
            "name": f"img{i}",
            "image": rng.integers(0, 255, (8, 16, 3), dtype=np.uint8),
            "target": rng.integers(0, 19, (8, 16)).astype(np.uint8),
            "pred": rng.integers(0, 16, (8, 16)),
            "unknown_mask": rng.random((8, 16)) > 0.8,
            "maps": {
                "fused": rng.random((8, 16)).astype(np.float32),
                "max_logit": (rng.random((8, 16)) * 20 - 30).astype(np.float32),
                "flat": np.full((8, 16), 0.5, np.float32),
            },
        }
        for i in range(3)
    ]
    path = write_explorer_record(tmp_path / "explorer.npz", examples)
    back = load_explorer_record(path)
    assert [b["name"] for b in back] == ["img0", "img1", "img2"]
    for ex, b in zip(examples, back, strict=True):
        for key in ("image", "target", "pred", "unknown_mask"):
            np.testing.assert_array_equal(b[key], np.asarray(ex[key]).astype(b[key].dtype))
        for s, m in ex["maps"].items():
            span = float(m.max() - m.min()) or 1.0
            assert np.abs(b["maps"][s] - m).max() <= span / 255 / 2 + 1e-5, s
            if s != "flat":  # the order of pixels survives (what a per-image AUPR ranks)
                assert np.corrcoef(b["maps"][s].ravel(), m.ravel())[0, 1] > 0.999
    assert path.stat().st_size < 20_000


def _anomaly_examples(rng, n=2) -> list[dict]:
    """Frames of an anomaly set: anomaly targets (0 known, 1 anomaly, 255 void)."""
    out = []
    for i in range(n):
        target = np.zeros((6, 10), np.uint8)
        target[2:4, 3 + i : 6 + i] = 1
        target[:, 0] = 255
        out.append(
            {
                "name": f"frame{i}",
                "image": rng.integers(0, 255, (6, 10, 3), dtype=np.uint8),
                "target": target,
                "pred": rng.integers(0, 11, (6, 10)),
                "unknown_mask": target == 1,
                "maps": {"fused": rng.random((6, 10)).astype(np.float32)},
                "target_kind": "anomaly",
            }
        )
    return out


def test_the_record_says_what_its_ground_truth_is(tmp_path):
    rng = np.random.default_rng(1)
    back = load_explorer_record(write_explorer_record(tmp_path / "a.npz", _anomaly_examples(rng)))
    assert [b["target_kind"] for b in back] == ["anomaly", "anomaly"]
    np.testing.assert_array_equal(back[1]["unknown_mask"], back[1]["target"] == 1)
    classes = [{k: v for k, v in ex.items() if k != "target_kind"} for ex in _anomaly_examples(rng)]
    back = load_explorer_record(write_explorer_record(tmp_path / "c.npz", classes))
    assert {b["target_kind"] for b in back} == {"classes"}  # the default, as older records


def test_a_record_written_before_the_target_kind_reads_as_classes(tmp_path):
    path = write_explorer_record(tmp_path / "old.npz", _anomaly_examples(np.random.default_rng(2)))
    with np.load(path) as z:
        old = {k: z[k] for k in z.files if k != "target_kind"}
    np.savez_compressed(tmp_path / "older.npz", **old)
    assert {b["target_kind"] for b in load_explorer_record(tmp_path / "older.npz")} == {"classes"}


def test_examples_of_two_target_kinds_are_refused(tmp_path):
    mixed = _anomaly_examples(np.random.default_rng(3))
    mixed[0]["target_kind"] = "classes"
    with pytest.raises(ValueError, match="target kinds \\['anomaly', 'classes'\\]"):
        write_explorer_record(tmp_path / "mixed.npz", mixed)
    assert not (tmp_path / "mixed.npz").exists()


def test_an_anomaly_sets_record_lies_in_the_sets_folder(tmp_path):
    assert record_path(tmp_path) == tmp_path / "explorer.npz"
    assert record_path(tmp_path, "road_anomaly") == (
        tmp_path / "anomaly_sets" / "road_anomaly" / "explorer.npz"
    )
