"""A notebook's tables of its runs, each also written beside the rendered notebook (CSV and
markdown): every number, mean ± std, timing, setups, scorers, last epoch, model cost."""

from __future__ import annotations

import pandas as pd

from owslib import comparison
from owslib.config import load_profile
from owslib.io import atomic_write_text
from owslib.models.cost import model_cost
from owslib.runs.run import read_run_info
from owslib.study.results import (
    error_bounds,
    format_pm,
    long_rows,
    read_metrics,
    run_fingerprint,
    scorer_table,
    setup_note,
    setup_row,
)


class RunTables:
    """The tables of :class:`~owslib.notebook.run.NotebookRun` (its fields: ``study``, ``spec``,
    ``out_dir``, ``baseline``)."""

    def long_table(self) -> pd.DataFrame:
        """Every number of every run of this notebook (variant, seed, metric, scorer, aggregation,
        value), also written as ``runs_long.csv``."""
        rows = []
        for s in self.study.seeds:
            for v in self.spec.variants:
                m = read_metrics(self.run_path(v, s))
                if m is not None:
                    rows += long_rows(v, s, m, run_fingerprint(self.run_path(v, s)))
        long = pd.DataFrame(rows, columns=[*comparison.LONG_COLUMNS, "bound", "fingerprint"])
        self.out_dir.mkdir(parents=True, exist_ok=True)
        long.to_csv(self.out_dir / "runs_long.csv", index=False)
        return long

    def summary(self, confidence: float = 0.95, long: pd.DataFrame | None = None) -> pd.DataFrame:
        """Mean, std, n per variant and the paired Δ to the baseline with its interval (CSV), from
        ``long`` (read by :meth:`long_table` when None)."""
        long = self.long_table() if long is None else long
        if self.baseline not in set(long["variant"]):  # nothing to compare with yet
            return pd.DataFrame(
                columns=[
                    "variant",
                    "metric",
                    "scorer",
                    "aggregation",
                    "mean",
                    "std",
                    "n",
                    "delta",
                    "delta_lo",
                    "delta_hi",
                ]
            )
        s = comparison.summarise(long, baseline=self.baseline, confidence=confidence)
        s.to_csv(self.out_dir / "summary.csv", index=False)
        return s

    def _write_md(
        self, name: str, table: pd.DataFrame, note: str, csv: pd.DataFrame | None = None
    ) -> None:
        """``<name>.md`` (the table as shown, with its note) and ``<name>.csv`` (``csv``, else the
        same table)."""
        body = "none" if table.empty else table.to_markdown(index=False)
        atomic_write_text(self.out_dir / f"{name}.md", f"{body}\n\n{note}\n")
        atomic_write_text(
            self.out_dir / f"{name}.csv", (table if csv is None else csv).to_csv(index=False)
        )

    def descriptions(self) -> pd.DataFrame:
        v = self.study.variants
        return pd.DataFrame(
            {
                "variant": list(self.spec.run_variants),
                "description": [v[n].description for n in self.spec.run_variants],
            }
        )

    def timing(self) -> pd.DataFrame:
        """Wall seconds of training and evaluation per run, from each ``run.json``."""
        rows = []
        for s in self.study.seeds:
            for v in self.spec.run_variants:
                info = read_run_info(self.run_path(v, s)) or {}
                rows.append(
                    {
                        "variant": v,
                        "seed": s,
                        "train_s": info.get("train_s"),
                        "eval_s": info.get("eval_s"),
                        "device": info.get("device", ""),
                    }
                )
        return pd.DataFrame(rows)

    def setups(self) -> tuple[pd.DataFrame, str]:
        """Where each finished run was trained (:func:`setup_row`: its closed-set encoder, CPU,
        vector ISA and caps, threads, device; ``setups.md``) and :func:`setup_note` on it: whether each
        paired Δ compares runs that started from the same encoder."""
        rows = []
        for s in self.study.seeds:
            for v in self.spec.variants:
                info = read_run_info(self.run_path(v, s)) or {}
                if info.get("status") == "finished":
                    rows.append(setup_row(v, s, info))
        table = pd.DataFrame(
            rows, columns=["variant", "seed", "encoder", "cpu", "isa", "threads", "device"]
        )
        note = setup_note(table, self.baseline)
        self._write_md("setups", table, note)
        return table, note

    def scorers(self, aggregation: str = "pooled") -> pd.DataFrame:
        """Every scorer of every variant: mean ± std and paired Δ (``scorers_<aggregation>.md``,
        with :meth:`scorer_note` under it)."""
        long = self.long_table()
        table = scorer_table(self.summary(long=long), aggregation, error_bounds(long))
        self._write_md(f"scorers_{aggregation}", table, self.scorer_note(aggregation))
        return table

    def scorer_note(self, aggregation: str = "pooled") -> str:
        """The footnote of :meth:`scorers`: the conventions its short headers leave out."""
        over = (
            "pooled over all test pixels"
            if aggregation == "pooled"
            else "the mean over the test images holding both known and unknown pixels"
        )
        return (
            f"aupr, fpr95, auroc {over}: mean ± std over {len(self.study.seeds)} seeds; "
            f"Δ = variant − `{self.baseline}`, paired by seed, with its 95 % Student-t interval; "
            f"✱: the interval excludes 0; bound: the largest streamed error bound over the seeds, "
            "where above 1e-3."
        )

    def last_epoch_table(self, terms: tuple[str, ...]) -> pd.DataFrame:
        """Each variant's logged ``train_<term>`` at its last epoch, mean ± std over the seeds
        (``last_epoch.md``): e.g. how hard the negatives were once training ended."""
        rows = []
        for v in self.spec.variants:
            vals = {t: [] for t in terms}
            for s in self.study.seeds:
                path = self.run_path(v, s) / "history.csv"
                last = pd.read_csv(path).iloc[-1] if self.finished(v, s) else {}
                for t in terms:
                    if f"train_{t}" in last:
                        vals[t].append(float(last[f"train_{t}"]))
            row = {"variant": v}
            for t, xs in vals.items():
                x = pd.Series(xs, dtype=float)
                row[t] = format_pm(x.mean(), x.std())
            row["n"] = max((len(xs) for xs in vals.values()), default=0)
            rows.append(row)
        table = pd.DataFrame(rows)
        self._write_md(
            "last_epoch",
            table,
            "Last training epoch's mean of each logged term; mean ± std over the seeds (n).",
        )
        return table

    def cost_table(self, height: int = 512, width: int = 1024) -> pd.DataFrame:
        """Parameters and forward GFLOPs at ``height``×``width`` of every variant's network: the
        paper's (ResNet34-NBt1D, 19 classes) with the variant's model options, and this study's."""
        rows = []
        for v in self.spec.variants:
            model_keys = {
                k: val
                for k, val in self.study.variants[v].overrides.items()
                if k.startswith("model__")
            }
            paper = model_cost(load_profile("paper", **model_keys).model, 19, height, width)
            cfg = self.study.config(v, self.study.seeds[0])
            ours = model_cost(cfg.model, self.num_known, cfg.data.crop_height, cfg.data.crop_width)
            rows.append(
                {
                    "variant": v,
                    "paper network: parameters": paper["parameters"],
                    f"paper network: GFLOPs at {height}x{width}": round(paper["gflops"], 1),
                    "study network: parameters": ours["parameters"],
                    "study network: GFLOPs per image": round(ours["gflops"], 2),
                }
            )
        table = pd.DataFrame(rows)
        self._write_md(
            "cost",
            table,
            "GFLOPs of one forward pass (a multiply-add = 2 FLOPs), "
            "counted by torch's FlopCounterMode on the meta device.",
        )
        return table
