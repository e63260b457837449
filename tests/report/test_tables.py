import json

import numpy as np
import pandas as pd

from owslib.evaluation.protocol import CONVENTIONS
from owslib.labels import IGNORE_INDEX
from owslib.plots import colorize, side_by_side, training_curves
from owslib.report import metrics_tables, write_metrics


def _anomaly(aupr, fpr95, auroc):
    res = {"aupr": aupr, "fpr95": fpr95, "auroc": auroc, "best_f1": 0.4}
    return {"pooled": res, "per_image": res | {"n_images": 3, "n_skipped": 1}}


METRICS = {
    "miou": 0.61,
    "pixel_acc": 0.9,
    "iou": {"road": 0.9, "car": 0.32},
    "n_images": 4,
    "conventions": CONVENTIONS,
    "anomaly": {"fused": _anomaly(0.5, 0.3, 0.88), "max_softmax": _anomaly(0.2, 0.7, 0.6)},
}


def test_tables_state_conventions_and_skip_paper_when_protocol_differs():
    t = metrics_tables(METRICS, "embedded", "cityscapes_heldout")
    s = t["summary"]
    assert "paper" not in s.columns
    assert s.loc[s.metric.str.startswith("mIoU"), "value"].item() == 0.61
    assert s["convention"].str.len().min() > 20
    a = t["anomaly"]  # one row per scorer x aggregation, each with its convention
    assert list(zip(a["scorer"], a["aggregation"], strict=True)) == [
        ("fused", "pooled"),
        ("fused", "per_image"),
        ("max_softmax", "pooled"),
        ("max_softmax", "per_image"),
    ]
    assert a["convention"].str.startswith(("pooled", "per_image")).all()
    assert a.loc[1, "images_skipped"] == 1
    assert t["per_class"].set_index("class")["iou"]["car"] == 0.32


def test_paper_numbers_appear_only_where_protocol_matches():
    s = metrics_tables(METRICS, "cityscapes", "cityscapes")["summary"]
    row = s[s.metric.str.startswith("mIoU")].iloc[0]
    assert row["paper"] == 0.708
    assert np.isnan(s[s.metric.str.startswith("AUPR")]["paper"].iloc[0])
    s = metrics_tables(METRICS, "bdd_anomaly", "bdd_anomaly3")["summary"].set_index("metric")
    assert s.loc["AUPR (fused, per_image)", "paper"] == 0.961  # the paper's likely aggregation
    assert np.isnan(s.loc["AUPR (fused, pooled)", "paper"])


def test_write_metrics_files(tmp_path):
    write_metrics(tmp_path, METRICS, "embedded", "cityscapes_heldout")
    assert json.loads((tmp_path / "metrics.json").read_text())["miou"] == 0.61
    for name in ("summary", "anomaly", "per_class"):
        pd.read_csv(tmp_path / f"{name}.csv")
    md = (tmp_path / "metrics.md").read_text()
    assert "| fused" in md and "## summary" in md


def test_colorize_maps_palette_and_ignore():
    pal = np.array([[1, 2, 3], [4, 5, 6]], dtype=np.uint8)
    out = colorize(np.array([[0, 1, IGNORE_INDEX]]), pal)
    assert out.tolist() == [[[1, 2, 3], [4, 5, 6], [0, 0, 0]]]


def test_figures_build():
    history = [
        {"epoch": e, "lr": 0.1, "train_loss": 1.0 / (e + 1), "train_sem": 0.5, "train_obj": 0.2}
        for e in range(3)
    ]
    fig = training_curves(history, warmup_epochs=1)
    assert len(fig.axes) == 2
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels[0] == "total (weighted sum)" and "L_obj (Eq. 9)" in labels  # every logged term
    assert "statistics warm-up" in labels
    assert fig.axes[0].get_xlabel() == "epoch" and fig.axes[0].get_yscale() == "log"
    maps = {"fused": np.random.rand(8, 8), "max_logit": np.random.rand(8, 8)}
    fig = side_by_side(
        np.zeros((8, 8, 3), np.uint8),
        maps,
        unknown_mask=np.eye(8, dtype=bool),
        ranges={"fused": (0.0, 1.0), "max_logit": None},
    )
    titled = [a for a in fig.axes if a.get_title()]
    assert [a.get_title() for a in titled] == ["image", "fused", "max_logit"]
    assert len(fig.axes) == 5  # a colourbar per map
    assert titled[1].images[0].get_clim() == (0.0, 1.0)  # the fixed scale of a bounded scorer


class _Labels:
    """A dataset stand-in exposing only labels (K = 2 known; 2 and 3 are unknown classes)."""

    def __init__(self, targets):
        self.targets = targets

    def __len__(self):
        return len(self.targets)

    def load_target(self, i):
        return self.targets[i]


