"""The source notebooks as JupyterLab meets them: not marked modified when a kernel starts, and a
landing notebook whose links lead to every notebook of the study."""

import json
import re
from pathlib import Path

import nbformat
import pytest
from ipykernel.ipkernel import IPythonKernel

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.stem)
def test_metadata_equals_what_the_kernel_reports(path):
    # JupyterLab writes the kernel's kernelspec and language_info into the notebook when the kernel
    # starts; a value that differs marks the just-opened source notebook modified.
    meta = nbformat.read(path, 4).metadata
    spec = meta["kernelspec"]
    assert spec == {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    ours, kernel = dict(meta["language_info"]), dict(IPythonKernel.language_info)
    assert ours.pop("version").split(".")[:2] == kernel.pop("version").split(".")[:2]
    assert ours == kernel


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.stem)
def test_sources_carry_no_outputs(path):
    nb = nbformat.read(path, 4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)


def test_landing_notebook_links_every_study_notebook():
    study = json.loads((ROOT / "notebooks" / "study.json").read_text())
    text = "\n".join(
        c.source for c in nbformat.read(ROOT / "notebooks" / "start_here.ipynb", 4).cells
    )
    links = re.findall(r"\]\(([^)]+)\)", text)
    for n in (nb["name"] for nb in study["notebooks"]):
        assert f"{n}.ipynb" in links
        assert f"../results/{n}/{study['profile']}/{n}.ipynb" in links
    for link in links:
        assert (ROOT / "notebooks" / link).resolve().is_relative_to(ROOT)
        if not link.startswith("../results/"):  # the rendered copies exist once the study ran
            assert (ROOT / "notebooks" / link).is_file(), link


def test_make_lab_opens_the_landing_notebook():
    makefile = (ROOT / "Makefile").read_text()
    assert "default_url=/lab/tree/notebooks/start_here.ipynb" in makefile
