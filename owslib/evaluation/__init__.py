"""The evaluation protocol: computes every number of a run and its convention, writes nothing.

``protocol`` (the options and the convention of every number), ``passes`` (the passes over a
split: closed set, anomaly, components, open world; :func:`evaluate` on an experiment,
:func:`evaluate_model` on any model), ``result`` (the result and its metrics dict), ``embeddings``
(seeded per-class samples of a run's vectors). :mod:`owslib.report` writes the files.
"""

from owslib.evaluation.passes import epoch_validation, evaluate, evaluate_model
from owslib.evaluation.protocol import CONVENTIONS, EvalOptions, anomaly_labels, options_from_config
from owslib.evaluation.result import Evaluation

__all__ = [
    "CONVENTIONS",
    "EvalOptions",
    "Evaluation",
    "anomaly_labels",
    "epoch_validation",
    "evaluate",
    "evaluate_model",
    "options_from_config",
]
