import numpy as np
import pytest

import handgrad as hg
from handgrad.train.metrics import default_metrics, make_metrics


def run_metric(metric, batches):
    metric.reset()
    for pred, target in batches:
        metric.update(pred, target)
    return metric.result()


def test_accuracy_of_softmax_logits_over_batches():
    pred = np.array([[2.0, 0.1, 0.0], [0.0, 1.0, 0.5], [0.3, 0.2, 0.9], [1.0, 0.0, 0.0]])
    labels = np.array([0, 2, 2, 0])  # rows 0, 2, 3 right
    acc = run_metric(hg.Accuracy(), [(pred[:3], labels[:3]), (pred[3:], labels[3:])])
    assert acc == 0.75
    assert run_metric(hg.Accuracy(), [(pred, np.eye(3)[labels])]) == 0.75


def test_binary_accuracy_compares_logit_sign_with_target():
    pred = np.array([[0.5], [-0.2], [3.0], [-1.0]])
    target = np.array([[1.0], [1.0], [1.0], [0.0]])
    assert run_metric(hg.Accuracy(), [(pred, target)]) == 0.75
    multi = np.array([[0.5, -1.0], [-0.5, 2.0]])
    assert run_metric(hg.Accuracy(binary=True), [(multi, np.array([[1, 0], [1, 1.0]]))]) == 0.75


def test_mae_and_r2_match_their_formulas(rng):
    a = rng.standard_normal((50, 2))
    p = a + rng.standard_normal((50, 2)) * 0.3
    batches = [(p[:20], a[:20]), (p[20:], a[20:])]
    assert run_metric(hg.MeanAbsoluteError(), batches) == pytest.approx(np.abs(p - a).mean())
    per_output = 1 - ((a - p) ** 2).sum(axis=0) / ((a - a.mean(axis=0)) ** 2).sum(axis=0)
    assert run_metric(hg.R2Score(), batches) == pytest.approx(per_output.mean(), rel=1e-12)


def test_r2_of_a_constant_target():
    a = np.full((4, 1), 2.0)
    assert run_metric(hg.R2Score(), [(a.copy(), a)]) == 1.0
    assert run_metric(hg.R2Score(), [(a + 1, a)]) == 0.0


def test_defaults_follow_the_loss():
    assert default_metrics(hg.CrossEntropyLoss()) == ["accuracy"]
    assert default_metrics(hg.BCEWithLogitsLoss()) == ["accuracy"]
    assert default_metrics(hg.MSELoss()) == ["mae", "r2"]
    assert make_metrics("auto", hg.BCEWithLogitsLoss())[0].binary is True
    assert make_metrics(None, hg.MSELoss()) == []


@pytest.mark.parametrize(
    ("metrics", "message"),
    [
        (["f1"], "metrics must be 'auto', None, or a list of"),
        (["mae", "mae"], "must not repeat a name"),
    ],
)
def test_bad_metrics(metrics, message):
    with pytest.raises(ValueError, match=message):
        make_metrics(metrics, hg.MSELoss())
