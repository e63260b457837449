"""Kept for existing imports: the embedded dataset generator lives in :mod:`owslib.data.embedded`."""

from owslib.data.embedded.generator import *  # noqa: F403
from owslib.data.embedded.generator import (  # noqa: F401
    EmbeddedDatasetError,
    ensure_embedded_dataset,
    generate_embedded_dataset,
)
