"""The study's numbers as they are read back from ``results/``: every run's metrics in the long
format of :mod:`owslib.comparison` (with the streamed error bounds), the per-scorer table, the
findings in sentences generated from the numbers, and what each run's setup was
(:mod:`owslib.study.summary` builds the summary notebook from them). :mod:`owslib.notebook`
re-exports these for the notebooks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from owslib import comparison
from owslib.study.confirm import COMPARED
from owslib.study.state import read_record

#: The numbers of a run that enter the comparisons: (metric, aggregations).
#: The columns a comparison table shows first (the main scorer, pooled).
HEADLINE = ("miou", "aupr/{s}/pooled", "fpr95/{s}/pooled", "auroc/{s}/pooled")


def run_fingerprint(path: Path) -> str:
    """The setup fingerprint a run's ``run.json`` records ("" for runs that predate it)."""
    return (read_record(path / "run.json") or {}).get("fingerprint", "")


def long_rows(
    variant: str, seed: int, metrics: dict[str, Any], fingerprint: str = ""
) -> list[dict[str, Any]]:
    """A run's numbers in the long format of :mod:`owslib.comparison` (with its setup's
    fingerprint: runs are paired within one setup only)."""
    rows = []
    if "miou" in metrics:
        rows.append(
            dict(
                variant=variant,
                seed=seed,
                metric="miou",
                scorer="",
                aggregation="",
                value=metrics["miou"],
                fingerprint=fingerprint,
            )
        )
    for scorer, by_agg in metrics.get("anomaly", {}).items():
        for agg in ("pooled", "per_image"):
            for m in ("aupr", "fpr95", "auroc"):
                if m in by_agg.get(agg, {}):
                    rows.append(
                        dict(
                            variant=variant,
                            seed=seed,
                            metric=m,
                            scorer=scorer,
                            aggregation=agg,
                            value=by_agg[agg][m],
                            bound=by_agg[agg].get(f"{m}_max_error", 0.0),
                            fingerprint=fingerprint,
                        )
                    )
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
    """A finished run's metrics (None for a run that is missing, failed or still being written:
    its ``metrics.json`` comes before its figures and ``run.json``'s ``finished``)."""
    info = read_record(path / "run.json") or {}
    return read_record(path / "metrics.json") if info.get("status") == "finished" else None


def _num(x: float, d: int = 3, sign: bool = False) -> str:
    """``x`` with ``d`` decimals (a ``+`` before a positive one when ``sign``); a value that rounds
    to zero reads "0.000" / "+0.000", never "-0.000"."""
    text = f"{x:{'+' if sign else ''}.{d}f}"
    return f"{0.0:{'+' if sign else ''}.{d}f}" if float(text) == 0 else text


def format_pm(mean: float, std: float, d: int = 3) -> str:
    """``mean ± std``; the mean alone without a std (one value), "—" without a mean."""
    if pd.isna(mean):
        return "—"
    return f"{_num(mean, d)} ± {_num(std, d)}" if not pd.isna(std) else _num(mean, d)


def format_sigma(std: float, d: int = 3) -> str:
    """A standard deviation with ``d`` decimals; one that rounds to zero reads "< 0.0005" (its
    bound), not "0.000"."""
    if pd.isna(std):
        return "n/a"
    return f"< {0.5 * 10**-d:.{d + 1}f}" if abs(std) < 0.5 * 10**-d else f"{std:.{d}f}"


#: Marks a paired Δ whose interval excludes 0 (explained in each table's footnote).
SIGNIFICANT = "✱"


def _delta(row: pd.Series, d: int = 3, mark: bool = False) -> str:
    """A paired Δ with its interval, ``+0.019 [+0.011, +0.027]``; with ``mark``, followed by
    :data:`SIGNIFICANT` where the interval excludes 0 (``row["significant"]``)."""
    if pd.isna(row["delta"]):
        return "—"
    if pd.isna(row["delta_lo"]):
        return f"{_num(row['delta'], d, True)} [n/a]"
    significant = row.get("significant")
    significant = not pd.isna(significant) and bool(significant)
    while significant and d < 6 and 0.0 in (round(row["delta_lo"], d), round(row["delta_hi"], d)):
        d += 1  # an interval that excludes 0 is not printed as if it reached it
    text = (
        f"{_num(row['delta'], d, True)} [{_num(row['delta_lo'], d, True)}, "
        f"{_num(row['delta_hi'], d, True)}]"
    )
    return text + f" {SIGNIFICANT}" if mark and significant else text


def short_label(label: str) -> str:
    """A metric label for a header or a panel title: ``"aupr/fused/pooled"`` → ``"aupr (fused,
    pooled)"``, ``"miou"`` stays."""
    metric, *rest = label.split("/")
    return f"{metric} ({', '.join(rest)})" if rest else metric


