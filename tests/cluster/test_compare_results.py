"""cluster/compare_results.py: a run's metrics or a notebook's output that differs is caught; the
runs' wall seconds, a widget's model id and the execution-only train_missing are not."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

SPEC = importlib.util.spec_from_file_location(
    "compare_results", Path(__file__).resolve().parents[2] / "cluster" / "compare_results.py"
)
compare_results = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(compare_results)

TABLE = "| variant | seed | train_s |\n|:--|--:|--:|\n| baseline | 0 | {} |"


def _results(root, miou, seconds, widget, extra_source=()):
    run = root / "runs" / "smoke" / "baseline" / "seed0"
    run.mkdir(parents=True)
    (run / "metrics.json").write_text(json.dumps({"miou": miou}))
    cells = [
        {"cell_type": "code", "source": ["profile = 'smoke'\n", *extra_source], "outputs": []},
        {
            "cell_type": "code",
            "source": ["show()"],
            "execution_count": 3,
            "outputs": [
                {
                    "output_type": "display_data",
                    "metadata": {},
                    "data": {
                        "text/markdown": TABLE.format(seconds),
                        compare_results.WIDGET: {"model_id": widget},
                    },
                }
            ],
        },
    ]
    nb = root / "01_x" / "smoke" / "01_x.ipynb"
    nb.parent.mkdir(parents=True)
    nb.write_text(json.dumps({"cells": cells}))


def test_only_what_the_study_shows_counts(tmp_path):
    _results(tmp_path / "a", 0.5, 12.5, "id1")
    _results(tmp_path / "b", 0.5, 99.0, "id2", ["train_missing = False\n"])
    assert compare_results.compare(tmp_path / "a", tmp_path / "b", "smoke") == []
    _results(tmp_path / "c", 0.51, 12.5, "id1")
    assert compare_results.compare(tmp_path / "a", tmp_path / "c", "smoke") == [
        "runs/smoke/baseline/seed0/metrics.json: differs"
    ]
