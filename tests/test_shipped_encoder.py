"""A results folder's shipped encoders (``<results>/encoders/``): a fresh cache starts from them."""

from __future__ import annotations

import pytest

from owslib.config import load_profile
from owslib.pretrain import encoder_cache_path, restore_shipped_encoder


def _ship(cfg, results, pt=b"shipped encoder", meta=b'{"model": {}}'):
    shipped = results / "encoders"
    shipped.mkdir(parents=True)
    name = encoder_cache_path(cfg, shipped).name
    (shipped / name).write_bytes(pt)
    if meta is not None:
        (shipped / name).with_suffix(".json").write_bytes(meta)
    return shipped


def test_a_shipped_encoder_fills_an_empty_cache_and_never_replaces_a_cached_one(tmp_path):
    cfg = load_profile("smoke")
    shipped, cache = _ship(cfg, tmp_path / "results"), tmp_path / "cache"
    assert restore_shipped_encoder(cfg, cache, shipped) is True
    target = encoder_cache_path(cfg, cache)
    assert target.read_bytes() == b"shipped encoder"
    assert target.with_suffix(".json").read_bytes() == b'{"model": {}}'
    target.write_bytes(b"this machine's encoder")
    assert restore_shipped_encoder(cfg, cache, shipped) is False
    assert target.read_bytes() == b"this machine's encoder"
    other = load_profile("smoke", model__pretrain_epochs=7)  # another encoder config: not shipped
    assert restore_shipped_encoder(other, cache, shipped) is False
    assert not encoder_cache_path(other, cache).exists()
    assert restore_shipped_encoder(cfg, tmp_path / "cache2", tmp_path / "absent") is False


def test_half_a_shipment_is_refused_by_name(tmp_path):
    cfg = load_profile("smoke")
    shipped = _ship(cfg, tmp_path / "results", meta=None)
    with pytest.raises(FileNotFoundError, match=r"encoders/[0-9a-f]{16}\.json"):
        restore_shipped_encoder(cfg, tmp_path / "cache", shipped)
    assert not encoder_cache_path(cfg, tmp_path / "cache").exists()


def test_a_run_starts_from_its_results_shipped_encoder_without_pretraining(tmp_path, monkeypatch):
    from owslib import runner

    monkeypatch.setenv("OWSLIB_CACHE", str(tmp_path / "cache"))
    # a data root that does not exist: a pretraining would fail, so none may start
    cfg = load_profile("smoke", data__root=str(tmp_path / "no_data"))
    assert cfg.model.pretrain_epochs > 0
    results = tmp_path / "results"
    _ship(cfg, results)
    run_dir = results / "runs" / "smoke" / "baseline" / "seed0"
    assert runner._pretrain_encoder(cfg, run_dir) is False  # restored, not trained
    assert encoder_cache_path(cfg, tmp_path / "cache").read_bytes() == b"shipped encoder"
    import hashlib

    assert runner._encoder_sha256(cfg) == hashlib.sha256(b"shipped encoder").hexdigest()
