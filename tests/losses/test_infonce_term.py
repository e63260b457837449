"""Tests for owslib.losses.infonce_term: sampling, the InfoNCE term with EMA prototypes, SynCo."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from owslib.config import LossConfig
from owslib.losses.infonce import prototype_info_nce, seed_info_nce, unknown_anchor_nce
from owslib.losses.infonce_term import (
    InfoNCETerm,
    parse_synco_counts,
    sample_pixels,
    sample_regions,
)
from owslib.losses.objective import TERMS, ContMAVObjective
from owslib.losses.synco import synthesize_hard_negatives
from owslib.models.outputs import EMBEDDING, SEM_LOGITS

K, D = 3, 3
COUNTS = {"interpolated": 2, "noise": 1, "adversarial": 1}


def _batch(seed: int = 0, b: int = 2, h: int = 6, w: int = 7, grad: bool = False):
    """Random features and a target with known classes, an unknown class (3), padding and void."""
    g = np.random.default_rng(seed)
    target = g.choice([0, 1, 2, 3, 254, 255], size=(b, h, w), p=[0.25, 0.2, 0.2, 0.1, 0.05, 0.2])
    feats = torch.tensor(g.normal(size=(b, D, h, w)), dtype=torch.float32, requires_grad=grad)
    return feats, torch.tensor(target)


def _indexed(target: torch.Tensor) -> torch.Tensor:
    """Features whose channel 0 is the pixel's flat index + 1: a sample tells where it came from."""
    b, h, w = target.shape
    idx = torch.arange(1, b * h * w + 1, dtype=torch.float32).reshape(b, 1, h, w)
    return torch.cat([idx, torch.ones(b, D - 1, h, w)], dim=1)


def _out(feats: torch.Tensor) -> dict[str, torch.Tensor]:
    return {EMBEDDING: feats, SEM_LOGITS: feats}


def _term(**kw) -> InfoNCETerm:
    kw = {"warmup_epochs": 0, "synco_warmup_epochs": 0, "samples": 8, "tau": 0.5} | kw
    return InfoNCETerm(K, D, **kw)


def _primed(batch=None, **kw) -> InfoNCETerm:
    """A term whose prototypes (and unknown prototype) were set by one seeded training batch."""
    feats, target = _batch(99) if batch is None else batch
    term = _term(**kw).train()
    torch.manual_seed(99)
    with torch.no_grad():
        term(_out(feats), target)
    assert bool(term.prototype_valid.any()) and term.unknown_prototype.norm() > 0
    return term


def _snapshot(term: InfoNCETerm):
    protos = term.prototypes.masked_fill(~term.prototype_valid.unsqueeze(1), 0.0).clone()
    return protos, term.unknown_prototype.clone()


# ---------------------------------------------------------------- sampling


@pytest.mark.parametrize("per_class", [1, 4, 1000])
def test_pixels_are_class_balanced_and_never_padding_or_unknown_classes(per_class):
    _, target = _batch(1)
    flat = target.flatten()
    torch.manual_seed(0)
    known, labels, unknown = sample_pixels(_indexed(target), target, K, per_class)
    where = known[:, 0].long() - 1
    assert torch.equal(flat[where], labels)  # each known sample is a pixel of its class
    assert (flat[unknown[:, 0].long() - 1] == 255).all()  # unknown samples are void pixels
    for c in range(K):
        assert (labels == c).sum() == min(per_class, int((flat == c).sum()))
    assert unknown.shape[0] == min(per_class, int((flat == 255).sum()))
    assert len(set(where.tolist())) == where.numel()  # no pixel twice


def test_pixel_sampling_is_seeded_and_skips_zero_norm_vectors():
    feats, target = _batch(2)
    feats[:, :, target[0] == 255] = 0.0  # objectosphere-style zero vectors on void of image 0
    feats[1][:, target[1] == 255] = 0.0
    torch.manual_seed(3)
    a = sample_pixels(feats, target, K, 3)
    torch.manual_seed(3)
    b = sample_pixels(feats, target, K, 3)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert a[2].shape[0] == 0 and a[0].shape[0] == 3 * K


def test_gradients_flow_to_sampled_pixels_only():
    feats, target = _batch(3, grad=True)
    known, _, unknown = sample_pixels(feats, target, K, 2)
    (known.sum() + unknown.sum()).backward()
    touched = (feats.grad != 0).any(dim=1)
    assert int(touched.sum()) == known.shape[0] + unknown.shape[0]


