"""The data-prep notebook runs with smoke parameters and writes sane tables and figures."""

import json

import nbformat
import pandas as pd
import pytest

from owslib.config import load_profile
from owslib.study.execute import STUDY_NOTEBOOKS, check_parameters, execute, notebook_path


def test_data_prep_is_first_in_the_study_and_declares_its_roots():
    assert STUDY_NOTEBOOKS[0] == "00_data_prep"
    check_parameters(
        notebook_path("00_data_prep"),
        {"profile": "smoke", "data__root": "x", "bdd_anomaly_root": "", "n_samples": 1},
    )


@pytest.mark.slow
def test_data_prep_notebook_executes_with_smoke_parameters(smoke_root, tmp_path):
    params = {"profile": "smoke", "data__root": str(smoke_root), "n_samples": 1}
    out = execute("00_data_prep", params, results_dir=tmp_path)
    run = tmp_path / "00_data_prep" / "smoke"
    assert out == run / "00_data_prep.ipynb"
    for name in (
        "config.json",
        "check.json",
        "composition.png",
        "class_histogram_embedded.png",
        "samples_embedded.png",
    ):
        assert (run / name).is_file(), name
    for table in ("counts", "composition", "pixels", "problems"):
        assert (run / f"{table}.csv").is_file() and (run / f"{table}.md").is_file(), table
    syn = load_profile("smoke").synthetic
    counts = pd.read_csv(run / "counts.csv").set_index("split")
    assert counts["images"].to_dict() == {
        "train": syn.n_train,
        "val": syn.n_val,
        "test": syn.n_test,
    }
    pixels = pd.read_csv(run / "pixels.csv")
    assert pixels["pixels"].sum() == (syn.n_train + syn.n_val + syn.n_test) * syn.height * syn.width
    comp = pd.read_csv(run / "composition.csv").set_index("split")
    assert comp.loc["train", "images_with_unknown"] == 0
    assert 0 < comp.loc["test", "unknown_share"] < 0.5
    assert pd.read_csv(run / "problems.csv").empty
    assert json.loads((run / "check.json").read_text())[0]["ok"]
    nb = nbformat.read(out, as_version=4)
    errors = [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.output_type == "error"
    ]
    assert not errors
