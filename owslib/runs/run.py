"""One function runs an experiment: build, fit, evaluate, write tables and figures, and ``run.json``.

Used by the notebooks, ``python -m owslib train`` and the study runner alike. A finished run (its
``run.json`` says ``finished`` and its training config is unchanged) is *reused*: its metrics and
figures are read back, and its model is loaded from the checkpoint when one is there (checkpoints
are not committed, so a fresh clone reuses metrics and figures only). An interrupted run resumes
from its last checkpoint.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import platform
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
import torch

from owslib import __version__, plots, report
from owslib.config import ExperimentConfig, stale_keys
from owslib.distributed import barrier, broadcast_state, init_distributed, main_value
from owslib.engine.autocast import cpu_info
from owslib.engine.experiment import build_experiment, cache_dir, check_data_root, prepare_data
from owslib.engine.loop import CHECKPOINT_NAME, fit, restore
from owslib.engine.pretrain import encoder_cache_path, encoder_cached, ensure_pretrained_encoder
from owslib.evaluation.anomaly_sets import evaluate_anomaly_sets, parse_anomaly_sets
from owslib.evaluation.embeddings import write_embedding_sample
from owslib.evaluation.passes import epoch_validation, evaluate
from owslib.inference.scorers import get_scorer
from owslib.io import atomic_write_json, read_json, sha256_file
from owslib.paths import resolve, shown
from owslib.report import metrics_tables, write_evaluation
from owslib.report.anomaly_set_records import write_anomaly_set_records
from owslib.report.explorer_record import RECORD_FILE, record_path, write_explorer_record
from owslib.runs.lock import input_lock, run_lock
from owslib.runs.setup import fingerprint, observed
from owslib.runs.supersede import move_aside

log = logging.getLogger(__name__)


RUN_FILE = "run.json"
#: Figures every finished run has, by name (all PNG, in the run folder).
FIGURES = (
    "training_curves",
    "pr_curves",
    "roc_curves",
    "per_class_iou",
    "qualitative",
    "scorers_side_by_side",
)


@dataclass
class RunResult:
    """A finished run: its folder, config, metrics, tables, history and (when loaded) experiment."""

    run_dir: Path
    cfg: ExperimentConfig
    metrics: dict[str, Any]
    tables: dict[str, pd.DataFrame]
    history: list[dict[str, Any]]
    info: dict[str, Any]
    exp: Any = None  # the Experiment, when trained here or loaded from a checkpoint
    reused: bool = False
    figures: dict[str, Path] = field(default_factory=dict)


def read_run_info(run_dir: str | Path) -> dict[str, Any] | None:
    return read_json(Path(run_dir) / RUN_FILE)


def is_finished(run_dir: str | Path, cfg: ExperimentConfig) -> bool:
    """Whether ``run_dir`` holds a finished run of ``cfg``'s training config."""
    info = read_run_info(run_dir)
    if not info or info.get("status") != "finished":
        return False
    try:
        saved = json.loads((Path(run_dir) / "config.json").read_text())
    except (OSError, json.JSONDecodeError):
        return False
    return not stale_keys(saved, cfg) and (Path(run_dir) / "metrics.json").is_file()


def run_experiment(
    cfg: ExperimentConfig,
    run_dir: str | Path,
    *,
    resume: bool = True,
    load_model: bool = True,
    extra_info: dict[str, Any] | None = None,
) -> RunResult:
    """Train and evaluate ``cfg`` into ``run_dir``, or reuse the finished run there.

    Writes ``config.json``, checkpoints, ``history.csv``/``log.jsonl``, ``metrics.json`` and its
    tables, per-image metrics, curves, anomaly maps, the explorer records of the test split and of
    each anomaly set, the figures of :data:`FIGURES` and
    ``run.json`` (status, wall seconds of training and evaluation, owslib version, git commit,
    host, device, the CPU (model, vector ISA, native bfloat16), and ``extra_info`` such as the
    variant and seed). A failed run is recorded as ``failed`` in ``run.json`` with its error, then
    the error is raised; an interrupted one (``KeyboardInterrupt``) as ``interrupted``, and it
    resumes next time. One process trains a run at a time (:mod:`owslib.runs.lock`): another
    one's run raises :class:`~owslib.runs.lock.RunBusyError` and is left alone.
    """
    run_dir = Path(run_dir)
    if resume and is_finished(run_dir, cfg):
        return _reuse(cfg, run_dir, load_model)
    # under DDP the main process alone locks the run, moves a stale run aside and writes
    # run.json; the others wait
    dist = init_distributed(torch.device("cuda" if torch.cuda.is_available() else "cpu"))
    main = dist.is_main
    with run_lock(run_dir) if main else contextlib.nullcontext():  # RunBusyError: another has it
        # finished by the process that held it? (the main process decides for every rank)
        if main_value(resume and is_finished(run_dir, cfg)):
            return _reuse(cfg, run_dir, load_model)
        info = {"status": "running", **(extra_info or {}), **_provenance()}
        if main:
            _supersede_if_stale(run_dir, cfg)
            run_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_json(run_dir / RUN_FILE, info)
        barrier()
        try:
            return _train_and_evaluate(cfg, run_dir, resume, info, dist.enabled)
        except BaseException as e:
            if main:  # interrupted (Ctrl-C, the runner's SIGTERM): it resumes from its checkpoint
                stopped = isinstance(e, KeyboardInterrupt)
                info |= {
                    "status": "interrupted" if stopped else "failed",
                    "error": f"{type(e).__name__}: {e}",
                }
                atomic_write_json(run_dir / RUN_FILE, info)
            raise


