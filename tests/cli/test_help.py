"""``owslib --help`` and every command's ``--help`` answer without importing torch (a few
hundredths of a second instead of seconds)."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import sys
from owslib.__main__ import main
try:
    main(sys.argv[1:])
except SystemExit as e:
    assert e.code == 0, e.code
print("torch imported" if "torch" in sys.modules else "torch not imported")
"""


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["study", "--help"],
        ["train", "--help"],
        ["evaluate", "--help"],
        ["data", "check", "--help"],
    ],
)
def test_help_does_not_import_torch(argv):
    out = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, check=True
    ).stdout
    assert "usage: owslib" in out and out.strip().endswith("torch not imported")
