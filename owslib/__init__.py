"""owslib: open-world semantic segmentation (ContMAV) reproduced and extended, as a library and a study.

The package is built in layers; a module imports only from its own layer or the ones below it
(``tests/test_architecture.py`` checks this and the absence of import cycles):

0. roots — ``config`` (experiment config dataclasses), ``profiles`` (its named overrides),
   ``sources`` (where each dataset comes from), ``labels`` (label tables, splits), ``io``
   (atomic writes), ``paths`` (the project's folders), ``distributed`` (process groups and
   collectives), ``stats`` (paired t, TOST, Holm/BH, verdicts, power), ``comparison`` (paired
   differences over seeds, their tables), ``syncs`` (host–device synchronisations counted, for
   the tests and benchmarks);
1. parts — ``data`` (readers, transforms, the embedded dataset), ``models``, ``losses``,
   ``metrics``, ``inference`` (Gaussian scores, scorers, discovery), ``plots`` (figures);
2. ``engine`` — the experiment builder, the training loop, checkpoints, the closed-set encoder;
3. ``evaluation`` (the protocol: computes, writes nothing) and ``report`` (writes its files);
4. ``runs`` — one experiment run: train, evaluate, write; its lock, its setup and fingerprint;
5. ``study`` — the study file, planning and training its runs, papermill, results read back;
6. faces — ``cli`` (every command), ``notebook`` (what the notebooks call: setting up a run,
   its tables, the comparison with the baseline, figures, what is shown inline, the widgets).
"""

__version__ = "0.1.0"
