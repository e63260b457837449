"""Tests for owslib.models.layers: block structure, learned upsampling, option errors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from owslib.models.context import PyramidPoolingModule, build_context
from owslib.models.layers import (
    ConvBNAct,
    LearnedUpsample,
    NonBottleneck1D,
    bilinear_kernel_3x3,
    make_upsample,
)


def test_conv_bn_act_has_no_conv_bias_and_keeps_size():
    layer = ConvBNAct(4, 6, 3, act_layer=nn.ReLU)
    assert layer.conv.bias is None
    y = layer(torch.randn(2, 4, 9, 7))
    assert y.shape == (2, 6, 9, 7)
    assert (y >= 0).all()


def test_nonbottleneck1d_parameter_names_and_eps():
    block = NonBottleneck1D(64, 128, stride=2)
    names = {k.rsplit(".", 1)[0] for k, _ in block.named_parameters()}
    assert names == {
        "conv3x1_1",
        "conv1x3_1",
        "bn1",
        "conv3x1_2",
        "conv1x3_2",
        "bn2",
        "downsample.0",
        "downsample.1",
    }
    assert block.conv3x1_1.weight.shape == (128, 64, 3, 1)
    assert block.conv1x3_1.weight.shape == (128, 128, 1, 3)
    assert block.conv3x1_1.bias is not None and block.conv1x3_2.bias is not None
    assert block.downsample[0].bias is None
    assert block.bn1.eps == block.bn2.eps == 1e-3
    assert block(torch.randn(2, 64, 16, 12)).shape == (2, 128, 8, 6)


def test_nonbottleneck1d_identity_residual_and_dilation():
    block = NonBottleneck1D(8, 8, dilation=2)
    assert block.downsample is None
    assert block.conv3x1_2.dilation == (2, 1) and block.conv1x3_2.dilation == (1, 2)
    assert block(torch.randn(2, 8, 10, 10)).shape == (2, 8, 10, 10)


def test_act_layer_is_a_type():
    block = NonBottleneck1D(4, 4, act_layer=nn.GELU)
    assert isinstance(block.act, nn.GELU)
    assert block(torch.randn(2, 4, 5, 5)).shape == (2, 4, 5, 5)


def test_learned_upsample_init_is_bilinear_kernel():
    up = LearnedUpsample(3)
    assert torch.equal(up.conv.weight[1, 0], bilinear_kernel_3x3())
    assert up.conv.weight[0, 0].sum().item() == pytest.approx(1.0)
    assert torch.count_nonzero(up.conv.bias) == 0


def test_learned_upsample_keeps_a_constant_in_the_interior():
    x = torch.full((1, 2, 4, 5), 3.0)
    y = LearnedUpsample(2)(x)
    assert y.shape == (1, 2, 8, 10)
    torch.testing.assert_close(y[..., 1:-1, 1:-1], torch.full_like(y[..., 1:-1, 1:-1], 3.0))
    # zero padding darkens the border: 3/4 on the edges, 9/16 in the corners
    assert y[0, 0, 0, 4].item() == pytest.approx(3.0 * 12 / 16)
    assert y[0, 0, 0, 0].item() == pytest.approx(3.0 * 9 / 16)


def test_learned_upsample_equals_bilinear_away_from_the_border():
    x = torch.randn(2, 3, 6, 7)
    y = LearnedUpsample(3)(x)
    ref = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
    torch.testing.assert_close(y[..., 1:-1, 1:-1], ref[..., 1:-1, 1:-1])


def test_replicate_padded_upsample_is_bilinear_everywhere_on_constants():
    x = torch.full((1, 1, 3, 3), -2.0)
    y = make_upsample("learned-3x3", 1)(x)
    torch.testing.assert_close(y, torch.full((1, 1, 6, 6), -2.0))


def test_bilinear_upsample_has_no_parameters():
    up = make_upsample("bilinear", 5)
    assert sum(p.numel() for p in up.parameters()) == 0
    assert up(torch.randn(1, 5, 3, 4)).shape == (1, 5, 6, 8)


def test_unknown_upsampling_raises():
    with pytest.raises(ValueError, match="bicubic.*learned-3x3-zeropad"):
        make_upsample("bicubic", 4)


def test_pyramid_pooling_shapes_and_parameters():
    ppm = PyramidPoolingModule(512, 512, (1, 2, 4, 8))
    n_params = sum(p.numel() for p in ppm.parameters())
    assert n_params == 4 * (512 * 128 + 2 * 128) + 1024 * 512 + 2 * 512
    ppm = PyramidPoolingModule(16, 12, (1, 2, 4))
    assert ppm(torch.randn(2, 16, 3, 5)).shape == (2, 12, 3, 5)


def test_unknown_context_raises():
    assert isinstance(build_context("none", 8), nn.Identity)
    with pytest.raises(ValueError, match="aspp.*ppm"):
        build_context("aspp", 8)
