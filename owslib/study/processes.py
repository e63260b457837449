"""The processes that train a study's runs: one run in this process (:func:`train_here`) or in a
process of its own started with the study's setup (:func:`train_in_setup`), its lines logged here;
SIGTERM handled as Ctrl-C, and stopping the runner stops the run processes it started.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

from owslib.runs.lock import RunBusyError
from owslib.runs.run import read_run_info, run_experiment
from owslib.study.studyfile import RunJob, Study, base_config

log = logging.getLogger(__name__)

#: Exit status of ``study --run`` when another process is training that run.
BUSY_EXIT = 3
#: How long a run process may take to stop after SIGTERM before it is killed.
STOP_GRACE_S = 30.0
_children: set[subprocess.Popen] = set()
_children_lock = threading.Lock()
_stopping = threading.Event()


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """While the block runs in the main thread, SIGTERM (``kill``, a scheduler's time limit)
    stops this process as Ctrl-C does."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        if previous is not None:  # None: a handler set from C, which Python cannot restore
            signal.signal(signal.SIGTERM, previous)


def stop_children(grace_s: float = STOP_GRACE_S) -> None:
    """Stop every run process this process started and start no other, so that stopping the
    runner never leaves a run training on with nobody reading it: SIGTERM (each run keeps its
    last checkpoint and resumes next time), then SIGKILL for one still running after
    ``grace_s``."""
    with _children_lock:
        _stopping.set()
        procs = list(_children)
    for proc in procs:
        proc.terminate()
    deadline = time.monotonic() + grace_s
    for proc in procs:
        try:
            proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            log.warning(
                "run process %d did not stop within %.0f s of SIGTERM: killed", proc.pid, grace_s
            )
            proc.kill()


def allow_starts() -> None:
    """Let run processes start again (after :func:`stop_children`): a runner's first step."""
    _stopping.clear()


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def train_here(study: Study, job: RunJob, overrides: dict[str, Any]) -> str:
    info = {
        "variant": job.variant,
        "seed": job.seed,
        "profile": study.profile,
        "base_config": base_config(study, overrides),
    }
    if study.setup.encoder_sha256:
        info["expected_encoder_sha256"] = study.setup.encoder_sha256
    try:
        run_experiment(
            study.config(job.variant, job.seed, **overrides),
            job.path,
            load_model=False,
            extra_info=info,
        )
    except RunBusyError as e:
        log.warning("run %s: %s", job.label, e)
        return "busy"
    except Exception as e:  # recorded in run.json; the study goes on with the other runs
        log.error("run %s failed: %s: %s", job.label, type(e).__name__, e)
        return "failed"
    return "trained"


def run_command(study: Study, job: RunJob, overrides: dict[str, Any]) -> list[str]:
    """The command that trains ``job`` alone in a process of its own (``study --run``)."""
    # overrides as -p k=<json> through the CLI parser: the simplest route that works (JSON keeps
    # each value exact, and the child checks the keys as it checks a user's)
    params = [a for k, v in overrides.items() for a in ("-p", f"{k}={json.dumps(v)}")]
    return [
        sys.executable,
        "-m",
        "owslib",
        "study",
        "--study",
        str(study.path),
        "--results",
        str(job.path.parents[3]),
        "--profile",
        study.profile,
        "--run",
        f"{job.variant}/seed{job.seed}",
        "--train-only",
        "--rerun-failed",
        *params,
    ]


def train_in_setup(study: Study, job: RunJob, overrides: dict[str, Any]) -> str:
    """Train ``job`` in a process started with the setup's environment; its lines are logged
    here, prefixed with the run's name. Returns ``trained``, ``failed`` or ``busy``."""
    env = {**os.environ, **study.setup.environment(), "PYTHONUNBUFFERED": "1"}
    prefix = f"[{job.variant} s{job.seed}]"
    with _children_lock:
        if _stopping.is_set():
            raise KeyboardInterrupt("the study is stopping")
        proc = subprocess.Popen(
            run_command(study, job, overrides),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        _children.add(proc)
    try:
        with proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                log.info("%s %s", prefix, line.rstrip())
    finally:
        with _children_lock:
            _children.discard(proc)
    code = proc.returncode
    if code == BUSY_EXIT:
        return "busy"
    if code and (code < 0 or (read_run_info(job.path) or {}).get("status") == "interrupted"):
        log.warning(
            "run %s interrupted (exit %d); it resumes from its last checkpoint next time",
            job.label,
            code,
        )
        return "interrupted"
    if code != 0:
        log.error("run %s failed (exit %d): see %s", job.label, code, job.path / "run.json")
    return "trained" if code == 0 else "failed"
