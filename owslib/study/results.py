"""The study's numbers as they are read back from ``results/``: every run's metrics in the long
format of :mod:`owslib.comparison` (with the streamed error bounds), the per-scorer table, the
findings in sentences generated from the numbers, and :func:`study_overview`, what the summary
notebook shows. :mod:`owslib.notebook` re-exports these for the notebooks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from owslib import comparison
from owslib.io import read_json
from owslib.paths import resolve
from owslib.study.confirm import COMPARED
from owslib.study.studyfile import STUDY_FILE, load_study, run_dir

#: The numbers of a run that enter the comparisons: (metric, aggregations).
#: The columns a comparison table shows first (the main scorer, pooled).
HEADLINE = ("miou", "aupr/{s}/pooled", "fpr95/{s}/pooled", "auroc/{s}/pooled")


def run_fingerprint(path: Path) -> str:
    """The setup fingerprint a run's ``run.json`` records ("" for runs that predate it)."""
    return (read_json(path / "run.json") or {}).get("fingerprint", "")


def long_rows(variant: str, seed: int, metrics: dict[str, Any],
              fingerprint: str = "") -> list[dict[str, Any]]:  # fmt: skip
    """A run's numbers in the long format of :mod:`owslib.comparison` (with its setup's
    fingerprint: runs are paired within one setup only)."""
    rows = []
    if "miou" in metrics:
        rows.append(dict(variant=variant, seed=seed, metric="miou", scorer="", aggregation="",
                         value=metrics["miou"], fingerprint=fingerprint))  # fmt: skip
    for scorer, by_agg in metrics.get("anomaly", {}).items():
        for agg in ("pooled", "per_image"):
            for m in ("aupr", "fpr95", "auroc"):
                if m in by_agg.get(agg, {}):
                    rows.append(dict(variant=variant, seed=seed, metric=m, scorer=scorer,
                                     aggregation=agg, value=by_agg[agg][m],
                                     bound=by_agg[agg].get(f"{m}_max_error", 0.0),
                                     fingerprint=fingerprint))  # fmt: skip
    return rows


#: Streamed (histogram) metrics carry an error bound; tables show it above this value.
BOUND_SHOWN = 1e-3


def error_bounds(long: pd.DataFrame) -> pd.DataFrame:
    """The largest streamed error bound over the seeds per (variant, metric, scorer, aggregation),
    only where it exceeds :data:`BOUND_SHOWN` (column ``bound``)."""
    if "bound" not in long or long.empty:
        return pd.DataFrame(columns=["variant", "metric", "scorer", "aggregation", "bound"])
    keys = ["variant", "metric", "scorer", "aggregation"]
    b = long.groupby(keys, sort=False, as_index=False)["bound"].max()
    return b[b["bound"] > BOUND_SHOWN].reset_index(drop=True)


def read_metrics(path: Path) -> dict[str, Any] | None:
    return read_json(path / "metrics.json")


def format_pm(mean: float, std: float, d: int = 3) -> str:
    """``mean ± std``; the mean alone without a std (one value), "—" without a mean."""
    return (
        "—"
        if pd.isna(mean)
        else f"{mean:.{d}f} ± {std:.{d}f}"
        if not pd.isna(std)
        else f"{mean:.{d}f}"
    )


def _delta(row: pd.Series, d: int = 3) -> str:
    if pd.isna(row["delta"]):
        return "—"
    if pd.isna(row["delta_lo"]):
        return f"{row['delta']:+.{d}f} [n/a]"
    return f"{row['delta']:+.{d}f} [{row['delta_lo']:+.{d}f}, {row['delta_hi']:+.{d}f}]"


