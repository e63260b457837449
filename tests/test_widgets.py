import matplotlib

matplotlib.use("Agg")

from owslib.engine.experiment import build_experiment  # noqa: E402
from owslib.widgets import AnomalyExplorer  # noqa: E402


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
