"""Tests for owslib.models.heads: the extra-decoder registry and the MLP head with each fusion."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from owslib.config import load_profile
from owslib.models import build_model
from owslib.models.fusion import FUSIONS
from owslib.models.heads import EXTRA_DECODERS, FUSION_TARGETS, MLPHead, register_extra_decoder
from owslib.models.mlp_decoder import MLPDecoder
from owslib.models.outputs import CONFIDENCE, EMBEDDING, EMBEDDING_MLP, SEM_LOGITS

K, D = 4, 7  # known classes and a different embedding size, so the two targets are told apart
SIZE = (64, 96)


def _model(**flat):
    """The smoke model (small MLP head) with an embedding of ``D`` channels and ``K`` classes."""
    flat = {"model__extra_decoder": "mlp", "model__mlp_dim": 16, "model__embedding_dim": D} | flat
    cfg = load_profile("smoke", **flat).model
    torch.manual_seed(0)
    return build_model(cfg, num_classes=K), cfg


def _feats_and_outputs(model, batch: int = 2):
    x = torch.randn(batch, 3, *SIZE)
    feats = model.features(x)
    outputs = {
        SEM_LOGITS: torch.randn(batch, K, *SIZE),
        EMBEDDING: torch.randn(batch, D, *SIZE),
    }
    return feats, outputs


@pytest.fixture()
def restore_registry():
    saved = dict(EXTRA_DECODERS)
    yield
    EXTRA_DECODERS.clear()
    EXTRA_DECODERS.update(saved)


def test_builtin_registry():
    assert EXTRA_DECODERS["none"] is None and EXTRA_DECODERS["mlp"] is MLPHead
    assert FUSION_TARGETS == {"embedding": EMBEDDING, "semantic": SEM_LOGITS}


def test_registering_a_name_twice_is_refused_unless_replace(restore_registry):
    def first(model, cfg):
        return torch.nn.Identity()

    calls = []

    def second(model, cfg):
        calls.append((model, cfg))
        return torch.nn.Identity()

    with pytest.raises(ValueError, match="'mlp' is registered already"):
        register_extra_decoder("mlp", second)
    assert EXTRA_DECODERS["mlp"] is MLPHead
    register_extra_decoder("probe", first)
    with pytest.raises(ValueError, match="'probe' is registered already"):
        register_extra_decoder("probe", second)
    assert EXTRA_DECODERS["probe"] is first
    register_extra_decoder("probe", second, replace=True)
    assert EXTRA_DECODERS["probe"] is second
    # build_model calls the registered builder with the model and its config
    cfg = load_profile("smoke", model__extra_decoder="probe").model
    model = build_model(cfg, num_classes=K)
    assert calls == [(model, cfg)] and isinstance(model.extra_head, torch.nn.Identity)


def _expected(fusion: str, target: str) -> tuple[str, int]:
    """The key the head writes and its channel count."""
    if fusion == "confidence":
        return CONFIDENCE, 1
    if fusion == "separate":
        return EMBEDDING_MLP, D
    return FUSION_TARGETS[target], K if target == "semantic" else D


@pytest.mark.parametrize("target", list(FUSION_TARGETS))
@pytest.mark.parametrize("fusion", list(FUSIONS))
def test_head_output_for_every_fusion_and_target(fusion, target):
    model, cfg = _model(model__fusion=fusion, model__fusion_target=target)
    head = model.extra_head
    key, channels = _expected(fusion, target)
    assert isinstance(head, MLPHead) and isinstance(head.decoder, MLPDecoder)
    assert head.output_keys == (key,) and head.target == FUSION_TARGETS[target]
    assert isinstance(head.fusion, FUSIONS[fusion]) and head.fusion.channels == channels
    assert model.output_keys == tuple(dict.fromkeys((SEM_LOGITS, EMBEDDING, key)))

    head.eval()  # no dropout: the decoder's output is reproducible below
    feats, outputs = _feats_and_outputs(model)
    with torch.no_grad():
        out = head(feats, outputs, SIZE)
        b = head.decoder(feats, size=SIZE)
    assert list(out) == [key] and out[key].shape == (2, channels, *SIZE)
    if FUSIONS[fusion].fuses:  # the fused tensor replaces the target
        expected = head.fusion(outputs[key], b)
        torch.testing.assert_close(out[key], expected)
        assert not torch.allclose(out[key], outputs[key])
    else:  # the head's own output, beside an untouched target
        torch.testing.assert_close(out[key], b)


@pytest.mark.parametrize("fusion", list(FUSIONS))
def test_model_with_head_every_parameter_gets_a_gradient(fusion):
    target = "semantic" if fusion == "sum" else "embedding"
    model, _ = _model(model__fusion=fusion, model__fusion_target=target)
    out = model.train()(torch.randn(2, 3, 40, 64))  # padded to 64 × 64 inside, cropped back
    key, channels = _expected(fusion, target)
    assert set(out) == {SEM_LOGITS, EMBEDDING, key}
    assert out[key].shape == (2, channels, 40, 64)
    sum(((v * torch.randn_like(v)).sum() for v in out.values()), torch.zeros(())).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    for name, p in model.extra_head.named_parameters():
        assert p.grad.abs().sum() > 0, f"extra_head.{name} received a zero gradient"


@pytest.mark.parametrize(
    ("fusion", "detach", "reaches_features"),
    [("confidence", True, False), ("confidence", False, True), ("sum", True, True)],
)
def test_confidence_detach_keeps_gradients_out_of_the_encoder_features(
    fusion, detach, reaches_features
):
    """``confidence_detach`` detaches the features the head reads, and only for the confidence
    head: another fusion with the flag set still trains the encoder through the head."""
    model, _ = _model(model__fusion=fusion, model__confidence_detach=detach)
    head = model.extra_head
    assert head.detach == (detach and fusion == "confidence")
    feats = [f.detach().requires_grad_(True) for f in model.features(torch.randn(2, 3, *SIZE))]
    outputs = {
        SEM_LOGITS: torch.randn(2, K, *SIZE),
        EMBEDDING: torch.randn(2, D, *SIZE, requires_grad=True),
    }
    out = head(feats, outputs, SIZE)
    key = CONFIDENCE if fusion == "confidence" else EMBEDDING
    out[key].square().sum().backward()
    assert all((f.grad is not None) == reaches_features for f in feats)
    head_grads = [p.grad for p in head.decoder.parameters()]
    assert all(g is not None and g.abs().sum() > 0 for g in head_grads)


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [
        ("fusion", "avg", r"model__fusion='avg'; valid: \['concat_conv', 'confidence'"),
        ("fusion_target", "logits", r"model__fusion_target='logits'; valid: \['embedding'"),
    ],
)
def test_unknown_fusion_or_target_names_the_key(key, value, match):
    model, cfg = _model()
    bad = dataclasses.replace(cfg, **{key: value})
    with pytest.raises(ValueError, match=match):
        MLPHead(model, bad)
    with pytest.raises(ValueError, match=match):
        build_model(bad, num_classes=K)
