"""Atomic writes: all or nothing, with the permissions of a plainly written file."""

import os

import pytest

from owslib.io import atomic_path, atomic_torch_save, atomic_write_text


def test_atomic_write_replaces_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "a" / "out.txt"
    atomic_write_text(target, "one")
    atomic_write_text(target, "two")
    assert target.read_text() == "two"
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.txt"]


def test_a_failed_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_written_files_follow_the_umask_not_mkstemps_0600(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "shared.txt", "x")
    finally:
        os.umask(old)
    assert (tmp_path / "shared.txt").stat().st_mode & 0o777 == 0o644


def test_a_hard_link_put_in_place_keeps_its_source_permissions(tmp_path):
    src = tmp_path / "source.png"
    src.write_bytes(b"x")
    src.chmod(0o444)
    with atomic_path(tmp_path / "out" / "linked.png") as tmp:
        tmp.unlink()
        os.link(src, tmp)
    assert src.stat().st_mode & 0o777 == 0o444
    assert (tmp_path / "out" / "linked.png").samefile(src)


def test_torch_files_of_the_same_tensors_have_the_same_bytes_whatever_their_name(tmp_path):
    import hashlib

    import torch

    state = {"w": torch.arange(6.0).reshape(2, 3), "config": {"epochs": 3}}
    a, b = tmp_path / "a.pt", tmp_path / "sub" / "other_name.pt"
    atomic_torch_save(state, a)
    atomic_torch_save(state, b)
    assert hashlib.sha256(a.read_bytes()).digest() == hashlib.sha256(b.read_bytes()).digest()
    assert torch.equal(torch.load(b, weights_only=True)["w"], state["w"])
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a.pt", "other_name.pt", "sub"]
    state["w"][0, 0] = 1.0  # another tensor, other bytes
    atomic_torch_save(state, b)
    assert a.read_bytes() != b.read_bytes()
