"""The study's declared setup and every run's fingerprint.

A float32 run's bits depend on the kernels (AVX2 or AVX512), the thread count and the encoder it
starts from, besides the code and the config. The study file declares one setup for all of its
runs (``"setup"``): the precision, the instruction-set cap, the threads and the closed-set
encoder's sha256. The runner applies it to every run before torch initialises (a process of its
own, :func:`Setup.environment`) and each ``run.json`` records what the run really had
(:func:`observed`) and its :func:`fingerprint`; runs are paired only within one fingerprint.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import owslib

#: The caps that select AVX2 kernels on any x86-64 machine with AVX2 (torch's, oneDNN's, MKL's:
#: all three are needed for the bits to change).
ISA_CAPS = {
    "native": {},
    "avx2": {
        "ATEN_CPU_CAPABILITY": "avx2",
        "ONEDNN_MAX_CPU_ISA": "AVX2",
        "MKL_ENABLE_INSTRUCTIONS": "AVX2",
    },
}
#: The config overrides a precision stands for (``mixed``: bfloat16 on CPU, float16 on CUDA).
PRECISIONS = {
    "float32": {"train__amp": False, "eval__amp": False},
    "mixed": {"train__amp": True, "eval__amp": True},
}
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
#: Set in a run's own process: it trains in place and never starts another.
IN_SETUP_VARIABLE = "OWSLIB_IN_SETUP"
#: The parts of owslib whose code decides a run's numbers (training and evaluation).
COMPUTING_PARTS = (
    "config.py",
    "labels.py",
    "io.py",
    "paths.py",
    "distributed.py",
    "data",
    "models",
    "losses",
    "metrics",
    "inference",
    "engine",
    "evaluation",
)
_KEYS = {"precision", "isa", "threads", "encoder_sha256"}


@dataclass(frozen=True)
class Setup:
    """One machine setup; an empty field leaves that part as the profile or machine has it."""

    precision: str = ""
    isa: str = ""
    threads: int = 0
    encoder_sha256: str = ""

    @property
    def declared(self) -> bool:
        return any(asdict(self).values())

    def overrides(self) -> dict[str, Any]:
        """The config keys the precision stands for."""
        return dict(PRECISIONS.get(self.precision, {}))

    def environment(self) -> dict[str, str]:
        """The environment variables a run's process needs (set before torch initialises)."""
        env = dict(ISA_CAPS.get(self.isa, {}))
        if self.threads:
            env |= {v: str(self.threads) for v in THREAD_VARIABLES}
        return env | {IN_SETUP_VARIABLE: "1"}

    def differences(self) -> list[str]:
        """How this process differs from the setup (empty: a run may train here)."""
        import torch

        out = [
            f"{k}={os.environ.get(k)!r}, not {v!r}"
            for k, v in ISA_CAPS.get(self.isa, {}).items()
            if os.environ.get(k) != v
        ]
        if self.threads and torch.get_num_threads() != self.threads:
            out.append(f"{torch.get_num_threads()} threads, not {self.threads}")
        return out

    def machine_warnings(self, cpuinfo: str | Path = "/proc/cpuinfo") -> list[str]:
        """What this machine cannot give, and what it costs."""
        try:
            flags = next(
                (
                    line.split(":", 1)[1].split()
                    for line in Path(cpuinfo).read_text().splitlines()
                    if line.startswith("flags")
                ),
                [],
            )
        except OSError:
            flags = []
        out = []
        if self.isa == "avx2" and flags and "avx2" not in flags:
            out.append("this CPU lacks AVX2: its runs cannot reproduce the study's bits")
        cores = usable_cores()
        if self.threads and cores and self.threads > cores:
            out.append(
                f"{self.threads} threads per run on {cores} cores: each run is slower "
                f"(its bits are the same)"
            )
        return out


RUN_MEMORY_BYTES = 2 * 1024**3  # a quick-profile run holds ~1.5 GB (its RSS, measured on 2 cores)


