"""Tests for owslib.models.decoder: shapes, the skip sum, gradients, output init, errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from owslib.models.decoder import Decoder, DecoderModule
from owslib.models.layers import (
    UPSAMPLING_MODES,
    BilinearUpsample,
    LearnedUpsample,
    bilinear_kernel_3x3,
)

C_IN = 12
CHANNELS = (10, 8, 6)
BLOCKS = (1, 2, 0)


def _inputs(h32: int = 2, w32: int = 3, batch: int = 2):
    """``x`` at 1/32 and the skips at 1/16, 1/8, 1/4 (deepest first) of a ``32·h32 × 32·w32`` image."""
    x = torch.randn(batch, C_IN, h32, w32)
    skips = [
        torch.randn(batch, c, h32 * f, w32 * f) for c, f in zip(CHANNELS, (2, 4, 8), strict=True)
    ]
    return x, skips


def test_module_doubles_the_size_and_has_its_blocks():
    module = DecoderModule(7, 5, blocks=2)
    assert len(module.blocks) == 2
    assert module.conv.conv.in_channels == 7 and module.conv.conv.kernel_size == (3, 3)
    out = module(torch.randn(2, 7, 3, 4), torch.randn(2, 5, 6, 8))
    assert out.shape == (2, 5, 6, 8)
    assert len(DecoderModule(7, 5, blocks=0).blocks) == 0


def test_module_adds_the_skip():
    torch.manual_seed(0)
    module = DecoderModule(7, 5, blocks=1).eval()
    x, skip = torch.randn(1, 7, 3, 4), torch.randn(1, 5, 6, 8)
    with torch.no_grad():
        diff = module(x, skip) - module(x, torch.zeros_like(skip))
    torch.testing.assert_close(diff, skip)


@pytest.mark.parametrize("upsampling", UPSAMPLING_MODES)
@pytest.mark.parametrize("hw32", [(2, 3), (1, 1)])
def test_output_shape_is_the_input_resolution(upsampling, hw32):
    torch.manual_seed(0)
    dec = Decoder(C_IN, 5, channels=CHANNELS, blocks=BLOCKS, upsampling=upsampling)
    x, skips = _inputs(*hw32)
    out = dec(x, skips)
    assert out.shape == (2, 5, 32 * hw32[0], 32 * hw32[1])
    assert torch.isfinite(out).all()
    ups = (dec.upsample1, dec.upsample2, *(s.upsample for s in dec.stages))
    expected = BilinearUpsample if upsampling == "bilinear" else LearnedUpsample
    assert all(type(up) is expected for up in ups)


def test_stages_chain_the_channels_and_blocks():
    dec = Decoder(C_IN, 5, channels=CHANNELS, blocks=BLOCKS)
    assert len(dec.stages) == 3
    ins = [s.conv.conv.in_channels for s in dec.stages]
    outs = [s.conv.conv.out_channels for s in dec.stages]
    assert ins == [C_IN, 10, 8] and outs == list(CHANNELS)
    assert [len(s.blocks) for s in dec.stages] == list(BLOCKS)
    assert dec.conv_out.in_channels == CHANNELS[-1] and dec.conv_out.out_channels == 5


@pytest.mark.parametrize("upsampling", ["learned-3x3-zeropad", "learned-3x3"])
def test_every_parameter_and_input_gets_a_gradient(upsampling):
    torch.manual_seed(0)
    dec = Decoder(C_IN, 5, channels=CHANNELS, blocks=(1, 1, 1), upsampling=upsampling).train()
    x, skips = _inputs()
    x.requires_grad_(True)
    for s in skips:
        s.requires_grad_(True)
    out = dec(x, skips)
    (out * torch.randn_like(out)).sum().backward()
    for name, p in dec.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, f"{name} received a zero gradient"
    for i, t in enumerate([x, *skips]):
        assert t.grad is not None and t.grad.abs().sum() > 0, f"input {i}"


def test_output_layer_starts_small_the_rest_kaiming():
    torch.manual_seed(0)
    dec = Decoder(C_IN, 16, channels=(10, 8, 32), blocks=(1, 1, 1))
    w = dec.conv_out.weight  # 16 · 32 · 9 = 4608 samples of N(0, 0.01²)
    assert dec.conv_out.bias is not None and torch.equal(dec.conv_out.bias, torch.zeros(16))
    assert 0.009 < w.std().item() < 0.011 and w.abs().max() < 0.06
    assert abs(w.mean().item()) < 1e-3
    # init_weights (Kaiming, fan-out) for the stages: std sqrt(2 / (10 · 9)) ≈ 0.15, not 0.01
    assert dec.stages[0].conv.conv.weight.std() > 0.1
    # the learned upsamplings are reset to the bilinear kernel after init_weights
    for up in (dec.upsample1, dec.upsample2, *(s.upsample for s in dec.stages)):
        assert torch.equal(up.conv.weight, bilinear_kernel_3x3().expand_as(up.conv.weight))
        assert (up.conv.bias == 0).all()


def test_act_layer_type_reaches_every_activation():
    dec = Decoder(C_IN, 5, channels=CHANNELS, blocks=(1, 1, 1), act_layer=nn.GELU)
    acts = [m for m in dec.modules() if isinstance(m, (nn.GELU, nn.ReLU))]
    assert acts and all(isinstance(m, nn.GELU) for m in acts)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(channels=(10, 8)), r"three channel counts.*channels=\(10, 8\)"),
        (dict(channels=(10, 8, 6, 4)), r"channels=\(10, 8, 6, 4\)"),
        (dict(blocks=(1, 1)), r"three block counts.*blocks=\(1, 1\)"),
    ],
)
def test_wrong_number_of_channels_or_blocks_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Decoder(C_IN, 5, **{"channels": CHANNELS, "blocks": BLOCKS, **kwargs})


@pytest.mark.parametrize("n", [2, 4])
def test_wrong_number_of_skips_raises(n):
    dec = Decoder(C_IN, 5, channels=CHANNELS, blocks=BLOCKS)
    x, skips = _inputs()
    skips = (skips + [skips[-1]])[:n]
    with pytest.raises(ValueError, match=f"expects 3 skips, got {n}"):
        dec(x, skips)