# Regions: class 0 at the left (6 px, 8-connected through a diagonal) and right (2 px); class 1 one
# pixel; void 3 px; padding and an unknown class (3) never form regions.
REGION_TARGET = torch.tensor(
    [
        [
            [0, 0, 254, 255, 255, 0],
            [0, 0, 3, 255, 254, 0],
            [254, 0, 0, 254, 1, 254],
        ]
    ]
)


def test_region_means_and_min_size():
    feats = torch.randn(1, D, 3, 6, requires_grad=True)
    torch.manual_seed(0)
    known, labels, unknown = sample_regions(feats, REGION_TARGET, K, 1, 10)
    t = REGION_TARGET[0]
    left = torch.zeros_like(t, dtype=torch.bool)
    left[:, :3] = t[:, :3] == 0
    right = (t == 0) & ~left
    expected = {
        (0, int(left.sum())): feats[0][:, left].mean(1),
        (0, int(right.sum())): feats[0][:, right].mean(1),
        (1, 1): feats[0][:, t == 1].mean(1),
    }
    assert sorted(labels.tolist()) == [0, 0, 1]
    for z in known:
        assert any(torch.allclose(z, e) for e in expected.values())
    assert unknown.shape[0] == 1 and torch.allclose(unknown[0], feats[0][:, t == 255].mean(1))
    # min_size 3 keeps the left class-0 region and the void region only
    known, labels, unknown = sample_regions(feats, REGION_TARGET, K, 3, 10)
    assert labels.tolist() == [0] and torch.allclose(known[0], expected[(0, 6)])
    assert unknown.shape[0] == 1
    # gradients: every pixel of a region gets 1/size
    known[0].sum().backward()
    assert torch.allclose(feats.grad[0, 0][left], torch.full((6,), 1 / 6))
    assert int((feats.grad != 0).any(1).sum()) == 6


def test_regions_at_most_per_class_and_seeded():
    feats, target = _batch(4, b=2, h=12, w=12)
    torch.manual_seed(1)
    a = sample_regions(feats, target, K, 1, 2)
    torch.manual_seed(1)
    b = sample_regions(feats, target, K, 1, 2)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert torch.bincount(a[1], minlength=K).tolist() == [2] * K and a[2].shape[0] == 2


# ---------------------------------------------------------------- the term


def test_zero_during_warmup_but_prototypes_update():
    feats, target = _batch(5, grad=True)
    term = _term(warmup_epochs=1).train()
    term.set_epoch(0)
    out = term(_out(feats), target)
    assert out["infonce"].item() == 0.0 and out["infonce"].requires_grad
    out["infonce"].backward()
    assert feats.grad is not None and torch.isfinite(feats.grad).all()
    assert term.prototype_valid.all() and term.unknown_prototype.norm() > 0
    assert out["n_known"].item() > 0 and out["synthetic_hardest_share"].item() == 0.0


def test_zero_when_nothing_to_compute():
    feats, target = _batch(6, grad=True)
    # no valid prototype yet
    out = _term().eval()(_out(feats), target)["infonce"]
    assert out.item() == 0.0 and out.requires_grad
    # only void: no known anchor
    out = _primed()(_out(feats), torch.full_like(target, 255))["infonce"]
    assert out.item() == 0.0 and out.requires_grad
    out.backward()
    # seed form without void
    no_void = target.masked_fill(target == 255, 254)
    out = _primed(form="seed")(_out(feats), no_void)["infonce"]
    assert out.item() == 0.0 and math.isfinite(out.item())


def test_prototype_form_equals_prototype_info_nce_on_the_same_samples():
    feats, target = _batch(7, grad=True)
    term = _primed()
    protos, _ = _snapshot(term)
    torch.manual_seed(5)
    out = term(_out(feats), target)
    torch.manual_seed(5)
    kz, kl, uz = sample_pixels(feats, target, K, 8)
    expected = prototype_info_nce(kz, kl, protos, uz, tau=0.5)
    assert out["infonce"].item() == pytest.approx(expected.item(), rel=1e-6)
    assert out["n_known"].item() == kz.shape[0] and out["n_unknown"].item() == uz.shape[0]
    assert out["hardest_similarity"].item() != 0.0
    out["infonce"].backward()
    void_grad = feats.grad.permute(0, 2, 3, 1)[target == 255]
    assert void_grad.abs().sum() > 0  # unknowns as negatives are pushed away from the anchors


