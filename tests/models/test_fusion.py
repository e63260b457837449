"""Tests for owslib.models.fusion: each fusion, the registry, TCP target and confidence loss."""

from __future__ import annotations

import math

import pytest
import torch

from owslib.labels import IGNORE_INDEX
from owslib.losses.confidence import confidence_loss, true_class_probability
from owslib.models.fusion import (
    FUSIONS,
    ConcatConv,
    Confidence,
    Separate,
    build_fusion,
    tempered_anomaly,
)

C = 5


def _pair(h: int = 17, w: int = 23) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.randn(2, C, h, w), torch.randn(2, C, h, w)


@pytest.mark.parametrize("name", list(FUSIONS))
def test_shapes(name):
    a, b = _pair()
    assert build_fusion(name, C)(a, b).shape == a.shape


def test_registry_and_unknown_name():
    assert list(FUSIONS) == ["normalized_sum", "sum", "concat_conv", "separate", "confidence"]
    with pytest.raises(ValueError, match="unknown fusion 'avg'.*'normalized_sum'.*'confidence'"):
        build_fusion("avg", C)


def test_shape_mismatch_raises():
    a, b = _pair()
    with pytest.raises(ValueError, match="same shape"):
        build_fusion("sum", C)(a, b[:, :3])


def test_normalized_sum_norm_is_bounded_by_two():
    a, b = _pair()
    b[0, :, 0, 0] = a[0, :, 0, 0] * 3.0  # parallel: the bound is reached
    norm = build_fusion("normalized_sum", C)(a, b).norm(dim=1)
    assert (norm <= 2.0 + 1e-6).all()
    assert norm[0, 0, 0] == pytest.approx(2.0, abs=1e-6)


@pytest.mark.parametrize("theta", [0.0, 0.3, math.pi / 2, 2.5])
def test_normalized_sum_norm_depends_only_on_the_angle(theta):
    # Two vectors at angle θ in the first two channels, with very different magnitudes.
    a = torch.zeros(1, C, 1, 2)
    b = torch.zeros(1, C, 1, 2)
    a[0, 0] = torch.tensor([3.0, 0.01])
    b[0, 0] = torch.tensor([0.2, 50.0]) * math.cos(theta)
    b[0, 1] = torch.tensor([0.2, 50.0]) * math.sin(theta)
    norm = build_fusion("normalized_sum", C)(a, b).norm(dim=1)
    expected = 2.0 * math.cos(theta / 2.0)
    assert torch.allclose(norm, torch.full_like(norm, expected), atol=1e-6)


def test_sum_and_initial_concat_conv_equal_a_plus_b():
    a, b = _pair()
    assert torch.equal(build_fusion("sum", C)(a, b), a + b)
    assert torch.allclose(build_fusion("concat_conv", C)(a, b), a + b, atol=1e-6)


def test_concat_conv_every_parameter_gets_a_gradient():
    fusion = ConcatConv(C)
    a, b = _pair()
    fusion(a, b).square().sum().backward()
    for name, p in fusion.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_separate_and_confidence_return_a():
    a, b = _pair()
    assert build_fusion("separate", C)(a, b) is a
    assert build_fusion("confidence", C)(a, b) is a
    assert build_fusion("confidence", C)(a, b[:, :1]) is a  # a one-channel confidence map
    assert not Separate.fuses and not Confidence.fuses
    assert all(FUSIONS[n].fuses for n in ("normalized_sum", "sum", "concat_conv"))


def test_true_class_probability_by_hand():
    k = 3
    logits = torch.zeros(1, k, 1, 4)
    logits[0, :, 0, 0] = torch.tensor([math.log(1.0), math.log(2.0), math.log(5.0)])
    logits[0, :, 0, 1] = torch.tensor([2.0, 0.0, 0.0])
    logits.requires_grad_(True)
    target = torch.tensor([[[2, 0, IGNORE_INDEX, k]]])  # known, known, void, unknown class
    tcp, mask = true_class_probability(logits, target, k)
    assert mask.tolist() == [[[True, True, False, False]]]
    e2 = math.exp(2.0)
    assert tcp[0, 0, 0].item() == pytest.approx(5.0 / 8.0)
    assert tcp[0, 0, 1].item() == pytest.approx(e2 / (e2 + 2.0))
    assert tcp[0, 0, 2:].tolist() == [0.0, 0.0]
    assert not tcp.requires_grad


def test_confidence_loss_is_mse_on_known_pixels():
    k = 3
    logits = torch.randn(2, k, 4, 5)
    target = torch.randint(0, k, (2, 4, 5))
    target[0, 0] = IGNORE_INDEX
    target[1, 1, :2] = k  # unknown class
    conf = torch.randn(2, 1, 4, 5, requires_grad=True)
    loss = confidence_loss(conf, logits, target, k)
    tcp, mask = true_class_probability(logits, target, k)
    expected = ((torch.sigmoid(conf[:, 0]) - tcp)[mask] ** 2).mean()
    assert torch.allclose(loss, expected)
    loss.backward()
    assert conf.grad is not None and (conf.grad[0, 0, 0] == 0).all()


def test_confidence_loss_all_ignored_is_an_attached_zero():
    k = 3
    logits = torch.randn(1, k, 2, 2, requires_grad=True)
    conf = torch.randn(1, 1, 2, 2, requires_grad=True)
    target = torch.full((1, 2, 2), IGNORE_INDEX)
    target[0, 0, 0] = k
    loss = confidence_loss(conf, logits, target, k)
    assert loss.item() == 0.0 and torch.isfinite(loss) and loss.requires_grad
    loss.backward()
    assert conf.grad is not None


def test_confidence_loss_shape_errors():
    with pytest.raises(ValueError, match="conf"):
        confidence_loss(torch.randn(1, 2, 2, 2), torch.randn(1, 3, 2, 2), torch.zeros(1, 2, 2), 3)
    with pytest.raises(ValueError, match="target"):
        true_class_probability(torch.randn(1, 3, 2, 2), torch.zeros(1, 3, 3, dtype=torch.long), 3)


def test_tempered_anomaly():
    score = torch.tensor([[[0.0, 0.2, 1.0, 0.5]]])
    conf = torch.tensor([[[[1.0, 0.5, 0.3, 0.0]]]])
    out = tempered_anomaly(score, conf)
    assert out.shape == score.shape
    assert torch.allclose(out, torch.tensor([[[0.0, 0.6, 1.0, 1.0]]]))
    assert (out >= score).all()


@pytest.mark.parametrize("detach", [False, True])
def test_confidence_detach_keeps_the_confidence_loss_out_of_the_encoder(detach):
    """model__confidence_detach: the confidence loss trains the head alone (TruFor's phase 3);
    without it the loss reaches the shared encoder too."""
    from owslib.config import load_profile
    from owslib.models import build_model
    from owslib.models.outputs import CONFIDENCE, SEM_LOGITS

    cfg = load_profile(
        "smoke",
        model__extra_decoder="mlp",
        model__fusion="confidence",
        model__confidence_detach=detach,
    ).model
    model = build_model(cfg, num_classes=4)
    out = model(torch.randn(2, 3, 64, 64))
    target = torch.randint(0, 4, (2, 64, 64))
    confidence_loss(out[CONFIDENCE], out[SEM_LOGITS].detach(), target, 4).backward()
    encoder_grads = [p.grad for p in model.encoder.parameters() if p.grad is not None]
    head_grads = [p.grad for p in model.extra_head.parameters() if p.grad is not None]
    assert head_grads and all(torch.isfinite(g).all() for g in head_grads)
    assert (not encoder_grads) == detach
