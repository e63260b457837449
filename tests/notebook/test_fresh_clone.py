"""What the notebooks show on a fresh clone: finished runs with their committed files (metrics,
run.json, config, history, figures, the explorer record) and no checkpoint. The explorer and the
side-by-side view draw from the records; a run that predates them says so in one line; the
comparison tables, figures and the summary read as a reader needs them."""

from __future__ import annotations

import json
from pathlib import Path

import ipywidgets as W
import matplotlib
import numpy as np
import pandas as pd

matplotlib.use("Agg")

from owslib import notebook  # noqa: E402
from owslib.labels import get_split  # noqa: E402
from owslib.report.explorer_record import RECORD_FILE, write_explorer_record  # noqa: E402
from owslib.runs.run import FIGURES  # noqa: E402
from owslib.study.studyfile import load_study, run_dir  # noqa: E402

STUDY = {
    "profile": "smoke",
    "seeds": [0, 1, 2],
    "variants": {
        "baseline": {"description": "b", "overrides": {}},
        "focal": {"description": "f", "overrides": {"loss__semantic": "focal"}},
    },
    "notebooks": [
        {"name": "01_baseline_contmav", "variants": ["baseline"]},
        {
            "name": "03_loss_ablations",
            "variants": ["baseline", "focal"],
            "question": "Which semantic loss: CE or focal?",
        },
    ],
}
QUESTION = STUDY["notebooks"][1]["question"]
SCORERS = ("contrastive", "fused")


def _metrics(miou: float, aupr: float) -> dict:
    agg = {"aupr": aupr, "fpr95": 0.3 - aupr / 4, "auroc": 0.8 + aupr / 100}
    conventions = {k: f"{k} convention" for k in ("miou", "pooled", "per_image", "anomaly")}
    return {
        "miou": miou,
        "pixel_acc": 0.9,
        "conventions": conventions,
        "anomaly": {s: {"pooled": dict(agg), "per_image": dict(agg)} for s in SCORERS},
    }


def _examples(num_known: int, rng: np.random.Generator, sharp: float) -> list[dict]:
    """Three images with an unknown object and a void strip; ``sharp`` separates the maps."""
    out = []
    for i in range(3):
        target = rng.integers(0, num_known, (16, 32)).astype(np.uint8)
        target[4:10, 8 + 4 * i : 16 + 4 * i] = num_known  # an unknown object
        target[:, :2] = 255  # void
        unknown = target == num_known
        maps = {
            s: np.clip(rng.random((16, 32)) * 0.6 + sharp * unknown, 0, 1).astype(np.float32)
            for s in SCORERS
        }
        out.append(
            {
                "name": f"falkenried_{i:06d}_000019",
                "target": target,
                "unknown_mask": unknown,
                "image": rng.integers(0, 255, (16, 32, 3), dtype=np.uint8),
                "pred": np.minimum(target, num_known - 1),
                "maps": maps,
            }
        )
    return out


def fresh_clone_results(tmp_path: Path, *, records: bool = True) -> tuple[Path, Path]:
    """``(study file, results folder)``: every run of :data:`STUDY` finished, as committed (no
    checkpoint); with ``records`` each run has its ``explorer.npz``."""
    from PIL import Image

    study_file = tmp_path / "study.json"
    study_file.write_text(json.dumps(STUDY))
    study = load_study(study_file)
    results = tmp_path / "results"
    rng = np.random.default_rng(0)
    for variant, seed in study.runs():
        d = run_dir(results, "smoke", variant, seed)
        d.mkdir(parents=True)
        cfg = study.config(variant, seed)
        cfg.to_json(d / "config.json")
        up = 0.05 if variant == "focal" else 0.0
        jitter = 0.01 * seed + (0.002 * seed * seed if variant == "focal" else 0.0)
        (d / "metrics.json").write_text(json.dumps(_metrics(0.5 + up + jitter, 0.2 - up + jitter)))
        (d / "run.json").write_text(
            json.dumps({"status": "finished", "variant": variant, "seed": seed, "profile": "smoke"})
        )
        pd.DataFrame({"epoch": [0, 1], "lr": [0.1, 0.05], "train_loss": [1.0, 0.5]}).to_csv(
            d / "history.csv", index=False
        )
        for name in FIGURES:
            Image.fromarray(np.full((8, 8, 3), 200, np.uint8)).save(d / f"{name}.png")
        if records:
            k = get_split(cfg.data.split_preset).num_known
            write_explorer_record(
                d / RECORD_FILE, _examples(k, rng, 0.5 if variant == "focal" else 0.2)
            )
    return study_file, results


def _text(objs) -> str:
    return "\n".join(
        o.data
        if hasattr(o, "data") and isinstance(o.data, str)
        else json.dumps(o, default=str)
        if isinstance(o, dict)
        else str(o)
        for o in objs
    )


def _setup(tmp_path, name="01_baseline_contmav", **kw):
    study_file, results = fresh_clone_results(tmp_path, **kw)
    return notebook.setup({"study_file": str(study_file), "results_dir": str(results)}, name)


