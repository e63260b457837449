"""Which frames of a dataset may be pictured in what this project commits: a ``credits.txt`` as
RoadAnomaly ships it (a frame name, or several, on lines of their own, then indented lines giving
the author, the licence and the source), read for the frames under an open licence.

Frames whose credit names no open licence ("provided for research purposes") are scored like
every other frame, never pictured (``docs/real-data-and-clusters.md``)."""

from __future__ import annotations

import re
from pathlib import Path

#: Licences that allow a committed picture with attribution: CC0, public domain, CC BY, CC BY-SA
#: (any version); NC or ND variants do not count.
OPEN_LICENCE = re.compile(r"\bCC0\b|public domain|\bCC BY(?:-SA)?(?: \d\.\d)?(?!-N)", re.IGNORECASE)


def credit_blocks(text: str) -> list[tuple[list[str], list[str]]]:
    """``(frame names, credit lines)`` per entry: unindented lines name frames, the indented lines
    under them credit those frames; a blank line or a new name after credits ends an entry."""
    blocks: list[tuple[list[str], list[str]]] = []
    names: list[str] = []
    lines: list[str] = []
    for line in [*text.splitlines(), ""]:
        if line[:1] in (" ", "\t") and line.strip():
            lines.append(line.strip())
            continue
        if (not line.strip() or lines) and names:
            blocks.append((names, lines))
            names, lines = [], []
        if line.strip():
            names.append(line.strip())
    return blocks


def open_licence_frames(credits: str | Path) -> set[str]:
    """The frames of a ``credits.txt`` whose credit gives an open licence (:data:`OPEN_LICENCE`)."""
    text = Path(credits).read_text(encoding="utf-8")
    return {
        name
        for names, lines in credit_blocks(text)
        if any(OPEN_LICENCE.search(line) for line in lines)
        for name in names
    }