def test_prototype_form_without_void_keeps_the_prototype_negatives():
    # Not zero: the other prototypes remain negatives (a batch without void is still informative).
    feats, target = _batch(7)
    no_void = target.masked_fill(target == 255, 254)
    term = _primed()
    protos, _ = _snapshot(term)
    torch.manual_seed(5)
    out = term(_out(feats), no_void)
    torch.manual_seed(5)
    kz, kl, _ = sample_pixels(feats, no_void, K, 8)
    assert out["n_unknown"].item() == 0
    expected = prototype_info_nce(kz, kl, protos, tau=0.5).item()
    assert out["infonce"].item() == pytest.approx(expected, rel=1e-6) and expected > 0


def test_hand_computed_unknowns_only_in_denominators():
    # z_0 = (2, 0) class 0, z_1 = (0, −.5) class 1, void u = (1, 1); p_0 = (3, 0), p_1 = (0, .2);
    # τ = .5. The unknown u only enters the denominators.
    feats = torch.tensor([[[[2.0, 0.0, 1.0]], [[0.0, -0.5, 1.0]]]])
    target = torch.tensor([[[0, 1, 255]]])
    term = InfoNCETerm(2, 2, warmup_epochs=0, tau=0.5).eval()
    term.prototypes.copy_(torch.tensor([[3.0, 0.0], [0.0, 0.2]]))
    term.prototype_valid.fill_(True)
    term.unknown_prototype.copy_(torch.tensor([1.0, 1.0]))  # unused without SynCo
    r2 = math.sqrt(2.0)
    loss_0 = math.log(math.exp(2) + 1 + math.exp(r2)) - 2
    loss_1 = math.log(1 + math.exp(-2) + math.exp(-r2)) + 2
    out = term(_out(feats), target)
    assert out["infonce"].item() == pytest.approx((loss_0 + loss_1) / 2, rel=1e-6)


def test_seed_form_equals_seed_info_nce():
    feats, target = _batch(8)
    term = _primed(form="seed")
    torch.manual_seed(2)
    value = term(_out(feats), target)["infonce"]
    torch.manual_seed(2)
    kz, _, uz = sample_pixels(feats, target, K, 8)
    assert value.item() == pytest.approx(seed_info_nce(kz, uz).item(), rel=1e-6)


def test_prototypes_are_ema_of_normalised_class_means_in_training_only():
    feats, target = _batch(9)
    term = _term(momentum=0.75).train()
    torch.manual_seed(0)
    term(_out(feats), target)
    torch.manual_seed(0)
    kz, kl, uz = sample_pixels(feats, target, K, 8)
    z = torch.nn.functional.normalize(kz, dim=1)
    first = torch.stack([z[kl == c].mean(0) for c in range(K)])
    assert torch.allclose(term.prototypes, first, atol=1e-6)
    unk = torch.nn.functional.normalize(uz, dim=1).mean(0)
    assert torch.allclose(term.unknown_prototype, unk, atol=1e-6)
    torch.manual_seed(1)
    term(_out(feats), target)
    torch.manual_seed(1)
    kz, kl, _ = sample_pixels(feats, target, K, 8)
    z = torch.nn.functional.normalize(kz, dim=1)
    second = torch.stack([z[kl == c].mean(0) for c in range(K)])
    assert torch.allclose(term.prototypes, 0.75 * first + 0.25 * second, atol=1e-6)
    before = term.prototypes.clone()
    term.eval()(_out(feats * 2 + 1), target)
    assert torch.equal(term.prototypes, before)


def _synco_batch():
    """Class 0 near +e0, class 1 near −e0, void near (.5, 1, 0): the unknowns are the hardest real
    negatives of every anchor, and interpolations towards the anchor are harder still."""
    g = np.random.default_rng(0)
    target = torch.tensor(g.choice([0, 1, 255], size=(1, 6, 6)))
    centre = {0: [1.0, 0, 0], 1: [-1.0, 0, 0], 255: [0.5, 1.0, 0]}
    base = np.array([centre[int(v)] for v in target.flatten()]).T.reshape(1, D, 6, 6)
    feats = torch.tensor(base + 0.05 * g.normal(size=base.shape), dtype=torch.float32)
    return feats.requires_grad_(), target


