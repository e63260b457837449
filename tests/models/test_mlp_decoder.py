"""Tests for owslib.models.mlp_decoder: shapes, gradients, structure, parameter count."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from owslib.models.mlp_decoder import MLPDecoder

CHANNELS = (8, 16, 24, 32)


def _feats(h: int, w: int, channels=CHANNELS, batch: int = 2) -> list[torch.Tensor]:
    """Encoder-like features of an ``h × w`` input at strides 4/8/16/32 (ceil, as padded convs)."""
    return [
        torch.randn(batch, c, -(-h // s), -(-w // s))
        for c, s in zip(channels, (4, 8, 16, 32), strict=True)
    ]


@pytest.mark.parametrize("hw", [(64, 96), (70, 100)])
def test_output_at_stride_4_and_at_size(hw):
    h, w = hw
    dec = MLPDecoder(CHANNELS, 5, embed_dim=16)
    feats = _feats(h, w)
    out = dec(feats)
    assert out.shape == (2, 5, *feats[0].shape[-2:])
    assert dec(feats, size=(h, w)).shape == (2, 5, h, w)


def test_every_parameter_gets_a_gradient():
    dec = MLPDecoder(CHANNELS, 3, embed_dim=16, dropout=0.0)
    dec(_feats(64, 96), size=(64, 96)).square().sum().backward()
    for name, p in dec.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_structure_follows_segformer():
    dec = MLPDecoder(CHANNELS, 3, embed_dim=16, act_layer=nn.GELU)
    assert all(p.bias is not None and p.kernel_size == (1, 1) for p in dec.proj)
    assert dec.fuse[0].bias is None and dec.fuse[0].in_channels == 4 * 16
    assert isinstance(dec.fuse[1], nn.BatchNorm2d) and isinstance(dec.fuse[2], nn.GELU)
    assert isinstance(dec.dropout, nn.Dropout2d) and dec.dropout.p == 0.1
    assert dec.pred.bias is not None and (dec.pred.bias == 0).all()
    assert dec.pred.weight.std() < 0.05
    assert isinstance(MLPDecoder(CHANNELS, 3, dropout=0.0).dropout, nn.Identity)


def test_concat_is_deepest_first_and_upsampled_bilinearly():
    dec = MLPDecoder(CHANNELS, 2, embed_dim=4)
    feats = _feats(64, 96)
    captured = {}
    dec.fuse.register_forward_hook(lambda m, inp, out: captured.update(x=inp[0]))
    dec(feats)
    x, size = captured["x"], feats[0].shape[-2:]
    for i, (proj, f) in enumerate(zip(dec.proj, feats, strict=True)):
        y = proj(f)
        if i > 0:
            y = F.interpolate(y, size=size, mode="bilinear", align_corners=False)
        block = 3 - i  # stride 32 first, stride 4 last
        assert torch.allclose(x[:, 4 * block : 4 * (block + 1)], y, atol=1e-6), i


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="four encoder stages"):
        MLPDecoder((8, 16, 24), 3)
    dec = MLPDecoder(CHANNELS, 3, embed_dim=8)
    with pytest.raises(ValueError, match="expects 4 feature maps"):
        dec(_feats(64, 64)[:3])
    with pytest.raises(ValueError, match="feature 1"):
        dec(_feats(64, 64, channels=(8, 17, 24, 32)))


def test_parameter_count_matches_the_formula():
    # Encoder (64, 128, 256, 512), E = 512, 19 outputs:
    #   projections  (64 + 128 + 256 + 512) · 512 weights + 4 · 512 biases = 491,520 + 2,048
    #   fuse         4 · 512 · 512 weights (no bias)                        = 1,048,576
    #   BatchNorm    2 · 512                                                 = 1,024
    #   prediction   512 · 19 weights + 19 biases                            = 9,747
    expected = 491_520 + 2_048 + 1_048_576 + 1_024 + 9_747
    assert expected == 1_552_915
    dec = MLPDecoder((64, 128, 256, 512), 19, embed_dim=512)
    assert sum(p.numel() for p in dec.parameters()) == expected
