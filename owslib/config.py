"""Experiment configuration: frozen dataclasses per concern, JSON I/O, flat form, profiles.

Defaults are the paper's recipe (ContMAV, CVPR 2024, §4; the README lists every departure). Profiles shrink it:
``quick`` (the embedded study on a laptop CPU), ``smoke`` (tests), ``overfit`` (a handful of images):
they live in :mod:`owslib.profiles`. :func:`training_changes` says which keys change what is trained.
The flat form ``section__field`` (e.g. ``train__lr``) is what notebooks take as papermill parameters.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from owslib.io import atomic_write_text
from owslib.profiles import PROFILES

SEP = "__"
#: Config keys that may change between an interrupted run and its resumption (they do not change
#: what is trained): evaluation options, devices, workers, the file check, logging cadence.
RESUMABLE_CHANGES = (
    "eval__",
    "train__device",
    "data__num_workers",
    "data__validate",
    "train__log_every",
    "train__eval_every",
)


class ConfigError(ValueError):
    """An unknown key, a wrong type, or an invalid value in a configuration."""


@dataclass(frozen=True)
class DataConfig:
    dataset: str = "cityscapes"  # cityscapes | embedded (generated) | bdd_anomaly | camvid (built)
    root: str = "data/cityscapes"  # dataset root folder (holds leftImg8bit/ and gtFine/)
    split_preset: str = "cityscapes"  # owslib.labels.SPLITS: which trainIds are known / unknown
    train_split: str = "train"
    val_split: str = "val"
    test_split: str = (
        "val"  # split evaluated after training: Cityscapes' test labels are placeholders
    )
    crop_height: int = 512
    crop_width: int = 1024
    scale_min: float = 0.5
    scale_max: float = 2.0
    hflip: bool = True
    color_jitter: bool = True  # (code) HSV jitter
    class_weighting: str = "inverse_frequency"  # Eq. 2; or median_frequency, log, none
    max_images: int = 0  # 0 = all; the overfit profile uses a handful
    # DataLoader workers per process; -1 = automatic: min(8, this process's CPU cores - 1),
    # resolved when the loaders are built (owslib.engine.experiment.resolve_num_workers)
    num_workers: int = -1
    # Training images holding an unknown class of the split: drop them (the BDD-Anomaly protocol),
    # or ignore those pixels (ignore), so test-time anomalies never reach training.
    heldout_in_train: str = "drop"
    skip_bad: bool = False  # drop unreadable/inconsistent files, listing each in a report
    bad_file_report: str = ""  # folder for bad_files_<split>.json ("" = logged only)
    # Decode every train/val/test file once before the first epoch, so a bad one ends the run at
    # once, in one line naming it: auto = on for cityscapes/bdd_anomaly, off for the generated
    # embedded set; "true" | "false" force it. Cost (measured, 2 shared cores, warm cache):
    # 0.05 s per 1024x2048 PNG pair and thread, 0.03 s with 2 threads (Cityscapes train+val ≈ 2 min)
    validate: str = "auto"
    # (code) validation and test images resized by this factor (labels by the nearest pixel) where
    # a profile trains at a reduced scale; 1 = native resolution, the paper's protocol
    eval_scale: float = 1.0


@dataclass(frozen=True)
class SyntheticConfig:
    """The embedded, procedurally generated street-scene dataset (Cityscapes layout)."""

    seed: int = 0
    n_train: int = 300
    n_val: int = 50
    n_test: int = 100
    height: int = 128
    width: int = 256


@dataclass(frozen=True)
class ModelConfig:
    encoder: str = "resnet34"  # resnet18 | resnet34
    encoder_block: str = "nonbottleneck1d"  # nonbottleneck1d | basicblock
    pretrained_path: str = ""  # local ImageNet weights (torchvision resnet or r34_NBt1D.pth)
    # > 0: start from the encoder of a closed-set segmenter trained this many epochs on the
    # training split, once per profile and dataset (owslib.engine.pretrain), in place of ImageNet weights
    pretrain_epochs: int = 0
    context: str = "ppm"  # ppm | none
    context_bins: tuple[int, ...] = (1, 2, 4, 8)
    # (code) the crop size (H, W) in pixels the pooling bins refer to: bins scale with the feature
    # size, so 1024x2048 images pool at 2-4-8-16 with a model built for 512x1024 crops.
    context_input_size: tuple[int, int] = (512, 1024)
    context_upsampling: str = "nearest"  # (code) with learned decoder upsampling; or bilinear
    context_bin_scaling: str = "scaled"  # (code) bins x int(h / h_crop + 0.5); or fixed
    decoder_channels: tuple[int, ...] = (512, 256, 128)
    decoder_blocks: tuple[int, ...] = (3, 3, 3)
    embedding_dim: int = 0  # contrastive embedding size; 0 = number of known classes (code)
    upsampling: str = "learned-3x3-zeropad"  # or bilinear
    # A second decoder beside ContMAV's two (owslib.models.heads): none | mlp (TruFor's all-MLP
    # head) | a registered name; E channels of its projections (TruFor's configs: 512)
    extra_decoder: str = "none"
    mlp_dim: int = 512
    # How the MLP head meets the model (owslib.models.fusion): sum | normalized_sum |
    # concat_conv | separate | confidence; into the embedding or the semantic logits
    fusion: str = "sum"
    fusion_target: str = "embedding"
    # fusion=confidence: train the confidence head on detached encoder features (TruFor's phase 3
    # trains it with backbone and localisation head frozen); false = jointly, the encoder too
    confidence_detach: bool = False


@dataclass(frozen=True)
class LossConfig:
    semantic: str = "ce"  # L_sem: ce (Eq. 2) | focal | dice | focal+dice | ce+dice
    focal_gamma: float = 2.0  # focusing parameter γ (Lin et al. 2017)
    focal_weighted: bool = True  # the class weights of Eq. 2 as focal α
    dice_smooth: float = 1.0  # s in (2Σpy + s) / (Σp + Σy + s)
    dice_weight: float = 1.0  # weight of the Dice part of a sum (focal+dice, ce+dice)
    w_conf: float = 1.0  # confidence head (model__fusion=confidence) vs true-class probability
    extra_terms: str = ""  # registered terms to add, "name:weight,…" (owslib.losses.register_term)
    # InfoNCE between known and unknown regions (owslib.losses.infonce_term); 0 = off
    w_infonce: float = 0.0
    infonce_level: str = "pixel"  # pixel | region (connected regions of one class or of void)
    infonce_form: str = "prototype"  # prototype (anchors known, unknowns as negatives) | seed
    infonce_space: str = "embedding"  # embedding (contrastive decoder) | semantic (logits)
    infonce_tau: float = 0.1
    infonce_samples: int = 64  # anchors per class (and unknown samples) per batch, seeded
    infonce_min_region: int = 16  # pixels: smaller regions are not samples
    infonce_momentum: float = 0.9  # EMA of the class prototypes (and the unknown prototype)
    # SynCo hard negatives (owslib.losses.synco): none | known_anchors | unknown_anchors | both
    synco_direction: str = "none"
    synco_counts: str = "interpolated:2,extrapolated:2,mixup:2,noise:2,perturbed:2,adversarial:2"
    synco_n_hard: int = 16
    synco_warmup_epochs: int = 1  # epochs (after the statistics warm-up) before synthetic negatives
    w_sem: float = 0.9
    w_feat: float = 0.1
    w_cont: float = 0.5
    w_obj: float = 0.5
    xi: float = 1.0  # objectosphere radius ξ (Eq. 9, 13)
    tau: float = 0.1  # contrastive temperature τ (Eq. 8)
    objectosphere_unknown_scale: float = 1.0  # reference code multiplies the unknown term by 10
    feature_distance: str = "norm_over_std"  # Eq. 5 as ‖(f−μ)/σ‖; "l1_over_var" = reference code
    min_std: float = 1e-3  # floor on σ_k in Eq. 5 and Eq. 11 (the paper divides by σ_k unguarded)
    stats_warmup_epochs: int = (
        1  # feature/contrastive terms start after this many epochs (paper: 1)
    )
    # A class without true positives in the last epoch: keep its older statistics, or (code) drop it.
    stale_class_stats: str = "keep"
    # Classes without statistics in Eq. 8: drop them, or (code) keep them with a zero mean.
    contrastive_missing_classes: str = "drop"

    def __post_init__(self) -> None:
        for f in fields(self):
            if f.name.startswith("w_") and getattr(self, f.name) < 0:
                raise ConfigError(
                    f"loss__{f.name}: a loss weight must be ≥ 0, got {getattr(self, f.name)}"
                )


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 500
    batch_size: int = 8
    lr: float = 0.004  # peak of the one-cycle schedule
    weight_decay: float = 1e-4
    pct_start: float = 0.1  # (code) one-cycle warm-up fraction
    div_factor: float = 25.0
    final_div_factor: float = 1e4
    amp: bool = False
    # channels-last memory format for model and inputs (faster convolutions on CPU and on tensor
    # cores; outputs equal the default layout's to float tolerance)
    channels_last: bool = False
    grad_clip: float = 0.0  # 0 = off; max gradient norm otherwise
    accumulate: int = 1
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    deterministic: bool = False
    log_every: int = 10  # iterations between log records
    eval_every: int = 0  # epochs between validations; 0 = only at the end


@dataclass(frozen=True)
class EvalConfig:
    delta: float = 0.6  # unknown threshold on the fused score (Eq. 14)
    eta: float = 0.5  # novel-class distance threshold (§4)
    batch_size: int = 1
    amp: bool = False
    histogram_bins: int = 100_000  # streaming anomaly metrics
    # histogram (pooled + per-image, streamed) | smiyc (adds the SegmentMeIfYouCan leaderboard's
    # binned pixel curve, to put a number next to the leaderboard's)
    curve: str = "histogram"
    n_examples: int = 4  # qualitative examples in figures and anomaly maps written
    components: bool = True  # SegmentMeIfYouCan component metrics (a second pass)
    component_track: str = (
        "anomaly"  # anomaly (drop < 500 px, ignore gt < 100 px) | obstacle (50/10)
    )
    open_world: bool = True  # novel-class discovery and class similarity
    discovery_space: str = (
        "semantic_normalized"  # features clustered: semantic[_normalized] | embedding[_normalized]
    )
    discovery_pixels: int = 20_000  # unknown-pixel subsample per image for discovery
    # Class similarity where every Gaussian score exp(-d/2) underflows in float32: the nearest
    # class (argmin d), or (code) class 0, which the reference's argmax over zeros returns.
    similarity_underflow: str = "nearest"
    # Datasets in the SegmentMeIfYouCan layout evaluated after the test split, each into
    # metrics.json's "anomaly_sets": "name:root,…" (e.g. road_anomaly:data/road_anomaly)
    anomaly_sets: str = ""
    anomaly_scale: float = 1.0  # their frames resized by this factor (labels by the nearest pixel)
    similarity_lookup: str = (
        "motorcycle:car,train:truck"  # unknown:known[|known] pairs (BDD-Anomaly*)
    )


@dataclass(frozen=True)
class ExperimentConfig:
    name: str = "contmav"
    profile: str = "paper"
    data: DataConfig = field(default_factory=DataConfig)
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    # -- conversions -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return _to_jsonable(dataclasses.asdict(self))

    def to_flat(self) -> dict[str, Any]:
        return flatten(self.to_dict())

    def to_json(self, path: str | Path) -> None:
        atomic_write_text(Path(path), json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ExperimentConfig:
        return _build(cls, d, prefix="")

    @classmethod
    def from_flat(cls, flat: dict[str, Any]) -> ExperimentConfig:
        return cls.from_dict(unflatten(flat))

    @classmethod
    def from_json(cls, path: str | Path) -> ExperimentConfig:
        try:
            d = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise ConfigError(f"{path}: cannot read config JSON ({e})") from e
        return cls.from_dict(d)

    def override(self, **flat: Any) -> ExperimentConfig:
        """A copy with flat overrides applied, e.g. ``cfg.override(train__lr=0.01)``."""
        merged = self.to_flat()
        for k in flat:
            if k not in merged:
                raise ConfigError(f"unknown config key {k!r}{did_you_mean(k, merged)}")
        merged.update(flat)
        return ExperimentConfig.from_flat(merged)


def load_profile(profile: str = "paper", **overrides: Any) -> ExperimentConfig:
    """The named profile's config with flat ``overrides`` applied (unknown keys raise)."""
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}; choose one of {sorted(PROFILES)}")
    base = ExperimentConfig(profile=profile).override(**PROFILES[profile])
    return base.override(**overrides) if overrides else base


