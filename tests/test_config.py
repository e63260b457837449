"""Tests for owslib.config: round trips, strict keys and types, profiles, immutability."""

from __future__ import annotations

import dataclasses
import json

import pytest

from owslib.config import (
    ConfigError,
    ExperimentConfig,
    flatten,
    load_profile,
    unflatten,
)
from owslib.profiles import PROFILES


@pytest.fixture(params=sorted(PROFILES))
def profile_cfg(request):
    return load_profile(request.param)


# -- round trips -------------------------------------------------------------------------------
def test_json_round_trip(profile_cfg, tmp_path):
    path = tmp_path / "sub" / "config.json"
    profile_cfg.to_json(path)
    on_disk = json.loads(path.read_text())
    assert on_disk == profile_cfg.to_dict()
    assert ExperimentConfig.from_json(path) == profile_cfg


def test_dict_round_trip(profile_cfg):
    d = profile_cfg.to_dict()
    # JSON-able: only plain containers and scalars, tuples written as lists.
    assert json.loads(json.dumps(d)) == d
    assert isinstance(d["model"]["context_bins"], list)
    assert ExperimentConfig.from_dict(d) == profile_cfg


def test_flat_round_trip(profile_cfg):
    flat = profile_cfg.to_flat()
    assert all("__" in k or k in ("name", "profile") for k in flat)
    assert flat["train__lr"] == profile_cfg.train.lr
    assert flat["model__decoder_channels"] == list(profile_cfg.model.decoder_channels)
    assert ExperimentConfig.from_flat(flat) == profile_cfg
    assert unflatten(flat) == profile_cfg.to_dict()
    assert flatten(profile_cfg.to_dict()) == flat


def test_tuples_survive_json(tmp_path):
    cfg = ExperimentConfig().override(model__context_bins=(1, 3), model__decoder_blocks=[2, 2, 2])
    path = tmp_path / "c.json"
    cfg.to_json(path)
    assert json.loads(path.read_text())["model"]["context_bins"] == [1, 3]
    back = ExperimentConfig.from_json(path)
    assert back.model.context_bins == (1, 3)
    assert type(back.model.context_bins) is tuple
    assert back.model.decoder_blocks == (2, 2, 2)
    assert type(back.model.decoder_blocks) is tuple
    assert back == cfg


def test_partial_dict_fills_defaults():
    cfg = ExperimentConfig.from_dict({"train": {"lr": 0.01}})
    assert cfg.train.lr == 0.01
    assert cfg.train.epochs == 500
    assert cfg.model == ExperimentConfig().model


# -- unknown keys ------------------------------------------------------------------------------
def test_unknown_nested_key_raises_naming_it():
    with pytest.raises(ConfigError, match="train__learning_rate"):
        ExperimentConfig.from_dict({"train": {"learning_rate": 0.1}})


def test_unknown_top_level_key_raises_naming_it():
    with pytest.raises(ConfigError, match="optimizer"):
        ExperimentConfig.from_dict({"optimizer": {"lr": 0.1}})


def test_unknown_flat_key_raises_naming_it():
    flat = ExperimentConfig().to_flat()
    flat["loss__w_focal"] = 0.3
    with pytest.raises(ConfigError, match="loss__w_focal"):
        ExperimentConfig.from_flat(flat)


def test_unknown_flat_section_raises_naming_it():
    with pytest.raises(ConfigError, match="bogus"):
        ExperimentConfig.from_flat({"bogus__x": 1})


def test_override_unknown_key_raises_naming_it():
    with pytest.raises(ConfigError, match="train__lrate"):
        ExperimentConfig().override(train__lrate=0.1)


def test_load_profile_unknown_override_raises():
    with pytest.raises(ConfigError, match="train__nope"):
        load_profile("smoke", train__nope=1)


def test_override_applies_and_keeps_the_rest():
    base = ExperimentConfig()
    cfg = base.override(train__lr=0.01, loss__w_feat=0.0)
    assert cfg.train.lr == 0.01 and cfg.loss.w_feat == 0.0
    assert cfg.train.epochs == base.train.epochs
    assert base.train.lr == 0.004  # the original is untouched


# -- wrong types -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "key, value",
    [
        ("train__epochs", "10"),  # str for int
        ("train__epochs", 1.5),  # float for int
        ("train__epochs", 2.0),  # integral float is still not an int
        ("train__epochs", True),  # bool for int
        ("train__amp", 1),  # int for bool
        ("train__amp", "true"),  # str for bool
        ("train__lr", "0.1"),  # str for float
        ("train__lr", False),  # bool for float
        ("data__root", 3),  # int for str
        ("model__context_bins", 1),  # scalar for tuple
        ("model__context_bins", "1248"),  # str for tuple
        ("model__context_bins", [1, "2"]),  # wrong element type
        ("model__decoder_channels", [128.0, 64, 32]),  # float element in int tuple
    ],
)
def test_wrong_type_raises_naming_key(key, value):
    with pytest.raises(ConfigError, match=key):
        ExperimentConfig().override(**{key: value})
    flat = ExperimentConfig().to_flat()
    flat[key] = value
    with pytest.raises(ConfigError, match=key):
        ExperimentConfig.from_flat(flat)


def test_wrong_type_in_nested_dict_raises_naming_key():
    with pytest.raises(ConfigError, match="data__crop_height"):
        ExperimentConfig.from_dict({"data": {"crop_height": "512"}})


def test_section_that_is_not_a_mapping_raises():
    with pytest.raises(ConfigError, match="train"):
        ExperimentConfig.from_dict({"train": 3})


