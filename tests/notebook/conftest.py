"""Fixtures of the notebook tests."""

from __future__ import annotations

import pytest


@pytest.fixture()
def shown(monkeypatch) -> list:
    """Everything the notebook helpers display (the objects, or the raw bundles)."""
    import IPython.display

    seen = []
    monkeypatch.setattr(IPython.display, "display", lambda *objs, **kw: seen.extend(objs))
    monkeypatch.setattr("owslib.notebook.widgets.display", lambda *objs, **kw: seen.extend(objs))
    return seen