def scorer_table(
    summary: pd.DataFrame, aggregation: str = "pooled", bounds: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Rows (variant, scorer), columns AUPR / FPR95 / AUROC as mean ± std and paired Δ [95 % CI];
    a metric with a streamed error bound in ``bounds`` (:func:`error_bounds`) gets a column
    ``<metric> bound`` (the largest over the seeds, empty where below 1e-3)."""
    bound = {} if bounds is None else {
        (r.variant, r.scorer, r.metric): r.bound
        for r in bounds[bounds["aggregation"] == aggregation].itertuples()
    }  # fmt: skip
    s = summary[(summary["aggregation"] == aggregation) & summary["metric"].isin(COMPARED)]
    rows = []
    for (variant, scorer), g in s.groupby(["variant", "scorer"], sort=False):
        row: dict[str, Any] = {"variant": variant, "scorer": scorer}
        for _, r in (
            g.set_index("metric")
            .loc[[m for m in ("aupr", "fpr95", "auroc") if m in set(g["metric"])]]
            .iterrows()
        ):
            row[f"{r.name} mean ± std"] = format_pm(r["mean"], r["std"])
            row[f"{r.name} Δ"] = _delta(r)
            if any(k[2] == r.name for k in bound):
                b = bound.get((variant, scorer, r.name))
                row[f"{r.name} bound"] = f"±{b:.4f}" if b else ""
        rows.append(row)
    return pd.DataFrame(rows)


def findings(summary: pd.DataFrame, baseline: str, labels: list[str], floor: pd.DataFrame) -> str:
    """Sentences stating, from the numbers, each variant's paired Δ with its interval and how it
    compares with the baseline's seed-to-seed std (the noise floor)."""
    keyed = summary.assign(label=[comparison.metric_label(m, s, a) for m, s, a in
                                  summary[["metric", "scorer", "aggregation"]].itertuples(index=False)])  # fmt: skip
    fl = floor.assign(label=[comparison.metric_label(m, s, a) for m, s, a in
                             floor[["metric", "scorer", "aggregation"]].itertuples(index=False)])  # fmt: skip
    noise = dict(zip(fl["label"], fl["std"], strict=True))
    lines = []
    for variant in dict.fromkeys(keyed["variant"]):
        if variant == baseline:
            continue
        parts = []
        for label in labels:
            r = keyed[(keyed["variant"] == variant) & (keyed["label"] == label)]
            if r.empty or pd.isna(r.iloc[0]["delta"]):
                continue
            r = r.iloc[0]
            verdict = ("better" if r["better"] is True else "worse" if r["better"] is False
                       else "not distinguishable from 0")  # fmt: skip
            n = noise.get(label, float("nan"))
            parts.append(f"{label} Δ {_delta(r)} ({verdict}; noise floor σ = {n:.3f})")
        if parts:
            lines.append(f"- **{variant}**: " + "; ".join(parts))
    return "\n".join(lines) or "none (no variant has runs paired with the baseline yet)"


def study_overview(results_dir: str | Path = "results", profile: str | None = None,
                   study_file: str | Path = STUDY_FILE) -> dict[str, Any]:  # fmt: skip
    """What the summary notebook shows, from ``results/`` only: the long table of every run, the
    noise floor, and per comparison notebook its question, findings and rendered copy."""
    study = load_study(resolve(study_file), profile=profile)
    results = resolve(results_dir)
    rows = []
    runs = study.runs()
    for v, s in runs:
        m = read_metrics(run_dir(results, study.profile, v, s))
        if m is not None:
            rows += long_rows(v, s, m, run_fingerprint(run_dir(results, study.profile, v, s)))
    long = pd.DataFrame(rows, columns=[*comparison.LONG_COLUMNS, "fingerprint"])
    out = results / "summary" / study.profile
    out.mkdir(parents=True, exist_ok=True)
    long.to_csv(out / "all_runs.csv", index=False)
    floor = comparison.noise_floor(long) if "baseline" in set(long["variant"]) else pd.DataFrame()
    sections = []
    for spec in study.notebooks:
        if len(spec.variants) < 2:
            continue
        sub = long[long["variant"].isin(spec.variants)]
        if spec.baseline not in set(sub["variant"]):
            sections.append(
                {"notebook": spec.name, "question": spec.question, "findings": "no runs yet"}
            )
            continue
        summary = comparison.summarise(sub, baseline=spec.baseline)
        summary.to_csv(out / f"{spec.name}_summary.csv", index=False)
        labels = [h.format(s="fused") for h in HEADLINE]
        spec_floor = comparison.noise_floor(sub, baseline=spec.baseline)
        contrast = ""
        if spec.contrast and set(spec.contrast) <= set(sub["variant"]):
            _, contrast = contrast_findings(sub, *spec.contrast, labels, spec_floor)
        sections.append({
            "contrast": contrast, **_ablation_section(spec, long, labels),
            "notebook": spec.name, "question": spec.question, "baseline": spec.baseline,
            "findings": findings(summary, spec.baseline, labels, spec_floor),
            "rendered": f"../../{spec.name}/{study.profile}/{spec.name}.ipynb",
            "n_runs": int(sub.groupby(["variant", "seed"]).ngroups),
        })  # fmt: skip
    expected = len(runs)
    done = int(long.groupby(["variant", "seed"]).ngroups) if not long.empty else 0
    return {"study": study, "long": long, "noise_floor": floor, "sections": sections,
            "runs_done": done, "runs_expected": expected, "out_dir": out}  # fmt: skip


def _ablation_section(spec, long: pd.DataFrame, labels) -> dict[str, str]:
    """A notebook's ``ablation`` for the summary: its question and findings against ``of``."""
    a = spec.ablation
    sub = long[long["variant"].isin((a.of, *a.variants))] if a else long.iloc[:0]
    if a is None or a.of not in set(sub["variant"]) or len(set(sub["variant"])) < 2:
        return {}
    summary = comparison.summarise(sub, baseline=a.of)
    floor = comparison.noise_floor(sub, baseline=a.of)
    return {"ablation_question": a.question or f"Each of {list(a.variants)} against {a.of}",
            "ablation": findings(summary, a.of, labels, floor)}  # fmt: skip


def present_labels(summary: pd.DataFrame, labels) -> list[str]:
    """The metric labels of ``labels`` that ``summary`` holds, in their order."""
    have = {comparison.metric_label(*k) for k in
            summary[["metric", "scorer", "aggregation"]].itertuples(index=False)}  # fmt: skip
    return [m for m in labels if m in have]


def contrast_findings(
    long: pd.DataFrame, a: str, b: str, labels, floor: pd.DataFrame
) -> tuple[pd.DataFrame, str]:
    """Variant ``a`` against ``b`` directly, paired by seed (Δ = a − b): their summary and the
    findings in sentences beside ``floor`` (the noise floor of the notebook's baseline)."""
    pair = long[long["variant"].isin((a, b))][list(comparison.LONG_COLUMNS)]
    summary = comparison.summarise(pair, baseline=b)
    text = findings(summary, b, list(labels), floor)
    return summary, text.replace(f"- **{a}**:", f"- **{a} against {b}** (Δ = {a} − {b}):")


def setup_row(variant: str, seed: int, info: dict[str, Any]) -> dict[str, Any]:
    """Where a run was trained, from its ``run.json``: the closed-set encoder it started from
    (first 12 hex digits of its sha256; "?" where not recorded), the CPU with torch's vector ISA
    and the instruction-set caps in force, the thread count ("?" where not recorded) and the
    device."""
    caps = info.get("cpu_isa_caps") or {}
    isa = info.get("cpu_capability") or "?"
    if caps:
        isa += " (capped: " + ", ".join(f"{k}={v}" for k, v in sorted(caps.items())) + ")"
    return {"variant": variant, "seed": seed, "encoder": (info.get("encoder_sha256") or "?")[:12],
            "cpu": info.get("cpu", "?"), "isa": isa, "threads": str(info.get("cpu_threads", "?")),
            "device": info.get("device", "")}  # fmt: skip


def setup_note(setups: pd.DataFrame, baseline: str) -> str:
    """Sentences on ``setups`` (rows of :func:`setup_row`): on how many machine setups the runs
    were trained, and whether every run started from the encoder of the baseline run at its seed,
    so that its paired Δ measures the variant alone; runs whose encoder is not recorded, or whose
    seed has no finished baseline run, are named."""
    if setups.empty:
        return "No finished runs yet."
    machines = setups[["cpu", "isa", "device"]].drop_duplicates()
    where = ("one machine setup" if len(machines) == 1 else
             f"{len(machines)} machine setups (" + "; ".join(
                 f"{m.cpu}, {m.isa}, {m.device}" for m in machines.itertuples()) + ")")  # fmt: skip
    threads = sorted(set(setups["threads"]) - {"?"})
    if len(threads) > 1:
        where += f", with {' or '.join(threads)} threads"
    base = setups[setups["variant"] == baseline].set_index("seed")["encoder"]
    others = setups[setups["variant"] != baseline]
    unknown = [f"{r.variant} seed {r.seed}" for r in setups.itertuples() if r.encoder == "?"]
    alone = [f"{r.variant} seed {r.seed}" for r in others.itertuples() if r.seed not in base.index]
    unpaired = [f"{r.variant} seed {r.seed}" for r in others.itertuples()
                if r.seed in base.index and "?" not in (r.encoder, base[r.seed])
                and r.encoder != base[r.seed]]  # fmt: skip
    text = [f"Trained on {where}."]
    if unpaired:
        text.append(f"Started from another closed-set encoder than `{baseline}` at the same seed: "
                    f"{', '.join(unpaired)}; their paired Δ also measures the encoders' "
                    "difference.")  # fmt: skip
    if unknown:
        text.append(f"Encoder not recorded: {', '.join(unknown)}.")
    if alone:
        text.append(f"No finished `{baseline}` run at their seed yet: {', '.join(alone)}.")
    if not (unpaired or unknown or alone):
        encoders = sorted(set(setups["encoder"]))
        text.append(f"Every run started from the same closed-set encoder ({encoders[0]}…)"
                    if len(encoders) == 1 else "Each run started from the encoder of the "
                    f"`{baseline}` run at its seed")  # fmt: skip
        text[-1] += ", so each paired Δ measures the variant alone."
    return " ".join(text)
