"""Jupyter server configuration for `make lab` (`--config=jupyter/jupyter_server_config.py`).

The committed notebooks/*.ipynb carry no outputs, and results/**/*.ipynb are the executed copies
the study rendered. JupyterLab autosaves an open notebook every two minutes, so a Run All on a
source notebook used to write every output into the committed file (8.5 KB -> 660 KB), and a run
on a rendered copy overwrote it. A pre-save hook on the contents manager
(`lab_save_hooks.strip_or_refuse_save`, next to this file) now decides by path, relative to the
server's root_dir (the repository root under `make lab`):

- notebooks/**.ipynb: saved with every code cell's outputs and execution_count removed; cell ids,
  cell metadata (papermill's `parameters` tag), sources and notebook metadata stay as sent. The
  browser keeps showing the outputs; only the file on disk is stripped.
- results/**.ipynb: served read-only (the contents model says `writable: false`), so JupyterLab
  never autosaves a rendered copy and answers Ctrl+S with a five-second note ("… is read-only. Use
  "Save as…" instead."), not an error dialog at each autosave. A save that reaches the server
  anyway is refused with HTTP 403 (the hook raises tornado's HTTPError). The rendered copy on disk
  stays as the study wrote it.
- scratch/ (git-ignored) and everything else: saved unchanged, outputs included.

Each notebook opens with a one-line banner cell (`lab_save_hooks.banner`: a rendered copy says
where its source is and to Save As into scratch/; a source says its outputs are stripped); the
hook drops it on every save, so no file on disk holds it.

Only saves through the Jupyter server pass the hook: papermill and `owslib study` write their files
directly, and `git` sees whatever is on disk.
"""

import importlib.util
import sys
import warnings
from pathlib import Path

c = get_config()  # noqa: F821 (traitlets injects get_config when it loads this file)

_HOOKS = Path(__file__).resolve().parent / "lab_save_hooks.py"
_spec = importlib.util.spec_from_file_location("owslib_lab_save_hooks", _HOOKS)
lab_save_hooks = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = lab_save_hooks
_spec.loader.exec_module(lab_save_hooks)

# jupyter_server's default contents manager (AsyncLargeFileManager) subclasses FileContentsManager;
# the study's subclass of it serves rendered copies read-only, each notebook with its banner line.
c.FileContentsManager.pre_save_hook = lab_save_hooks.strip_or_refuse_save
c.ServerApp.contents_manager_class = lab_save_hooks.contents_managers()[0]

# jupyter_server 2.x validates a configured pre_save_hook after it is already set, so it warns
# "Overriding existing pre_save_hook (X) with a new one (X)" about the hook replacing itself.
# Silence exactly that message; an override by another hook still warns.
warnings.filterwarnings(
    "ignore",
    message=r"Overriding existing pre_save_hook \(strip_or_refuse_save\) with a new one "
    r"\(strip_or_refuse_save\)",
    category=UserWarning,
)
