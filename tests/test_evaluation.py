import pytest
import torch
import torch.nn.functional as F
from torch import nn

from owslib.evaluation import anomaly_labels, evaluate_model
from owslib.inference import SCORERS
from owslib.losses import ClassStatistics

K = 3


class Oracle(nn.Module):
    """Reads the target from image channel 0; perfect logits; embedding norm 0 on unknowns."""

    def forward(self, image):
        t = image[:, 0].long()
        known = t < K
        logits = 10.0 * F.one_hot(torch.where(known, t, 0), K).permute(0, 3, 1, 2).float()
        emb = torch.zeros(image.shape[0], K, *image.shape[2:])
        emb[:, 0] = known.float() * 2.0
        return {"sem_logits": logits, "embedding": emb}


def _batches():
    torch.manual_seed(0)
    out = []
    for _ in range(3):
        target = torch.randint(0, K, (2, 8, 8))
        target[:, :2, :2] = K  # an unknown object
        target[:, -1] = 255  # void
        image = torch.stack([target.float(), target.float() * 0, target.float() * 0], dim=1)
        out.append((image, target))
    return out


def _stats():
    s = ClassStatistics(K)
    s.mean.copy_(10.0 * torch.eye(K))
    s.var.fill_(1.0)
    s.valid.fill_(True)
    return s


def test_anomaly_labels_encoding():
    t = torch.tensor([0, 2, 3, 4, 255])
    assert anomaly_labels(t, 3).tolist() == [0, 0, 1, 1, 255]


def test_oracle_model_gets_perfect_scores():
    m = evaluate_model(
        Oracle(),
        _stats(),
        _batches(),
        num_classes=K,
        class_names=("a", "b", "c"),
        device=torch.device("cpu"),
        bins=1000,
    )
    assert m["miou"] == pytest.approx(1.0)
    assert set(m["iou"]) == {"a", "b", "c"}
    assert m["n_images"] == 6
    assert set(m["anomaly"]) == set(SCORERS)
    for scorer in ("contrastive", "fused"):
        assert m["anomaly"][scorer]["auroc"] == pytest.approx(1.0)
        assert m["anomaly"][scorer]["aupr"] == pytest.approx(1.0)
        assert m["anomaly"][scorer]["fpr95"] == pytest.approx(0.0)
    assert "pooled" in m["conventions"]["anomaly"]


def test_split_without_unknowns_reports_no_anomaly_metrics():
    batches = [(img, torch.where(t == K, 0, t)) for img, t in _batches()]
    batches = [(torch.stack([t.float(), t.float() * 0, t.float() * 0], 1), t) for _, t in batches]
    m = evaluate_model(
        Oracle(),
        _stats(),
        batches,
        num_classes=K,
        class_names=("a", "b", "c"),
        device=torch.device("cpu"),
        bins=100,
    )
    assert "anomaly" not in m
    assert m["miou"] == pytest.approx(1.0)
