"""The registry of loss terms: what a term is (:class:`TermSpec`), what its builder may use
(:class:`TermContext`), and :data:`TERMS`, filled by :func:`register_term`.

It imports nothing else of owslib, so a term defined anywhere (a module of owslib, a notebook, a
user's package) registers itself without an import cycle; :mod:`owslib.losses.objective`
composes the registered terms.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:  # annotations only
    from owslib.config import LossConfig
    from owslib.losses.class_stats import ClassStatistics


@dataclass
class TermContext:
    """What a term's builder may use."""

    cfg: LossConfig
    num_classes: int
    embedding_dim: int | None
    class_weights: torch.Tensor | None
    stats: ClassStatistics
    output_keys: tuple[str, ...]


@dataclass(frozen=True)
class TermSpec:
    """A loss term: its name, what it reads, its weight from the config, and its builder."""

    name: str
    reads: tuple[str, ...]
    build: Callable[[TermContext], nn.Module]
    #: Its weight, read from the loss config (``lambda cfg: cfg.w_obj``); None: only through
    #: ``loss__extra_terms``.
    weight: Callable[[LossConfig], float] | None = None
    needs_stats: bool = False
    description: str = ""


class OutputTerm(nn.Module):
    """Adapts a loss on one output tensor, ``loss(tensor, target)``, to ``term(outputs, target)``."""

    def __init__(self, key: str, loss: nn.Module) -> None:
        super().__init__()
        self.key, self.loss = key, loss

    def forward(self, outputs: Mapping[str, torch.Tensor], target: torch.Tensor):
        return self.loss(outputs[self.key], target)


TERMS: dict[str, TermSpec] = {}


def register_term(spec: TermSpec, *, replace: bool = False) -> None:
    """Make ``spec`` available to the objective (built-in terms by their weights, others through
    ``loss__extra_terms``)."""
    if spec.name in TERMS and not replace:
        raise ValueError(f"loss term {spec.name!r} is registered already")
    TERMS[spec.name] = spec
