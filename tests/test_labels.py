"""Tests for owslib.labels: the Cityscapes labelId → trainId table and known/unknown splits."""

from __future__ import annotations

import numpy as np
import pytest

from owslib.labels import (
    IGNORE_INDEX,
    NUM_TRAIN_IDS,
    SPLITS,
    TRAIN_ID_NAMES,
    TRAIN_ID_PALETTE,
    LabelError,
    SplitDefinition,
    get_split,
    label_ids_to_train_ids,
)

# The official cityscapesScripts mapping of the 19 evaluation classes.
OFFICIAL = {
    7: (0, "road"),
    8: (1, "sidewalk"),
    11: (2, "building"),
    12: (3, "wall"),
    13: (4, "fence"),
    17: (5, "pole"),
    19: (6, "traffic light"),
    20: (7, "traffic sign"),
    21: (8, "vegetation"),
    22: (9, "terrain"),
    23: (10, "sky"),
    24: (11, "person"),
    25: (12, "rider"),
    26: (13, "car"),
    27: (14, "truck"),
    28: (15, "bus"),
    31: (16, "train"),
    32: (17, "motorcycle"),
    33: (18, "bicycle"),
}


def test_label_ids_to_train_ids_matches_official_table():
    ids = np.arange(34, dtype=np.uint8)
    out = label_ids_to_train_ids(ids)
    assert out.dtype == np.uint8
    for label_id in range(34):
        expected = OFFICIAL[label_id][0] if label_id in OFFICIAL else 255
        assert out[label_id] == expected, label_id


def test_train_id_names_follow_official_order():
    assert NUM_TRAIN_IDS == 19 and IGNORE_INDEX == 255
    assert TRAIN_ID_NAMES == tuple(name for _, name in sorted(OFFICIAL.values()))


def test_label_map_keeps_shape_and_accepts_wider_ints():
    ids = np.array([[7, 0, 33], [26, 255, 4]], dtype=np.int32)
    out = label_ids_to_train_ids(ids)
    np.testing.assert_array_equal(out, [[0, 255, 18], [13, 255, 255]])
    assert out.shape == (2, 3)


def test_license_plate_stored_as_255_is_ignore():
    out = label_ids_to_train_ids(np.array([255, 255, 24], dtype=np.uint8))
    np.testing.assert_array_equal(out, [255, 255, 11])


def test_license_plate_minus_one_is_ignore():
    # The table lists license plate as labelId -1, and the error message calls -1 valid.
    out = label_ids_to_train_ids(np.array([-1, 7], dtype=np.int16))
    np.testing.assert_array_equal(out, [255, 0])


@pytest.mark.parametrize("bad", [34, 200, 254])
def test_id_outside_table_raises_naming_source_and_id(bad):
    ids = np.array([[7, bad], [8, 8]], dtype=np.uint8)
    with pytest.raises(LabelError) as err:
        label_ids_to_train_ids(ids, source="aachen_000000_000019_gtFine_labelIds.png")
    msg = str(err.value)
    assert "aachen_000000_000019_gtFine_labelIds.png" in msg
    assert str(bad) in msg


def test_id_outside_0_255_raises_naming_source():
    with pytest.raises(LabelError, match="frame.png"):
        label_ids_to_train_ids(np.array([7, 300]), source="frame.png")


# -- splits ------------------------------------------------------------------------------------
def _all_train_ids():
    return np.array(list(range(19)) + [255], dtype=np.uint8)


def test_cityscapes_split_is_identity_on_19_classes():
    s = get_split("cityscapes")
    assert s.num_known == 19 and s.num_unknown == 0
    np.testing.assert_array_equal(s.encode(_all_train_ids()), list(range(19)) + [255])


