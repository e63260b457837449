"""The training-step losses run without host–device synchronisations, and their masked reductions
equal the boolean-mask formulas they replaced (feature, contrastive, objectosphere, statistics)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from owslib.labels import IGNORE_INDEX, PAD_INDEX
from owslib.losses import ClassStatistics, ContrastiveLoss, FeatureLoss, ObjectosphereLoss
from owslib.syncs import SyncCalls

K = 4


def _stats(device="cpu", valid=(True, True, False, True)) -> ClassStatistics:
    g = torch.Generator().manual_seed(1)
    stats = ClassStatistics(K).to(device)
    stats.mean.copy_(torch.randn(K, K, generator=g))
    stats.var.copy_(torch.rand(K, K, generator=g) + 0.1)
    stats.valid.copy_(torch.tensor(valid))
    return stats


def _batch(seed=0, b=3, h=5, w=7, device="cpu"):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, K, h, w, generator=g) * 1.5
    target = torch.randint(0, K + 2, (b, h, w), generator=g)  # K, K+1: unknown classes
    target[0, 0] = IGNORE_INDEX
    target[1, :, -1] = PAD_INDEX
    target[2] = IGNORE_INDEX  # an image without known pixels
    return x.to(device).requires_grad_(), target.to(device)


def _losses(stats):
    return {
        "feat_norm": FeatureLoss(stats, "norm_over_std"),
        "feat_l1": FeatureLoss(stats, "l1_over_var"),
        "cont_drop": ContrastiveLoss(stats, 0.1, "drop"),
        "cont_zero": ContrastiveLoss(stats, 0.1, "zero_mean"),
        "obj": ObjectosphereLoss(K, xi=1.5, unknown_scale=2.0),
    }


# -- the boolean-mask formulas the losses had before (the reference of the masked ones) --------
def _old_feature(stats, distance, logits, target, min_std=1e-3):
    mask = target < K
    if not stats.valid.any() or not mask.any():
        return logits.sum() * 0.0
    mask &= stats.valid[target.clamp(max=K - 1)]
    if not mask.any():
        return logits.sum() * 0.0
    feats, labels = logits.permute(0, 2, 3, 1)[mask].float(), target[mask]
    diff = feats - stats.mean[labels]
    if distance == "norm_over_std":
        return (diff / stats.std(min_std)[labels]).norm(dim=1).mean()
    per_pixel = (diff.abs() / stats.var[labels].clamp(min=min_std**2)).mean(dim=1)
    sums = per_pixel.new_zeros(K).index_add_(0, labels, per_pixel)
    counts = torch.bincount(labels, minlength=K)
    return (sums[counts > 0] / counts[counts > 0]).sum()


def _old_contrastive(stats, drop, embedding, target, tau=0.1):
    mask = target < K
    if not stats.valid.any() or not mask.any():
        return embedding.sum() * 0.0
    b = embedding.shape[0]
    e = F.normalize(embedding.float(), dim=1).flatten(2)  # (B, D, P)
    onehot = F.one_hot(torch.where(mask, target, K).flatten(1), K + 1)[..., :K].float()
    sums = torch.bmm(e, onehot).transpose(1, 2).reshape(b * K, -1)
    counts = onehot.sum(dim=1).reshape(b * K)
    classes = torch.arange(K).repeat(b)
    anchors = (counts > 0) & stats.valid[classes] if drop else counts > 0
    if not anchors.any():
        return embedding.sum() * 0.0
    fbar = sums[anchors] / counts[anchors].unsqueeze(1)
    logits = fbar @ F.normalize(stats.mean * stats.valid.unsqueeze(1), dim=1).T / tau
    if drop:
        logits = logits.masked_fill(~stats.valid, float("-inf"))
    per_anchor = F.cross_entropy(logits, classes[anchors], reduction="none")
    owner = torch.arange(b).repeat_interleave(K)[anchors]
    per_image = per_anchor.new_zeros(b).index_add_(0, owner, per_anchor)
    n = torch.bincount(owner, minlength=b)
    return (per_image[n > 0] / n[n > 0]).mean()


def _old_objectosphere(embedding, target, xi=1.5, unknown_scale=2.0):
    sq = embedding.float().square().sum(dim=1)
    known, void = target < K, target == IGNORE_INDEX
    loss = embedding.sum() * 0.0
    if known.any():
        loss = loss + (xi - sq[known]).clamp(min=0).mean()
    if void.any():
        loss = loss + unknown_scale * sq[void].mean()
    return loss


def _old(name, stats, x, target):
    if name.startswith("feat"):
        distance = "norm_over_std" if name == "feat_norm" else "l1_over_var"
        return _old_feature(stats, distance, x, target)
    if name.startswith("cont"):
        return _old_contrastive(stats, name == "cont_drop", x, target)
    return _old_objectosphere(x, target)


# -- no syncs ------------------------------------------------------------------------------------
def test_the_counter_sees_the_syncing_patterns():
    x = torch.randn(4)
    with SyncCalls() as c:
        if (x > 0).any():
            pass
        _ = x[x > 0]
        _ = x.sum().item()
        _ = torch.bincount(torch.tensor([0, 1]))
        _ = torch.where(x > 0, x, 0.0)  # three arguments: no sync
    assert c.calls == ["__bool__", "__getitem__", "item", "bincount"]


@pytest.mark.parametrize("case", ["batch", "all_ignored", "no_statistics"])
@pytest.mark.parametrize("name", ["feat_norm", "feat_l1", "cont_drop", "cont_zero", "obj"])
def test_losses_do_not_sync(name, case):
    stats = _stats(valid=(False,) * K if case == "no_statistics" else (True, True, False, True))
    x, target = _batch()
    if case == "all_ignored":
        target = torch.full_like(target, IGNORE_INDEX)
    loss_fn = _losses(stats)[name]
    with SyncCalls() as c:
        loss = loss_fn(x, target)
        loss.backward()
    assert c.calls == [], f"{name}: host-device synchronisations {c.calls}"
    assert torch.isfinite(loss) and torch.isfinite(x.grad).all()


def test_statistics_update_and_end_epoch_do_not_sync():
    stats = ClassStatistics(K)
    x, target = _batch()
    with SyncCalls() as c:
        stats.update(x.detach(), target)
        stats.end_epoch()
    assert c.calls == []


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_losses_do_not_sync_on_cuda():
    stats = _stats("cuda")
    x, target = _batch(device="cuda")
    losses = _losses(stats)
    for fn in losses.values():  # a first call outside the check (lazy initialisation)
        fn(x, target).backward()
    stats.update(x.detach(), target)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for fn in losses.values():
            fn(x, target).backward()
        stats.update(x.detach(), target)
        stats.end_epoch()
    finally:
        torch.cuda.set_sync_debug_mode("default")


# -- equal to the formulas they replaced -----------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("valid", [(True, True, False, True), (True,) * K, (False,) * K])
@pytest.mark.parametrize("name", ["feat_norm", "feat_l1", "cont_drop", "cont_zero", "obj"])
def test_masked_reductions_equal_the_boolean_mask_formulas(name, valid, seed):
    stats = _stats(valid=valid)
    x, target = _batch(seed)
    new = _losses(stats)[name](x, target)
    (g_new,) = torch.autograd.grad(new, x)
    old = _old(name, stats, x, target)
    (g_old,) = torch.autograd.grad(old, x, allow_unused=True)
    assert new.item() == pytest.approx(old.item(), rel=1e-6, abs=1e-7)
    torch.testing.assert_close(
        g_new, torch.zeros_like(x) if g_old is None else g_old, rtol=1e-5, atol=1e-7
    )


@pytest.mark.parametrize("fill", [IGNORE_INDEX, K, PAD_INDEX])
@pytest.mark.parametrize("name", ["feat_norm", "feat_l1", "cont_drop", "cont_zero", "obj"])
def test_batches_without_counted_pixels_give_an_attached_zero(name, fill):
    if name == "obj" and fill == IGNORE_INDEX:
        pytest.skip("void pixels are the objectosphere's unknown term")
    x, target = _batch()
    loss = _losses(_stats())[name](x, torch.full_like(target, fill))
    assert loss.item() == 0.0 and loss.requires_grad
    loss.backward()
    assert (x.grad == 0).all()


def test_statistics_equal_the_boolean_mask_accumulation():
    new = ClassStatistics(K)
    sums = torch.zeros(K, K, dtype=torch.float64)
    sqsums, counts = torch.zeros_like(sums), torch.zeros(K, dtype=torch.float64)
    for seed in range(3):
        x, target = _batch(seed)
        x = x.detach()
        new.update(x, target)
        tp = (x.argmax(1) == target) & (target < K)
        feats, labels = x.permute(0, 2, 3, 1)[tp].double(), target[tp]
        sums.index_add_(0, labels, feats)
        sqsums.index_add_(0, labels, feats * feats)
        counts += torch.bincount(labels, minlength=K).double()
    torch.testing.assert_close(new.acc_sum, sums, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(new.acc_sqsum, sqsums, rtol=1e-12, atol=1e-12)
    assert torch.equal(new.acc_count, counts)


def test_the_whole_objective_steps_without_a_sync_and_keeps_its_epoch_on_load():
    """ContMAV's objective (weighted CE included) cold and warm: no host sync; the host copy of
    the finished epochs (the warm-up) comes back with a checkpoint's state."""
    from owslib.config import LossConfig
    from owslib.losses import ContMAVObjective
    from owslib.models.outputs import EMBEDDING, SEM_LOGITS

    objective = ContMAVObjective(LossConfig(), K, K, torch.rand(K) + 0.5)
    x, target = _batch()
    for epoch in range(2):
        outputs = {
            SEM_LOGITS: x.detach().clone().requires_grad_(),
            EMBEDDING: x.detach().clone().requires_grad_(),
        }
        with SyncCalls() as c:
            out = objective(outputs, target)
            out["loss"].backward()
        assert c.calls == [], f"epoch {epoch}: {c.calls}"
        objective.end_epoch()
    assert objective.warm
    again = ContMAVObjective(LossConfig(), K, K, torch.rand(K) + 0.5)
    assert not again.warm
    again.load_state_dict(objective.state_dict())
    assert again.warm and again._epochs_done == 2
    all_ignored = torch.full_like(target, IGNORE_INDEX)
    loss = objective.terms["sem"]({SEM_LOGITS: x.detach().requires_grad_()}, all_ignored)
    assert loss.item() == 0.0 and loss.requires_grad
