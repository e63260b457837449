"""The study file: which notebooks run in which order, their variants, the seeds and the profile.

``notebooks/study.json`` (validated: unknown keys, duplicate names, unknown config keys and unknown
notebooks raise, naming them)::

    {"profile": "quick", "seeds": [0, 1, 2],
     "profiles": {"smoke": {"seeds": [0], "confirmatory_seeds": [100, 101]}},
     "variants": {"baseline": {"description": "...", "overrides": {}},
                  "focal": {"description": "...", "overrides": {"loss__semantic": "focal"}}},
     "notebooks": [{"name": "01_baseline_contmav", "variants": ["baseline"]},
                   {"name": "03_loss_ablations", "question": "...", "variants": ["baseline", "focal"]}]}

A notebook may also declare an ``ablation``: ``{"of": "focal", "variants": ["focal_g1", ...],
"question": "..."}``, more variants compared, paired by seed, with the variant ``of`` (one of the
notebook's, or one of its own setup, e.g. retrained on another machine) instead of the notebook's
baseline, in a section of their own (e.g. each SynCo kind alone against the mix of all six); the
study trains them, and ``of``, with the notebook's runs.

A *variant* is a name, a one-line description and flat config overrides; the baseline is a variant
like the others. One training run per (variant, seed) lives in ``results/runs/<profile>/<variant>/
seed<k>/``; a run shared by several notebooks (the baseline) is trained once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from owslib.config import ConfigError, ExperimentConfig, lists_to_tuples, load_profile
from owslib.paths import STUDY_FILE
from owslib.runs.setup import Setup, parse_setup
from owslib.study.confirm import Confirmatory, parse_confirmatory
from owslib.study.replication import Replication, parse_replication

BASELINE = "baseline"
_TOP = {
    "profile",
    "seeds",
    "profiles",
    "variants",
    "notebooks",
    "description",
    "setup",
    "confirmatory",
    "replication",
}
_VARIANT = {"description", "overrides"}
_NOTEBOOK = {"name", "question", "variants", "baseline", "contrast", "ablation"}
_ABLATION = {"of", "variants", "question"}
_PROFILE = {"seeds", "variants", "confirmatory_seeds"}


class StudyError(ValueError):
    """A malformed study file: the message names the file and the offending key."""


@dataclass(frozen=True)
class Variant:
    name: str
    description: str
    overrides: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NotebookSpec:
    name: str
    variants: tuple[str, ...] = ()
    question: str = ""
    baseline: str = BASELINE
    #: A direct, paired comparison of two of its variants ``(a, b)``: Δ = a − b (e.g. two SynCo
    #: directions), beside the comparisons with the baseline.
    contrast: tuple[str, ...] = ()
    #: More variants compared with one of ``variants`` (``Ablation.of``), in a section of their own.
    ablation: Ablation | None = None

    @property
    def run_variants(self) -> tuple[str, ...]:
        """Every variant the notebook's runs need: its own, then its ablation's."""
        if self.ablation is None:
            return self.variants
        extra = (self.ablation.of,) if self.ablation.of not in self.variants else ()
        return self.variants + extra + self.ablation.variants


@dataclass(frozen=True)
class Ablation:
    of: str
    variants: tuple[str, ...]
    question: str = ""


@dataclass(frozen=True)
class Study:
    profile: str
    seeds: tuple[int, ...]
    variants: dict[str, Variant]
    notebooks: tuple[NotebookSpec, ...]
    path: Path = STUDY_FILE
    description: str = ""
    #: The machine setup every run is trained in (precision, ISA cap, threads, encoder).
    setup: Setup = Setup()
    #: The pre-registered confirmation (endpoints, margins, rule, fresh seeds), if declared.
    confirmatory: Confirmatory | None = None
    #: The pre-registered replication of the embedded answers on other data, if declared.
    replication: Replication | None = None

    def notebook(self, name: str) -> NotebookSpec:
        for nb in self.notebooks:
            if nb.name == name:
                return nb
        raise StudyError(f"{self.path}: no notebook {name!r}; it lists {self.notebook_names}")

    @property
    def notebook_names(self) -> list[str]:
        return [nb.name for nb in self.notebooks]

    def runs(
        self, notebooks: tuple[str, ...] = (), variants: tuple[str, ...] = ()
    ) -> list[tuple[str, int]]:
        """Every (variant, seed) the chosen notebooks (all by default) need, once each, in study
        order (notebook by notebook, seed by seed)."""
        out: list[tuple[str, int]] = []
        for nb in self.notebooks:
            if notebooks and nb.name not in notebooks:
                continue
            for seed in self.seeds:
                for v in nb.run_variants:
                    if (v, seed) not in out and (not variants or v in variants):
                        out.append((v, seed))
        return out

    def config(self, variant: str, seed: int, **overrides: Any) -> ExperimentConfig:
        """The training config of one run: the profile, the variant's overrides, the setup's
        precision (one for every run), the seed, then ``overrides``."""
        v = self.variants[variant]
        return load_profile(
            self.profile,
            **{
                **lists_to_tuples(v.overrides),
                **self.setup.overrides(),
                "train__seed": seed,
                **lists_to_tuples(overrides),
            },
        )


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for k, v in pairs:
        if k in seen:
            raise StudyError(f"duplicate key {k!r}")
        seen[k] = v
    return seen


def _check_keys(where: str, d: Any, allowed: set[str]) -> None:
    if not isinstance(d, dict):
        raise StudyError(f"{where}: expected an object, got {type(d).__name__}")
    unknown = sorted(set(d) - allowed)
    if unknown:
        raise StudyError(f"{where}: unknown keys {unknown}; allowed: {sorted(allowed)}")


def load_study(
    path: str | Path = STUDY_FILE, profile: str | None = None, notebook_dir: Path | None = None
) -> Study:
    """Read and validate a study file; ``profile`` overrides the file's (its ``profiles`` entry,
    if any, narrows seeds, variants and the confirmation's seeds for that profile)."""
    path = Path(path)
    try:
        spec = json.loads(path.read_text(), object_pairs_hook=_no_duplicates)
    except OSError as e:
        raise StudyError(f"{path}: cannot read the study file ({e})") from e
    except (json.JSONDecodeError, StudyError) as e:
        raise StudyError(f"{path}: {e}") from e
    _check_keys(str(path), spec, _TOP)
    profile = profile or spec.get("profile", "quick")
    variants = {}
    for name, v in spec.get("variants", {}).items():
        _check_keys(f"{path}: variant {name!r}", v, _VARIANT)
        overrides = v.get("overrides", {})
        try:
            ExperimentConfig().override(**lists_to_tuples(overrides))
        except ConfigError as e:
            raise StudyError(f"{path}: variant {name!r}: {e}") from e
        variants[name] = Variant(name, v.get("description", ""), dict(overrides))
    if BASELINE not in variants:
        raise StudyError(f"{path}: no {BASELINE!r} variant")
    narrowed = spec.get("profiles", {}).get(profile, {})
    _check_keys(f"{path}: profiles.{profile}", narrowed, _PROFILE)
    seeds = tuple(narrowed.get("seeds", spec.get("seeds", [0, 1, 2])))
    if not seeds or len(set(seeds)) != len(seeds) or not all(isinstance(s, int) for s in seeds):
        raise StudyError(f"{path}: seeds must be distinct integers, got {list(seeds)}")
    keep = narrowed.get("variants")
    notebooks = _notebooks(path, spec, variants, keep, notebook_dir)
    try:
        setup = parse_setup(f"{path}: setup", spec.get("setup"))
        if profile != spec.get("profile", "quick"):
            # another profile (smoke: tests, a quick look) has an encoder of its own and trains in
            # this process: the setup's kernels and threads are the study's, its precision stays
            setup = Setup(precision=setup.precision)
        conf_spec = _narrowed_confirmation(
            f"{path}: profiles.{profile}.confirmatory_seeds", spec, profile, narrowed
        )
        confirmatory = parse_confirmatory(
            f"{path}: confirmatory",
            conf_spec,
            {nb.name: nb.run_variants for nb in notebooks},
            seeds,
        )
        replication = parse_replication(
            f"{path}: replication", spec.get("replication"), set(variants), seeds
        )
    except ValueError as e:
        raise StudyError(str(e)) from e
    return Study(
        profile,
        seeds,
        variants,
        tuple(notebooks),
        path,
        spec.get("description", ""),
        setup,
        confirmatory,
        replication,
    )


