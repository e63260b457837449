"""Tests for owslib.losses.class_stats: true-positive logit statistics (ContMAV Eqs. 3–4)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from owslib.losses import ClassStatistics

K = 3


def _batch(seed: int, b: int = 2, h: int = 2, w: int = 3):
    g = np.random.default_rng(seed)
    logits = g.normal(size=(b, K, h, w)) * 2.0
    target = g.integers(0, K, size=(b, h, w))
    target[0, 0, 0] = 255
    target[-1, -1, -1] = K  # an unknown class: never a true positive
    return logits, target


def _ref_stats(batches):
    """numpy mean / population variance of logit vectors over true-positive pixels, per class."""
    feats = {c: [] for c in range(K)}
    for logits, target in batches:
        b, _, h, w = logits.shape
        for i in range(b):
            for y in range(h):
                for x in range(w):
                    t = target[i, y, x]
                    z = logits[i, :, y, x]
                    if t < K and int(np.argmax(z)) == t:
                        feats[t].append(z)
    return {c: np.array(v) for c, v in feats.items() if v}


def _update(stats, logits, target):
    stats.update(torch.tensor(logits, dtype=torch.float32), torch.tensor(target))


def test_end_epoch_gives_tp_mean_and_variance():
    batches = [_batch(0), _batch(1), _batch(2)]
    ref = _ref_stats(batches)
    assert len(ref) == K, "the example should have true positives of every class"
    assert any(len(v) >= 2 for v in ref.values())
    stats = ClassStatistics(K)
    for logits, target in batches:
        _update(stats, logits, target)
    stats.end_epoch()
    for c, v in ref.items():
        np.testing.assert_allclose(stats.mean[c].numpy(), v.mean(axis=0), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(stats.var[c].numpy(), v.var(axis=0), rtol=1e-4, atol=1e-6)
        assert stats.count[c].item() == len(v)
    assert stats.valid.all() and stats.ready


def test_only_true_positives_count():
    # Pixel 0 is class 0 predicted as 0 (TP); pixel 1 is class 0 predicted as 1 (not a TP);
    # pixel 2 is void predicted as 2; pixel 3 is class 1 predicted as 1 (TP).
    logits = torch.tensor(
        [[3.0, 0.0, 0.0], [1.0, 5.0, 0.0], [0.0, 0.0, 9.0], [0.0, 2.0, 1.0]]
    ).T.reshape(1, K, 1, 4)
    target = torch.tensor([[[0, 0, 255, 1]]])
    stats = ClassStatistics(K)
    stats.update(logits, target)
    assert stats.acc_count.tolist() == [1.0, 1.0, 0.0]
    stats.end_epoch()
    assert stats.mean[0].tolist() == [3.0, 0.0, 0.0]
    assert stats.mean[1].tolist() == [0.0, 2.0, 1.0]
    assert stats.var[0].tolist() == [0.0, 0.0, 0.0]
    assert stats.valid.tolist() == [True, True, False]
    # Class 2 never had a true positive: initial statistics, not valid.
    assert stats.mean[2].tolist() == [0.0, 0.0, 0.0] and stats.var[2].tolist() == [1.0, 1.0, 1.0]


def test_statistics_are_per_epoch_and_classes_without_tps_keep_previous():
    stats = ClassStatistics(K)
    logits = torch.tensor([[4.0, 0.0, 1.0], [0.0, 0.0, 3.0]]).T.reshape(1, K, 1, 2)
    stats.update(logits, torch.tensor([[[0, 2]]]))
    stats.end_epoch()
    mean2, var2 = stats.mean[2].clone(), stats.var[2].clone()
    assert stats.mean[0].tolist() == [4.0, 0.0, 1.0]
    # Epoch 2 only sees class 0, with a different logit: class 0 is replaced (not averaged with
    # epoch 1), class 2 keeps epoch 1's values and stays valid.
    logits = torch.tensor([[6.0, 1.0, 1.0], [8.0, 1.0, 3.0]]).T.reshape(1, K, 1, 2)
    stats.update(logits, torch.tensor([[[0, 0]]]))
    stats.end_epoch()
    assert stats.mean[0].tolist() == [7.0, 1.0, 2.0]
    assert stats.var[0].tolist() == [1.0, 0.0, 1.0]
    assert stats.count[0].item() == 2
    assert torch.equal(stats.mean[2], mean2) and torch.equal(stats.var[2], var2)
    assert stats.count[2].item() == 1
    assert stats.valid.tolist() == [True, False, True]


def test_accumulators_reset_after_end_epoch():
    stats = ClassStatistics(K)
    _update(stats, *_batch(0))
    assert stats.acc_count.sum() > 0
    stats.end_epoch()
    assert (
        (stats.acc_sum == 0).all() and (stats.acc_sqsum == 0).all() and (stats.acc_count == 0).all()
    )
    # An epoch with no update changes nothing.
    before = {k: v.clone() for k, v in stats.state_dict().items()}
    stats.end_epoch()
    for k, v in stats.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_not_ready_before_first_epoch_end():
    stats = ClassStatistics(K)
    _update(stats, *_batch(0))
    assert not stats.ready and not stats.valid.any()


def test_all_reduce_is_applied_to_the_three_accumulators():
    stats = ClassStatistics(K)
    logits, target = _batch(0)
    _update(stats, logits, target)
    ref = _ref_stats([(logits, target)])
    seen = []

    def double(t):
        seen.append(t)
        t.mul_(2)

    stats.end_epoch(all_reduce=double)
    assert len(seen) == 3
    assert {id(t) for t in seen} == {id(stats.acc_sum), id(stats.acc_sqsum), id(stats.acc_count)}
    for c, v in ref.items():
        assert stats.count[c].item() == 2 * len(v)  # the reduced count is used
        np.testing.assert_allclose(stats.mean[c].numpy(), v.mean(axis=0), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(stats.var[c].numpy(), v.var(axis=0), rtol=1e-4, atol=1e-6)


def test_all_reduce_of_two_ranks_equals_one_process_seeing_both():
    (l0, t0), (l1, t1) = _batch(3), _batch(4)
    rank0, rank1, single = ClassStatistics(K), ClassStatistics(K), ClassStatistics(K)
    _update(rank0, l0, t0)
    _update(rank1, l1, t1)
    _update(single, l0, t0)
    _update(single, l1, t1)
    other = iter([rank1.acc_sum.clone(), rank1.acc_sqsum.clone(), rank1.acc_count.clone()])

    def sum_with_rank1(t):
        t.add_(next(other))

    rank0.end_epoch(all_reduce=sum_with_rank1)
    single.end_epoch()
    for name in ("mean", "var", "count", "valid"):
        assert torch.allclose(
            getattr(rank0, name).double(), getattr(single, name).double(), atol=1e-6
        ), name


def test_state_dict_round_trip_restores_statistics_and_accumulators():
    stats = ClassStatistics(K)
    _update(stats, *_batch(0))
    stats.end_epoch()
    _update(stats, *_batch(1))  # mid-epoch accumulators must survive too
    sd = stats.state_dict()
    assert set(sd) == {"mean", "var", "count", "valid", "acc_sum", "acc_sqsum", "acc_count"}
    fresh = ClassStatistics(K)
    fresh.load_state_dict(sd)
    for k, v in stats.state_dict().items():
        assert torch.equal(fresh.state_dict()[k], v), k
    assert fresh.ready
    # Both continue identically.
    stats.end_epoch()
    fresh.end_epoch()
    assert torch.equal(fresh.mean, stats.mean) and torch.equal(fresh.var, stats.var)


def test_to_dtype_and_device_moves_buffers():
    stats = ClassStatistics(K)
    _update(stats, *_batch(0))
    stats.end_epoch()
    mean = stats.mean.clone()
    stats64 = stats.to(torch.float64)
    assert stats64.mean.dtype == torch.float64 and stats64.var.dtype == torch.float64
    assert stats64.valid.dtype == torch.bool
    np.testing.assert_allclose(stats64.mean.numpy(), mean.numpy(), rtol=1e-7)
    # Still updates after the move.
    _update(stats64, *_batch(1))
    stats64.end_epoch()
    assert stats64.mean.dtype == torch.float64
    meta = ClassStatistics(K).to("meta")
    assert all(b.device.type == "meta" for b in meta.buffers())


def test_std_is_floored():
    stats = ClassStatistics(2, dim=2)
    stats.var.copy_(torch.tensor([[0.0, 4.0], [1e-10, 0.25]]))
    np.testing.assert_allclose(stats.std(1e-3).numpy(), [[1e-3, 2.0], [1e-3, 0.5]], rtol=1e-6)
    np.testing.assert_allclose(stats.std(0.6).numpy(), [[0.6, 2.0], [0.6, 0.6]], rtol=1e-6)


def test_separate_dim():
    stats = ClassStatistics(2, dim=4)
    assert stats.mean.shape == (2, 4) and stats.var.shape == (2, 4)
    assert stats.count.shape == (2,)


def test_update_does_not_track_gradients():
    logits = torch.tensor(_batch(0)[0], dtype=torch.float32, requires_grad=True)
    stats = ClassStatistics(K)
    stats.update(logits, torch.tensor(_batch(0)[1]))
    stats.end_epoch()
    assert not stats.mean.requires_grad and not stats.acc_sum.requires_grad


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
def test_update_accepts_other_logit_dtypes(dtype):
    logits, target = _batch(5)
    stats = ClassStatistics(K)
    stats.update(torch.tensor(logits).to(dtype), torch.tensor(target))
    stats.end_epoch()
    assert stats.ready and stats.mean.dtype == torch.float32


def test_drop_stale_classes_as_the_reference_code():
    # keep_stale=False: a class without true positives in the last epoch has no statistics.
    stats = ClassStatistics(K, keep_stale=False)
    logits = torch.tensor([[4.0, 0.0, 1.0], [0.0, 0.0, 3.0]]).T.reshape(1, K, 1, 2)
    stats.update(logits, torch.tensor([[[0, 2]]]))
    stats.end_epoch()
    assert stats.valid.tolist() == [True, False, True]
    logits = torch.tensor([[6.0, 1.0, 1.0], [8.0, 1.0, 3.0]]).T.reshape(1, K, 1, 2)
    stats.update(logits, torch.tensor([[[0, 0]]]))
    stats.end_epoch()
    assert stats.valid.tolist() == [True, False, False]
    assert stats.mean[0].tolist() == [7.0, 1.0, 2.0]
    assert stats.mean[2].tolist() == [0.0, 0.0, 0.0] and stats.count[2].item() == 0
