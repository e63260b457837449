"""The explorer record: a few test images' maps, quantised to 8 bits, read back within 1/255."""

from __future__ import annotations

import numpy as np

from owslib.report.explorer_record import load_explorer_record, write_explorer_record


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
