"""The command line, one module per command: ``study``, ``train``, ``evaluate``, ``data``; the
shared config arguments in :mod:`.config_args`. ``owslib/__main__.py`` builds the parser.

Commands import the heavy machinery (torch, the study) inside their functions, so that
``owslib --help`` and a mistyped option answer at once.
"""
