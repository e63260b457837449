import json
import os

import nbformat
import pytest

from owslib.__main__ import main
from owslib.config import load_profile, stale_keys
from owslib.study.execute import (
    ParameterError,
    check_parameters,
    execute,
    notebook_path,
    run_dir_for,
)


def test_unknown_parameter_is_refused_by_name():
    nb = notebook_path("01_baseline_contmav")
    with pytest.raises(ParameterError, match="seedd"):
        check_parameters(nb, {"profile": "smoke", "seedd": 1})
    check_parameters(nb, {"profile": "smoke", "seed": 0})  # declared: accepted


def test_cli_reports_unknown_parameter(capsys, tmp_path):
    code = main(
        ["study", "--only", "01_baseline_contmav", "-p", "bogus=1", "--results", str(tmp_path)]
    )
    assert code == 2
    assert not any(tmp_path.iterdir())


def test_run_dir_naming():
    assert str(run_dir_for("nb", {"profile": "quick"}, "res")) == "res/nb/quick"
    assert str(run_dir_for("nb", {"profile": "quick", "run_name": "a"}, "res")) == "res/nb/a"


@pytest.mark.slow
def test_baseline_notebook_executes_with_smoke_parameters(smoke_root, tmp_path):
    params = {"profile": "smoke", "config_overrides": {"data__root": str(smoke_root)}}
    out = execute("01_baseline_contmav", params, results_dir=tmp_path)
    assert out == tmp_path / "01_baseline_contmav" / "smoke" / "01_baseline_contmav.ipynb"
    run = tmp_path / "runs" / "smoke" / "baseline" / "seed0"
    for name in (
        "config.json",
        "metrics.json",
        "summary.csv",
        "anomaly.csv",
        "per_class.csv",
        "metrics.md",
        "history.csv",
        "run.json",
        "training_curves.png",
        "qualitative.png",
        "per_class_iou.png",
        "scorers_side_by_side.png",
    ):
        assert (run / name).is_file(), name
    metrics = json.loads((run / "metrics.json").read_text())
    assert 0.0 <= metrics["miou"] <= 1.0 and "fused" in metrics["anomaly"]
    config = json.loads((run / "config.json").read_text())
    assert config["profile"] == "smoke" and config["data"]["root"] == str(smoke_root)
    nb = nbformat.read(out, as_version=4)
    errors = [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.output_type == "error"
    ]
    assert not errors
    # a second execution with the same parameters is reused, not redone
    mtime = out.stat().st_mtime_ns
    execute("01_baseline_contmav", params, results_dir=tmp_path)
    assert out.stat().st_mtime_ns == mtime
    # a run of another training config (e.g. a profile changed by an upgrade) is redone from
    # scratch, and the superseded run is moved aside with a note, never deleted
    config["train"]["lr"] = 0.123
    (run / "config.json").write_text(json.dumps(config))
    execute("01_baseline_contmav", params, results_dir=tmp_path, force=True)
    assert json.loads((run / "config.json").read_text())["train"]["lr"] != 0.123
    (old,) = (tmp_path / "_superseded" / "baseline").iterdir()
    assert old.name.startswith("seed0-") and (old / "metrics.json").is_file()
    assert "train__lr" in (old / "SUPERSEDED.txt").read_text()


def figure_cells_without_image(nb) -> list[str]:
    """Code cells that make a figure (save it, plot, or display an image) but show no image."""
    lost = []
    for c in nb.cells:
        if c.cell_type != "code":
            continue
        makes = any(
            m in c.source
            for m in (
                "save_figure",
                ".plot",
                "plt.",
                "display(Image",
                "show_image(",
                "_figure(",
                "_views(",
                "explorer(",
            )
        )
        shown = any(
            k in o.get("data", {})
            for o in c.get("outputs", [])
            for k in ("image/png", "image/jpeg")
        )
        if makes and not shown:
            lost.append(c.source[:80])
    return lost


