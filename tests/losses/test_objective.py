"""Tests for owslib.losses.objective: the composed, weighted ContMAV objective."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from owslib.config import LossConfig
from owslib.losses import ContMAVObjective, build_semantic_loss

K = 3
TARGET = np.array([[[0, 1, 255], [2, 3, 1]], [[2, 2, 0], [255, 1, 0]]])


def _outputs(seed: int = 0, grad: bool = False):
    g = np.random.default_rng(seed)
    logits = torch.tensor(g.normal(size=(2, K, 2, 3)) * 2, dtype=torch.float32, requires_grad=grad)
    emb = torch.tensor(g.normal(size=(2, K, 2, 3)) * 0.7, dtype=torch.float32, requires_grad=grad)
    return {"sem_logits": logits, "embedding": emb}


def _ref_ce(logits, target, weight):
    num = den = 0.0
    for i, y, x in np.ndindex(*target.shape):
        t = target[i, y, x]
        if t < K:
            z = logits[i, :, y, x]
            num += weight[t] * (np.log(np.exp(z).sum()) - z[t])
            den += weight[t]
    return num / den


def _ref_obj(emb, target, xi=1.0):
    sq = (emb**2).sum(axis=1)
    known, void = target < K, target == 255
    return np.maximum(xi - sq[known], 0).mean() + sq[void].mean()


def _n_true_positives(logits, target):
    return int(((logits.argmax(axis=1) == target) & (target < K)).sum())


def test_first_epoch_terms_and_weighted_sum():
    out = _outputs()
    w = np.array([0.5, 2.0, 1.0])
    obj = ContMAVObjective(LossConfig(), K, class_weights=torch.tensor(w)).train()
    res = obj(out, torch.tensor(TARGET))
    assert set(res) == {"loss", "sem", "feat", "cont", "obj"}
    logits, emb = out["sem_logits"].numpy(), out["embedding"].numpy()
    assert res["sem"].item() == pytest.approx(_ref_ce(logits, TARGET, w), rel=1e-5)
    assert res["obj"].item() == pytest.approx(_ref_obj(emb, TARGET), rel=1e-5)
    # No statistics yet: the feature and contrastive terms are zero in the first epoch.
    assert res["feat"].item() == 0.0 and res["cont"].item() == 0.0
    expected = 0.9 * res["sem"] + 0.1 * res["feat"] + 0.5 * res["cont"] + 0.5 * res["obj"]
    assert res["loss"].item() == pytest.approx(expected.item(), rel=1e-6)


def test_second_epoch_total_is_weighted_sum_of_all_terms():
    cfg = LossConfig(w_sem=1.0, w_feat=0.25, w_cont=2.0, w_obj=0.3)
    obj = ContMAVObjective(cfg, K).train()
    for seed in range(4):
        obj(_outputs(seed), torch.tensor(TARGET))
    obj.end_epoch()
    assert obj.stats.ready
    res = obj(_outputs(10), torch.tensor(TARGET))
    assert all(res[k].item() > 0 for k in ("sem", "feat", "cont", "obj"))
    expected = sum(
        w * res[k].item()
        for k, w in zip(("sem", "feat", "cont", "obj"), (1.0, 0.25, 2.0, 0.3), strict=True)
    )
    assert res["loss"].item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("off", ["sem", "feat", "cont", "obj"])
def test_zero_weight_removes_the_term(off):
    cfg = LossConfig(**{f"w_{off}": 0.0})
    obj = ContMAVObjective(cfg, K)
    res = obj(_outputs(), torch.tensor(TARGET))
    assert off not in res and off not in obj.terms
    assert set(res) == {"loss", "sem", "feat", "cont", "obj"} - {off}
    assert all(v is not None for v in res.values())


def test_single_term_objective():
    cfg = LossConfig(w_sem=0.0, w_feat=0.0, w_cont=0.0, w_obj=2.0)
    out = _outputs()
    res = ContMAVObjective(cfg, K)(out, torch.tensor(TARGET))
    assert set(res) == {"loss", "obj"}
    expected = 2.0 * _ref_obj(out["embedding"].numpy(), TARGET)
    assert res["loss"].item() == pytest.approx(expected, rel=1e-5)


def test_all_zero_weights_raise():
    with pytest.raises(ValueError, match="0"):
        ContMAVObjective(LossConfig(w_sem=0.0, w_feat=0.0, w_cont=0.0, w_obj=0.0), K)


@pytest.mark.parametrize("name", ["sem", "feat", "cont", "obj"])
def test_negative_weight_raises(name):
    with pytest.raises(ValueError, match=f"w_{name}"):
        ContMAVObjective(LossConfig(**{f"w_{name}": -0.1}), K)


def test_unknown_semantic_loss_raises():
    with pytest.raises(ValueError, match="loss__semantic"):
        build_semantic_loss(LossConfig(semantic="focal+ce"), K, None)
    with pytest.raises(ValueError, match="loss__semantic"):
        ContMAVObjective(LossConfig(semantic="focal+ce"), K)


def test_embedding_dim_mismatch_raises_unless_contrastive_is_off():
    with pytest.raises(ValueError, match="embedding_dim"):
        ContMAVObjective(LossConfig(), K, embedding_dim=8)
    ContMAVObjective(LossConfig(w_cont=0.0), K, embedding_dim=8)
    ContMAVObjective(LossConfig(), K, embedding_dim=K)


def test_statistics_update_only_in_train_mode():
    out = _outputs()
    obj = ContMAVObjective(LossConfig(), K)
    obj.eval()
    obj(out, torch.tensor(TARGET))
    assert obj.stats.acc_count.sum().item() == 0
    obj.train()
    obj(out, torch.tensor(TARGET))
    n_tp = _n_true_positives(out["sem_logits"].numpy(), TARGET)
    assert n_tp > 0
    assert obj.stats.acc_count.sum().item() == n_tp
    obj.end_epoch()
    assert obj.stats.ready
    before = obj.stats.mean.clone()
    obj.eval()
    obj(_outputs(5), torch.tensor(TARGET))
    assert obj.stats.acc_count.sum().item() == 0
    obj.end_epoch()  # nothing accumulated in eval mode: statistics unchanged
    assert torch.equal(obj.stats.mean, before)


def test_terms_share_the_objective_statistics():
    obj = ContMAVObjective(LossConfig(), K)
    assert obj.terms["feat"].loss.stats is obj.stats
    assert obj.terms["cont"].loss.stats is obj.stats


def test_gradients_reach_logits_and_embedding():
    obj = ContMAVObjective(LossConfig(), K).train()
    obj(_outputs(1), torch.tensor(TARGET))
    obj.end_epoch()
    out = _outputs(2, grad=True)
    obj(out, torch.tensor(TARGET))["loss"].backward()
    for name in ("sem_logits", "embedding"):
        g = out[name].grad
        assert g is not None and torch.isfinite(g).all() and g.abs().sum() > 0, name


def test_embedding_gets_gradient_with_only_semantic_terms():
    # The total stays attached to both outputs, so DDP sees every parameter used.
    cfg = LossConfig(w_cont=0.0, w_obj=0.0)
    out = _outputs(grad=True)
    ContMAVObjective(cfg, K)(out, torch.tensor(TARGET))["loss"].backward()
    assert out["embedding"].grad is not None and (out["embedding"].grad == 0).all()
    assert out["sem_logits"].grad.abs().sum() > 0


def test_all_ignored_batch_is_finite_and_backpropagates():
    obj = ContMAVObjective(LossConfig(), K).train()
    obj(_outputs(1), torch.tensor(TARGET))
    obj.end_epoch()
    out = _outputs(3, grad=True)
    target = torch.full((2, 2, 3), 255)
    res = obj(out, target)
    assert res["sem"].item() == 0.0 and res["feat"].item() == 0.0 and res["cont"].item() == 0.0
    # Void pixels are the objectosphere's unknowns: that term is the only non-zero one.
    sq = (out["embedding"].detach().numpy() ** 2).sum(axis=1)
    assert res["obj"].item() == pytest.approx(sq.mean(), rel=1e-5)
    assert torch.isfinite(res["loss"]) and res["loss"].requires_grad
    res["loss"].backward()
    assert torch.isfinite(out["sem_logits"].grad).all() and (out["sem_logits"].grad == 0).all()
    assert torch.isfinite(out["embedding"].grad).all()


def test_end_epoch_passes_all_reduce():
    obj = ContMAVObjective(LossConfig(), K).train()
    obj(_outputs(), torch.tensor(TARGET))
    calls = []
    obj.end_epoch(all_reduce=calls.append)
    assert len(calls) == 3


def test_state_dict_carries_statistics():
    obj = ContMAVObjective(LossConfig(), K).train()
    obj(_outputs(), torch.tensor(TARGET))
    obj.end_epoch()
    sd = obj.state_dict()
    assert "stats.mean" in sd and "stats.valid" in sd
    fresh = ContMAVObjective(LossConfig(), K)
    fresh.load_state_dict(sd)
    assert torch.equal(fresh.stats.mean, obj.stats.mean)
    assert torch.equal(fresh.stats.valid, obj.stats.valid)
    res_a = obj.eval()(_outputs(4), torch.tensor(TARGET))
    res_b = fresh.eval()(_outputs(4), torch.tensor(TARGET))
    assert res_a["feat"].item() == pytest.approx(res_b["feat"].item())
    assert res_a["feat"].item() > 0


def test_statistics_terms_wait_for_the_warmup():
    torch.manual_seed(0)
    k = 3
    obj = ContMAVObjective(LossConfig(stats_warmup_epochs=2), k)
    logits = torch.randn(2, k, 4, 4, requires_grad=True)
    emb = torch.randn(2, k, 4, 4, requires_grad=True)
    target = logits.argmax(1).detach()  # every pixel a true positive: statistics for all classes
    outputs = {"sem_logits": logits, "embedding": emb}
    obj.train()
    obj(outputs, target)
    obj.end_epoch()
    early = obj(outputs, target)
    assert obj.stats.ready and int(obj.epochs_done) == 1
    assert early["feat"].item() == 0.0 and early["cont"].item() == 0.0
    assert early["feat"].requires_grad
    obj.end_epoch()
    late = obj(outputs, target)
    assert late["feat"].item() > 0.0 and late["cont"].item() > 0.0
    fresh = ContMAVObjective(LossConfig(stats_warmup_epochs=2), k)
    fresh.load_state_dict(obj.state_dict())
    assert int(fresh.epochs_done) == 2, "the warm-up counter travels in checkpoints"


def test_padding_takes_no_part_in_any_term():
    # Crop padding (PAD_INDEX) is neither a class nor void: changing the outputs there changes no
    # term, and no gradient reaches those pixels, in the first epoch and once statistics exist.
    from owslib.labels import PAD_INDEX

    target = torch.tensor(TARGET)
    padded = target.clone()
    padded[:, :, -1] = PAD_INDEX
    obj = ContMAVObjective(LossConfig(), K).train()
    for epoch in range(3):
        for seed in range(2):
            out = _outputs(seed + 10 * epoch, grad=True)
            res = obj(out, padded)
            res["loss"].backward()
            for key in ("sem_logits", "embedding"):
                assert (out[key].grad[:, :, :, -1] == 0).all(), (epoch, key)
            moved = {k: v.detach().clone() for k, v in out.items()}
            for v in moved.values():
                v[:, :, :, -1] += 5.0
            obj.eval()
            again = obj(moved, padded)
            obj.train()
            for name in res:
                assert again[name].item() == pytest.approx(res[name].item(), rel=1e-6), name
        obj.end_epoch()
    assert set(res) == {"loss", "sem", "feat", "cont", "obj"}
    assert res["feat"].item() > 0 and res["cont"].item() > 0  # the statistics terms were active
