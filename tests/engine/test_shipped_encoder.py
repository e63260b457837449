"""The encoders shipped with the results (``results/encoders/``): a fresh cache starts from them."""

from __future__ import annotations

import hashlib
import logging

import pytest

from owslib.config import load_profile
from owslib.engine.pretrain import (
    encoder_cache_path,
    encoder_cached,
    pretrain_config,
    restore_shipped_encoder,
)


def _ship(cfg, shipped, pt=b"shipped encoder", config=True):
    """``shipped/<key>.pt`` and, with ``config``, its ``.json`` (``cfg``'s pretraining config)."""
    shipped.mkdir(parents=True, exist_ok=True)
    path = shipped / encoder_cache_path(cfg, shipped).name
    path.write_bytes(pt)
    if config:
        pretrain_config(cfg).to_json(path.with_suffix(".json"))
    return path


def test_a_shipped_encoder_fills_an_empty_cache_and_never_replaces_a_cached_one(tmp_path, caplog):
    cfg = load_profile("smoke")
    shipped, cache = tmp_path / "results" / "encoders", tmp_path / "cache"
    source = _ship(cfg, shipped)
    assert restore_shipped_encoder(cfg, cache, shipped) is True
    target = encoder_cache_path(cfg, cache)
    assert target.read_bytes() == b"shipped encoder"
    assert target.with_suffix(".json").read_bytes() == source.with_suffix(".json").read_bytes()
    assert restore_shipped_encoder(cfg, cache, shipped) is False  # the same file: nothing to say
    assert "not the one shipped" not in caplog.text
    target.write_bytes(b"this machine's encoder")
    with caplog.at_level(logging.WARNING, logger="owslib.engine.pretrain"):
        assert restore_shipped_encoder(cfg, cache, shipped) is False
    assert target.read_bytes() == b"this machine's encoder"  # kept, but named with both checksums
    mine, theirs = (
        hashlib.sha256(b).hexdigest()[:12] for b in (b"this machine's encoder", b"shipped encoder")
    )
    assert "not the one shipped" in caplog.text and mine in caplog.text and theirs in caplog.text
    other = load_profile("smoke", model__pretrain_epochs=7)  # another encoder config: not shipped
    assert restore_shipped_encoder(other, cache, shipped) is False
    assert not encoder_cache_path(other, cache).exists()
    assert restore_shipped_encoder(cfg, tmp_path / "cache2", tmp_path / "absent") is False


def test_half_a_shipment_or_another_encoders_config_is_refused_by_name(tmp_path):
    cfg = load_profile("smoke")
    shipped = tmp_path / "encoders"
    source = _ship(cfg, shipped, config=False)
    with pytest.raises(ValueError, match=rf"{source.stem}\.json: the config of the shipped"):
        restore_shipped_encoder(cfg, tmp_path / "cache", shipped)
    other = load_profile("smoke", model__pretrain_epochs=7)
    pretrain_config(other).to_json(source.with_suffix(".json"))  # a config of another key
    with pytest.raises(ValueError, match=rf"the config of another encoder.*not {source.stem}"):
        restore_shipped_encoder(cfg, tmp_path / "cache", shipped)
    assert not encoder_cache_path(cfg, tmp_path / "cache").exists()  # nothing half-written


def test_a_run_starts_from_the_shipped_encoder_without_pretraining(tmp_path, monkeypatch):
    from owslib.engine.pretrain import ensure_pretrained_encoder
    from owslib.runs import run as runner

    monkeypatch.setenv("OWSLIB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("OWSLIB_SHIPPED_ENCODERS", str(tmp_path / "shipped"))
    # a data root that does not exist: a pretraining would fail, so none may start
    cfg = load_profile("smoke", data__root=str(tmp_path / "no_data"))
    assert cfg.model.pretrain_epochs > 0
    assert encoder_cached(cfg, tmp_path / "cache") is False  # nothing shipped yet
    _ship(cfg, tmp_path / "shipped")
    assert runner._pretrain_encoder(cfg) is False  # restored, not trained
    assert encoder_cache_path(cfg, tmp_path / "cache").read_bytes() == b"shipped encoder"
    # the file the run then starts from (and whose sha256 its run.json records), not a new one
    path = ensure_pretrained_encoder(cfg, tmp_path / "cache")
    assert (
        hashlib.sha256(path.read_bytes()).hexdigest()
        == hashlib.sha256(b"shipped encoder").hexdigest()
    )


def test_the_committed_shipped_encoder_is_the_one_its_name_and_config_stand_for():
    from owslib.config import ExperimentConfig
    from owslib.engine.pretrain import _encoder_key
    from owslib.paths import resolve

    shipped = sorted(resolve("results/encoders").glob("*.pt"))
    assert shipped, "results/encoders/ ships the float32 ablation's encoder"
    for pt in shipped:
        assert _encoder_key(ExperimentConfig.from_json(pt.with_suffix(".json"))) == pt.stem
    from owslib.study.studyfile import load_study

    ablation = load_study().config("synco_unknown", 0)  # every run of the study starts from it
    assert encoder_cache_path(ablation, resolve("results")).name in {p.name for p in shipped}


def test_the_study_declares_the_shipped_encoder_by_its_checksum():
    """The study's setup names the shipped encoder's sha256: every run starts from that file."""
    from owslib.io import sha256_file
    from owslib.paths import resolve
    from owslib.study.studyfile import load_study

    declared = load_study().setup.encoder_sha256
    assert declared in {sha256_file(p) for p in resolve("results/encoders").glob("*.pt")}


def test_the_real_scene_study_ships_the_camvid_profile_s_own_encoder():
    """The real-scene study declares the shipped CamVid encoder, and it is the ``camvid`` profile's
    (the file named by its pretraining config), so a fresh clone restores it instead of training."""
    from owslib.io import sha256_file
    from owslib.paths import resolve
    from owslib.study.studyfile import load_study

    study = load_study(resolve("notebooks/real_scenes.json"))
    shipped = (
        resolve("results/encoders") / encoder_cache_path(load_profile("camvid"), resolve(".")).name
    )
    assert shipped.is_file() and sha256_file(shipped) == study.setup.encoder_sha256
    assert study.setup.encoder_sha256 != load_study().setup.encoder_sha256  # not the embedded one