# -- flat <-> nested ---------------------------------------------------------------------------
def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flatten(v, prefix + k + SEP))
        else:
            out[prefix + k] = v
    return out


def unflatten(flat: dict[str, Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for key, v in flat.items():
        parts = key.split(SEP)
        node = nested
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"config key {key!r} nests under a value")
        node[parts[-1]] = v
    return nested


def lists_to_tuples(d: dict[str, Any]) -> dict[str, Any]:
    """Flat overrides read from JSON (a study file, notebook parameters) with their lists as the
    tuples the config's fields hold."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}


def did_you_mean(name: str, choices) -> str:
    """``"; did you mean 'train__lr'?"`` for the closest of ``choices``, or ``""``."""
    import difflib

    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _to_jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _to_jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_to_jsonable(x) for x in v]
    return v


def _build(cls: type, d: dict[str, Any], prefix: str) -> Any:
    if not isinstance(d, dict):
        raise ConfigError(f"config section {prefix.rstrip('.') or '<root>'!r} must be a mapping")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    for k in d:
        if k not in known:
            where = f"{prefix}{k}".replace(".", SEP)
            raise ConfigError(
                f"unknown config key {where!r}{did_you_mean(k, known)} (valid: {sorted(known)})"
            )
    kwargs = {}
    for f in fields(cls):
        if f.name not in d:
            continue
        tp = hints[f.name]
        key = prefix + f.name
        if dataclasses.is_dataclass(tp):
            kwargs[f.name] = _build(tp, d[f.name], key + ".")
        else:
            kwargs[f.name] = _coerce(d[f.name], tp, key.replace(".", SEP))
    return replace(cls(), **kwargs)


def _coerce(v: Any, tp: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    if origin is tuple:
        (elem, *rest) = typing.get_args(tp)
        if not isinstance(v, (list, tuple)):
            raise ConfigError(f"config key {key!r}: expected a list of {elem.__name__}, got {v!r}")
        if rest and rest != [Ellipsis] and len(v) != 1 + len(rest):
            raise ConfigError(
                f"config key {key!r}: expected {1 + len(rest)} values, got {len(v)} ({v!r})"
            )
        return tuple(_coerce(x, elem, key) for x in v)
    if origin in (typing.Union, types.UnionType):
        raise ConfigError(f"config key {key!r}: union types are not supported")
    if tp is bool:
        if isinstance(v, bool):
            return v
    elif tp is int:
        if isinstance(v, int) and not isinstance(v, bool):
            return v
    elif tp is float:
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return float(v)
    elif tp is str:
        if isinstance(v, str):
            return v
        if isinstance(v, bool):  # `--set data__validate=true` parses as JSON: "true"
            return "true" if v else "false"
    else:
        raise ConfigError(f"config key {key!r}: unsupported type {tp}")
    raise ConfigError(f"config key {key!r}: expected {tp.__name__}, got {type(v).__name__} {v!r}")


def training_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """The flat keys in which two flat configs differ in what is trained (the keys of
    :data:`RESUMABLE_CHANGES` may differ), sorted."""
    keys = sorted(set(old) | set(new))
    return [k for k in keys if old.get(k) != new.get(k) and not k.startswith(RESUMABLE_CHANGES)]


def stale_keys(saved: dict[str, Any] | None, cfg: ExperimentConfig) -> list[str]:
    """The training-config keys in which a run's saved ``config.json`` differs from ``cfg``.

    Both sides are normalised first (the saved one read back with today's defaults filled in) and
    the keys that may change on resume (:data:`RESUMABLE_CHANGES`) are ignored, exactly as
    resuming decides. No saved config: nothing is stale. An unreadable one, or one with keys
    owslib no longer has, is stale as a whole (``["<config>"]``).
    """
    if saved is None:
        return []
    try:
        old = ExperimentConfig.from_dict(saved).to_flat()
    except ConfigError:
        return ["<config>"]
    return training_changes(old, cfg.to_flat())
