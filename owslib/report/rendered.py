"""What a rendered notebook keeps for a reader without a kernel: no saved widget state.

A widget output holds, in one bundle, the live view (``application/vnd.jupyter.widget-view+json``)
and its picture (an ``<img alt>`` of a JPEG, :class:`owslib.notebook.widgets.FigureBox`). With the widget
state saved in the notebook's metadata, nbconvert's HTML and GitHub pick the view and load the
widget scripts from a CDN (nothing, offline); without it they show the picture. JupyterLab shows
the picture too in a copy it has not run (an untrusted output gets a safe renderer), and the live
widget once the cell runs again.
"""

from __future__ import annotations

from pathlib import Path

WIDGET_STATE = "widgets"


def drop_widget_state(path: str | Path) -> bool:
    """Remove the saved widget state from the notebook at ``path`` (rewritten in place only when
    it had one); returns whether it had one."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    if WIDGET_STATE not in nb.metadata:
        return False
    del nb.metadata[WIDGET_STATE]
    nbformat.write(nb, path)
    return True
