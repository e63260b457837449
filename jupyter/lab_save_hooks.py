"""Open and save rules for the JupyterLab that `make lab` starts (loaded by jupyter_server_config.py).

`StudyContentsManager` (the server's contents manager) serves every notebook under `results/` as
read-only (`writable: false`: JupyterLab neither autosaves it nor loops on save errors; Ctrl+S
says "read-only, use Save as…") and opens each notebook with a one-line banner cell saying what
it is and how to keep a change (:func:`banner`); the banner is never written to disk.

`strip_or_refuse_save`, the contents manager's pre_save_hook, runs on every save through the
server, with `path` relative to the server's root_dir (the repository root under `make lab`);
it first drops the banner cell, then:

- `notebooks/**.ipynb`, the committed sources: every code cell's outputs and execution_count are
  dropped before the file is written. Nothing else changes: cell ids, cell metadata (papermill's
  `parameters` tag), sources and notebook metadata are written as JupyterLab sent them. The open
  notebook in the browser keeps its outputs; only the file on disk is stripped.
- `results/**.ipynb`, the rendered copies the study wrote: the save is refused with HTTP 403, so a
  reader's run never overwrites them. JupyterLab shows "File Save Error" with the message below.
- `scratch/` (git-ignored) and anything else save unchanged, outputs included.

Plain Python, no owslib import: the server imports this file by path.
"""

from __future__ import annotations

import inspect
import posixpath
from typing import Any

from tornado.web import HTTPError

SOURCES_DIR = "notebooks"
RENDERED_DIR = "results"
SCRATCH_DIR = "scratch"
#: The banner cell's id and metadata flag: added when a notebook is opened, dropped when saved.
BANNER_ID = "owslib-banner"

# No "%" in it: tornado formats an HTTPError's message with its args when logging.
RENDERED_COPY_MESSAGE = (
    "This is a rendered copy: save it under another name (File → Save As…) outside results/, "
    "e.g. into scratch/ (git-ignored, outputs kept). The notebooks under results/ are what the "
    "study rendered; JupyterLab does not overwrite them."
)


def _top_dir(path: str) -> str | None:
    """The first folder of an API path relative to root_dir, or None for a file at the root."""
    parts = posixpath.normpath("/" + path.replace("\\", "/")).lstrip("/").split("/")
    return parts[0] if len(parts) > 1 else None


def banner(path: str, nb: dict[str, Any]) -> str | None:
    """The one line a notebook opens with in JupyterLab, by where it is; None: no banner."""
    top = _top_dir(path)
    keep = f"File → Save Notebook As… into `{SCRATCH_DIR}/` (git-ignored, outputs kept)"
    if top == RENDERED_DIR:
        stem = posixpath.splitext(posixpath.basename(path))[0]
        src = nb.get("metadata", {}).get("papermill", {}).get("input_path")
        src = src or f"{SOURCES_DIR}/{stem}.ipynb"
        return (
            f"**Rendered copy, read-only:** the study executed `{src}` into this file. To keep a "
            f"change: {keep}; saved into `{SOURCES_DIR}/`, a notebook loses its outputs."
        )
    if top == SOURCES_DIR:
        return (
            f"**Source notebook:** saved here without outputs (the rendered copies under "
            f"`{RENDERED_DIR}/` hold them). To keep outputs: {keep}."
        )
    if top == SCRATCH_DIR:
        return "**Scratch copy:** git-ignored; saved with its outputs."
    return None


def _is_banner(cell: dict[str, Any]) -> bool:
    return cell.get("id") == BANNER_ID or bool(cell.get("metadata", {}).get(BANNER_ID))


def add_banner(model: dict[str, Any], path: str) -> dict[str, Any]:
    """A contents model as JupyterLab receives it: a notebook under `results/` not writable, every
    notebook with its banner cell first (once)."""
    if model.get("type") != "notebook":
        return model
    if _top_dir(path) == RENDERED_DIR:
        model["writable"] = False
    nb = model.get("content")
    text = banner(path, nb) if isinstance(nb, dict) else None
    if text and not any(_is_banner(c) for c in nb.get("cells", [])):
        meta = {BANNER_ID: True, "editable": False, "deletable": False}
        nb["cells"].insert(
            0, {"cell_type": "markdown", "id": BANNER_ID, "metadata": meta, "source": text}
        )
    return model


def strip_outputs(nb: dict[str, Any]) -> None:
    """Drop every code cell's outputs and execution_count, in place; nothing else."""
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None


def strip_or_refuse_save(
    model: dict[str, Any], path: str, contents_manager: Any = None, **kwargs: Any
) -> None:
    """jupyter_server pre-save hook: strip sources, refuse rendered copies, pass the rest."""
    if not path.lower().endswith(".ipynb"):
        return
    content = model.get("content")
    if model.get("type") == "notebook" and isinstance(content, dict):
        content["cells"] = [c for c in content.get("cells", []) if not _is_banner(c)]
    top = _top_dir(path)
    if top == RENDERED_DIR:
        # Any type: a notebook, or the same file saved as text from the editor.
        raise HTTPError(403, RENDERED_COPY_MESSAGE, reason="Rendered copy")
    if top == SOURCES_DIR and model.get("type") == "notebook":
        content = model.get("content")
        if isinstance(content, dict):
            strip_outputs(content)


def _contents_manager(base: type) -> type:
    """``base`` (a jupyter_server contents manager class) opening notebooks through
    :func:`add_banner`; its directory listings mark the notebooks under `results/` not writable."""

    def mark(model: dict[str, Any], path: str) -> dict[str, Any]:
        if model.get("type") == "directory" and isinstance(model.get("content"), list):
            for item in model["content"]:
                if item.get("type") == "notebook" and _top_dir(item["path"]) == RENDERED_DIR:
                    item["writable"] = False
        return add_banner(model, path)

    if inspect.iscoroutinefunction(base.get):

        class Async(base):
            async def get(self, path, content=True, type=None, format=None, **kwargs):
                return mark(await super().get(path, content, type, format, **kwargs), path)

        cls = Async
    else:

        class Sync(base):
            def get(self, path, content=True, type=None, format=None, **kwargs):
                return mark(super().get(path, content, type, format, **kwargs), path)

        cls = Sync
    cls.__name__ = cls.__qualname__ = f"Study{base.__name__}"
    return cls


def contents_managers() -> tuple[type, type]:
    """``(StudyAsyncLargeFileManager, StudyFileContentsManager)``: the server's default contents
    manager and the plain one, each with the study's open rules."""
    from jupyter_server.services.contents.filemanager import FileContentsManager
    from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager

    return _contents_manager(AsyncLargeFileManager), _contents_manager(FileContentsManager)