@pytest.mark.slow(first=True)
def test_the_smoke_study_runs_every_notebook_with_every_figure_inline(
    smoke_root, tmp_path, monkeypatch
):
    # As make study runs it: the CLI trains the runs, then renders every notebook; a headless
    # MPLBACKEND must not keep figures out of the executed copies.
    from owslib.study.studyfile import load_study

    monkeypatch.setenv("MPLBACKEND", "Agg")
    results = tmp_path / "results"
    argv = [
        "study",
        "--profile",
        "smoke",
        "--results",
        str(results),
        "-p",
        f"data__root={smoke_root}",
    ]
    assert main(argv) == 0
    assert os.environ["MPLBACKEND"] == "Agg"  # restored for the caller
    study = load_study(profile="smoke")
    for name in study.notebook_names:
        out = results / name / "smoke" / f"{name}.ipynb"
        nb = nbformat.read(out, as_version=4)
        errors = [
            o
            for c in nb.cells
            if c.cell_type == "code"
            for o in c.get("outputs", [])
            if o.output_type == "error"
        ]
        assert not errors, name
        assert figure_cells_without_image(nb) == [], name
    for variant, seed in study.runs():
        info = json.loads(
            (results / "runs" / "smoke" / variant / f"seed{seed}" / "run.json").read_text()
        )
        assert info["status"] == "finished" and info["variant"] == variant
    assert (results / "summary" / "smoke" / "all_runs.csv").is_file()
    # one invocation trains the confirmation too: the finished screening picks (and records)
    # the arms, and every question is analysed on the fresh seeds
    from owslib.study.answers import confirmatory_answers
    from owslib.study.arms import arms_record, confirmation_runs

    for variant, seed in (r for runs in confirmation_runs(study, results).values() for r in runs):
        info = json.loads(
            (results / "runs" / "smoke" / variant / f"seed{seed}" / "run.json").read_text()
        )
        assert info["status"] == "finished", (variant, seed)
    for q in study.confirmatory.questions:
        assert arms_record(study, results, q.notebook).is_file() == (q.rule == "best_screening")
    assert (confirmatory_answers(study, results)["status"] == "analysed").all()


def test_staleness_normalises_and_ignores_evaluation_keys():
    cfg = load_profile("smoke")
    saved = cfg.to_dict()
    assert stale_keys(saved, cfg) == []
    del saved["loss"]["stale_class_stats"]  # an older run, before a field whose default is old
    assert stale_keys(saved, cfg) == []
    saved["eval"]["delta"] = 0.9  # evaluation-only: resumable, not stale
    saved["train"]["device"] = "cuda"
    assert stale_keys(saved, cfg) == []
    saved["train"]["lr"] = 0.5
    assert stale_keys(saved, cfg) == ["train__lr"]
    saved["loss"]["no_such_key"] = 1
    assert stale_keys(saved, cfg) == ["<config>"]
    assert stale_keys(None, cfg) == []


def test_a_rendering_is_redone_when_its_source_parameters_or_inputs_change(tmp_path):
    src_dir = tmp_path / "nbs"
    src_dir.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            'profile = "smoke"\nresults_dir = "results"\nx = 1\ntrain_missing = True',
            metadata={"tags": ["parameters"]},
        ),
        nbformat.v4.new_code_cell("print(x)"),
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, src_dir / "07_tiny.ipynb")
    results = tmp_path / "results"

    def run(**kw):
        params = {"profile": "smoke", "x": kw.pop("x", 1)}
        if "train_missing" in kw:
            params["train_missing"] = kw.pop("train_missing")
        out = execute("07_tiny", params, results_dir=results, notebook_dir=src_dir, **kw)
        return out.stat().st_mtime_ns

    first = run(inputs="a")
    assert run(inputs="a") == first  # same source, parameters and inputs: reused
    second = run(inputs="b")  # a run it reads changed
    assert second != first
    third = run(inputs="b", x=2)
    assert third != second
    assert run(inputs="b", x=2, train_missing=False) == third  # how to execute, not what it shows
    nb.cells[1].source = "print(x + 1)"
    nbformat.write(nb, src_dir / "07_tiny.ipynb")
    assert run(inputs="b", x=2) != third  # the source notebook changed
    superseded = results / "_superseded"
    assert not superseded.exists()  # a re-rendering replaces the copy, keeps no stale run aside
