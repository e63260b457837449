"""The interactive views: the explorer through a model or from a run's explorer record, the
side-by-side view of two runs' records, and what a widget puts in a notebook (one output: the live
view, and one picture with alt text for a rendered copy)."""

import matplotlib
import numpy as np
import pytest
from IPython.core.formatters import DisplayFormatter

matplotlib.use("Agg")

from owslib.engine.experiment import build_experiment  # noqa: E402
from owslib.labels import get_split  # noqa: E402
from owslib.notebook.widgets import AnomalyExplorer, SideBySide  # noqa: E402
from owslib.report.explorer_record import load_explorer_record, write_explorer_record  # noqa: E402


def test_explorer_renders_every_scorer(smoke_cfg):
    exp = build_experiment(smoke_cfg)
    exp.objective.stats.valid.fill_(
        True
    )  # statistics as after training, so every scorer is defined
    ds = exp.test_loader.dataset
    ex = AnomalyExplorer(exp, ds)
    assert ex.index.max == len(ds) - 1
    for scorer in ex.scorers:
        ex.scorer.value = scorer  # triggers rescale + redraw through the observers
        assert ex.delta.min < ex.delta.max
        fig = ex.render(1, scorer, 0.5)
        assert len(fig.axes) >= 4
    assert ex._predict.cache_info().hits > 0, "predictions are cached per image"


# -- without a model: a run's explorer record -------------------------------------------------
SPLIT = get_split("cityscapes_heldout")


def _record(tmp_path, name: str, seed: int, shift: float) -> list[dict]:
    """Two recorded images (void strip, one unknown object), maps ``max_logit`` (unbounded) and
    ``fused``; ``shift`` moves the maps, so two runs have different ranges."""
    rng = np.random.default_rng(seed)
    k = SPLIT.num_known
    examples = []
    for i in range(2):
        target = rng.integers(0, k, (12, 20)).astype(np.uint8)
        target[3:8, 5 + i : 11 + i] = k
        target[:, :2] = 255
        unknown = (target >= k) & (target != 255)
        noise = rng.random((12, 20))
        examples.append(
            {
                "name": f"city_{i:06d}_000019",
                "image": rng.integers(0, 255, (12, 20, 3), np.uint8),
                "target": target,
                "pred": np.minimum(target, k - 1),
                "unknown_mask": unknown,
                "maps": {
                    "max_logit": (noise + unknown) * 3 - shift,
                    "fused": noise * 0.7 + 0.3 * unknown,
                },
            }
        )
    return load_explorer_record(write_explorer_record(tmp_path / f"{name}{seed}.npz", examples))


def _brute_force_ap(score: np.ndarray, target: np.ndarray, unknown: np.ndarray) -> float:
    """Average precision by definition: per unknown pixel, the precision of the threshold at its
    score (every valid pixel scoring at least as high), averaged; void left out."""
    valid = target != 255
    s, y = score[valid].astype(np.float64), unknown[valid]
    return float(np.mean([(y & (s >= t)).sum() / (s >= t).sum() for t in s[y]]))


def test_the_explorer_browses_a_record_without_a_model(tmp_path):
    examples = _record(tmp_path, "baseline", 0, 0.0)
    ex = AnomalyExplorer.from_record(examples, SPLIT.palette, delta=0.5)
    assert ex.exp is None and ex.index.max == 1 and ex.scorer.value == "fused"
    ex.scorer.value = "max_logit"  # unbounded: the threshold slider follows its range
    assert ex.delta.max > 1.0
    fig = ex.render(1, "max_logit", 2.0)
    assert len(fig.axes) >= 4 and examples[1]["name"] in fig._suptitle.get_text()


def test_a_widget_is_one_output_the_live_view_or_one_picture(tmp_path):
    # what a frontend receives for the cell's value: the widget view (JupyterLab with a kernel
    # shows only it) and, in the same output, one JPEG with alt text (a rendered copy shows it)
    ex = AnomalyExplorer.from_record(_record(tmp_path, "run", 3, 0.0), SPLIT.palette)
    data, metadata = DisplayFormatter().format(ex.widget)
    assert data["application/vnd.jupyter.widget-view+json"]["model_id"] == ex.widget.model_id
    assert data["image/jpeg"] and data["text/html"].startswith(
        '<img alt="Anomaly explorer, image 1'
    )
    assert data["text/plain"].startswith("Anomaly explorer") and "VBox" not in data["text/plain"]
    assert metadata["image/jpeg"]["alt"] == data["text/plain"]


def test_side_by_side_puts_both_maps_on_one_scale_with_each_images_aupr(tmp_path):
    records = {
        ("baseline", 0): _record(tmp_path, "baseline", 0, 0.0),
        ("focal", 0): _record(tmp_path, "focal", 0, 2.0),
    }
    view = SideBySide(records, ranges={"fused": (0.0, 1.0), "max_logit": None}, baseline="baseline")
    assert (view.a.value, view.b.value) == ("baseline", "focal")
    assert list(view.image.options) == ["city_000000_000019", "city_000001_000019"]
    image = "city_000001_000019"
    for scorer in ("max_logit", "fused"):
        fig = view.render("baseline", "focal", 0, image, scorer)
        left, right = (fig.axes[c].images[0].norm for c in (1, 2))
        assert (left.vmin, left.vmax) == (right.vmin, right.vmax)  # one colour scale
        for c, variant in ((1, "baseline"), (2, "focal")):
            ex = view.examples(variant, 0)[image]
            brute = _brute_force_ap(ex["maps"][scorer], ex["target"], ex["unknown_mask"])
            assert view.aupr(variant, 0, image, scorer) == pytest.approx(brute, abs=1e-12)
            assert fig.axes[c].get_xlabel() == f"AUPR on this image: {brute:.3f}"
    assert (left.vmin, left.vmax) == (0.0, 1.0)  # a bounded scorer: its fixed range
    view.image.value = image  # the widget redraws through its observers
    view.b.value = "baseline"  # the same run on both sides is allowed
    assert view.render("baseline", "baseline", 0, image, "fused").axes[2].get_title() == (
        "baseline (right)"
    )


def test_the_side_by_side_of_02_offers_every_seed_and_each_variants_scorers():
    """From the committed explorer records: the fresh seeds too, and a scorer one variant lacks
    (02's fused_confidence, fused_avg) offered and said missing on the other side."""
    from owslib import notebook

    nb = notebook.setup({"profile": "quick"}, "02_trufor_fusion")
    view = nb.side_by_side("fused").view
    assert {0, 1, 2, *range(100, 114)} <= set(view.seed.options)
    view.a.value, view.b.value = "baseline", "mlp_confidence"
    assert "fused_confidence" in view.scorer.options
    view.scorer.value = "fused_confidence"
    assert "baseline has no fused_confidence scorer" in view.alt()
    view.b.value = "mlp_separate"
    assert "fused_avg" in view.scorer.options
    fig = view.render("baseline", "mlp_separate", view.seed.value, view.image.value, "fused_avg")
    assert any("baseline has no fused_avg scorer" in ax.get_xlabel() for ax in fig.axes)