def _notebooks(
    path: Path,
    spec: dict[str, Any],
    variants: dict[str, Variant],
    keep: list[str] | None,
    notebook_dir: Path | None,
) -> list[NotebookSpec]:
    """The study file's notebooks, each checked (a unique name, its file where ``notebook_dir``
    says, known variants, its contrast and ablation), narrowed to ``keep``'s variants if given."""
    notebooks, names = [], set()
    for i, nb in enumerate(spec.get("notebooks", [])):
        _check_keys(f"{path}: notebooks[{i}]", nb, _NOTEBOOK)
        name = nb.get("name")
        if not name or name in names:
            raise StudyError(f"{path}: notebooks[{i}]: missing or duplicate name {name!r}")
        names.add(name)
        if notebook_dir is not None and not (notebook_dir / f"{name}.ipynb").is_file():
            raise StudyError(f"{path}: notebook {name!r} not found in {notebook_dir}")
        vs = nb.get("variants", [])
        unknown = [v for v in vs if v not in variants]
        if unknown or len(set(vs)) != len(vs):
            raise StudyError(f"{path}: notebook {name!r}: unknown or repeated variants {vs}")
        contrast = tuple(nb.get("contrast", ()))
        if contrast and (
            len(contrast) != 2 or not set(contrast) <= set(vs) or contrast[0] == contrast[1]
        ):
            raise StudyError(
                f"{path}: notebook {name!r}: contrast must name two different "
                f"variants of the notebook, got {list(contrast)}"
            )
        ablation = _ablation(f"{path}: notebook {name!r}", nb.get("ablation"), vs, variants)
        if keep is not None:
            vs = [v for v in vs if v in keep]
            contrast = contrast if set(contrast) <= set(vs) else ()
            if ablation is not None:
                kept = tuple(v for v in ablation.variants if v in keep)
                ablation = (
                    Ablation(ablation.of, kept, ablation.question)
                    if ablation.of in keep and kept
                    else None
                )
        notebooks.append(
            NotebookSpec(
                name,
                tuple(vs),
                nb.get("question", ""),
                nb.get("baseline", BASELINE),
                contrast,
                ablation,
            )
        )
    return notebooks