@pytest.mark.parametrize("direction", ["known_anchors", "unknown_anchors", "both"])
def test_synco_is_off_until_its_warmup_has_passed(direction):
    feats, target = _synco_batch()
    base = _primed((feats, target))
    synco = _primed((feats, target), synco_direction=direction, synco_counts=COUNTS)
    for term in (base, synco):
        term.warmup_epochs, term.synco_warmup_epochs = 1, 2
        term.set_epoch(2)
    torch.manual_seed(0)
    a = base(_out(feats), target)
    torch.manual_seed(0)
    b = synco(_out(feats), target)
    assert a["infonce"].item() == b["infonce"].item() and b["synthetic_hardest_share"] == 0
    synco.set_epoch(3)
    c = synco(_out(feats), target)
    assert c["infonce"].item() != a["infonce"].item()
    assert c["synthetic_hardest_share"].item() > 0.5


def test_known_anchors_get_per_anchor_synthetic_negatives():
    feats, target = _synco_batch()
    term = _primed(
        (feats, target), synco_direction="known_anchors", synco_counts=COUNTS, synco_n_hard=4
    )
    protos, _ = _snapshot(term)
    torch.manual_seed(4)
    out = term(_out(feats), target)
    torch.manual_seed(4)
    kz, kl, uz = sample_pixels(feats, target, K, 8)
    synth = synthesize_hard_negatives(kz, uz, n_hard=4, counts=COUNTS)
    neg = torch.cat([uz.unsqueeze(0).expand(kz.shape[0], -1, -1), synth], dim=1)
    expected = prototype_info_nce(kz, kl, protos, neg, tau=0.5)
    assert out["infonce"].item() == pytest.approx(expected.item(), rel=1e-6)
    assert out["synthetic_hardest_share"].item() == 1.0
    out["infonce"].backward()


@pytest.mark.parametrize("direction", ["unknown_anchors", "both"])
def test_unknown_anchor_part_is_averaged_in(direction):
    feats, target = _synco_batch()
    term = _primed((feats, target), synco_direction=direction, synco_counts=COUNTS, synco_n_hard=4)
    protos, unk = _snapshot(term)
    torch.manual_seed(6)
    out = term(_out(feats), target)
    torch.manual_seed(6)
    kz, kl, uz = sample_pixels(feats, target, K, 8)
    neg = uz
    if direction == "both":  # the known direction draws first
        synth = synthesize_hard_negatives(kz, uz, n_hard=4, counts=COUNTS)
        neg = torch.cat([uz.unsqueeze(0).expand(kz.shape[0], -1, -1), synth], dim=1)
    known_part = prototype_info_nce(kz, kl, protos, neg, tau=0.5)
    synth_u = synthesize_hard_negatives(uz, kz, n_hard=4, counts=COUNTS)
    unknown_part = unknown_anchor_nce(uz, protos, unk, synth_u, tau=0.5)
    expected = (known_part + unknown_part) / 2
    assert out["infonce"].item() == pytest.approx(expected.item(), rel=1e-6)
    assert out["synthetic_hardest_share"].item() > 0


def test_region_level_term_runs_and_backpropagates():
    feats, target = _batch(10, h=10, w=10, grad=True)
    term = _primed(level="region", min_region=2)
    out = term(_out(feats), target)
    assert out["infonce"].item() > 0
    out["infonce"].backward()
    assert feats.grad.abs().sum() > 0


def test_buffers_round_trip_through_state_dict():
    term = _primed(synco_direction="both", synco_counts=COUNTS)
    state = term.state_dict()
    assert {"prototypes", "prototype_valid", "unknown_prototype"} <= set(state)
    fresh = _term(synco_direction="both", synco_counts=COUNTS)
    fresh.load_state_dict(state)
    for name in ("prototypes", "prototype_valid", "unknown_prototype"):
        assert torch.equal(getattr(fresh, name), getattr(term, name))


def test_wrong_feature_size_names_the_output():
    feats, target = _batch(0)
    with pytest.raises(ValueError, match="embedding"):
        InfoNCETerm(K, 5)(_out(feats), target)


# ---------------------------------------------------------------- objective and config


def _cfg(**kw) -> LossConfig:
    base = {"w_infonce": 0.5, "w_feat": 0.0, "w_cont": 0.0, "infonce_samples": 8}
    return LossConfig(**(base | kw))


