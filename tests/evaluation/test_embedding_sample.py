"""The embedding sample behind notebook 04's known-vs-unknown views and the space measurement."""

from types import SimpleNamespace

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from owslib.evaluation.embeddings import (
    load_embedding_sample,
    sample_embeddings,
    space_table,
    write_embedding_sample,
)
from owslib.models.outputs import EMBEDDING, SEM_LOGITS
from owslib.plots.embeddings import pca_2d


class _Echo(nn.Module):
    """Outputs whose vectors encode the pixel: embedding = (row, col, 1), logits = its negation."""

    def forward(self, image):
        b, _, h, w = image.shape
        rows = torch.arange(h, dtype=torch.float32).view(1, 1, h, 1).expand(b, 1, h, w)
        cols = torch.arange(w, dtype=torch.float32).view(1, 1, 1, w).expand(b, 1, h, w)
        emb = torch.cat([rows, cols, torch.ones_like(rows)], dim=1)
        return {EMBEDDING: emb, SEM_LOGITS: -emb[:, :2]}


def _loader():
    target = torch.full((2, 6, 8), 255, dtype=torch.int64)
    target[:, :3, :4] = 0  # 12 pixels of class 0 per image
    target[:, 3:, :4] = 1
    target[0, 3:, 4:] = 2  # the unknown class, in the first image only
    target[1, 0, 7] = 254  # padding: never sampled
    return [(torch.zeros(2, 3, 6, 8), target)]


def test_sample_caps_each_class_and_keeps_vectors_with_their_pixels():
    s = sample_embeddings(_Echo(), _loader(), num_labels=3, per_class=5, seed=1)
    assert set(s["label"].tolist()) == {0, 1, 2}
    assert all((s["label"] == c).sum() == 5 for c in range(3))
    assert s["embedding"].shape == (15, 3) and s["semantic"].shape == (15, 2)
    rows, cols = s["embedding"][:, 0], s["embedding"][:, 1]
    # each vector is its own pixel's: class 0 lies in rows 0-2 / cols 0-3, the unknown in cols 4-7
    assert np.all(rows[s["label"] == 0] < 3) and np.all(cols[s["label"] == 0] < 4)
    assert np.all(rows[s["label"] == 2] >= 3) and np.all(cols[s["label"] == 2] >= 4)
    np.testing.assert_array_equal(s["semantic"], -s["embedding"][:, :2])


def test_sample_is_seeded_and_skips_void_and_padding():
    a = sample_embeddings(_Echo(), _loader(), num_labels=3, per_class=4, seed=3)
    b = sample_embeddings(_Echo(), _loader(), num_labels=3, per_class=4, seed=3)
    c = sample_embeddings(_Echo(), _loader(), num_labels=3, per_class=4, seed=4)
    np.testing.assert_array_equal(a["embedding"], b["embedding"])
    assert not np.array_equal(a["embedding"], c["embedding"])
    big = sample_embeddings(_Echo(), _loader(), num_labels=3, per_class=1000, seed=0)
    assert len(big["label"]) == 12 * 2 + 12 * 2 + 12  # every class pixel, no void, no padding


def test_space_table_measures_norms_and_separability():
    rng = np.random.default_rng(0)
    known = np.repeat(np.eye(3)[:2], 50, axis=0) * 5 + rng.normal(0, 0.01, (100, 3))
    unknown = np.tile([[0.0, 0.0, 1e-4]], (20, 1))  # pushed to zero norm, another direction
    sample = {
        "label": np.r_[np.repeat([0, 1], 50), np.full(20, 2)],
        "embedding": np.r_[known, unknown],
        "semantic": np.r_[known, known[:20]],  # the unknowns look like class 0 here
        "num_known": 2,
    }
    t = space_table({"v": sample}, min_norm=1e-3).set_index("space")
    assert t.loc["embedding", "unknown share below 0.001"] == 1.0
    assert t.loc["semantic", "unknown share below 0.001"] == 0.0
    assert t.loc["embedding", "cosine AUROC"] == 1.0
    assert abs(t.loc["semantic", "cosine AUROC"] - 0.5) < 0.3
    assert abs(t.loc["embedding", "median norm known"] - 5.0) < 0.05


def test_pca_projects_unit_vectors_and_reports_variance_shares():
    v = np.r_[np.tile([10.0, 0, 0], (5, 1)), np.tile([0, 0.1, 0], (5, 1))]
    xy, share = pca_2d(v)
    assert xy.shape == (10, 2)
    assert abs(share[0] - 1.0) < 1e-9  # two unit directions: one component explains everything
    assert abs(abs(xy[0, 0] - xy[5, 0]) - np.sqrt(2)) < 1e-9