def _supersede_if_stale(run_dir: Path, cfg: ExperimentConfig) -> None:
    """A run of another training config is moved aside (never deleted, never resumed from)."""
    try:
        saved = json.loads((run_dir / "config.json").read_text())
    except (OSError, json.JSONDecodeError):
        return
    changed = stale_keys(saved, cfg)
    if changed:
        move_aside(run_dir, _results_root(run_dir), changed)


def _results_root(run_dir: Path) -> Path:
    """Where a stale run is moved aside: the results folder of a study run
    (``<results>/runs/<profile>/<variant>/seed<k>``), else the run's own parent folder (a run
    stays beside its folder, wherever a ``runs`` folder is in its path)."""
    run_dir = Path(run_dir)
    study_run = (
        run_dir.name.startswith("seed")
        and len(run_dir.parents) > 3
        and (run_dir.parents[2].name == "runs")
    )
    return run_dir.parents[3] if study_run else run_dir.parent


def _train_and_evaluate(
    cfg, run_dir: Path, resume: bool, info: dict[str, Any], distributed: bool = False
) -> RunResult:
    pretrain_s = _prepare_inputs(cfg, lock=not distributed)  # not this run's time
    if pretrain_s is not None:
        info["pretrain_s"] = pretrain_s
    t0 = time.perf_counter()
    encoder = None
    if cfg.model.pretrain_epochs > 0:  # which encoder the run started from, to compare setups
        encoder = ensure_pretrained_encoder(cfg, cache_dir())  # (another node: the main's bytes)
        info["encoder_sha256"] = sha256_file(encoder)
        expected = info.get("expected_encoder_sha256")
        if expected and info["encoder_sha256"] != expected:
            raise ValueError(
                f"the closed-set encoder {encoder} (sha256 {info['encoder_sha256'][:12]}) is not "
                f"the study's ({expected[:12]}): remove it from the cache so that the shipped "
                f"one is restored, or ship the study's encoder in results/encoders/"
            )
    info["setup"] = observed(cfg, info.get("encoder_sha256", ""), info.get("base_config"))
    info["fingerprint"] = fingerprint(info["setup"])
    if prepared := data_fingerprints(cfg):  # built datasets (CamVid, RoadAnomaly): their files
        info["data_sha256"] = prepared
    exp = build_experiment(cfg, encoder=encoder)
    trained_here: set[int] = set()
    history = fit(
        exp,
        run_dir,
        resume=resume,
        validate=epoch_validation,
        on_epoch_end=lambda epoch, _row: trained_here.add(epoch),
    )
    if exp.dist.enabled:  # DDP syncs BatchNorm buffers only at a forward: evaluate rank 0's model
        broadcast_state(exp.bare_model)
    t1 = time.perf_counter()
    result = evaluate(exp, exp.test_loader)  # every rank evaluates its shard; counts are summed
    # real anomalies of other datasets (unsharded: one process)
    anomaly_sets = evaluate_anomaly_sets(exp) if not exp.dist.enabled else {}
    if exp.cfg.eval.anomaly_sets and exp.dist.enabled:
        result["anomaly_sets"] = {"skipped": "not computed under DDP: evaluate in one process"}
    t2 = time.perf_counter()
    earlier = resumed_training_s(history, trained_here)  # resumed: earlier processes' epochs
    info |= {
        "device": str(exp.device),
        "train_s": round(t1 - t0 + earlier, 1),
        "eval_s": round(t2 - t1, 1),
    }
    if not exp.dist.is_main:
        return RunResult(run_dir, cfg, dict(result), {}, history, info, exp)
    for name, ev in anomaly_sets.items():  # each set's files in a folder of its own
        write_evaluation(run_dir / "anomaly_sets" / name, ev, name, cfg.data.split_preset)
        result.setdefault("anomaly_sets", {})[name] = dict(ev) | {"folder": f"anomaly_sets/{name}/"}
    write_anomaly_set_records(exp, run_dir)  # their explorer without a checkpoint (no number)
    tables = write_evaluation(run_dir, result, cfg.data.dataset, cfg.data.split_preset)
    figures = write_figures(exp, run_dir, history, tables)
    try:  # a view for notebook 04; a failure here does not undo a finished run
        write_embedding_sample(run_dir, exp, force=True)
    except (ValueError, RuntimeError) as e:
        log.warning("%s: no embedding sample (%s)", run_dir, e)
    info |= {"status": "finished", "figures_s": round(time.perf_counter() - t2, 1)}
    atomic_write_json(run_dir / RUN_FILE, info)
    log.info(
        "finished %s in %.0f s (train %.0f s%s, evaluate %.0f s)",
        run_dir,
        time.perf_counter() - t0 + earlier,
        info["train_s"],
        f" of which {earlier:.0f} s before it resumed" if earlier else "",
        info["eval_s"],
    )
    return RunResult(run_dir, cfg, dict(result), tables, history, info, exp, False, figures)


