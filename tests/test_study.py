import json

import nbformat
import pytest

from owslib.__main__ import main
from owslib.study import ParameterError, check_parameters, execute, notebook_path, run_dir_for


def test_unknown_parameter_is_refused_by_name():
    nb = notebook_path("01_baseline_contmav")
    with pytest.raises(ParameterError, match="train__lrr"):
        check_parameters(nb, {"profile": "smoke", "train__lrr": 0.1})
    check_parameters(nb, {"profile": "smoke", "train__lr": 0.1})  # declared: accepted


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
    params = {"profile": "smoke", "data__root": str(smoke_root), "train__epochs": 2}
    out = execute("01_baseline_contmav", params, results_dir=tmp_path)
    run = tmp_path / "01_baseline_contmav" / "smoke"
    assert out == run / "01_baseline_contmav.ipynb"
    for name in (
        "config.json",
        "metrics.json",
        "summary.csv",
        "anomaly.csv",
        "per_class.csv",
        "metrics.md",
        "history.csv",
        "training_curves.png",
        "qualitative.png",
    ):
        assert (run / name).is_file(), name
    metrics = json.loads((run / "metrics.json").read_text())
    assert 0.0 <= metrics["miou"] <= 1.0
    assert "fused" in metrics["anomaly"]
    config = json.loads((run / "config.json").read_text())
    assert config["profile"] == "smoke" and config["train"]["epochs"] == 2
    nb = nbformat.read(out, as_version=4)
    errors = [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.output_type == "error"
    ]
    assert not errors
    # a second run with the same parameters is reused, not redone
    mtime = out.stat().st_mtime_ns
    execute("01_baseline_contmav", params, results_dir=tmp_path)
    assert out.stat().st_mtime_ns == mtime
    # results of another config (e.g. a profile changed by an upgrade) are redone from scratch,
    # not skipped and not resumed from the stale checkpoint
    config["train"]["lr"] = 0.123
    (run / "config.json").write_text(json.dumps(config))
    execute("01_baseline_contmav", params, results_dir=tmp_path)
    assert out.stat().st_mtime_ns != mtime
    assert json.loads((run / "config.json").read_text())["train"]["lr"] != 0.123