def test_written_sample_round_trips_and_is_kept(tmp_path):
    split = SimpleNamespace(known_names=("a", "b"), unknown_names=("u",), num_known=2)
    images, targets = _loader()[0]
    # the sample reads the whole split from the loader's dataset (one batch of 1 at a time)
    loader = DataLoader(TensorDataset(images, targets), batch_size=2)
    cfg = SimpleNamespace(train=SimpleNamespace(seed=0), eval=SimpleNamespace(batch_size=1))
    exp = SimpleNamespace(
        split=split, bare_model=_Echo(), test_loader=loader, cfg=cfg, device="cpu"
    )
    path = write_embedding_sample(tmp_path, exp, per_class=3)
    back = load_embedding_sample(path)
    direct = sample_embeddings(_Echo(), _loader(), num_labels=3, per_class=3, seed=0)
    assert back["num_known"] == 2 and back["embedding"].dtype == np.float32
    np.testing.assert_allclose(back["embedding"], direct["embedding"], rtol=1e-3)
    assert list(back["class_names"]) == ["a", "b", "u"]
    before = path.stat().st_mtime_ns
    assert write_embedding_sample(tmp_path, None) == path and path.stat().st_mtime_ns == before
    assert write_embedding_sample(tmp_path / "no_checkpoint", None) is None


def test_pca_and_norm_figures_show_every_variant_and_mark_unknowns():
    import matplotlib

    matplotlib.use("Agg")
    from owslib.plots import embedding_pca, norm_histograms

    s = sample_embeddings(_Echo(), _loader(), num_labels=3, per_class=6, seed=0)
    s |= {"num_known": 2, "class_names": np.array(["road", "car", "lion"])}
    fig = embedding_pca({"with": s, "without": None})
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["with", "without"]
    assert "no sample" in fig.axes[1].texts[0].get_text()
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == ["road", "car", "lion (unknown)"]
    fig = norm_histograms({"with": s}, min_norm=1e-6)
    assert [ax.get_xscale() for ax in fig.axes] == ["log", "log"]
    assert any(abs(line.get_xdata()[0] - 1e-6) < 1e-12 for line in fig.axes[0].lines)


def test_space_finding_names_the_space_that_separates_by_direction():
    import pandas as pd

    from owslib.evaluation.embeddings import space_finding

    t = pd.DataFrame(
        {
            "variant": ["a", "a", "b", "b"],
            "space": ["embedding", "semantic"] * 2,
            "dim": 3,
            "median norm known": 1.0,
            "median norm unknown": 0.5,
            "unknown share below 1e-06": [0.0, 0.0, 0.25, 0.0],
            "cosine AUROC": [0.8, 0.5, 0.7, 0.6],
        }
    )
    text = space_finding(t)
    assert "better separated in `embedding` (AUROC 0.750 against 0.550 in `semantic`)" in text
    assert "at most 25.0% of unknown vectors below 1e-06" in text
    assert "not in this copy" in space_finding(pd.DataFrame())


def test_vectors_beyond_float16_are_stored_as_float32(tmp_path, caplog):
    from owslib.evaluation.embeddings import compact_floats

    caplog.set_level("INFO", logger="owslib.evaluation.embeddings")
    small = np.array([[1.5, -65504.0], [1e-3, 65519.0]], np.float32)  # 65519 rounds to 65504
    assert compact_floats(small).dtype == np.float16
    big = np.array([[1.0, 7.0e4], [np.inf, -2.0]], np.float32)  # 7e4 would become inf
    kept = compact_floats(big, "semantic")
    assert kept.dtype == np.float32 and np.array_equal(kept, big)
    assert "semantic" in caplog.text
    assert compact_floats(np.arange(3, dtype=np.int16)).dtype == np.int16  # labels unchanged

    class _Large(_Echo):  # logits of a confident model: far beyond float16's range
        def forward(self, image):
            out = super().forward(image)
            return {EMBEDDING: out[EMBEDDING], SEM_LOGITS: out[SEM_LOGITS] * 3e4 - 1e5}

    split = SimpleNamespace(known_names=("a", "b"), unknown_names=("u",), num_known=2)
    images, targets = _loader()[0]
    cfg = SimpleNamespace(train=SimpleNamespace(seed=0), eval=SimpleNamespace(batch_size=1))
    exp = SimpleNamespace(
        split=split,
        bare_model=_Large(),
        cfg=cfg,
        device="cpu",
        test_loader=DataLoader(TensorDataset(images, targets), batch_size=2),
    )
    path = write_embedding_sample(tmp_path, exp, per_class=3)
    with np.load(path) as z:
        assert z["embedding"].dtype == np.float16 and z["semantic"].dtype == np.float32
    back = load_embedding_sample(path)
    direct = sample_embeddings(_Large(), _loader(), num_labels=3, per_class=3, seed=0)
    assert np.isfinite(back["semantic"]).all()
    np.testing.assert_array_equal(back["semantic"], direct["semantic"])