def data_fingerprints(cfg: ExperimentConfig) -> dict[str, str]:
    """``{dataset: sha256}`` of each dataset the run reads that owslib built (its ``manifest.json``
    lists every file with its sha256): the data's identity beside the setup's; empty for others."""
    roots = {cfg.data.dataset: resolve(cfg.data.root)} | parse_anomaly_sets(cfg.eval.anomaly_sets)
    out = {}
    for name, root in roots.items():
        manifest = read_json(root / "manifest.json")
        if manifest and "files" in manifest:
            files = json.dumps(manifest["files"], sort_keys=True).encode()
            out[name] = hashlib.sha256(files).hexdigest()
    return out


def resumed_training_s(history: list[dict[str, Any]], trained_here: set[int]) -> float:
    """Seconds of the epochs in ``history`` that an earlier process trained (those not in
    ``trained_here``): what a resumed run adds to this process's time. Their epochs' training
    time only: an earlier process's start-up and checkpoint writes are not recorded anywhere."""
    return sum(float(row.get("time_s", 0.0)) for row in history if row["epoch"] not in trained_here)


def _prepare_inputs(cfg: ExperimentConfig, lock: bool = True) -> float | None:
    """Generate the embedded dataset and pretrain the closed-set encoder that ``cfg`` needs where
    they are missing; the seconds of pretraining when this process pretrained, else None.

    With ``lock`` (a run of one process) one process at a time
    (:func:`~owslib.runs.lock.input_lock`): runs started at once (``--jobs``, array tasks) share
    these inputs. A DDP run passes False: its ranks synchronise in
    :func:`~owslib.engine.experiment.prepare_data` and the encoder's pretraining, and a main rank
    waiting on another job's lock would leave the others in a collective until it times out."""
    if lock and cfg.data.dataset == "embedded":
        root = check_data_root(cfg)
        with input_lock(root, f"the embedded dataset {shown(root)}"):
            prepare_data(cfg)
    if cfg.model.pretrain_epochs <= 0:
        return None
    encoder = encoder_cache_path(cfg, cache_dir())
    with (
        input_lock(encoder, f"the closed-set encoder {encoder.name}")
        if lock
        else (contextlib.nullcontext())
    ):
        t0 = time.perf_counter()
        if _pretrain_encoder(cfg):
            return round(time.perf_counter() - t0, 1)
    return None


def _pretrain_encoder(cfg: ExperimentConfig) -> bool:
    """Train the shared closed-set encoder of ``cfg`` if it is neither cached nor shipped with the
    results (see :func:`owslib.engine.pretrain.encoder_cached`); True if it ran."""
    if cfg.model.pretrain_epochs <= 0 or encoder_cached(cfg, cache_dir()):
        return False  # (a DDP rank whose node lacks the file gets it in ensure_pretrained_encoder)
    if cfg.model.pretrained_path:
        raise ValueError("model__pretrain_epochs and model__pretrained_path exclude each other")
    check_data_root(cfg)  # a bad root is named before a long pretraining is announced
    ensure_pretrained_encoder(cfg, cache_dir())
    return True


