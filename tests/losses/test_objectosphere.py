"""Tests for owslib.losses.objectosphere: the embedding-norm loss of ContMAV Eq. 9."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from owslib.losses import ObjectosphereLoss

K = 3
D = 4


def _emb(seed: int = 0, b: int = 2, h: int = 2, w: int = 3, scale: float = 0.6) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(b, D, h, w)) * scale


def _ref(emb, target, xi=1.0, unknown_scale=1.0):
    known, unknown = [], []
    b, _, h, w = emb.shape
    for i in range(b):
        for y in range(h):
            for x in range(w):
                sq = float((emb[i, :, y, x] ** 2).sum())
                if target[i, y, x] < K:
                    known.append(max(xi - sq, 0.0))
                elif target[i, y, x] == 255:  # void only: unknown classes and padding take no part
                    unknown.append(sq)
    total = 0.0
    if known:
        total += np.mean(known)
    if unknown:
        total += unknown_scale * np.mean(unknown)
    return total


TARGET = np.array([[[0, 1, 255], [2, 3, 1]], [[2, 2, 0], [255, 4, 0]]])


def _loss(emb, target, grad=False, **kw):
    e = torch.tensor(emb, dtype=torch.float32, requires_grad=grad)
    return ObjectosphereLoss(K, **kw)(e, torch.tensor(target)), e


@pytest.mark.parametrize(
    "kw", [{}, {"xi": 2.0}, {"unknown_scale": 10.0}, {"xi": 0.5, "unknown_scale": 3.0}]
)
def test_matches_hand_computed(kw):
    emb = _emb()
    loss, _ = _loss(emb, TARGET, **kw)
    expected = _ref(emb, TARGET, **kw)
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_known_hinge_is_active_on_this_example():
    emb = _emb()
    sq = (emb**2).sum(axis=1)
    known = TARGET < K
    # Both sides of the hinge occur, so the relu is exercised.
    assert (sq[known] < 1.0).any() and (sq[known] > 1.0).any()


def test_single_pixels():
    # Known pixel with ‖f‖² = 0.25 → 1 − 0.25; unknown pixel with ‖f‖² = 4 → 4 · scale.
    emb = np.zeros((1, D, 1, 2))
    emb[0, 0, 0, 0] = 0.5
    emb[0, 1, 0, 1] = 2.0
    loss, _ = _loss(emb, np.array([[[1, 255]]]), unknown_scale=10.0)
    assert loss.item() == pytest.approx(0.75 + 40.0, rel=1e-6)


def test_no_void_batch_is_known_term_only():
    target = np.array([[[0, 1, 2], [2, 1, 0]], [[1, 2, 0], [0, 1, 2]]])
    emb = _emb(1)
    loss, _ = _loss(emb, target)
    sq = (emb**2).sum(axis=1)
    assert loss.item() == pytest.approx(np.maximum(1.0 - sq, 0).mean(), rel=1e-5)


def test_no_known_pixel_is_unknown_term_only():
    target = np.full((2, 2, 3), 255)
    target[0, 0, 0] = K  # an unknown class is not void: it takes no part
    emb = _emb(2)
    loss, _ = _loss(emb, target, unknown_scale=2.0)
    void = target == 255
    assert loss.item() == pytest.approx(2.0 * (emb**2).sum(axis=1)[void].mean(), rel=1e-5)


def test_known_pixels_outside_the_sphere_give_attached_zero():
    emb = np.full((1, D, 2, 2), 1.0)  # ‖f‖² = 4 > ξ
    loss, e = _loss(emb, np.zeros((1, 2, 2), dtype=np.int64), grad=True)
    assert loss.item() == 0.0 and loss.requires_grad
    loss.backward()
    assert (e.grad == 0).all()


def test_empty_input_gives_attached_zero():
    e = torch.zeros(2, D, 0, 0, requires_grad=True)
    loss = ObjectosphereLoss(K)(e, torch.zeros(2, 0, 0, dtype=torch.long))
    assert loss.item() == 0.0 and torch.isfinite(loss) and loss.requires_grad
    loss.backward()
    assert e.grad is not None


def test_gradient_directions():
    # Known pixels inside the sphere are pushed outwards, unknown pixels towards the origin.
    emb = _emb(3, scale=0.2)  # every known pixel inside the unit sphere
    loss, e = _loss(emb, TARGET, grad=True)
    loss.backward()
    radial = (e.grad * e.detach()).sum(dim=1)  # d loss / d scale along f
    known = torch.tensor(TARGET < K)
    assert (radial[known] < 0).all()
    void = torch.tensor(TARGET == 255)
    assert (radial[void] > 0).all()
    assert (radial[~known & ~void] == 0).all()  # an unknown class in a training target: no part
