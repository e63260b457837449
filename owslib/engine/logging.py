"""Run logs: JSON lines per logged step, a CSV of per-epoch history, and TensorBoard scalars."""

from __future__ import annotations

import csv
import io
import json
import logging
from pathlib import Path
from typing import Any

from owslib.io import atomic_write_text

log = logging.getLogger(__name__)


class RunLogger:
    """Writes ``log.jsonl`` (every record), ``history.csv`` (one row per epoch) and TensorBoard.

    Only the main process of a DDP run should log (``enabled=False`` elsewhere).
    """

    def __init__(self, run_dir: Path, *, enabled: bool = True, tensorboard: bool = True) -> None:
        self.run_dir = Path(run_dir)
        self.enabled = enabled
        self.history: list[dict[str, Any]] = []
        self._tb = None
        if enabled:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            if tensorboard:
                try:
                    from torch.utils.tensorboard import SummaryWriter

                    self._tb = SummaryWriter(str(self.run_dir / "tensorboard"))
                except ImportError:  # tensorboard is optional at run time
                    log.warning("tensorboard is not installed: no TensorBoard logs")

    def record(self, kind: str, step: int, values: dict[str, float]) -> None:
        """Append one record (``kind`` e.g. ``train_step``, ``epoch``, ``val``)."""
        if not self.enabled:
            return
        with open(self.run_dir / "log.jsonl", "a") as f:
            f.write(json.dumps({"kind": kind, "step": step, **values}) + "\n")
        if self._tb is not None:
            for k, v in values.items():
                if isinstance(v, (int, float)):
                    self._tb.add_scalar(f"{kind}/{k}", v, step)

    def set_history(self, history: list[dict[str, Any]]) -> None:
        """Replace the per-epoch history (used on resume) and rewrite ``history.csv``."""
        self.history = [dict(h) for h in history]
        self._write_history()

    def end_epoch(self, row: dict[str, Any]) -> None:
        self.history.append(dict(row))
        self.record("epoch", int(row["epoch"]), {k: v for k, v in row.items() if k != "epoch"})
        self._write_history()

    def _write_history(self) -> None:
        if not self.enabled or not self.history:
            return
        keys: list[str] = []
        for row in self.history:
            keys += [k for k in row if k not in keys]
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=keys)
        writer.writeheader()
        writer.writerows(self.history)
        atomic_write_text(self.run_dir / "history.csv", buf.getvalue())

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()


def epoch_line(row: dict[str, Any], epochs: int) -> str:
    """One human line per epoch: ``epoch 3/12  loss 1.234 (sem 0.91 obj 0.12)  11 s  ETA 1 min 40 s``."""
    done = row["epoch"] + 1
    terms = " ".join(
        f"{k.removeprefix('train_')} {v:.3g}"
        for k, v in row.items()
        if k.startswith("train_") and k != "train_loss"
    )
    eta = row["time_s"] * (epochs - done)
    extra = "".join(f"  {k} {row[k]:.3f}" for k in ("val_miou", "val_auroc") if k in row)
    return (
        f"epoch {done}/{epochs}  loss {row.get('train_loss', float('nan')):.4g} ({terms}){extra}  "
        f"{row['time_s']:.0f} s  ETA {format_duration(eta)}"
    )


def format_duration(seconds: float) -> str:
    """``95`` → ``"1 min 35 s"``; ``4000`` → ``"1 h 7 min"``."""
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    return f"{s // 3600} h {s % 3600 // 60} min"