def test_objective_builds_the_term_and_logs_its_parts():
    assert TERMS["infonce"].weight(LossConfig(w_infonce=0.25)) == 0.25
    assert "infonce" not in ContMAVObjective(LossConfig(), K).terms  # off by default
    obj = ContMAVObjective(_cfg(synco_direction="known_anchors"), K).train()
    assert isinstance(obj.terms["infonce"], InfoNCETerm)
    feats, target = _batch(11, grad=True)
    res = obj(_out(feats), target)  # epoch 0: warm-up, zero but logged
    assert res["infonce"].item() == 0.0 and "infonce_synthetic_hardest_share" in res
    obj.end_epoch()
    res = obj(_out(feats), target)
    assert res["infonce"].item() > 0 and {"infonce_n_known", "infonce_n_unknown"} <= set(res)
    res["loss"].backward()


def test_resume_gives_the_same_losses():
    cfg = _cfg(stats_warmup_epochs=0, synco_warmup_epochs=0, synco_direction="both")
    batches = [_batch(20 + i) for i in range(3)]
    torch.manual_seed(0)
    full = ContMAVObjective(cfg, K).train()
    expected = [full(_out(f), t)["loss"].item() for f, t in batches]
    torch.manual_seed(0)
    first = ContMAVObjective(cfg, K).train()
    first(_out(batches[0][0]), batches[0][1])
    state, rng = first.state_dict(), torch.get_rng_state()
    torch.manual_seed(123)  # a restart: the RNG state comes from the checkpoint
    resumed = ContMAVObjective(cfg, K).train()
    resumed.load_state_dict(state)
    torch.set_rng_state(rng)
    got = [resumed(_out(f), t)["loss"].item() for f, t in batches[1:]]
    assert got == expected[1:]
    assert expected[2] != expected[1]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("infonce_level", "image"),
        ("infonce_form", "student"),
        ("infonce_space", "logits"),
        ("synco_direction", "sideways"),
        ("infonce_tau", 0.0),
        ("infonce_samples", 0),
        ("infonce_momentum", 1.0),
        ("synco_n_hard", 0),
        ("synco_counts", "interpolated:two"),
        ("synco_counts", "warped:2"),
        ("synco_counts", "noise:1,noise:2"),
    ],
)
def test_bad_config_values_name_the_key(field, value):
    with pytest.raises(ValueError, match=f"loss__{field}"):
        InfoNCETerm.from_config(_cfg(**{field: value}), K)


def test_seed_form_refuses_synco():
    with pytest.raises(ValueError, match="loss__synco_direction"):
        InfoNCETerm.from_config(_cfg(infonce_form="seed", synco_direction="both"), K)


def test_parse_synco_counts():
    assert parse_synco_counts(" interpolated:2, mixup:0 ,") == {"interpolated": 2, "mixup": 0}
    assert parse_synco_counts("") == {}
    assert set(parse_synco_counts(LossConfig().synco_counts)) == {
        "interpolated",
        "extrapolated",
        "mixup",
        "noise",
        "perturbed",
        "adversarial",
    }


def test_prototypes_are_the_same_on_every_ddp_rank(tmp_path, monkeypatch):
    """Two gloo ranks with different batches end each step with the prototypes one process gets
    from both batches together (ranks without unknown or known samples still take part)."""
    import importlib
    from pathlib import Path

    monkeypatch.syspath_prepend(str(Path(__file__).parent))  # spawned processes import the worker
    worker = importlib.import_module("infonce_ddp_worker")
    ctx = torch.multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [
        ctx.Process(target=worker.run, args=(r, str(tmp_path / "store"), queue)) for r in range(2)
    ]
    for p in procs:
        p.start()
    results = dict(queue.get(timeout=300) for _ in procs)  # spawning is slow on a loaded machine
    for p in procs:
        p.join(timeout=60)
    single = InfoNCETerm(worker.K, worker.D, momentum=0.5)
    for step, parts in enumerate(zip(*(worker.rank_steps(r) for r in range(2)), strict=True)):
        single._update(*(torch.cat(xs) for xs in zip(*parts, strict=True)))
        ref = worker.state(single)
        for key, value in ref.items():
            assert np.array_equal(results[0][step][key], results[1][step][key]), (step, key)
            assert np.allclose(results[0][step][key], value, atol=1e-6), (step, key)
    assert bool(ref["valid"].all())  # class 2 only on rank 0 is still every rank's prototype
