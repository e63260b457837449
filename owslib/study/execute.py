"""Executing one notebook with papermill into ``results/`` (and free-form ``--grid`` files).

Each notebook declares its parameters in a cell tagged ``parameters``; :func:`execute` refuses a
parameter the notebook does not declare (papermill itself only warns), skips a notebook whose
executed copy already exists with the same parameters (unless ``force``), and writes the executed
copy atomically beside the run's outputs.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from owslib.config import SEP, load_profile, stale_keys
from owslib.io import atomic_path, atomic_write_json, read_json
from owslib.paths import NOTEBOOK_DIR, shown
from owslib.runs.supersede import move_aside
from owslib.study.kernel import resolve_config, run_dir_for

log = logging.getLogger(__name__)

#: The study's notebooks, in execution order (each name is also its results subfolder).
STUDY_NOTEBOOKS = ("00_data_prep", "01_baseline_contmav")
#: Parameters every study notebook declares besides flat config keys.
RUN_PARAMETERS = ("profile", "run_name", "results_dir", "config_overrides")


class ParameterError(ValueError):
    """A parameter the notebook does not declare, or a malformed value."""


def notebook_path(name: str, notebook_dir: Path = NOTEBOOK_DIR) -> Path:
    path = notebook_dir / f"{name}.ipynb"
    if not path.is_file():
        available = sorted(p.stem for p in notebook_dir.glob("*.ipynb"))
        raise FileNotFoundError(f"notebook {path} not found; available: {available}")
    return path


def declared_parameters(path: Path) -> dict[str, Any]:
    """The parameters a notebook declares (``papermill.inspect_notebook``)."""
    import papermill

    with _papermill_quiet():
        return papermill.inspect_notebook(str(path))


@contextlib.contextmanager
def _papermill_quiet(quiet: bool = True):
    """Papermill's INFO lines (input/output/temporary paths, on every inspection too) at WARNING:
    the study logs which notebook it executes and where, once."""
    logger = logging.getLogger("papermill")
    old = logger.level
    if quiet:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(old)


def check_parameters(path: Path, parameters: dict[str, Any]) -> None:
    """Raise :class:`ParameterError` naming every parameter ``path`` does not declare."""
    declared = declared_parameters(path)
    strangers = sorted(set(parameters) - set(declared))
    if strangers:
        raise ParameterError(
            f"{path.name} does not declare parameter(s) {strangers}; it declares {sorted(declared)}"
        )


def execute(
    name: str,
    parameters: dict[str, Any] | None = None,
    *,
    results_dir: str | Path = "results",
    force: bool = False,
    notebook_dir: Path = NOTEBOOK_DIR,
    log_output: bool = False,
    inputs: str | Callable[[], str] = "",
) -> Path:
    """Execute notebook ``name`` with ``parameters``; returns the executed copy's path. It is
    skipped when the copy exists from the same source notebook, parameters and ``inputs`` (a
    digest of what it reads, e.g. its runs; a callable is asked before and again after the execution,
    which may train runs) and the same training config."""
    import papermill

    params = {"results_dir": str(results_dir), **(parameters or {})}
    src = notebook_path(name, notebook_dir)
    check_parameters(src, params)
    out_dir = run_dir_for(name, params, results_dir)
    out_nb = out_dir / f"{name}.ipynb"
    stamp = out_dir / "parameters.json"
    cfg = resolve_config(params)
    changed = stale_keys(read_json(out_dir / "config.json"), cfg)
    import hashlib

    digest = inputs if callable(inputs) else (lambda: inputs)
    source_sha = hashlib.sha256(src.read_bytes()).hexdigest()
    # train_missing says how to execute, not what the copy shows: with every run there, both match
    shown = {k: v for k, v in params.items() if k not in EXECUTION_ONLY}
    stamp_value = _jsonable({"parameters": shown, "inputs": digest(), "source_sha256": source_sha})
    if not force and not changed and out_nb.exists() and read_json(stamp) == stamp_value:
        log.info("%s: already executed with these parameters (%s); skipping", name, out_nb)
        return out_nb
    if out_dir.exists() and (force or changed):
        # Work of another training config (or a forced redo) is neither resumed from nor deleted.
        move_aside(out_dir, Path(results_dir), "forced re-run" if force else changed)
    out_dir.mkdir(parents=True, exist_ok=True)
    log.info("%s: executing into %s", name, out_nb)
    with atomic_path(out_nb) as tmp, _inline_figures(), _papermill_quiet(not log_output):
        papermill.execute_notebook(
            str(src),
            str(tmp),
            parameters=params,
            kernel_name="python3",
            cwd=str(Path.cwd()),
            log_output=log_output,
            progress_bar=False,
            # the kernel's own start-up warning about unencrypted TCP (a kernel on this host's
            # loopback, its messages signed with a per-kernel key) is noise to a study's reader
            extra_arguments=["--IPKernelApp.log_level=ERROR"],
        )
        _relative_paths(tmp, src, out_nb, Path(results_dir))
    atomic_write_json(stamp, stamp_value | {"inputs": digest()})
    return out_nb


def _relative_paths(path: Path, src: Path, out_nb: Path, results_dir: Path) -> None:
    """papermill records where it read and wrote, as this machine's absolute paths: the rendered
    copy says the source relative to the repository and itself relative to its results folder's
    parent (``results/01_…/quick/01_….ipynb``), wherever they were on the rendering machine. The
    saved widget state is dropped: without it, nbconvert and other renderers without a kernel show
    each widget cell's static picture."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    here = Path(results_dir).resolve()
    meta = nb.metadata.get("papermill", {})
    meta.update(
        input_path=shown(src), output_path=str(Path(here.name) / out_nb.resolve().relative_to(here))
    )
    nb.metadata.pop("widgets", None)  # static renderers then show each widget's picture
    nbformat.write(nb, path)


