"""Rendered notebooks as readers meet them: no absolute path of the machine that rendered them, one
output per widget (no "VBox(children=…)" text), every inline image with alt text, the summary's
headings the study's questions.

Two sources: the copies committed under ``results/`` (renderings made before these rules are
listed in :data:`RENDERED_BEFORE` and expected to fail, strictly, until they are rendered again),
and a smoke rendering of 01 and 06 made here, from a results folder as a fresh clone has it
(finished runs, their explorer records, no checkpoint)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import nbformat
import pytest

from owslib.study.execute import execute

sys.path.insert(0, str(Path(__file__).resolve().parent / "notebook"))  # its fresh-clone helpers
from test_fresh_clone import QUESTION, fresh_clone_results  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
#: Absolute paths of a rendering machine (POSIX homes, temp and work folders, a Windows drive).
ABSOLUTE = re.compile(r"(/work/|/tmp/|/home/|/root/|/Users/|/private/var/|\b[A-Z]:\\)")
#: The committed renderings: results/<notebook>/<profile>/<notebook>.ipynb (smoke renderings and
#: superseded work are git-ignored).
COMMITTED = sorted(
    p
    for p in ROOT.glob("results/*/*/*.ipynb")
    if p.stem == p.parent.parent.name and p.parent.name != "smoke"
)
#: Committed renderings made before this check (expected to fail, strictly, until rendered again):
#: none left.
RENDERED_BEFORE: set[str] = set()


def absolute_paths(nb, *, skip_injected: bool = False) -> list[str]:
    """Every absolute path in what a reader sees: cell sources and outputs (the injected
    parameters cell holds what the caller passed, and is left out with ``skip_injected``)."""
    found = []
    for c in nb.cells:
        if skip_injected and "injected-parameters" in c.metadata.get("tags", []):
            continue
        texts = [c.source] + [json.dumps(o) for o in c.get("outputs", [])]
        found += [
            m.group(0) + t[m.end() : m.end() + 60] for t in texts for m in ABSOLUTE.finditer(t)
        ]
    return found


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(
            p,
            id=p.parent.parent.name,
            marks=pytest.mark.xfail(
                strict=True,
                reason="rendered before paths were shown relative; renders again with the "
                "retrained runs",
            ),
        )
        if p.parent.parent.name in RENDERED_BEFORE
        else pytest.param(p, id=p.parent.parent.name)
        for p in COMMITTED
    ],
)
def test_committed_renderings_show_no_absolute_path(path):
    assert absolute_paths(nbformat.read(path, 4)) == []


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, nbformat.NotebookNode]:
    """01 and 06 rendered with the smoke profile from a fresh clone's results folder."""
    tmp = tmp_path_factory.mktemp("fresh_clone")
    study_file, results = fresh_clone_results(tmp)
    out = {}
    for name, extra in (("01_baseline_contmav", {"train_missing": False}), ("06_summary", {})):
        params = {"profile": "smoke", "study_file": str(study_file), **extra}
        out[name] = nbformat.read(execute(name, params, results_dir=results), 4)
    return out


def _outputs(nb, needle: str) -> list[dict]:
    (cell,) = [c for c in nb.cells if c.cell_type == "code" and needle in c.source]
    return cell.outputs


@pytest.mark.slow
def test_a_smoke_rendering_shows_no_absolute_path(rendered):
    for name, nb in rendered.items():
        assert absolute_paths(nb, skip_injected=True) == [], name
        assert not [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]


@pytest.mark.slow
def test_a_smoke_rendering_records_no_absolute_path_in_its_metadata(rendered):
    for nb in rendered.values():
        meta = nb.metadata["papermill"]  # (its "parameters" are the caller's own arguments)
        assert not ABSOLUTE.search(meta["input_path"] + meta["output_path"])
        assert meta["input_path"].startswith("notebooks/") and meta["output_path"].endswith(
            ".ipynb"
        )


@pytest.mark.slow
def test_widgets_render_as_one_output_each_and_every_image_has_alt_text(rendered):
    nb = rendered["01_baseline_contmav"]
    for needle in ("notebook.explorer(run)", "nb.side_by_side()"):
        (out,) = _outputs(nb, needle)  # the static picture is not shown twice
        assert {"application/vnd.jupyter.widget-view+json", "image/jpeg"} <= set(out.data), needle
        assert not out.data["text/plain"].startswith("VBox(")
    assert "Retrain" not in json.dumps([c.get("outputs", []) for c in nb.cells])
    images = [
        o
        for n in rendered.values()
        for c in n.cells
        for o in c.get("outputs", [])
        if {"image/png", "image/jpeg"} & set(o.get("data", {}))
    ]
    assert len(images) >= 8
    assert all('<img alt="' in o.data.get("text/html", "") for o in images)


@pytest.mark.slow
def test_the_summary_headings_are_the_questions_and_no_negative_zero(rendered):
    nb = rendered["06_summary"]
    texts = [o.data.get("text/markdown", "") for c in nb.cells for o in c.get("outputs", [])]
    headings = [t.splitlines()[0] for t in texts if t.startswith("### ")]
    assert headings == [f"### {QUESTION}"]
    assert not [t for t in texts if re.search(r"-0\.0+(?![0-9])", t)]  # no "-0.000"
    (runs,) = [t for t in texts if "Runs finished" in t]
    assert "`summary/smoke/all_runs.csv` in the results folder" in runs


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _widget_cells(nb) -> list[str]:
    return [
        c.id
        for c in nb.cells
        if c.cell_type == "code"
        and any(WIDGET_VIEW in o.get("data", {}) for o in c.get("outputs", []))
    ]


@pytest.mark.parametrize("path", [pytest.param(p, id=p.parent.parent.name) for p in COMMITTED])
def test_committed_widgets_show_their_picture_in_html(path):
    """nbconvert's HTML of a committed rendering shows each widget cell's picture with alt text,
    not a widget view that needs the widget scripts (no saved widget state)."""
    from nbconvert import HTMLExporter

    nb = nbformat.read(path, 4)
    assert "widgets" not in nb.metadata, "saved widget state: static renderers show the view"
    cells = _widget_cells(nb)
    if not cells:
        return
    body, _ = HTMLExporter().from_notebook_node(nb)
    starts = sorted(body.index(f'id="cell-id={c}"') for c in {c.id for c in nb.cells})
    for cid in cells:
        start = body.index(f'id="cell-id={cid}"')
        end = next((s for s in starts if s > start), len(body))
        cell = body[start:end]
        assert '<img alt="' in cell and WIDGET_VIEW not in cell, f"{path.name}: cell {cid}"
