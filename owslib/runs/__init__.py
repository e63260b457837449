"""One experiment run, from config to metrics: :mod:`.run` (train, evaluate, write every table,
figure and ``run.json``; reuse a finished run, resume an interrupted one), :mod:`.lock` (one process
per run folder; shared inputs prepared once), :mod:`.setup` (the machine setup a run is trained in,
its fingerprint), :mod:`.computation` (what the fingerprint says of the code) and
:mod:`.supersede` (a stale run moved aside, never deleted). ``python -m owslib train``, the
notebooks and the study (:mod:`owslib.study`) all run experiments through it.
"""
