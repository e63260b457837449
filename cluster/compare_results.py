"""Assert that two results folders hold the same study: every run's ``metrics.json`` byte for
byte, and every rendered notebook's cells (sources and outputs; execution metadata and counts,
widgets' random model ids, the runs' wall seconds and the execution-only train_missing
parameter aside).  python cluster/compare_results.py REF_RESULTS OTHER_RESULTS PROFILE"""

from __future__ import annotations

import json
import sys
from pathlib import Path

WIDGET = "application/vnd.jupyter.widget-view+json"


def _without_seconds(table: str) -> str:
    """A markdown table with its ``*_s`` (wall seconds) columns blanked."""
    lines = table.splitlines()
    if not lines or "|" not in lines[0]:
        return table
    timed = [i for i, h in enumerate(lines[0].split("|")) if h.strip().endswith("_s")]
    out = []
    for line in lines:
        cells = line.split("|")
        out.append("|".join("" if i in timed else c for i, c in enumerate(cells)))
    return "\n".join(out)


def _cells(path: Path) -> list:
    nb = json.loads(path.read_text())
    cells = []
    for cell in nb["cells"]:
        outputs = []
        for out in cell.get("outputs", []):
            out = {k: v for k, v in out.items() if k not in ("execution_count", "metadata")}
            data = dict(out.get("data", {}))
            if WIDGET in data:  # a widget's model id is random each execution
                data[WIDGET] = "<widget>"
            if "text/markdown" in data:  # the runs' wall seconds (train_s, eval_s) are timings
                data["text/markdown"] = _without_seconds("".join(data["text/markdown"]))
            if data:
                out["data"] = data
            outputs.append(out)
        # train_missing says how a notebook executed (the render job's --render-only), not what
        # it shows (owslib.study.execute.EXECUTION_ONLY)
        source = [line for line in cell["source"] if not line.startswith("train_missing = ")]
        cells.append((cell["cell_type"], source, outputs))
    return cells


def compare(ref: Path, other: Path, profile: str) -> list[str]:
    problems = []
    runs = sorted(p.relative_to(ref) for p in (ref / "runs" / profile).glob("*/seed*/metrics.json"))
    if not runs:
        problems.append(f"{ref}: no run of profile {profile}")
    for rel in runs:
        if not (other / rel).is_file():
            problems.append(f"{rel}: missing")
        elif (other / rel).read_bytes() != (ref / rel).read_bytes():
            problems.append(f"{rel}: differs")
    extra = {p.relative_to(other) for p in (other / "runs" / profile).glob("*/seed*/metrics.json")}
    problems += [f"{rel}: not in the reference" for rel in sorted(extra - set(runs))]
    notebooks = sorted(p.relative_to(ref) for p in ref.glob(f"*/{profile}/*.ipynb"))
    for rel in notebooks:
        if not (other / rel).is_file():
            problems.append(f"{rel}: not rendered")
        elif _cells(other / rel) != _cells(ref / rel):
            problems.append(f"{rel}: its cells differ")
    print(
        f"{len(runs)} runs and {len(notebooks)} notebooks compared: {len(problems)} difference(s)"
    )
    return problems


if __name__ == "__main__":
    found = compare(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3])
    for line in found:
        print(line)
    sys.exit(1 if found else 0)
