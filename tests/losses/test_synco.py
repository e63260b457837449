"""Tests for owslib.losses.synco: synthetic hard negatives and the hardest-negative statistics."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from owslib.losses.synco import (
    SYNTHETIC_KINDS,
    hardest_negative_stats,
    synthesize_hard_negatives,
)

ALL = {
    "interpolated": 3,
    "extrapolated": 2,
    "mixup": 4,
    "noise": 1,
    "perturbed": 2,
    "adversarial": 3,
}


def _data(n=5, m=7, d=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g), torch.randn(m, d, generator=g)


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _hardest(q, pool):
    qn, pn = F.normalize(q, dim=1), F.normalize(pool, dim=1)
    return qn, pn[(qn @ pn.T).argmax(1)]


def _plane_coefficients(s, q, n):
    """Least-squares (a, b) with s ≈ a q + b n per synthetic vector, and the residual norm.

    ``s`` (N, c, D); ``q`` and ``n`` (N, D), one per query.
    """
    q, n = (x.unsqueeze(1).expand_as(s) for x in (q, n))
    basis = torch.stack([q, n], dim=-1)  # (N, c, D, 2)
    coef = torch.linalg.lstsq(basis, s.unsqueeze(-1)).solution.squeeze(-1)
    residual = (basis @ coef.unsqueeze(-1)).squeeze(-1) - s
    return coef[..., 0], coef[..., 1], residual.norm(dim=-1)


def test_shapes_norms_and_no_grad():
    q, pool = _data()
    q.requires_grad_(True)
    pool.requires_grad_(True)
    out = synthesize_hard_negatives(q, pool, n_hard=3, counts=ALL, generator=_gen())
    assert out.shape == (5, sum(ALL.values()), 4) and out.dtype == torch.float32
    assert not out.requires_grad and out.grad_fn is None
    torch.testing.assert_close(out.norm(dim=-1), torch.ones(5, sum(ALL.values())))
    # Zero counts and missing kinds contribute nothing.
    out = synthesize_hard_negatives(q, pool, n_hard=3, counts={"mixup": 0, "noise": 2})
    assert out.shape == (5, 2, 4)


def test_kinds_in_canonical_order_with_one_hard_member():
    q, pool = _data(n=6, m=9, d=5)
    qn, n = _hardest(q, pool)
    out = synthesize_hard_negatives(q, pool, n_hard=1, counts=ALL, generator=_gen())
    parts = dict(zip(SYNTHETIC_KINDS, out.split([ALL[k] for k in SYNTHETIC_KINDS], 1), strict=True))
    qe, ne = qn.unsqueeze(1), n.unsqueeze(1)
    # interpolated: on the arc between q and n, nearer n (α < 0.5): s ∝ α q + (1 − α) n.
    a, b, res = _plane_coefficients(parts["interpolated"], qn, n)
    assert res.max() < 1e-5 and (a >= 0).all() and (b > 0).all() and (a / b <= 1 + 1e-5).all()
    # extrapolated: in the plane, beyond n: s ∝ (1 − β) q + β n with β ∈ [1, 1.5].
    a, b, res = _plane_coefficients(parts["extrapolated"], qn, n)
    assert res.max() < 1e-5 and (b > 0).all()
    assert ((a / b <= 1e-5) & (a / b >= -1 / 3 - 1e-5)).all()
    assert ((parts["extrapolated"] * qe).sum(-1) <= (ne * qe).sum(-1) + 1e-6).all()
    # mixup of the only hard member with itself is that member.
    torch.testing.assert_close(parts["mixup"], ne.expand_as(parts["mixup"]))
    # noise: close to n, but not n.
    dist = (parts["noise"] - ne).norm(dim=-1)
    assert (dist < 0.1).all() and (dist > 0).all()
    # perturbed: n + δ ∇_n(q·n) = n + δ q; adversarial: n + η sign(q), δ = η = 0.01.
    perturbed, adversarial = parts["perturbed"], parts["adversarial"]
    torch.testing.assert_close(perturbed, F.normalize(ne + 0.01 * qe, dim=-1).expand_as(perturbed))
    expected = F.normalize(ne + 0.01 * qe.sign(), dim=-1).expand_as(adversarial)
    torch.testing.assert_close(adversarial, expected)


def test_coefficient_ranges_cover_the_intervals():
    q, pool = _data(n=4, m=3, d=3)
    qn, n = _hardest(q, pool)
    counts = {"interpolated": 200, "extrapolated": 200}
    out = synthesize_hard_negatives(q, pool, n_hard=1, counts=counts, generator=_gen(3))
    a, b, _ = _plane_coefficients(out[:, :200], qn, n)
    alpha = a / (a + b)
    assert alpha.min() >= -1e-5 and alpha.max() <= 0.5 + 1e-5
    assert alpha.min() < 0.05 and alpha.max() > 0.45
    a, b, _ = _plane_coefficients(out[:, 200:], qn, n)
    beta = b / (a + b)  # s ∝ (1 − β) q + β n
    assert beta.min() >= 1 - 1e-4 and beta.max() <= 1.5 + 1e-4
    assert beta.min() < 1.05 and beta.max() > 1.45


def test_members_are_the_most_similar():
    q, pool = _data(n=8, m=10, d=6)
    qn, pn = F.normalize(q, dim=1), F.normalize(pool, dim=1)
    top2 = (qn @ pn.T).topk(2, dim=1).indices
    # σ = 0 turns "noise" into the members themselves.
    out = synthesize_hard_negatives(
        q, pool, n_hard=2, counts={"noise": 60}, sigma=0.0, generator=_gen()
    )
    match = (out.unsqueeze(2) - pn[top2].unsqueeze(1)).norm(dim=-1) < 1e-5  # (N, 60, 2)
    assert match.any(-1).all()  # every draw is one of the two hardest
    assert match.any(1).all()  # and both of them get drawn
    # n_hard beyond the pool size uses the whole pool.
    assert synthesize_hard_negatives(q, pool, n_hard=50, counts={"mixup": 3}).shape == (8, 3, 6)


def test_determinism():
    q, pool = _data()
    a = synthesize_hard_negatives(q, pool, n_hard=4, counts=ALL, generator=_gen(7))
    b = synthesize_hard_negatives(q, pool, n_hard=4, counts=ALL, generator=_gen(7))
    c = synthesize_hard_negatives(q, pool, n_hard=4, counts=ALL, generator=_gen(8))
    assert torch.equal(a, b) and not torch.equal(a, c)
    torch.manual_seed(11)
    d = synthesize_hard_negatives(q, pool, n_hard=4, counts=ALL)
    torch.manual_seed(11)
    e = synthesize_hard_negatives(q, pool, n_hard=4, counts=ALL)
    assert torch.equal(d, e)


def test_bad_counts_raise():
    q, pool = _data()
    with pytest.raises(ValueError, match=r"'hardest'.*interpolated.*adversarial"):
        synthesize_hard_negatives(q, pool, n_hard=2, counts={"hardest": 1})
    with pytest.raises(ValueError, match="mixup"):
        synthesize_hard_negatives(q, pool, n_hard=2, counts={"mixup": -1})
    with pytest.raises(ValueError, match="n_hard"):
        synthesize_hard_negatives(q, pool, n_hard=0, counts={"mixup": 1})
    with pytest.raises(ValueError, match="pool"):
        synthesize_hard_negatives(q, pool[:, :2], n_hard=1, counts={"mixup": 1})


def test_empty_pool_and_empty_query():
    q, pool = _data()
    assert synthesize_hard_negatives(q, pool[:0], n_hard=2, counts=ALL).shape == (5, 0, 4)
    assert synthesize_hard_negatives(q, torch.zeros(3, 4), n_hard=2, counts=ALL).shape == (5, 0, 4)
    assert synthesize_hard_negatives(q[:0], pool, n_hard=2, counts=ALL).shape == (0, 15, 4)


def test_hardest_negative_stats_hand_computed():
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    real = torch.tensor([[1.0, 1.0]])  # cosine 1/√2 with both non-zero anchors (0 with the third)
    synthetic = torch.tensor([[[1.0, 0.1]], [[1.0, 0.0]], [[0.0, 0.0]]])
    # anchor 0: synthetic cos = 1/√1.01 > 1/√2 → synthetic; anchor 1: synthetic cos 0 → real;
    # anchor 2 (zero query): real cos 0, its synthetic is padding → real.
    stats = hardest_negative_stats(q, real, synthetic)
    assert stats["num_anchors"] == 3
    assert stats["synthetic_hardest_share"] == pytest.approx(1 / 3)
    expected = (1 / math.sqrt(1.01) + 1 / math.sqrt(2) + 0.0) / 3
    assert stats["hardest_similarity"] == pytest.approx(expected, rel=1e-6)
    only_real = hardest_negative_stats(q[:2], real, None)
    assert only_real["synthetic_hardest_share"] == 0.0
    assert only_real["hardest_similarity"] == pytest.approx(1 / math.sqrt(2), rel=1e-6)
    none = hardest_negative_stats(q[:0], real, torch.zeros(0, 4, 2))
    assert none == {"synthetic_hardest_share": 0.0, "hardest_similarity": 0.0, "num_anchors": 0}