def test_int_accepted_for_float():
    cfg = ExperimentConfig().override(train__lr=1, loss__xi=2)
    assert cfg.train.lr == 1.0 and type(cfg.train.lr) is float
    assert cfg.loss.xi == 2.0 and type(cfg.loss.xi) is float


# -- profiles ----------------------------------------------------------------------------------
def test_unknown_profile_raises():
    with pytest.raises(ConfigError, match="nosuch"):
        load_profile("nosuch")


def test_paper_defaults_match_reference():
    cfg = load_profile("paper")
    # the paper's recipe, with 16-bit autocast and channels-last for GPUs (losses stay float32)
    assert cfg.override(train__amp=False, train__channels_last=False) == ExperimentConfig()
    assert cfg.profile == "paper"
    assert cfg.train.lr == 0.004
    assert cfg.train.epochs == 500
    assert cfg.train.batch_size == 8
    assert cfg.train.weight_decay == 1e-4
    assert (cfg.data.crop_height, cfg.data.crop_width) == (512, 1024)
    assert (cfg.data.scale_min, cfg.data.scale_max) == (0.5, 2.0)
    assert cfg.data.hflip is True
    assert (cfg.loss.w_sem, cfg.loss.w_feat, cfg.loss.w_cont, cfg.loss.w_obj) == (
        0.9,
        0.1,
        0.5,
        0.5,
    )
    assert cfg.loss.xi == 1.0
    assert cfg.loss.tau == 0.1
    assert cfg.loss.objectosphere_unknown_scale == 1.0  # not the reference code's 10
    assert cfg.eval.delta == 0.6
    assert cfg.eval.eta == 0.5
    assert cfg.model.encoder == "resnet34"
    assert cfg.model.encoder_block == "nonbottleneck1d"
    assert cfg.model.context_bins == (1, 2, 4, 8)
    assert cfg.model.decoder_channels == (512, 256, 128)
    assert cfg.model.decoder_blocks == (3, 3, 3)


@pytest.mark.parametrize("name", ["quick", "smoke", "overfit"])
def test_profiles_shrink_the_paper_recipe(name):
    paper, cfg = load_profile("paper"), load_profile(name)
    assert cfg.profile == name
    assert cfg.train.epochs < paper.train.epochs
    assert cfg.data.crop_height < paper.data.crop_height
    assert cfg.data.crop_width < paper.data.crop_width
    assert cfg.model.encoder == "resnet18"
    assert cfg.model.encoder_block == "basicblock"
    assert all(
        a <= b
        for a, b in zip(cfg.model.decoder_channels, paper.model.decoder_channels, strict=True)
    )
    assert sum(cfg.model.decoder_blocks) < sum(paper.model.decoder_blocks)
    assert cfg.data.dataset == "embedded"
    assert cfg.data.split_preset == "cityscapes_heldout"
    # Loss and evaluation hyper-parameters are the paper's in every profile, except the warm-up of
    # the statistics-based terms, which profiles that train from scratch lengthen.
    assert dataclasses.replace(cfg.loss, stats_warmup_epochs=1) == paper.loss
    assert cfg.loss.stats_warmup_epochs >= paper.loss.stats_warmup_epochs == 1
    assert cfg.eval.delta == paper.eval.delta and cfg.eval.eta == paper.eval.eta


def test_smoke_profile_is_tiny_and_on_cpu():
    cfg = load_profile("smoke")
    assert cfg.train.epochs == 2
    assert cfg.train.device == "cpu"
    assert (cfg.data.crop_height, cfg.data.crop_width) == (64, 128)
    assert (cfg.synthetic.height, cfg.synthetic.width) == (64, 128)
    assert cfg.synthetic.n_train == 12
    assert cfg.model.decoder_channels == (32, 24, 16)


def test_overfit_profile_has_no_augmentation():
    cfg = load_profile("overfit")
    assert cfg.data.max_images == 4
    assert cfg.data.scale_min == cfg.data.scale_max == 1.0
    assert cfg.data.hflip is False and cfg.data.color_jitter is False


def test_load_profile_applies_overrides():
    cfg = load_profile("quick", train__epochs=3, model__context="none")
    assert cfg.train.epochs == 3 and cfg.model.context == "none"
    assert cfg.profile == "quick"
    assert cfg.model.encoder == "resnet18"


# -- immutability and I/O errors ---------------------------------------------------------------
def test_config_is_frozen():
    cfg = ExperimentConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.train.lr = 1.0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.name = "x"  # type: ignore[misc]
    assert cfg.train.lr == 0.004


def test_from_json_corrupt_file_names_path(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"train": {"lr": 0.1,')
    with pytest.raises(ConfigError, match="broken.json"):
        ExperimentConfig.from_json(path)


def test_from_json_missing_file_names_path(tmp_path):
    path = tmp_path / "missing.json"
    with pytest.raises(ConfigError, match="missing.json"):
        ExperimentConfig.from_json(path)


def test_to_json_leaves_no_temporary_files(tmp_path):
    ExperimentConfig().to_json(tmp_path / "c.json")
    ExperimentConfig().override(train__lr=0.1).to_json(tmp_path / "c.json")
    assert [p.name for p in tmp_path.iterdir()] == ["c.json"]
    assert ExperimentConfig.from_json(tmp_path / "c.json").train.lr == 0.1


def test_a_negative_loss_weight_is_refused_naming_its_key():
    with pytest.raises(ConfigError, match=r"loss__w_infonce: a loss weight must be ≥ 0, got -0.5"):
        load_profile("smoke", loss__w_infonce=-0.5)