#: The kernel's matplotlib backend: figures inline in the executed copy, whatever the caller's
#: ``MPLBACKEND`` (a headless shell or a cluster job often sets ``Agg``, which shows none).
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"
#: Notebook parameters that change how a notebook executes, not what its copy shows.
EXECUTION_ONLY = ("train_missing",)


@contextlib.contextmanager
def _inline_figures():
    old = os.environ.get("MPLBACKEND")
    os.environ["MPLBACKEND"] = INLINE_BACKEND
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("MPLBACKEND", None)
        else:
            os.environ["MPLBACKEND"] = old


def run_study(
    profile: str = "quick",
    *,
    notebooks: tuple[str, ...] = STUDY_NOTEBOOKS,
    parameters: dict[str, Any] | None = None,
    results_dir: str | Path = "results",
    force: bool = False,
) -> list[Path]:
    """Execute the study notebooks in order with the given profile; returns the executed copies."""
    load_profile(profile)  # fail fast on an unknown profile
    out = []
    for name in notebooks:
        out.append(
            execute(
                name,
                {"profile": profile, **(parameters or {})},
                results_dir=results_dir,
                force=force,
            )
        )
    return out


# -- grids (cluster array jobs) ---------------------------------------------------------------
def load_grid(path: str | Path) -> list[tuple[str, str, dict[str, Any]]]:
    """Expand a grid file into ``(notebook, run_name, parameters)`` jobs, in a stable order.

    The file is JSON: ``{"notebook": "01_baseline_contmav", "parameters": {…fixed…},
    "grid": {"train__lr": [0.001, 0.004], "train__seed": [0, 1]}}``; the cartesian product of the
    ``grid`` lists gives one job per combination, named after its values. Job ``i`` is what array
    task ``i`` runs (``--index $SLURM_ARRAY_TASK_ID`` / ``$PBS_ARRAY_INDEX``).
    """
    import itertools

    path = Path(path)
    try:
        spec = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ParameterError(f"{path}: cannot read grid JSON ({e})") from e
    unknown = set(spec) - {"notebook", "parameters", "grid"}
    if unknown or "notebook" not in spec:
        raise ParameterError(
            f"{path}: expected keys notebook, parameters, grid; got {sorted(spec)}"
        )
    grid = spec.get("grid", {})
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise ParameterError(f"{path}: grid entry {key!r} must be a non-empty list")
    fixed = spec.get("parameters", {})
    if "run_name" in grid:
        raise ParameterError(f"{path}: run_name cannot be a grid entry (names are derived)")
    keys = sorted(grid)
    jobs = []
    for combo in itertools.product(*(grid[k] for k in keys)):
        params = {**fixed, **dict(zip(keys, combo, strict=True))}
        name = "_".join(f"{k.split(SEP)[-1]}-{v}" for k, v in zip(keys, combo, strict=True))
        # a fixed run_name is a prefix: every combination still gets a folder of its own
        prefix = fixed.get("run_name", "")
        params["run_name"] = "_".join(p for p in (prefix, name) if p) or "grid"
        jobs.append((spec["notebook"], params["run_name"], params))
    return jobs


def _jsonable(d: dict[str, Any]) -> Any:
    return json.loads(json.dumps(d, sort_keys=True, default=str))
