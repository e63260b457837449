"""Save rules for the JupyterLab that `make lab` starts (loaded by jupyter_server_config.py).

`strip_or_refuse_save`, the contents manager's pre_save_hook, runs on every save through the
server, with `path` relative to the server's root_dir (the repository root under `make lab`):

- `notebooks/**.ipynb`, the committed sources: every code cell's outputs and execution_count are
  dropped before the file is written. Nothing else changes: cell ids, cell metadata (papermill's
  `parameters` tag), sources and notebook metadata are written as JupyterLab sent them. The open
  notebook in the browser keeps its outputs; only the file on disk is stripped.
- `results/**.ipynb`, the rendered copies the study wrote: the save is refused with HTTP 403, so a
  reader's run never overwrites them. JupyterLab shows "File Save Error" with the message below.
- anything else saves unchanged.

Plain Python, no owslib import: the server imports this file by path.
"""

from __future__ import annotations

import posixpath
from typing import Any

from tornado.web import HTTPError

SOURCES_DIR = "notebooks"
RENDERED_DIR = "results"

# No "%" in it: tornado formats an HTTPError's message with its args when logging.
RENDERED_COPY_MESSAGE = (
    "This is a rendered copy: save it under another name (File → Save As…) outside results/. "
    "The notebooks under results/ are what the study rendered; JupyterLab does not overwrite them."
)


def _top_dir(path: str) -> str | None:
    """The first folder of an API path relative to root_dir, or None for a file at the root."""
    parts = posixpath.normpath("/" + path.replace("\\", "/")).lstrip("/").split("/")
    return parts[0] if len(parts) > 1 else None


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
    top = _top_dir(path)
    if top == RENDERED_DIR:
        # Any type: a notebook, or the same file saved as text from the editor.
        raise HTTPError(403, RENDERED_COPY_MESSAGE, reason="Rendered copy")
    if top == SOURCES_DIR and model.get("type") == "notebook":
        content = model.get("content")
        if isinstance(content, dict):
            strip_outputs(content)
