"""Label tables, the one ignore index, and declarative known/unknown splits.

Conventions (used everywhere in owslib):

* ``labelId``  – the id stored in Cityscapes ``*_gtFine_labelIds.png`` (0..33, -1 license plate).
* ``trainId``  – the Cityscapes evaluation id (0..18), 255 for everything else.
* ``class index`` – what a model predicts: known classes ``0..K-1`` of a :class:`SplitDefinition`;
  unknown classes are encoded ``K..K+U-1`` in targets (never predicted), void is ``IGNORE_INDEX``.
* ``PAD_INDEX`` – pixels no term sees at all: training-crop padding, and held-out-class pixels of
  training images when ``data__heldout_in_train="ignore"``. Void (``IGNORE_INDEX``) is different:
  it is ignored by the closed-set terms but is the *unknown* training signal of the objectosphere.

The conversion labelId → trainId → class index happens once, in the dataset.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

IGNORE_INDEX = 255
#: Pixels that carry no label at all (crop padding; ignored held-out pixels): never void, never unknown.
PAD_INDEX = 254


@dataclass(frozen=True)
class CityscapesLabel:
    name: str
    label_id: int
    train_id: int
    color: tuple[int, int, int]


# The official table (cityscapesScripts ``labels.py``): name, labelId, trainId, colour.
CITYSCAPES_LABELS: tuple[CityscapesLabel, ...] = tuple(
    CityscapesLabel(*row)
    for row in [
        ("unlabeled", 0, 255, (0, 0, 0)),
        ("ego vehicle", 1, 255, (0, 0, 0)),
        ("rectification border", 2, 255, (0, 0, 0)),
        ("out of roi", 3, 255, (0, 0, 0)),
        ("static", 4, 255, (0, 0, 0)),
        ("dynamic", 5, 255, (111, 74, 0)),
        ("ground", 6, 255, (81, 0, 81)),
        ("road", 7, 0, (128, 64, 128)),
        ("sidewalk", 8, 1, (244, 35, 232)),
        ("parking", 9, 255, (250, 170, 160)),
        ("rail track", 10, 255, (230, 150, 140)),
        ("building", 11, 2, (70, 70, 70)),
        ("wall", 12, 3, (102, 102, 156)),
        ("fence", 13, 4, (190, 153, 153)),
        ("guard rail", 14, 255, (180, 165, 180)),
        ("bridge", 15, 255, (150, 100, 100)),
        ("tunnel", 16, 255, (150, 120, 90)),
        ("pole", 17, 5, (153, 153, 153)),
        ("polegroup", 18, 255, (153, 153, 153)),
        ("traffic light", 19, 6, (250, 170, 30)),
        ("traffic sign", 20, 7, (220, 220, 0)),
        ("vegetation", 21, 8, (107, 142, 35)),
        ("terrain", 22, 9, (152, 251, 152)),
        ("sky", 23, 10, (70, 130, 180)),
        ("person", 24, 11, (220, 20, 60)),
        ("rider", 25, 12, (255, 0, 0)),
        ("car", 26, 13, (0, 0, 142)),
        ("truck", 27, 14, (0, 0, 70)),
        ("bus", 28, 15, (0, 60, 100)),
        ("caravan", 29, 255, (0, 0, 90)),
        ("trailer", 30, 255, (0, 0, 110)),
        ("train", 31, 16, (0, 80, 100)),
        ("motorcycle", 32, 17, (0, 0, 230)),
        ("bicycle", 33, 18, (119, 11, 32)),
        ("license plate", -1, 255, (0, 0, 142)),
    ]
)

#: Names of the 19 evaluation classes, indexed by trainId.
TRAIN_ID_NAMES: tuple[str, ...] = tuple(
    lab.name for lab in sorted(CITYSCAPES_LABELS, key=lambda x: x.train_id) if lab.train_id != 255
)
NUM_TRAIN_IDS = len(TRAIN_ID_NAMES)  # 19
LABEL_ID_BY_NAME = {lab.name: lab.label_id for lab in CITYSCAPES_LABELS}
TRAIN_ID_BY_NAME = {name: i for i, name in enumerate(TRAIN_ID_NAMES)}

#: Cityscapes palette by trainId (19 × 3, uint8), for colourising predictions.
TRAIN_ID_PALETTE = np.array(
    [
        lab.color
        for lab in sorted(CITYSCAPES_LABELS, key=lambda x: x.train_id)
        if lab.train_id != 255
    ],
    dtype=np.uint8,
)


class LabelError(ValueError):
    """A label map holds ids that the label table does not define."""


def _label_id_lut() -> tuple[np.ndarray, np.ndarray]:
    lut = np.full(256, IGNORE_INDEX, dtype=np.uint8)
    valid = np.zeros(256, dtype=bool)
    for lab in CITYSCAPES_LABELS:
        if lab.label_id >= 0:
            lut[lab.label_id] = lab.train_id
            valid[lab.label_id] = True
    # license plate (-1) is stored as 255 in 8-bit PNGs by some tools: treat it as ignore.
    valid[255] = True
    return lut, valid


_LABEL_LUT, _LABEL_VALID = _label_id_lut()


def label_ids_to_train_ids(label_ids: np.ndarray, source: str = "<array>") -> np.ndarray:
    """Map a Cityscapes labelId map to trainIds (everything outside the 19 classes → 255).

    Raises :class:`LabelError` naming ``source`` if the map holds an id the official table lacks.
    """
    arr = np.asarray(label_ids)
    if arr.dtype != np.uint8:
        arr = np.where(arr == -1, 255, arr)  # license plate: -1 in the table, ignore in training
        if arr.size and (arr.min() < 0 or arr.max() > 255):
            raise LabelError(
                f"{source}: label ids outside 0..255 (min {arr.min()}, max {arr.max()})"
            )
        arr = arr.astype(np.uint8)
    bad = ~_LABEL_VALID[arr]
    if bad.any():
        ids = sorted(set(np.unique(arr[bad]).tolist()))
        raise LabelError(
            f"{source}: label ids {ids} are not in the Cityscapes label table (valid: 0..33, -1/255)"
        )
    return _LABEL_LUT[arr]


def unknown_mask(target, num_known: int):
    """Pixels of unknown classes (class index ``K ≤ t < PAD_INDEX``); numpy arrays or tensors."""
    return (target >= num_known) & (target < PAD_INDEX)


@dataclass(frozen=True)
class SplitDefinition:
    """Which trainIds a model learns (known) and which are held out as anomalies (unknown).

    Known trainIds become class indices ``0..K-1`` in the order given; unknown trainIds become
    ``K..K+U-1`` (kept distinct so novel-class discovery can be scored per unknown class);
    every other trainId and 255 become :data:`IGNORE_INDEX`.
    """

    name: str
    known: tuple[int, ...]
    unknown: tuple[int, ...] = ()
    description: str = ""
    #: The names users see for ``known`` then ``unknown`` (a dataset's own class names, e.g.
    #: CamVid's); empty: the Cityscapes names of the trainIds.
    display_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        both = set(self.known) & set(self.unknown)
        if both:
            raise ValueError(
                f"split {self.name!r}: trainIds {sorted(both)} are both known and unknown"
            )
        for t in (*self.known, *self.unknown):
            if not 0 <= t < NUM_TRAIN_IDS:
                raise ValueError(f"split {self.name!r}: trainId {t} outside 0..{NUM_TRAIN_IDS - 1}")
        n = len(self.known) + len(self.unknown)
        if self.display_names and len(self.display_names) != n:
            raise ValueError(
                f"split {self.name!r}: {len(self.display_names)} display names for {n} classes"
            )

    @property
    def num_known(self) -> int:
        return len(self.known)

    @property
    def num_unknown(self) -> int:
        return len(self.unknown)

    @property
    def names_by_train_id(self) -> dict[int, str]:
        """The name users see for each trainId of the split (known, then unknown)."""
        ids = (*self.known, *self.unknown)
        shown = self.display_names or tuple(TRAIN_ID_NAMES[t] for t in ids)
        return dict(zip(ids, shown, strict=True))

    @property
    def known_names(self) -> tuple[str, ...]:
        return tuple(self.names_by_train_id[t] for t in self.known)

    @property
    def unknown_names(self) -> tuple[str, ...]:
        return tuple(self.names_by_train_id[t] for t in self.unknown)

    @property
    def palette(self) -> np.ndarray:
        """Colours of class indices ``0..K+U-1`` (Cityscapes palette of their trainIds)."""
        return TRAIN_ID_PALETTE[list(self.known) + list(self.unknown)]

    def train_id_lut(self) -> np.ndarray:
        """A 256-entry lookup table trainId → class index."""
        lut = np.full(256, IGNORE_INDEX, dtype=np.uint8)
        for i, t in enumerate((*self.known, *self.unknown)):
            lut[t] = i
        return lut

    def encode(self, train_ids: np.ndarray) -> np.ndarray:
        """Map a trainId map to class indices (uint8)."""
        return self.train_id_lut()[np.asarray(train_ids, dtype=np.uint8)]


_ALL = tuple(range(NUM_TRAIN_IDS))
_T, _M, _B = (TRAIN_ID_BY_NAME[n] for n in ("train", "motorcycle", "bicycle"))

#: CamVid's 11 classes (Brostow et al. 2008, SegNet's 11-class version), indexed by the value in its
#: ``*annot/*.png`` labels, and the Cityscapes class each is (1:1); the value 11 (Unlabelled) is void.
CAMVID_CLASSES: tuple[tuple[str, str], ...] = (
    ("Sky", "sky"),
    ("Building", "building"),
    ("Pole", "pole"),
    ("Road", "road"),
    ("Pavement", "sidewalk"),
    ("Tree", "vegetation"),
    ("SignSymbol", "traffic sign"),
    ("Fence", "fence"),
    ("Car", "car"),
    ("Pedestrian", "person"),
    ("Bicyclist", "rider"),
)
CAMVID_UNLABELLED = 11
#: CamVid label value → trainId (``CAMVID_UNLABELLED`` → ``IGNORE_INDEX``).
CAMVID_TO_TRAIN_ID: tuple[int, ...] = (
    *(TRAIN_ID_BY_NAME[cityscapes] for _, cityscapes in CAMVID_CLASSES),
    IGNORE_INDEX,
)

SPLITS: dict[str, SplitDefinition] = {
    s.name: s
    for s in [
        SplitDefinition(
            "cityscapes",
            _ALL,
            (),
            "all 19 classes known; void pixels are the unknown training signal (ContMAV on Cityscapes)",
        ),
        SplitDefinition(
            "cityscapes_heldout",
            tuple(t for t in _ALL if t not in (_T, _M, _B)),
            (_T, _M, _B),
            "train, motorcycle, bicycle held out as unknowns (ablations; the embedded dataset)",
        ),
        SplitDefinition(
            "bdd_anomaly3",
            tuple(t for t in _ALL if t not in (_T, _M, _B)),
            (_T, _M, _B),
            "BDD-Anomaly as in ContMAV: train, motorcycle, bicycle unknown (16 known)",
        ),
        SplitDefinition(
            "bdd_anomaly2",
            tuple(t for t in _ALL if t not in (_T, _M)),
            (_T, _M),
            "BDD-Anomaly* (Hendrycks et al.): train, motorcycle unknown (17 known)",
        ),
        SplitDefinition(
            "camvid",
            CAMVID_TO_TRAIN_ID[:CAMVID_UNLABELLED],
            (),
            "CamVid's 11 classes known, class index = CamVid label; Unlabelled (void) is the "
            "unknown training signal",
            display_names=tuple(name for name, _ in CAMVID_CLASSES),
        ),
    ]
}


class UnknownSplitError(KeyError, ValueError):
    """An unknown split preset (a ``KeyError`` for lookups, a ``ValueError`` for user input)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def get_split(name: str) -> SplitDefinition:
    """The split preset called ``name``; raises :class:`UnknownSplitError` listing the presets."""
    try:
        return SPLITS[name]
    except KeyError:
        raise UnknownSplitError(
            f"data__split_preset: unknown split preset {name!r}; choose one of {sorted(SPLITS)}"
        ) from None