def write_figures(exp, run_dir: Path, history, tables) -> dict[str, Path]:
    """The run's figures as PNG files: training curves, per-class IoU, qualitative examples and
    every scorer side by side (the PR/ROC curves come with the evaluation files)."""
    out = {
        n: run_dir / f"{n}.png"
        for n in ("pr_curves", "roc_curves")
        if (run_dir / f"{n}.png").exists()
    }

    warmup = exp.cfg.loss.stats_warmup_epochs if exp.objective.needs_stats else None
    figs = {"training_curves": plots.training_curves(history, warmup_epochs=warmup)}
    if "per_class" in tables:
        figs["per_class_iou"] = plots.per_class_iou(tables["per_class"])
    ds = exp.test_loader.dataset
    examples = report.collect_examples(exp, ds, exp.cfg.eval.n_examples)
    if examples:
        k = exp.split.num_known
        names = (*exp.split.known_names, *exp.split.unknown_names)
        score = examples[0]["score_name"]
        figs["qualitative"] = plots.qualitative_panel(
            examples,
            exp.split.palette,
            class_names=names,
            value_range=get_scorer(score).range(k) or (0.0, 1.0),
        )
        write_explorer_record(run_dir / RECORD_FILE, examples)  # the explorer without a checkpoint
        ex = examples[0]
        ranges = {s: get_scorer(s).range(k) for s in ex["maps"]}
        figs["scorers_side_by_side"] = plots.map_grid(
            ex["image"], ex["maps"], unknown_mask=ex["unknown_mask"], ranges=ranges
        )
    for name, fig in figs.items():
        out[name] = plots.save_figure(fig, run_dir / f"{name}.png", dpi=90)
        plt.close(fig)
    return out


def _reuse(cfg: ExperimentConfig, run_dir: Path, load_model: bool) -> RunResult:
    metrics = json.loads((run_dir / "metrics.json").read_text())
    tables = metrics_tables(metrics, cfg.data.dataset, cfg.data.split_preset)
    history_csv = run_dir / "history.csv"
    history = pd.read_csv(history_csv).to_dict("records") if history_csv.exists() else []
    figures = {n: run_dir / f"{n}.png" for n in FIGURES if (run_dir / f"{n}.png").exists()}
    exp = None
    if load_model and (run_dir / CHECKPOINT_NAME).exists():
        exp = build_experiment(cfg)
        restore(exp, run_dir / CHECKPOINT_NAME)

    log.info(
        "reusing the finished run in %s (%s)",
        shown(run_dir),
        "model loaded from its checkpoint" if exp else "metrics and figures only",
    )
    info = read_run_info(run_dir) or {}
    return RunResult(run_dir, cfg, metrics, tables, history, info, exp, True, figures)


def record_anomaly_sets(cfg: ExperimentConfig, run_dir: str | Path, *, force: bool = False) -> str:
    """Write the explorer records of a finished run's anomaly sets
    (:func:`~owslib.report.anomaly_set_records.write_anomaly_set_records`) from its checkpoint:
    nothing is trained or evaluated, no other file of the run is written. Returns one line saying
    what was done; a run that is not a finished run of ``cfg``, or has no anomaly set, is left
    alone, and so is one with its records unless ``force``. Raises FileNotFoundError naming the
    checkpoint when the records are to be written and the run has none."""
    run_dir = Path(run_dir)
    if not is_finished(run_dir, cfg):
        return "not a finished run of this config: left alone"
    sets = [
        n
        for n in parse_anomaly_sets(cfg.eval.anomaly_sets)
        if (run_dir / "anomaly_sets" / n).is_dir()
    ]
    if not sets:
        return "evaluated on no anomaly set: nothing to record"
    if not force and all(record_path(run_dir, n).is_file() for n in sets):
        return f"has the records of {', '.join(sets)}: left alone (--force writes them again)"
    if not (run_dir / CHECKPOINT_NAME).is_file():
        raise FileNotFoundError(
            f"{shown(run_dir)}: no checkpoint {CHECKPOINT_NAME}, so no explorer record of "
            f"{', '.join(sets)}: it needs the trained model (checkpoints are not committed); "
            "retrain the run to write them"
        )
    written = write_anomaly_set_records(_reuse(cfg, run_dir, load_model=True).exp, run_dir)
    if not written:
        return f"saved no anomaly maps of {', '.join(sets)} (eval__n_examples=0): nothing to record"
    return "wrote " + ", ".join(
        f"{shown(p)} ({p.stat().st_size / 1e3:.0f} kB)" for p in written.values()
    )


def _provenance() -> dict[str, Any]:
    try:
        commit = (
            subprocess.run(
                ["git", "rev-parse", "HEAD"],
                capture_output=True,
                text=True,
                timeout=10,
                cwd=Path(__file__).resolve().parent.parent,
            ).stdout.strip()
            or "unknown"
        )
    except (OSError, subprocess.SubprocessError):
        commit = "unknown"

    return {
        "owslib": __version__,
        "git_commit": commit,
        "host": platform.node(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        **cpu_info(),
    }
