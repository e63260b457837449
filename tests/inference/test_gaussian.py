"""Tests for owslib.inference: Gaussian / contrastive / fused anomaly scores (Eqs. 11–14) and baselines."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from owslib.inference.gaussian import (
    class_similarity,
    contrastive_unknown_score,
    fused_unknown_score,
    gaussian_class_scores,
    mahalanobis_sq,
    open_world_prediction,
    semantic_unknown_score,
)
from owslib.inference.scorers import SCORERS, anomaly_scores
from owslib.losses import ClassStatistics

K = 3
MEAN = np.array([[2.0, -1.0, 0.5], [-1.0, 1.5, 0.0], [0.5, 0.5, 2.5]])
STD = np.array([[1.0, 0.5, 2.0], [0.8, 1.2, 1.0], [1.5, 1.0, 0.7]])


def _stats(valid=(True, True, True)) -> ClassStatistics:
    stats = ClassStatistics(K)
    stats.mean.copy_(torch.tensor(MEAN))
    stats.var.copy_(torch.tensor(STD**2))
    stats.valid.copy_(torch.tensor(valid))
    return stats


def _logits(seed: int = 0, b: int = 2, h: int = 2, w: int = 3) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(b, K, h, w)) * 1.5


def _ref_scores(logits, valid=(True, True, True)):
    """s_k(f) = exp(−½ Σ_j (f_j − μ_kj)² / σ_kj²), looped; 0 for classes without statistics."""
    b, _, h, w = logits.shape
    s = np.zeros((b, K, h, w))
    for i, k, y, x in np.ndindex(b, K, h, w):
        if valid[k]:
            d = sum((logits[i, j, y, x] - MEAN[k, j]) ** 2 / STD[k, j] ** 2 for j in range(K))
            s[i, k, y, x] = np.exp(-0.5 * d)
    return s


def _t(a):
    return torch.tensor(a, dtype=torch.float32)


def test_mahalanobis_sq_matches_loop():
    g = np.random.default_rng(1)
    f = g.normal(size=(2, 4, 2, 3)) * 3
    mean = g.normal(size=(5, 4)) * 2
    std = g.uniform(0.3, 2.0, size=(5, 4))
    d = mahalanobis_sq(_t(f), _t(mean), _t(std)).numpy()
    assert d.shape == (2, 5, 2, 3)
    for i, k, y, x in np.ndindex(2, 5, 2, 3):
        ref = sum((f[i, j, y, x] - mean[k, j]) ** 2 / std[k, j] ** 2 for j in range(4))
        assert d[i, k, y, x] == pytest.approx(ref, rel=1e-4, abs=1e-4)


def test_mahalanobis_sq_is_zero_at_the_class_mean():
    f = _t(MEAN[1]).view(1, K, 1, 1)
    d = mahalanobis_sq(f, _t(MEAN), _t(STD))
    assert d[0, 1, 0, 0].item() == pytest.approx(0.0, abs=1e-4)


@pytest.mark.parametrize("std", [1e-3, 1e-2])
def test_mahalanobis_sq_is_accurate_for_small_std(std):
    # σ at (or near) the min_std floor, which a class with (nearly) constant true-positive logits
    # gets; logits of magnitude ~5. At the mean the distance is 0; one σ off in every dimension is D.
    g = np.random.default_rng(0)
    d_dim = 19
    mean = g.normal(size=(4, d_dim)) * 5
    sd = np.full((4, d_dim), std)
    at_mean = _t(mean.T).view(1, d_dim, 1, 4)  # pixel x sits at the mean of class x
    one_sigma = _t(mean.T + std).view(1, d_dim, 1, 4)
    d_at = mahalanobis_sq(at_mean, _t(mean), _t(sd))[0, :, 0, :].diagonal().numpy()
    d_one = mahalanobis_sq(one_sigma, _t(mean), _t(sd))[0, :, 0, :].diagonal().numpy()
    np.testing.assert_allclose(d_at, 0.0, atol=0.05)
    np.testing.assert_allclose(d_one, d_dim, rtol=0.01)


def test_gaussian_class_scores_eq11():
    logits = _logits()
    s = gaussian_class_scores(_t(logits), _stats(), min_std=1e-3).numpy()
    np.testing.assert_allclose(s, _ref_scores(logits), rtol=1e-4, atol=1e-7)
    assert s.max() > 0.05  # the example is not all-zero scores


def test_gaussian_class_scores_use_the_std_floor():
    stats = _stats()
    stats.var.zero_()
    f = _t(MEAN[0] + 0.5).view(1, K, 1, 1)  # 0.5 away in each dimension, σ floored at 0.25
    s = gaussian_class_scores(f, stats, min_std=0.25)
    assert s[0, 0, 0, 0].item() == pytest.approx(np.exp(-0.5 * 3 * 4.0), rel=1e-4)


def test_classes_without_statistics_score_zero_and_never_win():
    valid = (True, False, True)
    logits = _logits(2)
    logits[0, :, 0, 0] = MEAN[1]  # exactly at the mean of the class without statistics
    s = gaussian_class_scores(_t(logits), _stats(valid)).numpy()
    assert (s[:, 1] == 0).all()
    np.testing.assert_allclose(s, _ref_scores(logits, valid), rtol=1e-4, atol=1e-7)
    sim = class_similarity(_t(logits), _stats(valid))
    assert (sim != 1).all()
    sem = semantic_unknown_score(_t(logits), _stats(valid)).numpy()
    np.testing.assert_allclose(
        sem, 1 - _ref_scores(logits, valid).max(axis=1), rtol=1e-4, atol=1e-6
    )


def test_semantic_unknown_score_eq12():
    logits = _logits(3)
    sem = semantic_unknown_score(_t(logits), _stats()).numpy()
    assert sem.shape == (2, 2, 3)
    np.testing.assert_allclose(sem, 1 - _ref_scores(logits).max(axis=1), rtol=1e-4, atol=1e-6)


def test_semantic_unknown_score_at_a_class_mean_is_zero():
    f = _t(MEAN[2]).view(1, K, 1, 1)
    assert semantic_unknown_score(f, _stats()).item() == pytest.approx(0.0, abs=1e-5)


def test_contrastive_unknown_score_eq13():
    g = np.random.default_rng(4)
    emb = g.normal(size=(2, 5, 2, 3)) * 0.6
    for xi in (1.0, 2.5):
        c = contrastive_unknown_score(_t(emb), xi).numpy()
        ref = np.maximum(0.0, 1.0 - (emb**2).sum(axis=1) / xi)
        np.testing.assert_allclose(c, ref, rtol=1e-5, atol=1e-6)
        assert (ref == 0).any() and (ref > 0).any()  # both sides of the clamp occur


def test_fused_is_the_mean_eq14():
    a, b = torch.tensor([0.0, 0.4, 1.0]), torch.tensor([1.0, 0.8, 1.0])
    np.testing.assert_allclose(fused_unknown_score(a, b).numpy(), [0.5, 0.6, 1.0], rtol=1e-6)


def test_anomaly_scores_match_the_equations():
    logits = _logits(5)
    emb = np.random.default_rng(6).normal(size=(2, K, 2, 3)) * 0.6
    out = {"sem_logits": _t(logits), "embedding": _t(emb)}
    maps = anomaly_scores(out, _stats(), xi=1.0)
    assert list(maps) == list(SCORERS)
    sem = 1 - _ref_scores(logits).max(axis=1)
    con = np.maximum(0, 1 - (emb**2).sum(axis=1))
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    ref = {
        "max_softmax": 1 - p.max(axis=1),
        "max_logit": -logits.max(axis=1),
        "entropy": -(p * np.log(p)).sum(axis=1),
        "gaussian": sem,
        "contrastive": con,
        "fused": 0.5 * (sem + con),
    }
    for name, r in ref.items():
        assert maps[name].shape == (2, 2, 3)
        np.testing.assert_allclose(maps[name].numpy(), r, rtol=1e-4, atol=1e-6, err_msg=name)


def test_anomaly_scores_subset_in_requested_order():
    out = {"sem_logits": _t(_logits()), "embedding": _t(_logits(1))}
    maps = anomaly_scores(out, _stats(), scorers=("fused", "max_logit"))
    assert list(maps) == ["fused", "max_logit"]
    # The embedding is only needed by contrastive / fused.
    maps = anomaly_scores({"sem_logits": _t(_logits())}, _stats(), scorers=("gaussian", "entropy"))
    assert list(maps) == ["gaussian", "entropy"]


def test_unknown_scorer_raises():
    out = {"sem_logits": _t(_logits()), "embedding": _t(_logits())}
    with pytest.raises(ValueError, match="energy"):
        anomaly_scores(out, _stats(), scorers=("fused", "energy"))


@pytest.mark.parametrize("name", SCORERS)
def test_every_scorer_is_higher_for_the_anomalous_pixel(name):
    # Pixel 0: at class 0's mean, peaked softmax, large embedding norm (a confident known pixel).
    # Pixel 1: far from every class mean, flat softmax, small embedding norm (an anomaly).
    stats = ClassStatistics(K)
    stats.mean.copy_(torch.eye(K) * 8.0)
    stats.var.fill_(1.0)
    stats.valid.fill_(True)
    logits = torch.tensor([[8.0, 0.0, 0.0], [0.0, 0.0, 0.0]]).T.reshape(1, K, 1, 2)
    emb = torch.tensor([[1.5, 0.5, 0.0], [0.1, 0.0, 0.1]]).T.reshape(1, K, 1, 2)
    score = anomaly_scores({"sem_logits": logits, "embedding": emb}, stats, scorers=(name,))[name]
    assert score.shape == (1, 1, 2)
    assert score[0, 0, 1] > score[0, 0, 0]


def test_class_similarity_is_argmax_of_class_scores():
    logits = _logits(7, h=3, w=4)
    sim = class_similarity(_t(logits), _stats())
    np.testing.assert_array_equal(sim.numpy(), _ref_scores(logits).argmax(axis=1))


def test_class_similarity_uses_the_variance_not_just_the_distance():
    # Nearer to class 0's mean in Euclidean terms, but class 1 is much wider: class 1 wins.
    stats = ClassStatistics(2, dim=1)
    stats.mean.copy_(torch.tensor([[0.0], [3.0]]))
    stats.var.copy_(torch.tensor([[0.01], [100.0]]))
    stats.valid.fill_(True)
    sim = class_similarity(torch.tensor([1.0]).view(1, 1, 1, 1), stats)
    assert sim.item() == 1


def test_open_world_prediction_marks_fused_above_delta():
    logits = _t(_logits(8))
    fused = torch.tensor(
        [[[0.1, 0.61, 0.6], [0.9, 0.0, 0.59]], [[0.7, 0.2, 1.0], [0.6, 0.3, 0.65]]]
    )
    pred = open_world_prediction(logits, fused, delta=0.6, unknown_index=19)
    argmax = logits.argmax(dim=1)
    above = fused > 0.6  # strictly above δ: 0.6 itself stays known
    assert (pred[above] == 19).all()
    assert torch.equal(pred[~above], argmax[~above])
    assert above.sum() == 5
    pred = open_world_prediction(logits, fused)
    assert (pred[above] == -1).all()


def test_similarity_underflow_nearest_or_first_class():
    from owslib.inference.gaussian import class_similarity

    stats = ClassStatistics(3)
    stats.mean.copy_(torch.tensor([[0.0, 0, 0], [10.0, 0, 0], [0.0, 30, 0]]))
    stats.var.fill_(1.0)
    stats.valid.fill_(True)
    # pixel 0 near class 1 (d = 1); pixel 1 far from all, nearest class 2 (d_2 = 400 > 208)
    logits = torch.tensor([[9.0, 0, 0], [0.0, 50, 0]]).T.reshape(1, 3, 1, 2)
    assert class_similarity(logits, stats).tolist() == [[[1, 2]]]
    # the reference code's argmax over all-zero float32 scores returns class 0
    assert class_similarity(logits, stats, underflow="first").tolist() == [[[1, 0]]]
    with pytest.raises(ValueError, match="similarity_underflow"):
        class_similarity(logits, stats, underflow="zero")
