"""Dataset self-check (``data check``): counts, pixel histograms, composition, problems; tables and
figures of the data-prep notebook."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib
import numpy as np
import pytest

from owslib.__main__ import main
from owslib.cli import data as cli
from owslib.config import SyntheticConfig
from owslib.data import bdd_anomaly, summary
from owslib.data.summary import check_dataset, format_summary, write_tables

matplotlib.use("Agg")


def test_embedded_summary(tiny_root: Path, tiny_cfg: SyntheticConfig) -> None:
    s = check_dataset(tiny_root, "embedded")
    assert s.ok and s.split_preset == "cityscapes_heldout"
    assert s.counts.set_index("split")["images"].to_dict() == {
        "train": tiny_cfg.n_train, "val": tiny_cfg.n_val, "test": tiny_cfg.n_test,
    }
    per_split = s.pixels.groupby("split")["pixels"].sum()
    assert per_split["train"] == tiny_cfg.n_train * tiny_cfg.height * tiny_cfg.width
    comp = s.composition.set_index("split")
    assert comp.loc["train", "images_with_unknown"] == 0 and comp.loc["train", "unknown_share"] == 0
    assert comp.loc["test", "images_with_unknown"] > 0
    np.testing.assert_allclose(
        comp[["known_share", "unknown_share", "ignore_share"]].sum(axis=1), 1.0
    )
    unknown_rows = s.pixels[s.pixels.role == "unknown"]
    assert set(unknown_rows["class"]) == {"train", "motorcycle", "bicycle"}
    text = format_summary(s)
    assert "problems: 0" in text and "classes present in test" in text


def test_problems_are_gathered_not_raised(hand_tree: Path, add_pair, hand_label_ids) -> None:
    image, label = add_pair(hand_tree, "train", "gamma_000002_000019", hand_label_ids)
    image.write_bytes(image.read_bytes()[:30])
    _, orphan = add_pair(hand_tree, "train", "delta_000003_000019", hand_label_ids)
    (hand_tree / "leftImg8bit/train/delta/delta_000003_000019_leftImg8bit.png").unlink()
    s = check_dataset(hand_tree, "cityscapes", splits=("train", "val"))
    paths = {b.path for b in s.problems}
    assert str(image) in paths and str(orphan) in paths
    assert any("leftImg8bit/val" in b.reason for b in s.problems)  # missing split folder
    assert not s.ok and s.counts.set_index("split").loc["train", "labelled"] == 2


def test_official_test_split_counts_no_pixels(tmp_path: Path, add_pair, hand_label_ids) -> None:
    add_pair(tmp_path, "test", "bonn_000000_000019", hand_label_ids)
    s = check_dataset(tmp_path, "cityscapes", splits=("test",))
    assert s.ok and not s.counts.loc[0, "evaluable"] and s.pixels.empty
    assert s.samples["test"][0][1] is None  # placeholder labels are not shown either


def test_bdd_anomaly_and_smiyc(bdd_tree: Path, tmp_path: Path, add_smiyc_pair) -> None:
    out = tmp_path / "bdd_anomaly"
    bdd_anomaly.build_bdd_anomaly(bdd_tree, out, 2)
    s = check_dataset(out, "bdd_anomaly")
    assert s.ok and s.split_preset == "bdd_anomaly2" and not s.warnings
    assert s.composition.set_index("split").loc["test", "images_with_unknown"] == 3
    next((out / "leftImg8bit" / "test" / "bdd").glob("*.jpg")).unlink()
    s = check_dataset(out, "bdd_anomaly")
    assert any("manifest.json lists 3" in w for w in s.warnings) and not s.ok  # orphan label
    (out / bdd_anomaly.PARTIAL).write_text("{}")
    assert any("interrupted" in w for w in check_dataset(out, "bdd_anomaly").warnings)
    labels = np.array([[0, 1], [255, 0]], np.uint8)
    add_smiyc_pair(tmp_path / "smiyc", "dataset_AnomalyTrack", "validation0000", labels)
    s = check_dataset(tmp_path / "smiyc", "road_anomaly21")
    assert s.ok and s.split_preset is None and s.unknown_ids == (1,)
    assert s.pixels.set_index("class")["pixels"].to_dict() == {
        "known": 2,
        "anomaly": 1,
        "ignore": 1,
    }


def test_tables_and_figures(tiny_root: Path, tmp_path: Path) -> None:
    from owslib import plots

    s = check_dataset(tiny_root, "embedded", name="tiny")
    missing = check_dataset(tmp_path / "nowhere", "cityscapes")
    tables = write_tables(tmp_path, [s, missing])
    for key in ("counts", "composition", "pixels", "problems"):
        assert (tmp_path / f"{key}.csv").is_file() and (tmp_path / f"{key}.md").is_file()
    assert set(tables["counts"]["dataset"]) == {"tiny"}
    assert set(tables["problems"]["dataset"]) == {"cityscapes"}
    check = json.loads((tmp_path / "check.json").read_text())
    assert [c["ok"] for c in check] == [True, False]
    for fig in (plots.class_histogram(s), plots.composition([s, missing]), plots.sample_grid(s, 1)):
        assert fig.axes
        plots.save_figure(fig, tmp_path / "fig.png")
    assert plots.class_histogram(missing).axes


def test_check_cli(tiny_root: Path, hand_tree: Path, tmp_path: Path, capsys) -> None:
    assert main(["data", "check", str(tiny_root), "--dataset", "embedded"]) == 0
    assert "problems: 0" in capsys.readouterr().out
    (hand_tree / "gtFine/train/beta/beta_000001_000019_gtFine_labelIds.png").write_bytes(b"x")
    code = main(["data", "check", str(hand_tree), "--dataset", "cityscapes", "--split", "train",
                 "--json", "--out", str(tmp_path / "tables")])
    assert code == 1
    printed = json.loads(capsys.readouterr().out)
    assert printed["problems"][0]["path"].endswith("beta_000001_000019_gtFine_labelIds.png")
    assert (tmp_path / "tables" / "check.json").is_file()


def test_cli_choices_match_the_library() -> None:
    assert cli.DATASETS == summary.DATASETS
    assert cli.BDD_VARIANTS == tuple(sorted(bdd_anomaly.PRESETS))


def test_check_datasets_generates_embedded(tmp_path: Path) -> None:
    from owslib.config import load_profile

    cfg = load_profile("smoke", data__root=str(tmp_path / "emb"), synthetic__n_train=2,
                       synthetic__n_val=1, synthetic__n_test=1)
    out = summary.check_datasets(cfg, cityscapes="", road_anomaly21=str(tmp_path / "none"))
    assert [s.name for s in out] == ["embedded", "road_anomaly21"]
    assert out[0].ok and not out[1].ok
    with pytest.raises(ValueError, match="mapillary"):
        summary.check_datasets(cfg, mapillary="x")


def test_missing_cityscapes_test_split_is_a_note(tmp_path: Path, add_pair, hand_label_ids,
                                                 capsys) -> None:
    root = tmp_path / "cityscapes"
    add_pair(root, "train", "aachen_000000_000019", hand_label_ids)
    add_pair(root, "val", "frankfurt_000000_000019", hand_label_ids)
    s = check_dataset(root, "cityscapes")
    assert s.ok and not s.problems and list(s.counts["split"]) == ["train", "val"]
    (note,) = s.notes
    assert "leftImg8bit/test" in note and "placeholders" in note
    assert "note: " in format_summary(s) and s.to_dict()["notes"] == [note]
    assert main(["data", "check", str(root), "--dataset", "cityscapes"]) == 0
    assert "no test split" in capsys.readouterr().out
    # asked for by name, the split must be there
    s = check_dataset(root, "cityscapes", splits=("train", "test"))
    assert not s.ok and any("leftImg8bit/test" in b.reason for b in s.problems) and not s.notes
    # other datasets' test splits hold the evaluation: missing is still a problem
    other = check_dataset(root, "bdd_anomaly")
    assert any("leftImg8bit/test" in b.reason for b in other.problems) and not other.notes
    # a present test split is checked as before, without a note
    add_pair(root, "test", "berlin_000000_000019", hand_label_ids)
    s = check_dataset(root, "cityscapes")
    assert s.ok and not s.notes and list(s.counts["split"]) == ["train", "val", "test"]
