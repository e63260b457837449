"""`make lab`'s Jupyter server config: saves strip outputs from notebooks/ and leave results/ alone.

The config file is loaded the way jupyter_server loads it (traitlets' PyFileConfigLoader) and given
to a real FileContentsManager rooted in a temporary folder, so every save below goes through the
same pre-save hook a JupyterLab autosave does.
"""

import copy
import json
import re
import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_server.services.contents.filemanager import FileContentsManager
from tornado.web import HTTPError
from traitlets.config.loader import PyFileConfigLoader

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "jupyter" / "jupyter_server_config.py"


def _executed_notebook() -> dict:
    """A notebook as JupyterLab sends it after Run All: outputs, counts, a parameters cell."""
    nb = nbformat.v4.new_notebook(
        metadata={
            "kernelspec": {
                "display_name": "Python 3 (ipykernel)",
                "language": "python",
                "name": "python3",
            },
            "language_info": {"name": "python", "version": "3.11.7"},
        }
    )
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Title", id="md-1"),
        nbformat.v4.new_code_cell(
            "profile = 'quick'",
            id="params",
            metadata={"tags": ["parameters"]},
            execution_count=1,
            outputs=[nbformat.v4.new_output("stream", name="stdout", text="quick\n")],
        ),
        nbformat.v4.new_code_cell(
            "plot()",
            id="plot",
            metadata={"scrolled": True},
            execution_count=2,
            outputs=[
                nbformat.v4.new_output(
                    "display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"}
                ),
                nbformat.v4.new_output(
                    "execute_result", data={"text/plain": "1"}, execution_count=2
                ),
            ],
        ),
    ]
    nbformat.validate(nb)
    return json.loads(json.dumps(nb))  # plain dicts, as the REST handler passes them


def _model(nb: dict) -> dict:
    return {"type": "notebook", "format": "json", "content": copy.deepcopy(nb)}


@pytest.fixture()
def cm(tmp_path: Path) -> FileContentsManager:
    config = PyFileConfigLoader(CONFIG.name, path=str(CONFIG.parent)).load_config()
    return FileContentsManager(config=config, root_dir=str(tmp_path))


def _on_disk(root: Path, path: str) -> dict:
    """The saved file, its multi-line strings joined again (nbformat writes them as line lists)."""
    return nbformat.reads((root / path).read_text(encoding="utf-8"), as_version=4)


def test_config_installs_the_hook(cm):
    assert callable(cm.pre_save_hook)
    assert cm.pre_save_hook.__name__ == "strip_or_refuse_save"


@pytest.mark.parametrize("path", ["notebooks/x.ipynb", "notebooks/drafts/y.ipynb"])
def test_source_notebooks_are_saved_without_outputs(cm, tmp_path, path):
    sent = _executed_notebook()
    (tmp_path / path).parent.mkdir(parents=True)
    cm.save(_model(sent), path)

    saved = _on_disk(tmp_path, path)
    nbformat.validate(saved)
    code = [c for c in saved["cells"] if c["cell_type"] == "code"]
    assert code and all(c["outputs"] == [] and c["execution_count"] is None for c in code)
    # Nothing else changes: ids, sources, cell and notebook metadata are as sent.
    assert [c["id"] for c in saved["cells"]] == ["md-1", "params", "plot"]
    assert [c["source"] for c in saved["cells"]] == [c["source"] for c in sent["cells"]]
    assert [c["metadata"] for c in saved["cells"]] == [c["metadata"] for c in sent["cells"]]
    assert saved["cells"][1]["metadata"]["tags"] == ["parameters"]
    assert saved["metadata"] == sent["metadata"]
    assert (saved["nbformat"], saved["nbformat_minor"]) == (
        sent["nbformat"],
        sent["nbformat_minor"],
    )


@pytest.mark.parametrize(
    "path", ["results/a/b.ipynb", "results/01_baseline/quick/01_baseline.ipynb"]
)
def test_rendered_copies_are_not_overwritten(cm, tmp_path, path):
    rendered = tmp_path / path
    rendered.parent.mkdir(parents=True)
    rendered.write_bytes(b'{"rendered": "by the study"}\n')
    before = rendered.read_bytes()

    with pytest.raises(HTTPError) as refused:
        cm.save(_model(_executed_notebook()), path)
    assert refused.value.status_code == 403
    assert re.search(
        r"rendered copy.*save it under another name \(File → Save As…\) outside results/",
        refused.value.log_message,
    )
    assert rendered.read_bytes() == before
    assert sorted(p.name for p in rendered.parent.iterdir()) == [rendered.name]


