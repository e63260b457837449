"""The embedded dataset: procedurally generated street scenes written in the Cityscapes layout.

``canvas`` (painter, palette, label ids), ``layout`` (the street and where objects stand),
``vehicles``, ``void_objects`` and ``sprites`` (what stands there), ``scene`` (one image and its
labels), ``generator`` (the dataset on disk: splits, manifest, regeneration on upgrade).
"""

from owslib.data.embedded.generator import (
    EmbeddedDatasetError,
    ensure_embedded_dataset,
    generate_embedded_dataset,
)

__all__ = ["EmbeddedDatasetError", "ensure_embedded_dataset", "generate_embedded_dataset"]
