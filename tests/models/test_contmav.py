"""Tests for the ContMAV model: parameter counts, output contract, gradients, config errors."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from owslib.config import ModelConfig
from owslib.models import ContMAV, build_model, count_parameters

SMALL = ModelConfig(
    encoder="resnet18",
    encoder_block="basicblock",
    decoder_channels=(32, 24, 16),
    decoder_blocks=(1, 1, 1),
)


def test_paper_model_parameter_counts():
    # Sodano et al., CVPR 2024 reference code with K = 19, without its unused side-output heads.
    model = build_model(ModelConfig(), num_classes=19)
    assert count_parameters(model) == 48_298_846
    assert count_parameters(model.encoder) == 14_787_136
    assert count_parameters(model.skips) == 173_824
    assert count_parameters(model.context) == 788_480
    assert count_parameters(model.sem_decoder) == 16_274_703
    assert count_parameters(model.cont_decoder) == 16_274_703
    assert model.num_classes == 19 and model.embedding_dim == 19


@pytest.mark.parametrize("size", [(64, 128), (72, 100)])
def test_forward_contract(size):
    torch.manual_seed(0)
    model = build_model(SMALL, num_classes=5).eval()
    x = torch.randn(2, 3, *size)
    with torch.no_grad():
        out = model(x)
    assert set(out) == {"sem_logits", "embedding"}
    assert out["sem_logits"].shape == (2, 5, *size)
    assert out["embedding"].shape == (2, 5, *size)
    for v in out.values():
        assert v.dtype == torch.float32 and v.is_contiguous() and torch.isfinite(v).all()


def test_padding_crops_back_the_padded_output():
    torch.manual_seed(0)
    model = build_model(SMALL, num_classes=3).eval()
    x = torch.randn(1, 3, 72, 100)
    with torch.no_grad():
        cropped = model(x)
        padded = model.forward_heads(model.features(x))
    assert padded["sem_logits"].shape[-2:] == (96, 128)
    torch.testing.assert_close(cropped["sem_logits"], padded["sem_logits"][..., :72, :100])
    assert torch.equal(model.pad(x)[..., 72:, :100], x[..., 71:72, :].expand(1, 3, 24, 100))


def test_features_are_the_four_encoder_stages():
    model = build_model(SMALL, num_classes=3).eval()
    with torch.no_grad():
        feats = model.features(torch.randn(1, 3, 64, 96))
    assert [f.shape[1] for f in feats] == [64, 128, 256, 512]
    assert [f.shape[-2:] for f in feats] == [(16, 24), (8, 12), (4, 6), (2, 3)]


def test_embedding_dim_option():
    model = build_model(dataclasses.replace(SMALL, embedding_dim=7), num_classes=4).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 32, 32))
    assert model.embedding_dim == 7
    assert out["sem_logits"].shape[1] == 4 and out["embedding"].shape[1] == 7


@pytest.mark.parametrize(
    "cfg",
    [
        SMALL,
        dataclasses.replace(SMALL, encoder_block="nonbottleneck1d", upsampling="bilinear"),
        dataclasses.replace(SMALL, context="none", upsampling="learned-3x3"),
    ],
    ids=["basicblock", "nonbottleneck1d", "no-context"],
)
def test_every_parameter_gets_a_finite_gradient(cfg):
    torch.manual_seed(0)
    model = build_model(cfg, num_classes=4).train()
    out = model(torch.randn(2, 3, 64, 64))
    (out["sem_logits"].sum() + out["embedding"].square().sum()).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, f"{name} received no gradient"
        assert torch.isfinite(p.grad).all(), f"{name} has a non-finite gradient"


def test_skip_projection_is_identity_when_channels_agree():
    model = build_model(dataclasses.replace(SMALL, decoder_channels=(256, 128, 64)), 3)
    assert all(isinstance(s, torch.nn.Identity) for s in model.skips)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("encoder", "resnet50"),
        ("encoder_block", "bottleneck"),
        ("context", "aspp"),
        ("upsampling", "nearest"),
        ("decoder_channels", (32, 16)),
        ("decoder_blocks", (1, 1, -1)),
    ],
)
def test_bad_option_names_the_key(key, value):
    with pytest.raises(ValueError, match=f"model__{key}"):
        build_model(dataclasses.replace(SMALL, **{key: value}), num_classes=3)


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="pad_mode"):
        ContMAV(3, pad_mode="reflect")
    with pytest.raises(ValueError, match="num_classes"):
        ContMAV(0)


def test_output_heads_start_small():
    """Small output init: near-uniform logits and O(1) embedding norms, not the ~10² squared norms
    of a Kaiming-initialised head (whose objectosphere gradient swamps the encoder early)."""
    torch.manual_seed(0)
    cfg = ModelConfig(
        encoder="resnet18",
        encoder_block="basicblock",
        decoder_channels=(32, 24, 16),
        decoder_blocks=(1, 1, 1),
    )
    out = build_model(cfg, num_classes=16).train()(torch.randn(2, 3, 64, 128))
    assert out["embedding"].square().sum(dim=1).mean() < 10.0
    assert out["sem_logits"].std() < 2.0
