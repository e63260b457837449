import math

import pytest
import torch

from owslib.engine.checkpoint import load_checkpoint
from owslib.engine.experiment import build_experiment
from owslib.engine.loop import CHECKPOINT_NAME, fit
from owslib.evaluation.passes import evaluate


class Interrupt(Exception):
    pass


def _strip_times(history):
    return [{k: v for k, v in row.items() if k != "time_s"} for row in history]


def test_short_fit_lowers_the_loss(smoke_cfg, tmp_path):
    cfg = smoke_cfg.override(
        data__max_images=4,
        data__scale_max=1.0,
        data__hflip=False,
        data__color_jitter=False,
        train__epochs=15,
        train__lr=0.003,
        train__batch_size=2,  # 2 optimizer steps per epoch on the 4 images: 30 steps in all
        loss__stats_warmup_epochs=5,  # statistics of a near-uniform first epoch would pin the logits
    )
    exp = build_experiment(cfg)
    history = fit(exp, tmp_path)
    first, last = history[0]["train_sem"], history[-1]["train_sem"]
    assert math.isfinite(last)
    assert last < 0.7 * first, (first, last)
    assert (tmp_path / "history.csv").exists() and (tmp_path / "log.jsonl").exists()


def test_checkpoint_restores_model_and_class_statistics(smoke_cfg, tmp_path):
    exp = build_experiment(smoke_cfg)
    fit(exp, tmp_path)
    assert exp.objective.stats.valid.any(), "class statistics never filled"
    ck = load_checkpoint(tmp_path / CHECKPOINT_NAME)
    assert ck["epoch"] == smoke_cfg.train.epochs - 1
    fresh = build_experiment(smoke_cfg)
    assert not fresh.objective.stats.valid.any()
    fresh.bare_model.load_state_dict(ck["model"])
    fresh.objective.load_state_dict(ck["objective"])
    for name in ("mean", "var", "count", "valid"):
        assert torch.equal(getattr(fresh.objective.stats, name), getattr(exp.objective.stats, name))
    for (n, a), b in zip(
        exp.bare_model.state_dict().items(), fresh.bare_model.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), n


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {
            "loss__w_infonce": 0.5,
            "loss__synco_direction": "both",
            "loss__stats_warmup_epochs": 0,
            "loss__synco_warmup_epochs": 0,
        },
    ],
    ids=["contmav", "infonce_synco_both"],
)
def test_resumed_run_matches_uninterrupted_run(smoke_cfg, tmp_path, extra):
    cfg = smoke_cfg.override(train__epochs=3, **extra)
    full = build_experiment(cfg)
    fit(full, tmp_path / "full")
    ref = evaluate(full, full.test_loader, scorers=("fused",))

    def stop_after_first(epoch, row):
        if epoch == 0:
            raise Interrupt

    first = build_experiment(cfg)
    with pytest.raises(Interrupt):
        fit(first, tmp_path / "cut", on_epoch_end=stop_after_first)
    resumed = build_experiment(cfg)
    history = fit(resumed, tmp_path / "cut")
    assert len(history) == 3
    assert _strip_times(history) == _strip_times(full.history)
    if extra:  # the synthetic negatives were in play, not only the resumed RNG
        assert max(r["train_infonce_synthetic_hardest_share"] for r in full.history) > 0
    for (n, a), b in zip(
        full.bare_model.state_dict().items(), resumed.bare_model.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), n
    assert torch.equal(full.objective.stats.mean, resumed.objective.stats.mean)
    got = evaluate(resumed, resumed.test_loader, scorers=("fused",))
    assert got["miou"] == ref["miou"]
    assert got["anomaly"] == ref["anomaly"]


def test_finished_run_is_reused(smoke_cfg, tmp_path):
    exp = build_experiment(smoke_cfg)
    fit(exp, tmp_path)
    mtime = (tmp_path / CHECKPOINT_NAME).stat().st_mtime_ns
    again = build_experiment(smoke_cfg)
    history = fit(again, tmp_path)
    assert len(history) == smoke_cfg.train.epochs
    assert (tmp_path / CHECKPOINT_NAME).stat().st_mtime_ns == mtime


def test_resume_with_another_config_names_the_difference(smoke_cfg, tmp_path):
    fit(build_experiment(smoke_cfg), tmp_path)
    other = build_experiment(smoke_cfg.override(train__lr=0.01))
    with pytest.raises(ValueError, match="train__lr"):
        fit(other, tmp_path)


def test_amp_clipping_and_accumulation(smoke_cfg, tmp_path):
    cfg = smoke_cfg.override(
        train__amp=True, train__grad_clip=1.0, train__accumulate=2, train__epochs=1
    )
    exp = build_experiment(cfg)
    n_batches = len(exp.train_loader)
    history = fit(exp, tmp_path)
    assert math.isfinite(history[0]["train_loss"])
    # one optimizer (and scheduler) step per two batches, the last partial group included
    assert exp.global_step == math.ceil(n_batches / 2)
    assert exp.scheduler.last_epoch == exp.global_step


def test_gradient_clipping_bounds_the_update(smoke_cfg, tmp_path, monkeypatch):
    seen = []
    real = torch.nn.utils.clip_grad_norm_

    def spy(params, max_norm, *a, **k):
        params = list(params)
        total = real(params, max_norm, *a, **k)
        after = torch.norm(torch.stack([p.grad.norm() for p in params if p.grad is not None]))
        seen.append((float(total), float(after), max_norm))
        return total

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", spy)
    exp = build_experiment(smoke_cfg.override(train__grad_clip=0.5, train__epochs=1))
    fit(exp, tmp_path)
    assert seen, "clipping was not applied"
    assert all(after <= max_norm * 1.001 for _, after, max_norm in seen)


def test_resume_accepts_changes_that_do_not_touch_training(smoke_cfg, tmp_path):
    fit(build_experiment(smoke_cfg.override(train__epochs=1)), tmp_path)
    cfg = smoke_cfg.override(train__epochs=1, eval__delta=0.5, train__log_every=5)
    history = fit(build_experiment(cfg), tmp_path)  # resumes (finished) instead of refusing
    assert len(history) == 1


def test_batch_of_one_is_refused_with_pyramid_pooling(smoke_cfg):
    with pytest.raises(ValueError, match="train__batch_size"):
        build_experiment(smoke_cfg.override(train__batch_size=1))


def test_epoch_seeds_differ_by_rank_and_repeat_by_epoch():
    from owslib.engine.loop import seed_epoch

    draws = {}
    for rank in (0, 1):
        seed_epoch(3, 2, rank)
        draws[rank] = torch.rand(4)
    seed_epoch(3, 2, 0)
    assert torch.equal(torch.rand(4), draws[0])
    assert not torch.equal(draws[0], draws[1])