def usable_cores() -> int:
    """The cores this process may run on (its affinity where the OS says, else every core)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def available_memory(meminfo: str | Path = "/proc/meminfo") -> int | None:
    """Bytes of memory available for new processes (Linux's MemAvailable); None where unknown."""
    try:
        for line in Path(meminfo).read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def auto_jobs(
    threads: int, cores: int | None = None, memory: int | None = -1, per_run: int = RUN_MEMORY_BYTES
) -> int:
    """``--jobs auto``: as many runs at once as the cores hold at ``threads`` each (1 for 0: torch's
    default takes every core), and no more than the available memory holds at ``per_run`` bytes
    each; at least 1. ``cores``/``memory`` default to this machine's (``memory`` None: unknown)."""
    cores = usable_cores() if cores is None else cores
    memory = available_memory() if memory == -1 else memory
    n = cores // threads if threads > 0 else 1
    if memory is not None:
        n = min(n, memory // per_run)
    return max(1, n)


def parse_setup(where: str, spec: Any) -> Setup:
    """The study file's ``"setup"``; an unknown key or value raises, naming it."""
    if spec is None:
        return Setup()
    if not isinstance(spec, dict) or set(spec) - _KEYS:
        raise ValueError(f"{where}: expected an object with keys {sorted(_KEYS)}, got {spec!r}")
    setup = Setup(**spec)
    checks = [
        (setup.precision in ("", *PRECISIONS), "precision", sorted(PRECISIONS)),
        (setup.isa in ("", *ISA_CAPS), "isa", sorted(ISA_CAPS)),
        (isinstance(setup.threads, int) and setup.threads >= 0, "threads", "an integer >= 0"),
        (isinstance(setup.encoder_sha256, str), "encoder_sha256", "a hex string"),
    ]
    for ok, key, expected in checks:
        if not ok:
            raise ValueError(f"{where}.{key}={getattr(setup, key)!r}: expected {expected}")
    return setup


#: What :mod:`owslib.runs.computation` declares of the code: the identity runs record, its probe.
COMPUTATION_RECORD = Path(__file__).with_name("computation.json")


@functools.cache
def code_identity() -> str:
    """The ``source_sha256`` a run records: the hash of the computing code when what it computes
    last changed (:mod:`owslib.runs.computation`; its probe guards that nothing changed since)."""
    return json.loads(COMPUTATION_RECORD.read_text())["source_sha256"]


def source_sha256(root: Path | None = None) -> str:
    """A hash of the code that computes a run's numbers (:data:`COMPUTING_PARTS`): each module's
    syntax tree without docstrings and import statements (written as Python 3.11 writes it, on any
    Python), the modules' hashes sorted. Comments, formatting, docstrings, moving a module and the
    Python version change nothing; a changed statement does. Read
    once per process for the installed package (the code a process runs does not change)."""
    return _installed_source_sha256() if root is None else _source_sha256(root)


@functools.cache
def _installed_source_sha256() -> str:
    return _source_sha256(Path(owslib.__file__).parent)


def _source_sha256(root: Path) -> str:
    files = sorted(
        p
        for part in COMPUTING_PARTS
        for p in ([root / part] if part.endswith(".py") else (root / part).rglob("*.py"))
        if p.is_file()
    )
    digests = sorted(hashlib.sha256(_normalised(p.read_text()).encode()).hexdigest() for p in files)
    return hashlib.sha256("\n".join(digests).encode()).hexdigest()


def _normalised(source: str) -> str:
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list):
            kept = [
                s
                for s in body
                if not isinstance(s, (ast.Import, ast.ImportFrom))
                and not (
                    isinstance(s, ast.Expr)
                    and isinstance(s.value, ast.Constant)
                    and isinstance(s.value.value, str)
                )
            ]
            node.body = kept or [ast.Pass()]
    return _dump(tree)


#: Fields syntax trees gained after Python 3.11 (3.12's type parameters, 3.13's type-parameter
#: defaults): empty in the code hashed, and left out so the hash is the same on every Python.
_LATER_FIELDS = frozenset({"type_params", "default_value"})


def _dump(node: Any) -> str:
    """A syntax tree as Python 3.11's ``ast.dump(node)`` writes it, on any Python: each field by
    name, an optional field that is None left out, the fields later Pythons added left out (and
    3.13's ``ast.dump`` dropping empty lists does not apply), so a run's code hash does not depend
    on the Python that computes it."""
    if isinstance(node, ast.AST):
        cls, parts = type(node), []
        for name in node._fields:
            if name in _LATER_FIELDS or not hasattr(node, name):
                continue
            value = getattr(node, name)
            if value is None and getattr(cls, name, ...) is None:
                continue
            parts.append(f"{name}={_dump(value)}")
        return f"{cls.__name__}({', '.join(parts)})"
    if isinstance(node, list):
        return f"[{', '.join(_dump(x) for x in node)}]"
    return repr(node)


def observed(cfg: Any, encoder_sha256: str, base_config: dict[str, Any] | None = None) -> dict:
    """What a run really had: precision, instruction-set caps, threads, encoder, code, and the
    config its study applies to every run (``base_config``: without variant and seed)."""
    import torch

    caps = {k: os.environ[k] for caps in ISA_CAPS.values() for k in caps if os.environ.get(k)}
    base = json.dumps(base_config or {}, sort_keys=True, default=str)
    return {
        "precision": "mixed" if cfg.train.amp else "float32",
        "isa": next(
            (n for n, c in ISA_CAPS.items() if c and c == caps),
            "native" if not caps else json.dumps(caps, sort_keys=True),
        ),
        "threads": torch.get_num_threads(),
        "encoder_sha256": encoder_sha256,
        "source_sha256": code_identity(),
        "base_config_sha256": hashlib.sha256(base.encode()).hexdigest(),
    }


def fingerprint(record: dict[str, Any]) -> str:
    """16 hex digits naming a setup record (:func:`observed`); two runs are paired only when
    theirs are equal."""
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:16]