def test_pick_examples_takes_unknown_classes_in_turn():
    from owslib.report import pick_examples

    z = np.zeros((4, 4), np.uint8)
    big2, small2, only3, none = z.copy(), z.copy(), z.copy(), z.copy()
    big2[:3] = 2
    small2[0, 0] = 2
    only3[:1] = 3
    picked = pick_examples(_Labels([none, small2, big2, only3]), num_known=2, n=3)
    assert picked[:2] == [2, 3]  # the largest class-2 image, then the class-3 image
    assert picked[2] == 1 and len(picked) == 3


def test_anomaly_table_shows_error_bounds_only_where_they_exceed_1e3():
    exact = metrics_tables(METRICS, "embedded", "cityscapes_heldout")["anomaly"]
    assert not [c for c in exact.columns if c.endswith("bound")]
    assert str(exact["images_used"].dtype) == "Int64"  # counts as integers
    loose = json.loads(json.dumps(METRICS))
    loose["anomaly"]["fused"]["pooled"] |= {"aupr_max_error": 0.02, "auroc_max_error": 5e-4}
    a = metrics_tables(loose, "embedded", "cityscapes_heldout")["anomaly"]
    assert [c for c in a.columns if c.endswith("bound")] == ["aupr bound"]
    assert list(a.columns).index("aupr bound") == list(a.columns).index("aupr") + 1
    assert a.loc[0, "aupr bound"] == 0.02


def test_comparison_tables_carry_the_largest_bound_over_seeds():
    from owslib import comparison
    from owslib.notebook import error_bounds, long_rows, scorer_table

    rows = []
    for seed, err in ((0, 0.004), (1, 0.009)):
        for variant in ("baseline", "v"):
            m = json.loads(json.dumps(METRICS))
            m["anomaly"]["fused"]["pooled"]["fpr95_max_error"] = err if variant == "v" else 0.0
            m["anomaly"]["fused"]["pooled"]["aupr"] += 0.01 * seed
            rows += long_rows(variant, seed, m)
    long = pd.DataFrame(rows)
    b = error_bounds(long)
    assert b[["variant", "metric", "scorer", "bound"]].values.tolist() == [
        ["v", "fpr95", "fused", 0.009]
    ]
    summary = comparison.summarise(long[list(comparison.LONG_COLUMNS)], baseline="baseline")
    t = scorer_table(summary, "pooled", b).set_index(["variant", "scorer"])
    assert t.loc[("v", "fused"), "fpr95 bound"] == "±0.0090"
    assert t.loc[("baseline", "fused"), "fpr95 bound"] == ""
    assert "aupr bound" not in t.columns


def test_term_diagnostics_are_not_plotted_as_losses():
    import owslib.losses.infonce_term  # noqa: F401  (registers the term)
    from owslib.plots.training import logged_diagnostics, logged_terms

    df = pd.DataFrame(
        [
            {
                "epoch": 0,
                "lr": 0.1,
                "train_loss": 2.0,
                "train_sem": 1.0,
                "train_infonce": 0.5,
                "train_infonce_hardest_similarity": 0.8,
                "train_infonce_n_known": 200.0,
            }
        ]
    )
    assert logged_terms(df) == ["loss", "infonce", "sem"]
    both = pd.DataFrame(
        [
            {
                "epoch": 0,
                "train_loss": 1.0,
                "train_cont": 0.3,
                "train_cont_mlp": 0.2,
                "train_obj_mlp": 0.1,
            }
        ]
    )
    assert logged_terms(both) == ["loss", "cont", "cont_mlp", "obj_mlp"]  # terms of their own
    assert logged_diagnostics(both) == []
    assert logged_diagnostics(df) == ["infonce_hardest_similarity"]
    fig = training_curves(df.to_dict("records"))
    assert [a.get_title() for a in fig.axes][-1] == "term diagnostics"
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert not any("hardest" in x or "n known" in x for x in labels)


def test_metrics_md_states_each_convention_once_per_table(tmp_path):
    write_metrics(tmp_path, METRICS, "embedded", "cityscapes_heldout")
    md = (tmp_path / "metrics.md").read_text()
    anomaly = md.split("## anomaly")[1].split("## ")[0]
    pooled = CONVENTIONS["pooled"]
    assert anomaly.count(pooled) == 1 and "[1]" in anomaly and "[2]" in anomaly
    assert "| 3 |" in anomaly.replace("  ", " ") or " 3 " in anomaly  # images_used as an integer
    assert "3.0000" not in anomaly and "<NA>" not in md  # pooled rows count no images: "—"