def test_the_explorer_cell_of_01_renders_from_the_record_without_a_checkpoint(tmp_path, shown):
    nb = _setup(tmp_path)
    run = nb.ensure_runs(load_model=True, train_missing=False)["baseline", 0]
    assert run.exp is None and not (run.run_dir / "checkpoint.pt").exists()
    box = notebook.explorer(run)
    assert isinstance(box, W.VBox), "the widget is returned (the cell's one output)"
    fig = box.view.render(2, "fused", 0.5)
    assert isinstance(fig, matplotlib.figure.Figure) and len(fig.axes) >= 4
    assert box.view.index.max == 2, "the slider runs over the recorded images only"
    assert set(box.view.scorer.options) == set(SCORERS)
    data, metadata = box._repr_mimebundle_()
    # one output: the live view for a kernel, one PNG (with alt text) for a rendered copy
    assert {"application/vnd.jupyter.widget-view+json", "image/jpeg", "text/html"} <= set(data)
    assert 'alt="Anomaly explorer' in data["text/html"] and metadata["image/jpeg"]["alt"]
    assert not data["text/plain"].startswith("VBox(")
    assert "Retrain" not in _text(shown) + data["text/plain"]


def test_a_run_without_record_or_checkpoint_says_so_in_one_line(tmp_path, shown):
    nb = _setup(tmp_path, records=False)
    run = nb.ensure_runs(load_model=True, train_missing=False)["baseline", 0]
    assert notebook.explorer(run) is None
    (line,) = [o.data for o in shown]
    assert "predates explorer records" in line and "\n" not in line and "Retrain" not in line
    assert "python -m owslib study --run baseline/seed0 --profile smoke --results scratch" in line
    assert nb.side_by_side() is None and "predate `explorer.npz`" in shown[-1].data


def test_reused_runs_are_summed_up_in_one_line(tmp_path, caplog):
    nb = _setup(tmp_path, name="03_loss_ablations")
    with caplog.at_level("INFO"):
        nb.ensure_runs(load_model=True, train_missing=False)
    lines = [r.getMessage() for r in caplog.records]
    assert not [m for m in lines if "reusing" in m or m.startswith("run ")]
    assert [m for m in lines if "runs reused" in m] == [
        "6 runs reused (metrics and figures read back; no model loaded), 0 missing"
    ]


def test_the_side_by_side_view_of_a_comparison_notebook(tmp_path, shown):
    nb = _setup(tmp_path, name="03_loss_ablations")
    box = nb.side_by_side("fused")
    view = box.view
    assert (view.a.value, view.b.value, view.scorer.value) == ("baseline", "focal", "fused")
    assert list(view.seed.options) == [0, 1, 2] and len(view.image.options) == 3
    fig = view.render("baseline", "focal", 1, view.image.options[0], "fused")
    a, b = fig.axes[1].images[0].norm, fig.axes[2].images[0].norm
    assert (a.vmin, a.vmax) == (b.vmin, b.vmax) == (0.0, 1.0)  # the scorer's fixed range


def test_the_headline_table_has_short_headers_and_marks_intervals_that_exclude_zero(tmp_path):
    nb = _setup(tmp_path, name="03_loss_ablations")
    nb.ensure_runs(train_missing=False)
    table, note = nb.headline_table("fused")
    assert list(table.columns) == [
        "variant",
        "miou",
        "miou Δ",
        "aupr",
        "aupr Δ",
        "fpr95",
        "fpr95 Δ",
        "auroc",
        "auroc Δ",
    ]
    focal = table.set_index("variant").loc["focal"]
    assert focal["miou Δ"].endswith("✱") and focal["miou Δ"].startswith("+0.05")
    assert "fused scorer, pooled over all test pixels" in note and "✱: the interval" in note
    assert "[lo, hi]" in nb.table("fused").columns[2]  # the CSV keeps the full labels
    assert (nb.out_dir / "comparison.md").read_text().startswith("| variant   | miou ")


def test_the_map_grid_outlines_unknowns_and_keeps_row_labels_whole(tmp_path, shown):
    nb = _setup(tmp_path, name="03_loss_ablations")
    path = nb.map_figure("fused", n_images=2)
    assert path.is_file() and path.with_suffix(".svg").is_file()
    (bundle,) = shown
    assert (
        "image/jpeg" in bundle and 'alt="fused anomaly maps of 2 test images' in bundle["text/html"]
    )


def test_the_summary_headings_are_the_questions(tmp_path):
    study_file, results = fresh_clone_results(tmp_path, records=False)
    overview = notebook.study_overview(results, study_file=study_file)
    (section,) = notebook.summary_sections(overview)
    assert section.splitlines()[0] == f"### {QUESTION}"
    assert "Notebook `03_loss_ablations`" in section and "03_loss_ablations/smoke" in section
    intro = notebook.summary_intro(overview)
    assert (
        str(tmp_path) not in intro and "`summary/smoke/all_runs.csv` in the results folder" in intro
    )
    floor = notebook.noise_floor_table(overview["noise_floor"]).set_index("metric")["σ"]
    assert floor["miou"] == floor["aupr (fused, pooled)"] == "0.010"
    assert floor["auroc (fused, pooled)"] == "< 0.0005"  # 0.0001: not "0.000"
    # each Δ with the SD of its paired differences, a column of the section's table (tiny here:
    # "< 0.0005", never "0.000")
    assert "SD: of the paired differences" in section
    assert "| < 0.0005 |" in section and "| 0.000 |" not in section
