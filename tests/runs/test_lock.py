"""One process trains a run at a time; stopping the runner stops its run processes; an interrupted
run resumes instead of counting as failed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from owslib.runs.lock import RunBusyError, is_busy, lock_path, run_lock
from owslib.study import plan, processes
from owslib.study.plan import planned_runs, status, train_runs
from owslib.study.studyfile import load_study

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="runs are not locked on Windows")

STUDY = {
    "profile": "smoke",
    "seeds": [0, 1, 2],
    "variants": {"baseline": {"description": "b", "overrides": {}}},
    "notebooks": [{"name": "01_baseline_contmav", "variants": ["baseline"]}],
}


def _study(tmp_path: Path):
    path = tmp_path / "study.json"
    path.write_text(json.dumps(STUDY))
    return load_study(path)


def test_a_run_is_locked_by_one_holder_at_a_time(tmp_path):
    run = tmp_path / "runs" / "smoke" / "baseline" / "seed0"
    assert not is_busy(run) and not lock_path(run).exists()  # asking creates nothing
    with run_lock(run):
        assert is_busy(run)  # another open file: another holder
        with pytest.raises(
            RunBusyError,
            match=f"{run} is being trained by another process "
            f"\\(pid {os.getpid()} on .*, since .* UTC\\)",
        ):
            with run_lock(run):
                pass
        run.mkdir(parents=True)
        run.rename(tmp_path / "moved")  # moving the run aside keeps its lock: it is beside it
        assert is_busy(run)
    assert not is_busy(run)
    with run_lock(run):
        pass


def test_a_file_system_that_does_not_lock_runs_unlocked_with_one_warning(
    tmp_path, monkeypatch, caplog
):
    import errno

    from owslib.runs import lock

    def refuses(f, op):
        if op & lock.fcntl.LOCK_UN:
            return
        raise OSError(errno.ENOLCK, "No locks available")

    run = tmp_path / "runs" / "smoke" / "baseline" / "seed0"
    with run_lock(run):  # the real lock: held here
        monkeypatch.setattr(lock.fcntl, "flock", refuses)
        assert not is_busy(run)  # nothing can say it is busy: not busy
        with caplog.at_level("WARNING", logger="owslib.runs.lock"):
            with run_lock(run), run_lock(run):  # unlocked: nothing stops a second holder
                pass
    assert [r.getMessage() for r in caplog.records] == [
        f"{run.parent}: the file system does not lock files; runs there are not protected from "
        "being trained twice at once"
    ]


def test_a_killed_holder_leaves_no_lock(tmp_path):
    run = tmp_path / "seed0"
    code = (
        f"from owslib.runs.lock import run_lock\nwith run_lock({str(run)!r}):\n"
        "    print('held', flush=True)\n    import time; time.sleep(60)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    assert is_busy(run)
    holder.kill()  # SIGKILL: no cleanup runs
    holder.wait()
    assert not is_busy(run)


def test_a_busy_run_is_left_alone(tmp_path, monkeypatch):
    study = _study(tmp_path)
    first, second, _ = planned_runs(study, tmp_path / "results")
    second.path.mkdir(parents=True)
    (second.path / "run.json").write_text(json.dumps({"status": "running", "by": "other"}))
    trained = []

    def fake_run(cfg, path, **kw):
        trained.append(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / "run.json").write_text(json.dumps({"status": "finished", "train_s": 1.0}))

    monkeypatch.setattr(processes, "run_experiment", fake_run)
    with run_lock(second.path):  # another process trains seed 1
        out = train_runs(study, [first, second])
    assert out["trained"] == ["baseline seed 0"] and out["busy"] == ["baseline seed 1"]
    assert trained == [first.path]
    assert json.loads((second.path / "run.json").read_text())["by"] == "other"  # untouched


def test_run_experiment_refuses_a_run_another_process_trains(tmp_path, smoke_cfg):
    from owslib.runs.run import run_experiment

    run = tmp_path / "seed0"
    run.mkdir()
    (run / "run.json").write_text('{"status": "running"}')
    with run_lock(run), pytest.raises(RunBusyError, match="seed0 is being trained"):
        run_experiment(smoke_cfg, run)
    assert (run / "run.json").read_text() == '{"status": "running"}'


def test_runs_started_at_once_prepare_their_shared_inputs_one_at_a_time(
    tmp_path, smoke_cfg, monkeypatch
):
    """Two runs started together on a fresh machine (``--jobs 2``) once both generated the
    embedded dataset into one folder, and one removed the other's temporary file. A run waits
    while another process prepares the dataset or its encoder, then finds it ready."""
    import threading

    import owslib.runs.run as run_module
    from owslib.runs.lock import input_lock

    root = tmp_path / "data" / "embedded"
    root.mkdir(parents=True)  # (a root that is not the profile's default must exist)
    cfg = smoke_cfg.override(data__root=str(root), model__pretrain_epochs=0)
    manifest = root / "embedded.json"
    done: list[float | None] = []
    with input_lock(root, "the dataset (the test holds it)"):
        worker = threading.Thread(target=lambda: done.append(run_module._prepare_inputs(cfg)))
        worker.start()
        worker.join(timeout=1.0)
        assert worker.is_alive() and not any(root.iterdir())  # it waits: not a file written yet
        # a DDP rank does not lock (its ranks synchronise in prepare_data): it does not wait here
        assert run_module._prepare_inputs(cfg, lock=False) is None and not any(root.iterdir())
    worker.join(timeout=120)
    assert done == [None] and manifest.is_file()  # generated once the holder let go

    # the encoder: a run waits while another pretrains it, then finds it cached
    monkeypatch.setenv("OWSLIB_CACHE", str(tmp_path / "cache"))
    cfg = cfg.override(model__pretrain_epochs=1)
    cached: list[bool] = []  # what each pretraining call found

    def pretrain(c):
        cached.append(run_module.encoder_cache_path(c, run_module.cache_dir()).exists())
        return not cached[-1]

    monkeypatch.setattr(run_module, "_pretrain_encoder", pretrain)
    encoder = run_module.encoder_cache_path(cfg, run_module.cache_dir())
    with input_lock(encoder, "the encoder (the test pretrains it)"):
        worker = threading.Thread(target=lambda: done.append(run_module._prepare_inputs(cfg)))
        worker.start()
        worker.join(timeout=1.0)
        assert worker.is_alive() and cached == []
        encoder.write_bytes(b"pretrained by the holder")
    worker.join(timeout=60)
    assert cached == [True] and done[-1] is None  # it found the holder's encoder: no pretraining
    assert run_module._prepare_inputs(cfg.override(model__pretrain_epochs=2)) is not None  # a
    # missing encoder is pretrained, its seconds returned


def test_a_shared_input_in_a_folder_without_a_lock_file_is_prepared_unlocked(
    tmp_path, monkeypatch, caplog
):
    """A dataset on a read-only mount (or a folder of another user's) is read, never refused: no
    lock file can be made there, so it is prepared unlocked, with one warning per folder."""
    import errno

    from owslib.runs import lock

    def unwritable(path, *args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(path))

    monkeypatch.setattr(lock, "open", unwritable, raising=False)
    ran = []
    with caplog.at_level("WARNING", logger="owslib.runs.lock"):
        for _ in range(2):
            with lock.input_lock(tmp_path / "data" / "embedded", "the dataset"):
                ran.append(True)
    assert ran == [True, True]
    (warning,) = [r.getMessage() for r in caplog.records]
    assert "cannot write .embedded.lock there (Read-only file system)" in warning
    assert "the dataset is not protected from being prepared twice at once" in warning

    def full(path, *args, **kwargs):  # any other failure is an error
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(lock, "open", full, raising=False)
    with pytest.raises(OSError, match="No space left"):
        with lock.input_lock(tmp_path / "other", "x"):
            pass


def test_an_interrupted_run_resumes_rather_than_counting_as_failed(tmp_path, monkeypatch):
    import owslib.runs.run as run_module

    study = _study(tmp_path)
    job = planned_runs(study, tmp_path / "results")[0]

    def interrupted(cfg, run_dir, resume, info, distributed):
        raise KeyboardInterrupt

    monkeypatch.setattr(run_module, "_train_and_evaluate", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_module.run_experiment(study.config("baseline", 0), job.path)
    assert json.loads((job.path / "run.json").read_text())["status"] == "interrupted"
    assert status(study, job) == "partial"  # trained again (resumed) without --rerun-failed
    assert not is_busy(job.path)  # the lock went with the interruption


def test_a_resumed_run_records_the_training_time_of_every_process(
    smoke_root, tmp_path, monkeypatch, caplog
):
    import torch

    import owslib.runs.run as run_module
    from owslib.engine.loop import CHECKPOINT_NAME

    study = _study(tmp_path)
    job = planned_runs(study, tmp_path / "results")[0]
    cfg = study.config(
        "baseline", 0, data__root=str(smoke_root), train__epochs=2, model__pretrain_epochs=0
    )
    real_fit = run_module.fit

    def stopped_after_epoch_0(exp, run_dir, **kw):  # Ctrl-C once epoch 0 is checkpointed
        def stop(epoch, row):
            raise KeyboardInterrupt

        return real_fit(exp, run_dir, **{**kw, "on_epoch_end": stop})

    monkeypatch.setattr(run_module, "fit", stopped_after_epoch_0)
    with pytest.raises(KeyboardInterrupt):
        run_module.run_experiment(cfg, job.path)
    ckpt_path = job.path / CHECKPOINT_NAME
    ckpt = torch.load(ckpt_path, weights_only=True)
    assert [row["epoch"] for row in ckpt["history"]] == [0]
    ckpt["history"][0]["time_s"] = 1000.0  # the first process's epoch, made long enough to see
    torch.save(ckpt, ckpt_path)
    monkeypatch.setattr(run_module, "fit", real_fit)
    with caplog.at_level("INFO", logger="owslib.runs.run"):
        result = run_module.run_experiment(cfg, job.path)
    assert "of which 1000 s before it resumed" in caplog.text
    info = json.loads((job.path / "run.json").read_text())
    assert info["status"] == "finished" and [row["epoch"] for row in result.history] == [0, 1]
    # this process trained epoch 1 only; the record counts epoch 0's 1000 s too
    assert 1000.0 + result.history[1]["time_s"] <= info["train_s"] < 1000.0 + 600.0
    assert run_module.resumed_training_s(result.history, {0, 1}) == 0.0


RUNNER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from owslib.study import plan, processes
    from owslib.study.studyfile import load_study

    study_file, results, pids = sys.argv[1:]
    code = "import os, time; open({!r} + '/' + str(os.getpid()), 'w').close(); time.sleep(120)"
    processes.run_command = lambda study, job, overrides: [sys.executable, "-c", code.format(pids)]
    study = load_study(study_file)
    plan.train_runs(study, plan.planned_runs(study, results), jobs=2)
    """
)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in state  # a zombie has ended


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_sigterm_to_the_runner_stops_its_run_processes(tmp_path):
    _study(tmp_path)
    pids = tmp_path / "pids"
    pids.mkdir()
    runner = subprocess.Popen(
        [
            sys.executable,
            "-c",
            RUNNER,
            str(tmp_path / "study.json"),
            str(tmp_path / "results"),
            str(pids),
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while len(list(pids.iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    children = [int(p.name) for p in pids.iterdir()]
    assert len(children) == 2 and all(_alive(c) for c in children)  # two runs at a time (of 3)
    runner.send_signal(signal.SIGTERM)
    _, err = runner.communicate(timeout=30)
    assert runner.returncode != 0 and "KeyboardInterrupt" in err
    time.sleep(0.5)
    assert not [c for c in children if _alive(c)]
    assert len(list(pids.iterdir())) == 2  # the third, queued, never started


def _setup_job(tmp_path, monkeypatch, code: str):
    """The study's first job, its run process replaced by ``code``."""
    study = _study(tmp_path)
    job = planned_runs(study, tmp_path / "results")[0]
    monkeypatch.setattr(processes, "run_command", lambda *a: [sys.executable, "-c", code])
    return study, job


@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        ("raise SystemExit(0)", "trained"),
        ("raise SystemExit(1)", "failed"),
        ("raise SystemExit(3)", "busy"),  # study --run on a run another process trains
        ("import os, signal; os.kill(os.getpid(), signal.SIGTERM)", "interrupted"),
    ],
)
def test_a_run_process_exit_status_is_read_as_its_outcome(tmp_path, monkeypatch, code, outcome):
    study, job = _setup_job(tmp_path, monkeypatch, code)
    assert processes.train_in_setup(study, job, {}) == outcome


def test_study_run_exits_3_on_a_run_another_process_trains(tmp_path, monkeypatch):
    """Both checks: the runner's look at the lock, and the run's own attempt to take it."""
    from owslib.__main__ import main
    from owslib.study.processes import BUSY_EXIT

    _study(tmp_path)
    argv = [
        "study",
        "--study",
        str(tmp_path / "study.json"),
        "--results",
        str(tmp_path / "results"),
        "--run",
        "baseline/seed0",
    ]
    run = tmp_path / "results" / "runs" / "smoke" / "baseline" / "seed0"
    with run_lock(run):
        assert main(argv) == BUSY_EXIT
        monkeypatch.setattr(plan, "is_busy", lambda path: False)  # the run itself finds it locked
        assert main(argv) == BUSY_EXIT
    assert not run.exists()  # nothing written


def test_verify_says_when_the_retraining_did_not_finish(tmp_path, monkeypatch):
    from owslib.study import verify

    study = _study(tmp_path)
    job = planned_runs(study, tmp_path / "results")[0]
    job.path.mkdir(parents=True)
    (job.path / "run.json").write_text(json.dumps({"status": "finished"}))
    (job.path / "config.json").write_text("{}")
    monkeypatch.setattr(verify, "train_in_setup", lambda *a: "failed")
    assert verify.verify_run(study, tmp_path / "results", "baseline", 0) == (
        "baseline/seed0: the retraining failed (see the log above)"
    )