@pytest.mark.parametrize("name", ["cityscapes_heldout", "bdd_anomaly3"])
def test_three_unknown_split(name):
    s = get_split(name)
    assert s.num_known == 16 and s.num_unknown == 3
    assert s.unknown_names == ("train", "motorcycle", "bicycle")
    assert "train" not in s.known_names
    # Known trainIds 0..15 keep their index; train/motorcycle/bicycle → 16, 17, 18.
    np.testing.assert_array_equal(s.encode(_all_train_ids()), list(range(19)) + [255])
    assert s.encode(np.array([16, 17, 18], dtype=np.uint8)).tolist() == [16, 17, 18]


def test_bdd_anomaly2_reindexes_bicycle():
    s = get_split("bdd_anomaly2")
    assert s.num_known == 17 and s.num_unknown == 2
    assert s.known_names[16] == "bicycle"
    assert s.unknown_names == ("train", "motorcycle")
    expected = list(range(16)) + [17, 18, 16, 255]  # train 16→17, motorcycle 17→18, bicycle 18→16
    np.testing.assert_array_equal(s.encode(_all_train_ids()), expected)


def test_encode_maps_non_split_train_ids_to_ignore():
    s = SplitDefinition("tiny", known=(13, 0), unknown=(11,))
    ids = np.array([[0, 13, 11], [5, 255, 18]], dtype=np.uint8)
    np.testing.assert_array_equal(s.encode(ids), [[1, 0, 2], [255, 255, 255]])
    assert s.encode(ids).dtype == np.uint8


def test_overlapping_known_unknown_raises():
    with pytest.raises(ValueError, match=r"\[16\]"):
        SplitDefinition("bad", known=(0, 1, 16), unknown=(16, 17))


def test_train_id_out_of_range_raises():
    with pytest.raises(ValueError, match="19"):
        SplitDefinition("bad", known=(0, 19))


def test_unknown_split_name_raises_listing_presets():
    with pytest.raises(KeyError, match="bdd_anomaly3"):
        get_split("nope")


def test_palettes():
    assert TRAIN_ID_PALETTE.shape == (19, 3) and TRAIN_ID_PALETTE.dtype == np.uint8
    assert TRAIN_ID_PALETTE[0].tolist() == [128, 64, 128]  # road
    assert TRAIN_ID_PALETTE[18].tolist() == [119, 11, 32]  # bicycle
    for s in SPLITS.values():
        assert s.palette.shape == (s.num_known + s.num_unknown, 3)
    bdd2 = get_split("bdd_anomaly2")
    assert bdd2.palette[16].tolist() == [119, 11, 32]  # class index 16 is bicycle
    assert bdd2.palette[17].tolist() == TRAIN_ID_PALETTE[16].tolist()  # train


CAMVID_NAMES = "Sky Building Pole Road Pavement Tree SignSymbol Fence Car Pedestrian Bicyclist"
#: The Cityscapes class of each CamVid class, in CamVid's order (written by hand).
CAMVID_AS_CITYSCAPES = [
    *("sky", "building", "pole", "road", "sidewalk", "vegetation", "traffic sign"),
    *("fence", "car", "person", "rider"),
]


def test_camvid_preset_keeps_camvids_names_and_order():
    from owslib.labels import CAMVID_TO_TRAIN_ID

    s = get_split("camvid")
    # CamVid value i is class index i; each is the Cityscapes class of the same meaning
    assert s.known_names == tuple(CAMVID_NAMES.split())
    assert [TRAIN_ID_NAMES[t] for t in s.known] == CAMVID_AS_CITYSCAPES
    assert s.unknown == () and CAMVID_TO_TRAIN_ID[11] == IGNORE_INDEX
    np.testing.assert_array_equal(s.encode(np.array(CAMVID_TO_TRAIN_ID)), [*range(11), 255])
    wall = TRAIN_ID_NAMES.index("wall")  # not a CamVid class: void
    assert s.encode(np.array([wall]))[0] == IGNORE_INDEX
    assert s.names_by_train_id[0] == "Road"
    # without display names the Cityscapes names are shown, as before
    assert get_split("bdd_anomaly2").unknown_names == ("train", "motorcycle")
    with pytest.raises(ValueError, match="2 display names for 1 classes"):
        SplitDefinition("x", (0,), display_names=("a", "b"))
