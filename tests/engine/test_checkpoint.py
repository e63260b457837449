import random

import numpy as np
import pytest
import torch

from owslib.engine.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state


def test_round_trip_tensors_and_plain_data(tmp_path):
    path = tmp_path / "ck" / "last.pt"
    model = torch.nn.Linear(3, 2)
    save_checkpoint(path, epoch=4, model=model.state_dict(), history=[{"epoch": 0, "loss": 1.5}])
    ck = load_checkpoint(path)
    assert ck["epoch"] == 4
    assert ck["history"] == [{"epoch": 0, "loss": 1.5}]
    assert torch.equal(ck["model"]["weight"], model.weight.detach())
    assert not list(path.parent.glob(".*.tmp*")), "temporary file left behind"


def test_rng_state_restores_every_generator():
    torch.manual_seed(1)
    np.random.seed(1)
    random.seed(1)
    state = rng_state()
    a = (torch.rand(3), np.random.rand(3), random.random())
    torch.manual_seed(99)
    np.random.seed(99)
    random.seed(99)
    set_rng_state(state)
    b = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(a[0], b[0])
    assert np.array_equal(a[1], b[1])
    assert a[2] == b[2]


def test_missing_and_corrupt_files_name_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.pt"):
        load_checkpoint(tmp_path / "nothere.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="bad.pt"):
        load_checkpoint(bad)


class _Evil:
    pass


def test_weights_only_refuses_arbitrary_objects(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"version": 1, "payload": _Evil()}, path)
    with pytest.raises(ValueError, match="evil.pt"):
        load_checkpoint(path)


def test_interrupted_write_leaves_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    save_checkpoint(path, epoch=1)

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(RuntimeError):
        save_checkpoint(path, epoch=2)
    monkeypatch.undo()
    assert load_checkpoint(path)["epoch"] == 1
    assert not list(tmp_path.glob(".*.tmp*"))


def test_the_same_state_gives_the_same_bytes_under_any_name(tmp_path):
    state = {"model": {"w": torch.arange(4.0)}, "epoch": 3}
    save_checkpoint(tmp_path / "last.pt", **state)  # no random draw in between: same rng state
    save_checkpoint(tmp_path / "epoch_003.pt", **state)
    assert (tmp_path / "last.pt").read_bytes() == (tmp_path / "epoch_003.pt").read_bytes()


def test_a_file_that_is_not_a_checkpoint_is_one_line_without_unsafe_advice(tmp_path):
    import pickle

    import pytest

    from owslib.engine.checkpoint import load_checkpoint

    path = tmp_path / "notes.pt"
    path.write_bytes(pickle.dumps(object()))  # a pickle weights_only=True refuses
    with pytest.raises(ValueError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert message.startswith(f"{path}: not a readable owslib checkpoint")
    assert "\n" not in message and "weights_only" not in message
    path.write_text("plain text")
    with pytest.raises(ValueError, match="not a readable owslib checkpoint") as info:
        load_checkpoint(path)
    assert "\n" not in str(info.value)
