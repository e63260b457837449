"""Tests for owslib.losses.contrastive: the per-image class-mean contrastive loss (Eqs. 7–8)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from owslib.losses import ClassStatistics, ContrastiveLoss

K = 3
TAU = 0.1
MEAN = np.array([[2.0, -0.5, 0.3], [-0.4, 1.5, 0.8], [0.2, 0.1, -3.0]])


def _stats(valid=(True, True, True)) -> ClassStatistics:
    stats = ClassStatistics(K)
    stats.mean.copy_(torch.tensor(MEAN))
    stats.valid.copy_(torch.tensor(valid))
    return stats


def _emb(seed: int = 0, b: int = 2, h: int = 2, w: int = 3) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(b, K, h, w))


def _ref(emb, target, valid=(True, True, True), tau=TAU):
    """Loop form: per image, per present class with statistics, CE over classes with statistics."""
    mu = MEAN / np.linalg.norm(MEAN, axis=1, keepdims=True)
    per_image = []
    b, _, h, w = emb.shape
    for i in range(b):
        terms = []
        for c in range(K):
            if not valid[c]:
                continue
            vecs = [
                emb[i, :, y, x] / np.linalg.norm(emb[i, :, y, x])
                for y in range(h)
                for x in range(w)
                if target[i, y, x] == c
            ]
            if not vecs:
                continue
            fbar = np.mean(vecs, axis=0)
            logits = {j: fbar @ mu[j] / tau for j in range(K) if valid[j]}
            log_z = np.log(sum(np.exp(v) for v in logits.values()))
            terms.append(log_z - logits[c])
        if terms:
            per_image.append(np.mean(terms))
    return float(np.mean(per_image))


TARGET = np.array([[[0, 1, 255], [2, 3, 1]], [[2, 2, 0], [255, 2, 0]]])


def _loss(emb, target, valid=(True, True, True), tau=TAU, grad=False):
    e = torch.tensor(emb, dtype=torch.float32, requires_grad=grad)
    return ContrastiveLoss(_stats(valid), tau)(e, torch.tensor(target)), e


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_loop_implementation(seed):
    emb = _emb(seed)
    loss, _ = _loss(emb, TARGET)
    assert loss.item() == pytest.approx(_ref(emb, TARGET), rel=1e-4)


def test_temperature():
    emb = _emb(5)
    loss, _ = _loss(emb, TARGET, tau=0.5)
    assert loss.item() == pytest.approx(_ref(emb, TARGET, tau=0.5), rel=1e-4)
    assert loss.item() != pytest.approx(_ref(emb, TARGET, tau=TAU), rel=1e-2)


def test_single_anchor_value():
    # One pixel of class 0 with embedding (0, 3, 4): f̄ = (0, 0.6, 0.8), logits = f̄·μ̄_j / τ.
    emb = np.array([0.0, 3.0, 4.0]).reshape(1, K, 1, 1)
    mu = MEAN / np.linalg.norm(MEAN, axis=1, keepdims=True)
    z = mu @ np.array([0.0, 0.6, 0.8]) / TAU
    expected = np.log(np.exp(z).sum()) - z[0]
    loss, _ = _loss(emb, np.zeros((1, 1, 1), dtype=np.int64))
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_embedding_norm_does_not_matter():
    # Pixels are L2-normalised before averaging (reference code).
    emb = _emb(3)
    scale = np.array([0.1, 3.0, 10.0]).reshape(1, 1, 1, 3)
    a, _ = _loss(emb, TARGET)
    b, _ = _loss(emb * scale, TARGET)
    assert a.item() == pytest.approx(b.item(), rel=1e-5)


def test_classes_without_statistics_are_neither_anchors_nor_candidates():
    valid = (True, False, True)
    emb = _emb(4)
    loss, _ = _loss(emb, TARGET, valid)
    assert loss.item() == pytest.approx(_ref(emb, TARGET, valid), rel=1e-4)
    assert loss.item() != pytest.approx(_ref(emb, TARGET), rel=1e-3)


def test_images_without_anchors_do_not_count():
    target = TARGET.copy()
    target[1] = 255  # image 1 has no known pixel: mean over image 0 only
    emb = _emb(6)
    loss, _ = _loss(emb, target)
    assert loss.item() == pytest.approx(_ref(emb, target), rel=1e-4)
    assert loss.item() == pytest.approx(_ref(emb[:1], target[:1]), rel=1e-4)


def test_mean_within_image_then_over_images():
    # Image 0 has three anchors, image 1 one: the per-image mean weights the images equally.
    target = np.array([[[0, 1, 2], [0, 1, 2]], [[1, 1, 1], [1, 1, 255]]])
    emb = _emb(7)
    loss, _ = _loss(emb, target)
    assert loss.item() == pytest.approx(_ref(emb, target), rel=1e-4)


def test_no_void_batch():
    target = np.array([[[0, 1, 2], [2, 1, 0]], [[1, 2, 0], [0, 1, 2]]])
    emb = _emb(8)
    loss, _ = _loss(emb, target)
    assert loss.item() == pytest.approx(_ref(emb, target), rel=1e-4)


def _assert_attached_zero(loss, emb):
    assert loss.item() == 0.0 and torch.isfinite(loss)
    assert loss.requires_grad
    loss.backward()
    assert emb.grad is not None and (emb.grad == 0).all()


def test_zero_before_statistics_exist():
    e = torch.tensor(_emb(), dtype=torch.float32, requires_grad=True)
    _assert_attached_zero(ContrastiveLoss(ClassStatistics(K))(e, torch.tensor(TARGET)), e)


@pytest.mark.parametrize("fill", [255, K])
def test_all_ignored_or_unknown_gives_attached_zero(fill):
    loss, e = _loss(_emb(), np.full((2, 2, 3), fill), grad=True)
    _assert_attached_zero(loss, e)


def test_only_classes_without_statistics_gives_attached_zero():
    target = np.array([[[1, 1, 255], [1, 1, 1]], [[255, 1, 1], [1, 1, 1]]])
    loss, e = _loss(_emb(), target, valid=(True, False, True), grad=True)
    _assert_attached_zero(loss, e)


def test_gradient_reaches_anchor_pixels_only():
    loss, e = _loss(_emb(9), TARGET, grad=True)
    loss.backward()
    g = e.grad.abs().sum(dim=1)
    known = torch.tensor(TARGET < K)
    assert (g[known] > 0).all()
    assert (g[~known] == 0).all()


def test_statistics_stay_fixed():
    stats = _stats()
    e = torch.tensor(_emb(), dtype=torch.float32, requires_grad=True)
    ContrastiveLoss(stats)(e, torch.tensor(TARGET)).backward()
    assert torch.equal(stats.mean, torch.tensor(MEAN, dtype=torch.float32))


def test_channel_mismatch_raises():
    loss = ContrastiveLoss(_stats())
    with pytest.raises(ValueError, match="embedding_dim"):
        loss(torch.randn(2, K + 2, 2, 3), torch.tensor(TARGET))


def _reference_code_with_transpose(emb, target, valid, tau=TAU):
    """The reference code's per-image loop (class means of normalised pixel embeddings, void
    dropped, zero means for classes without statistics), with its ``.view`` read as a transpose."""
    means = np.where(np.array(valid)[:, None], MEAN, 0.0)
    norms = np.linalg.norm(means, axis=1, keepdims=True)
    mu = np.divide(means, norms, out=np.zeros_like(means), where=norms > 0)
    total = 0.0
    for i in range(emb.shape[0]):
        e = emb[i] / np.linalg.norm(emb[i], axis=0, keepdims=True)
        classes = [c for c in np.unique(target[i]) if c != 255]
        ces = []
        for c in classes:
            fbar = e[:, target[i] == c].mean(axis=1)
            z = fbar @ mu.T / tau
            ces.append(np.log(np.exp(z).sum()) - z[c])
        total += np.mean(ces)
    return total / emb.shape[0]


def test_zero_mean_missing_classes_as_the_reference_code():
    valid = (True, False, True)
    target = np.array([[[0, 1, 255], [2, 1, 1]], [[2, 2, 0], [255, 1, 0]]])
    emb = _emb(5)
    stats = _stats(valid)
    loss = ContrastiveLoss(stats, TAU, missing_classes="zero_mean")(
        torch.tensor(emb, dtype=torch.float32), torch.tensor(target)
    )
    assert loss.item() == pytest.approx(
        _reference_code_with_transpose(emb, target, valid), rel=1e-5
    )
    dropped = ContrastiveLoss(stats, TAU)(
        torch.tensor(emb, dtype=torch.float32), torch.tensor(target)
    )
    assert dropped.item() != pytest.approx(loss.item(), rel=1e-3)


def test_unknown_missing_classes_option_raises():
    with pytest.raises(ValueError, match="contrastive_missing_classes"):
        ContrastiveLoss(_stats(), TAU, missing_classes="zeros")