def reader_table(
    summary: pd.DataFrame, labels, *, baseline: str, n_seeds: int, confidence: float = 0.95
) -> tuple[pd.DataFrame, str]:
    """The comparison as a reader meets it: per variant and metric label the ``mean ± std`` and
    the paired Δ with its interval (marked :data:`SIGNIFICANT` where it excludes 0), under short
    headers ("aupr", "aupr Δ"): the scorer and aggregation the labels share, the seeds and the
    interval are said once, in the footnote returned with the table."""
    keyed = summary.assign(
        label=[
            comparison.metric_label(m, s, a)
            for m, s, a in summary[["metric", "scorer", "aggregation"]].itertuples(index=False)
        ]
    )
    parts = [lab.split("/") for lab in labels]
    shared = {tuple(p[1:]) for p in parts if len(p) == 3}
    common = next(iter(shared)) if len(shared) == 1 else None
    rows = {v: {"variant": v} for v in dict.fromkeys(keyed["variant"])}
    for label in labels:
        head = (
            label.split("/")[0]
            if common and label.endswith("/".join(("", *common)))
            else (short_label(label))
        )
        for _, r in keyed[keyed["label"] == label].iterrows():
            rows[r["variant"]][head] = format_pm(r["mean"], r["std"])
            rows[r["variant"]][f"{head} Δ"] = _delta(r, mark=True)
    table = pd.DataFrame(list(rows.values())).fillna("—")
    note = (
        f"mean ± std over {n_seeds} seeds; Δ = variant − `{baseline}`, paired by seed, with its "
        f"{confidence * 100:g} % Student-t interval (n−1 degrees of freedom); {SIGNIFICANT}: the "
        "interval excludes 0."
    )
    if common:
        anomaly = ", ".join(p[0] for p in parts if len(p) == 3)
        note += f" {anomaly}: {common[0]} scorer, {common[1].replace('_', '-')}" + (
            " over all test pixels." if common[1] == "pooled" else " mean over the test images."
        )
    return table, note


