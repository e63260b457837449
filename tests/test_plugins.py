"""Extensions plug in without editing owslib: a toy decoder, loss term and scorer registered here
train and evaluate through the public entry points."""

import json
import platform

import pytest
import torch
from torch import nn

from owslib.inference.scorers import SCORER_REGISTRY, Scorer, register_scorer
from owslib.losses import TERMS, TermSpec, register_term
from owslib.models import EXTRA_DECODERS, register_extra_decoder
from owslib.runs.run import run_experiment


class ToyHead(nn.Module):
    """A one-channel map from the stride-4 encoder stage, upsampled to the input size."""

    output_keys = ("toy_map",)

    def __init__(self, model, cfg):
        super().__init__()
        self.conv = nn.Conv2d(model.encoder.out_channels[0], 1, 1)

    def forward(self, feats, outputs, size):
        return {"toy_map": nn.functional.interpolate(self.conv(feats[0]), size=size)}


class ToyTerm(nn.Module):
    """Pushes the toy map towards 1 on void pixels and 0 elsewhere (binary cross-entropy)."""

    def forward(self, outputs, target):
        logit = outputs["toy_map"][:, 0]
        valid = target != 254
        y = (target == 255).float()
        return nn.functional.binary_cross_entropy_with_logits(logit[valid], y[valid])


@pytest.fixture()
def toys():
    register_extra_decoder("toy", ToyHead)
    register_term(TermSpec("toy", ("toy_map",), lambda ctx: ToyTerm(), description="toy BCE"))
    register_scorer(
        Scorer(
            "toy_score",
            ("toy_map",),
            lambda x: torch.sigmoid(x.outputs["toy_map"][:, 0]),
            "sigmoid of the toy map",
        )
    )
    yield
    EXTRA_DECODERS.pop("toy")
    TERMS.pop("toy")
    SCORER_REGISTRY.pop("toy_score")


@pytest.mark.slow
def test_registered_toys_train_and_evaluate_through_the_runner(toys, smoke_cfg, tmp_path):
    cfg = smoke_cfg.override(model__extra_decoder="toy", loss__extra_terms="toy:0.2")
    result = run_experiment(cfg, tmp_path / "run")
    assert "train_toy" in result.history[-1] and result.history[-1]["train_toy"] > 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert "toy_score" in metrics["anomaly"] and "fused" in metrics["anomaly"]
    assert "toy_score" in metrics["conventions"]["scorers"]
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["status"] == "finished" and info["train_s"] > 0 and info["git_commit"]
    assert info["python"] == platform.python_version() and info["torch"] == torch.__version__
    assert len(info["encoder_sha256"]) == 64  # the closed-set encoder the run started from
    # the head's parameters were trained (the term reached them): they moved from their init
    from owslib.models import build_model

    torch.manual_seed(cfg.train.seed)
    fresh = build_model(cfg.model, 16)
    trained = result.exp.bare_model.extra_head.conv.weight.detach().cpu()
    assert not torch.allclose(trained, fresh.extra_head.conv.weight)
    # a finished run is reused, not retrained
    again = run_experiment(cfg, tmp_path / "run", load_model=False)
    assert again.reused and again.exp is None and again.metrics["miou"] == metrics["miou"]


def test_unknown_plugin_names_raise(smoke_cfg):
    from owslib.losses import ContMAVObjective
    from owslib.models import build_model

    with pytest.raises(ValueError, match="model__extra_decoder.*'nope'"):
        build_model(smoke_cfg.override(model__extra_decoder="nope").model, 16)
    with pytest.raises(ValueError, match="unknown term 'nope'"):
        ContMAVObjective(smoke_cfg.override(loss__extra_terms="nope:1").loss, 16)
    from owslib.inference.scorers import get_scorer

    with pytest.raises(ValueError, match="unknown scorer 'nope'"):
        get_scorer("nope")
