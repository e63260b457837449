"""Tests for loading ImageNet encoder weights (torchvision and ESANet NBt1D formats)."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torchvision

from owslib.config import ModelConfig
from owslib.models import build_model
from owslib.models.pretrained import load_encoder_weights
from owslib.models.resnet import ENCODER_LAYERS, ResNetEncoder


def _randomised(encoder: torch.nn.Module) -> dict[str, torch.Tensor]:
    torch.manual_seed(1)
    return {
        k: torch.randn_like(v, dtype=torch.float32).to(v.dtype)
        for k, v in encoder.state_dict().items()
    }


def _assert_loaded(encoder: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
    for k, v in encoder.state_dict().items():
        assert torch.equal(v, state[k]), k


def test_torchvision_resnet_state_dict_loads(tmp_path):
    for name, factory in [
        ("resnet18", torchvision.models.resnet18),
        ("resnet34", torchvision.models.resnet34),
    ]:
        tv = factory(weights=None)
        path = tmp_path / f"{name}.pth"
        torch.save(tv.state_dict(), path)
        encoder = ResNetEncoder(ENCODER_LAYERS[name], "basicblock")
        load_encoder_weights(encoder, path)
        expected = {k: v for k, v in tv.state_dict().items() if not k.startswith("fc.")}
        _assert_loaded(encoder, expected)


def test_basicblock_plain_dict_with_fc_and_without_num_batches_tracked(tmp_path):
    encoder = ResNetEncoder(ENCODER_LAYERS["resnet18"], "basicblock")
    state = _randomised(encoder)
    saved = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    saved |= {"fc.weight": torch.zeros(1000, 512), "fc.bias": torch.zeros(1000)}
    torch.save(saved, tmp_path / "r18.pth")
    fresh = ResNetEncoder(ENCODER_LAYERS["resnet18"], "basicblock")
    load_encoder_weights(fresh, tmp_path / "r18.pth")
    for k, v in saved.items():
        if not k.startswith("fc."):
            assert torch.equal(fresh.state_dict()[k], v), k


def test_esanet_nbt1d_checkpoint_loads(tmp_path):
    encoder = ResNetEncoder(ENCODER_LAYERS["resnet18"], "nonbottleneck1d")
    state = _randomised(encoder)
    ckpt = {"module.encoder." + k: v for k, v in state.items()}
    ckpt |= {"module.encoder.fc.weight": torch.zeros(10, 512), "module.fc.bias": torch.zeros(10)}
    torch.save({"epoch": 3, "state_dict": ckpt}, tmp_path / "r18_NBt1D.pth")
    fresh = ResNetEncoder(ENCODER_LAYERS["resnet18"], "nonbottleneck1d")
    load_encoder_weights(fresh, tmp_path / "r18_NBt1D.pth")
    _assert_loaded(fresh, state)


def test_build_model_loads_pretrained_path(tmp_path):
    cfg = ModelConfig(
        encoder="resnet18",
        encoder_block="basicblock",
        decoder_channels=(32, 24, 16),
        decoder_blocks=(1, 1, 1),
    )
    state = _randomised(build_model(cfg, 3).encoder)
    torch.save(state, tmp_path / "w.pth")
    model = build_model(dataclasses.replace(cfg, pretrained_path=str(tmp_path / "w.pth")), 3)
    _assert_loaded(model.encoder, state)


def test_renamed_key_lists_missing_and_unexpected(tmp_path):
    encoder = ResNetEncoder(ENCODER_LAYERS["resnet18"], "nonbottleneck1d")
    state = dict(encoder.state_dict())
    state["layer2.0.conv3x1_1.weights"] = state.pop("layer2.0.conv3x1_1.weight")
    path = tmp_path / "renamed.pth"
    torch.save({"state_dict": {"encoder." + k: v for k, v in state.items()}}, path)
    with pytest.raises(ValueError) as info:
        load_encoder_weights(encoder, path)
    msg = str(info.value)
    assert "renamed.pth" in msg
    assert "1 missing keys [layer2.0.conv3x1_1.weight]" in msg
    assert "1 unexpected keys [layer2.0.conv3x1_1.weights]" in msg


def test_wrong_block_type_gives_counts_and_truncated_lists(tmp_path):
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), tmp_path / "tv.pth")
    encoder = ResNetEncoder(ENCODER_LAYERS["resnet18"], "nonbottleneck1d")
    with pytest.raises(ValueError, match=r"missing keys \[.*\(\+\d+ more\)\]") as info:
        load_encoder_weights(encoder, tmp_path / "tv.pth")
    assert "unexpected keys" in str(info.value)


def test_wrong_shape_raises(tmp_path):
    encoder = ResNetEncoder(ENCODER_LAYERS["resnet18"], "basicblock")
    state = dict(encoder.state_dict())
    state["conv1.weight"] = torch.zeros(64, 1, 7, 7)
    torch.save(state, tmp_path / "gray.pth")
    with pytest.raises(ValueError, match=r"conv1.weight: file \(64, 1, 7, 7\) vs model"):
        load_encoder_weights(encoder, tmp_path / "gray.pth")


def test_missing_file_raises(tmp_path):
    encoder = ResNetEncoder(ENCODER_LAYERS["resnet18"], "basicblock")
    with pytest.raises(FileNotFoundError, match="nowhere.pth"):
        load_encoder_weights(encoder, tmp_path / "nowhere.pth")


def test_non_state_dict_raises(tmp_path):
    torch.save([1, 2, 3], tmp_path / "list.pth")
    encoder = ResNetEncoder(ENCODER_LAYERS["resnet18"], "basicblock")
    with pytest.raises(ValueError, match="list.pth"):
        load_encoder_weights(encoder, tmp_path / "list.pth")
