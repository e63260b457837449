"""Paths relative to the project: a notebook kernel started in ``notebooks/`` (JupyterLab) and a
shell in the repository root resolve ``results``, ``data/embedded`` … to the same folders."""

from __future__ import annotations

from pathlib import Path

#: The checkout holding this package (an installed copy elsewhere falls back to the cwd).
_ROOT = Path(__file__).resolve().parent.parent
#: The numbered notebooks (committed without outputs) and the study file that declares the study.
NOTEBOOK_DIR = _ROOT / "notebooks"
STUDY_FILE = NOTEBOOK_DIR / "study.json"


def project_root() -> Path:
    """The repository root when owslib runs from its checkout, else the working folder."""
    return _ROOT if (_ROOT / "pyproject.toml").is_file() else Path.cwd()


def resolve(path: str | Path) -> Path:
    """``path`` itself when absolute, else relative to :func:`project_root`."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else project_root() / p


def shown(path: str | Path) -> str:
    """``path`` as a reader should see it: relative to :func:`project_root` when inside it."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(project_root()))
    except ValueError:
        return str(p)
