"""Datasets, joint transforms, class weights and the embedded synthetic street-scene dataset."""

from owslib.data.bdd_anomaly import build_bdd_anomaly
from owslib.data.cityscapes import CityscapesDataset, DatasetError, denormalize, list_samples
from owslib.data.class_weights import compute_class_weights, weights_from_counts
from owslib.data.smiyc import SMIYCDataset
from owslib.data.summary import DatasetSummary, check_dataset
from owslib.data.embedded.generator import (
    EmbeddedDatasetError,
    ensure_embedded_dataset,
    generate_embedded_dataset,
)
from owslib.data.transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    build_eval_transforms,
    build_train_transforms,
)

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "CityscapesDataset",
    "DatasetError",
    "DatasetSummary",
    "EmbeddedDatasetError",
    "SMIYCDataset",
    "build_bdd_anomaly",
    "build_eval_transforms",
    "build_train_transforms",
    "check_dataset",
    "compute_class_weights",
    "denormalize",
    "ensure_embedded_dataset",
    "generate_embedded_dataset",
    "list_samples",
    "weights_from_counts",
]