def _narrowed_confirmation(
    where: str, spec: dict[str, Any], profile: str, narrowed: dict[str, Any]
) -> Any:
    """The study's ``confirmatory`` section, its seeds narrowed by another profile's
    ``confirmatory_seeds`` (smoke: a few, for the tests): distinct declared confirming seeds. The
    study's own profile keeps every pre-registered seed."""
    conf = spec.get("confirmatory")
    if "confirmatory_seeds" not in narrowed:
        return conf
    seeds = narrowed["confirmatory_seeds"]
    declared = conf.get("seeds", []) if isinstance(conf, dict) else []
    if conf is None:
        raise StudyError(f"{where}: the study declares no confirmation to narrow")
    if profile == spec.get("profile", "quick"):
        raise StudyError(f"{where}: the study's own profile confirms on every pre-registered seed")
    if (
        not isinstance(seeds, list)
        or not seeds
        or len(set(seeds)) != len(seeds)
        or not all(isinstance(x, int) and x in declared for x in seeds)
    ):
        raise StudyError(f"{where}={seeds!r}: distinct seeds of the confirmation's {declared}")
    return {**conf, "seeds": seeds}


def _ablation(
    where: str, spec: Any, notebook_variants: list[str], variants: dict[str, Variant]
) -> Ablation | None:
    if spec is None:
        return None
    _check_keys(f"{where}: ablation", spec, _ABLATION)
    of, vs = spec.get("of"), list(spec.get("variants", []))
    if of not in variants:
        raise StudyError(f"{where}: ablation.of must name a variant of the study file, got {of!r}")
    bad = [
        v for v in vs if v not in variants or v in notebook_variants or v == of or vs.count(v) > 1
    ]
    if not vs or bad:
        raise StudyError(
            f"{where}: ablation.variants must be known variants, none of the "
            f"notebook's own and none repeated; offending: {bad or vs}"
        )
    return Ablation(of, tuple(vs), spec.get("question", ""))


def run_dir(results_dir: str | Path, profile: str, variant: str, seed: int) -> Path:
    """Where the run of (variant, seed) lives: ``results/runs/<profile>/<variant>/seed<k>/``."""
    return Path(results_dir) / "runs" / profile / variant / f"seed{seed}"


@dataclass(frozen=True)
class RunJob:
    variant: str
    seed: int
    path: Path

    @property
    def label(self) -> str:
        return f"{self.variant} seed {self.seed}"


def base_config(study: Study, overrides: dict[str, Any]) -> dict[str, Any]:
    """The config keys the study applies to every run (``-p`` overrides and the setup's)."""
    return {**overrides, **study.setup.overrides()}
