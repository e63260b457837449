"""The pyramid-pooling context module pools and upsamples as the reference code does."""

import pytest
import torch
import torch.nn.functional as F

from owslib.models.context import PyramidPoolingModule


def _spy_calls(monkeypatch):
    pools, interps = [], []
    real_pool, real_interp = F.adaptive_avg_pool2d, F.interpolate

    def pool(x, size):
        pools.append(tuple(size))
        return real_pool(x, size)

    def interp(x, size=None, mode="nearest", **kw):
        interps.append(mode)
        return real_interp(x, size=size, mode=mode, **kw)

    monkeypatch.setattr(F, "adaptive_avg_pool2d", pool)
    monkeypatch.setattr(F, "interpolate", interp)
    return pools, interps


@pytest.mark.parametrize(
    ("feature_hw", "expected"),
    [
        # built for 512x1024 crops: reference size 16x32 at stride 32
        ((16, 32), [(1, 1), (2, 2), (4, 4), (8, 8)]),  # 1x the construction size
        ((32, 64), [(2, 2), (4, 4), (8, 8), (16, 16)]),  # 2x: 1024x2048 at native resolution
        ((24, 32), [(2, 1), (4, 2), (8, 4), (16, 8)]),  # int(24/16 + 0.5) = 2, int(32/32 + .5) = 1
        ((4, 8), [(1, 1), (2, 2), (4, 4), (8, 8)]),  # below half: the reference's 0 floored at 1
    ],
)
def test_bins_scale_with_the_feature_size_as_the_reference(monkeypatch, feature_hw, expected):
    ppm = PyramidPoolingModule(8, 8, (1, 2, 4, 8), input_size=(512, 1024)).eval()
    assert ppm.pooled_sizes(*feature_hw) == expected
    pools, interps = _spy_calls(monkeypatch)
    out = ppm(torch.randn(1, 8, *feature_hw))
    assert out.shape == (1, 8, *feature_hw)
    assert pools == expected
    assert interps == ["nearest"] * 4  # the reference's mode with learned decoder upsampling


def test_fixed_bins_and_bilinear_are_available(monkeypatch):
    ppm = PyramidPoolingModule(
        8, 8, (1, 2, 4, 8), (512, 1024), upsampling="bilinear", bin_scaling="fixed"
    ).eval()
    pools, interps = _spy_calls(monkeypatch)
    ppm(torch.randn(1, 8, 32, 64))
    assert pools == [(1, 1), (2, 2), (4, 4), (8, 8)]
    assert interps == ["bilinear"] * 4


def test_nearest_upsampling_repeats_each_pooled_cell():
    # One bin of 2x2 on a 4x4 map: nearest upsampling gives constant 2x2 blocks of the branch.
    ppm = PyramidPoolingModule(1, 1, (2,), input_size=(128, 128), bin_scaling="fixed").eval()
    x = torch.arange(16.0).view(1, 1, 4, 4)
    branch = ppm.branches[0](F.adaptive_avg_pool2d(x, 2))
    up = F.interpolate(branch, size=(4, 4), mode="nearest")
    assert torch.equal(up[..., :2, :2], branch[..., :1, :1].expand(1, 1, 2, 2))


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"upsampling": "cubic"}, "context_upsampling"),
        ({"bin_scaling": "double"}, "context_bin_scaling"),
        ({"input_size": (16, 1024)}, "context_input_size"),
    ],
)
def test_bad_options_name_the_key(kwargs, key):
    with pytest.raises(ValueError, match=key):
        PyramidPoolingModule(8, 8, (1, 2), **kwargs)