def scorer_table(
    summary: pd.DataFrame, aggregation: str = "pooled", bounds: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Rows (variant, scorer), columns ``aupr`` / ``fpr95`` / ``auroc`` (mean ± std) and their
    paired Δ [95 % CI] (``aupr Δ``, marked :data:`SIGNIFICANT` where the interval excludes 0); a
    metric with a streamed error bound in ``bounds`` (:func:`error_bounds`) gets a column
    ``<metric> bound`` (the largest over the seeds, empty where below 1e-3)."""
    bound = (
        {}
        if bounds is None
        else {
            (r.variant, r.scorer, r.metric): r.bound
            for r in bounds[bounds["aggregation"] == aggregation].itertuples()
        }
    )
    s = summary[(summary["aggregation"] == aggregation) & summary["metric"].isin(COMPARED)]
    rows = []
    for (variant, scorer), g in s.groupby(["variant", "scorer"], sort=False):
        row: dict[str, Any] = {"variant": variant, "scorer": scorer}
        for _, r in (
            g.set_index("metric")
            .loc[[m for m in ("aupr", "fpr95", "auroc") if m in set(g["metric"])]]
            .iterrows()
        ):
            row[r.name] = format_pm(r["mean"], r["std"])
            row[f"{r.name} Δ"] = _delta(r, mark=True)
            if any(k[2] == r.name for k in bound):
                b = bound.get((variant, scorer, r.name))
                row[f"{r.name} bound"] = f"±{b:.4f}" if b else ""
        rows.append(row)
    return pd.DataFrame(rows)


def findings(summary: pd.DataFrame, baseline: str, labels: list[str]) -> str:
    """Sentences stating, from the numbers, each variant's paired Δ with its interval and the SD
    of its paired differences (the noise of a comparison of two runs at one seed, which sets the
    interval; the baseline's seed-to-seed std is not that yardstick: seeds correlate the two arms
    only weakly). Which side an interval that excludes 0 favours is said as such, uncorrected:
    these are exploratory, never verdicts (:mod:`owslib.study.answers` gives the confirmatory
    ones)."""
    keyed = summary.assign(
        label=[
            comparison.metric_label(m, s, a)
            for m, s, a in summary[["metric", "scorer", "aggregation"]].itertuples(index=False)
        ]
    )
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
            verdict = (
                f"favours {variant}, uncorrected"
                if r["better"] is True
                else f"favours {baseline}, uncorrected"
                if r["better"] is False
                else "interval includes 0"
            )
            sd = format_sigma(r.get("delta_sd", float("nan")))
            parts.append(f"{label} Δ {_delta(r)} ({verdict}; SD of the paired differences {sd})")
        if parts:
            lines.append(f"- **{variant}**: " + "; ".join(parts))
    return "\n".join(lines) or "none (no variant has runs paired with the baseline yet)"


def findings_table(summary: pd.DataFrame, baseline: str, labels: list[str]) -> str:
    """:func:`findings` as a markdown table: a row per variant, per metric label its paired Δ
    [95 % interval] (:data:`SIGNIFICANT` where it excludes 0: uncorrected, exploratory) and the SD
    of its paired differences; metrics by their short names, a footnote says the rest."""
    keyed = summary.assign(
        label=[
            comparison.metric_label(m, s, a)
            for m, s, a in summary[["metric", "scorer", "aggregation"]].itertuples(index=False)
        ]
    )
    shown = [lab for lab in labels if lab in set(keyed["label"])]
    names = [
        lab.split("/")[0].replace("miou", "mIoU").upper().replace("MIOU", "mIoU") for lab in shown
    ]
    lines = [
        "| variant | " + " | ".join(f"{n} Δ [95 %] | SD" for n in names) + " |",
        "|---|" + "---|---|" * len(shown),
    ]
    for variant in dict.fromkeys(keyed["variant"]):
        if variant == baseline:
            continue
        cells = []
        for label in shown:
            r = keyed[(keyed["variant"] == variant) & (keyed["label"] == label)]
            if r.empty:
                cells += ["—", "—"]
                continue
            cells += [
                _delta(r.iloc[0], mark=True),
                format_sigma(r.iloc[0].get("delta_sd", float("nan"))),
            ]
        lines.append(f"| `{variant}` | " + " | ".join(cells) + " |")
    if len(lines) == 2:
        return "none (no variant has runs paired with the baseline yet)"
    return "\n".join(lines) + (
        f"\n\nΔ = variant − `{baseline}`, paired by seed; anomaly "
        "metrics: fused scorer, pooled; SD: of the paired differences; "
        f"{SIGNIFICANT}: the interval excludes 0 (uncorrected)."
    )


def present_labels(summary: pd.DataFrame, labels) -> list[str]:
    """The metric labels of ``labels`` that ``summary`` holds, in their order."""
    have = {
        comparison.metric_label(*k)
        for k in summary[["metric", "scorer", "aggregation"]].itertuples(index=False)
    }
    return [m for m in labels if m in have]


def contrast_findings(long: pd.DataFrame, a: str, b: str, labels) -> tuple[pd.DataFrame, str]:
    """Variant ``a`` against ``b`` directly, paired by seed (Δ = a − b): their summary and the
    findings in sentences (:func:`findings`)."""
    pair = long[long["variant"].isin((a, b))][list(comparison.LONG_COLUMNS)]
    summary = comparison.summarise(pair, baseline=b)
    text = findings(summary, b, list(labels))
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
    return {
        "variant": variant,
        "seed": seed,
        "encoder": (info.get("encoder_sha256") or "?")[:12],
        "cpu": info.get("cpu", "?"),
        "isa": isa,
        "threads": str(info.get("cpu_threads", "?")),
        "device": info.get("device", ""),
    }


def setup_note(setups: pd.DataFrame, baseline: str) -> str:
    """Sentences on ``setups`` (rows of :func:`setup_row`): on how many machine setups the runs
    were trained, and whether every run started from the encoder of the baseline run at its seed,
    so that its paired Δ measures the variant alone; runs whose encoder is not recorded, or whose
    seed has no finished baseline run, are named."""
    if setups.empty:
        return "No finished runs yet."
    machines = setups[["cpu", "isa", "device"]].drop_duplicates()
    where = (
        "one machine setup"
        if len(machines) == 1
        else f"{len(machines)} machine setups ("
        + "; ".join(f"{m.cpu}, {m.isa}, {m.device}" for m in machines.itertuples())
        + ")"
    )
    threads = sorted(set(setups["threads"]) - {"?"})
    if len(threads) > 1:
        where += f", with {' or '.join(threads)} threads"
    base = setups[setups["variant"] == baseline].set_index("seed")["encoder"]
    others = setups[setups["variant"] != baseline]
    unknown = [f"{r.variant} seed {r.seed}" for r in setups.itertuples() if r.encoder == "?"]
    alone = [f"{r.variant} seed {r.seed}" for r in others.itertuples() if r.seed not in base.index]
    unpaired = [
        f"{r.variant} seed {r.seed}"
        for r in others.itertuples()
        if r.seed in base.index
        and "?" not in (r.encoder, base[r.seed])
        and r.encoder != base[r.seed]
    ]
    text = [f"Trained on {where}."]
    if unpaired:
        text.append(
            f"Started from another closed-set encoder than `{baseline}` at the same seed: "
            f"{', '.join(unpaired)}; their paired Δ also measures the encoders' "
            "difference."
        )
    if unknown:
        text.append(f"Encoder not recorded: {', '.join(unknown)}.")
    if alone:
        text.append(f"No finished `{baseline}` run at their seed yet: {', '.join(alone)}.")
    if not (unpaired or unknown or alone):
        encoders = sorted(set(setups["encoder"]))
        text.append(
            f"Every run started from the same closed-set encoder ({encoders[0]}…)"
            if len(encoders) == 1
            else f"Each run started from the encoder of the `{baseline}` run at its seed"
        )
        text[-1] += ", so each paired Δ measures the variant alone."
    unrecorded = [c for c in ("cpu", "isa", "threads") if (setups[c] == "?").any()]
    if unrecorded:
        text.append(
            f"“?” under {', '.join(unrecorded)}: not recorded, the run's run.json predates "
            "that field."
        )
    return " ".join(text)