def test_no_new_notebook_or_text_save_under_results(cm, tmp_path):
    (tmp_path / "results" / "a").mkdir(parents=True)
    with pytest.raises(HTTPError) as refused:
        cm.save(_model(_executed_notebook()), "results/a/new.ipynb")
    assert refused.value.status_code == 403
    text = {"type": "file", "format": "text", "content": json.dumps(_executed_notebook())}
    with pytest.raises(HTTPError):
        cm.save(text, "results/a/b.ipynb")
    assert not any((tmp_path / "results" / "a").iterdir())


@pytest.mark.parametrize(
    "path", ["x.ipynb", "scratch/x.ipynb", "my_notebooks/x.ipynb", "results_copy/x.ipynb"]
)
def test_notebooks_elsewhere_keep_their_outputs(cm, tmp_path, path):
    sent = _executed_notebook()
    (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
    cm.save(_model(sent), path)

    saved = _on_disk(tmp_path, path)
    assert [c.get("outputs") for c in saved["cells"]] == [c.get("outputs") for c in sent["cells"]]
    code = [c for c in saved["cells"] if c["cell_type"] == "code"]
    assert [c["execution_count"] for c in code] == [1, 2]


def test_other_files_under_notebooks_and_results_save_unchanged(cm, tmp_path):
    for path in ["notebooks/study.json", "results/a/notes.md"]:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        cm.save({"type": "file", "format": "text", "content": "kept\n"}, path)
        assert (tmp_path / path).read_text() == "kept\n"


def test_make_lab_starts_jupyter_with_this_config():
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^lab:.*\n((?:\t.*\n)+)", makefile, re.M)
    assert recipe, "no lab target"
    assert "jupyter lab --config=jupyter/jupyter_server_config.py" in recipe.group(1)
    assert "--ServerApp.root_dir=." in recipe.group(1)


# -- opening: rendered copies read-only, a banner line, Save As into scratch/ ------------------
def _study_cm(tmp_path: Path):
    from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager

    config = PyFileConfigLoader(CONFIG.name, path=str(CONFIG.parent)).load_config()
    server_class = config.ServerApp.contents_manager_class
    assert issubclass(server_class, AsyncLargeFileManager)
    hooks = sys.modules[server_class.__module__]
    return hooks.contents_managers()[1](config=config, root_dir=str(tmp_path))


def _rendered(tmp_path: Path, path: str = "results/02_x/quick/02_x.ipynb") -> str:
    nb = _executed_notebook()
    nb["metadata"]["papermill"] = {"input_path": "notebooks/02_x.ipynb"}
    (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / path).write_text(json.dumps(nb))
    return path


def test_a_rendered_copy_opens_read_only_with_its_banner(tmp_path):
    cm = _study_cm(tmp_path)
    path = _rendered(tmp_path)
    model = cm.get(path)
    assert model["writable"] is False  # JupyterLab: no autosave, Ctrl+S says "Save as…"
    first = model["content"]["cells"][0]
    assert first["cell_type"] == "markdown" and "\n" not in first["source"]
    for words in (
        "Rendered copy, read-only",
        "`notebooks/02_x.ipynb`",
        "`scratch/`",
        "outputs kept",
        "`notebooks/`, a notebook loses its outputs",
    ):
        assert words in first["source"], words
    listing = cm.get("results/02_x/quick")
    assert [i["writable"] for i in listing["content"]] == [False]
    assert cm.get(path, content=False)["writable"] is False


def test_save_as_into_scratch_keeps_outputs_and_no_banner(tmp_path):
    cm = _study_cm(tmp_path)
    opened = cm.get(_rendered(tmp_path))
    (tmp_path / "scratch").mkdir()
    cm.save(
        {"type": "notebook", "format": "json", "content": opened["content"]}, "scratch/02_x.ipynb"
    )
    saved = _on_disk(tmp_path, "scratch/02_x.ipynb")
    assert [c["id"] for c in saved["cells"]] == ["md-1", "params", "plot"]  # banner not saved
    assert saved["cells"][2]["outputs"], "outputs kept in scratch/"
    again = cm.get("scratch/02_x.ipynb")
    assert again["writable"] and "git-ignored" in again["content"]["cells"][0]["source"]
    assert sum(c["id"] == "owslib-banner" for c in again["content"]["cells"]) == 1


def test_a_source_notebook_says_its_outputs_are_stripped(tmp_path):
    cm = _study_cm(tmp_path)
    opened = cm.get(_rendered(tmp_path))
    (tmp_path / "notebooks").mkdir()
    cm.save(
        {"type": "notebook", "format": "json", "content": opened["content"]},
        "notebooks/02_copy.ipynb",
    )
    saved = _on_disk(tmp_path, "notebooks/02_copy.ipynb")
    assert all(not c.get("outputs") for c in saved["cells"])
    assert "without outputs" in cm.get("notebooks/02_copy.ipynb")["content"]["cells"][0]["source"]


def test_scratch_is_git_ignored():
    assert "/scratch/" in (ROOT / ".gitignore").read_text().splitlines()
