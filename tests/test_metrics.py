"""softmaxlab.metrics: mape (scalars, tensors, arrays, zeros, the error cases), and the
evaluation of a fitted model's predictions (Brier score, calibration error, the report)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import brier_score_loss

import softmaxlab as sl
from softmaxlab.errors import InvalidInputError
from softmaxlab.metrics import (
    brier_score,
    evaluate_labels,
    expected_calibration_error,
    reliability_bins,
)


def test_scalars():
    assert sl.mape(1.1, 1.0) == pytest.approx(0.1)
    assert sl.mape(3, 4) == pytest.approx(0.25)
    assert sl.mape(2.0, 2.0) == 0.0


def test_argument_order_is_pred_then_true():
    assert sl.mape(2.0, 1.0) == pytest.approx(1.0)  # |1 - 2| / 1
    assert sl.mape(1.0, 2.0) == pytest.approx(0.5)  # |2 - 1| / 2


def test_tensors_mean_of_relative_errors():
    true = torch.tensor([[1.0, 2.0], [4.0, -8.0]], dtype=torch.float64)
    pred = torch.tensor([[1.1, 2.0], [3.0, -8.8]], dtype=torch.float64)
    assert sl.mape(pred, true) == pytest.approx((0.1 + 0 + 0.25 + 0.1) / 4)


def test_equal_tensors_give_zero_and_float32_is_promoted():
    t = torch.randn(3, 4)
    assert sl.mape(t, t.clone()) == 0.0
    assert isinstance(sl.mape(t, t.clone()), float)


def test_numpy_arrays():
    assert sl.mape(np.array([2.0, 4.0]), np.array([1.0, 4.0])) == pytest.approx(0.5)


def test_zero_true_is_shifted_by_eps():
    assert sl.mape(0.0, 0.0) == 0.0
    assert sl.mape(1e-16, 0.0) == pytest.approx(1.0)
    assert sl.mape(torch.tensor([1e-3]), torch.tensor([0.0]), eps=1e-3) == pytest.approx(1.0)


def test_nan_propagates_so_parity_cannot_pass():
    value = sl.mape(torch.tensor([float("nan")]), torch.tensor([1.0]))
    assert not value < 1e-10


@pytest.mark.parametrize(
    ("pred", "true", "error", "message"),
    [
        (torch.tensor([1.0]), 1.0, sl.InvalidTypeError, "same kind, got tensor and scalar"),
        (1.0, np.array([1.0]), sl.InvalidTypeError, "same kind, got scalar and array"),
        (torch.ones(3), torch.ones(4), sl.InvalidInputError, r"shapes differ, \(3,\) vs \(4,\)"),
        (torch.ones(2, 3), torch.ones(3, 2), sl.InvalidInputError, "shapes differ"),
        (torch.ones(0), torch.ones(0), sl.InvalidInputError, "are empty"),
        ("1.0", 1.0, sl.InvalidTypeError, "pred: expected a real number"),
        (1.0, None, sl.InvalidTypeError, "true: expected a real number"),
        (True, 1.0, sl.InvalidTypeError, "pred: expected a real number"),
    ],
)
def test_errors(pred, true, error, message):
    with pytest.raises(error, match=message):
        sl.mape(pred, true)


def test_mixed_types_are_a_type_error():
    with pytest.raises(TypeError):
        sl.mape(torch.ones(1), 1.0)


# ------------------------------------------------ a fitted model's predictions


def test_brier_score_formula_and_binary_relation_to_sklearn():
    proba = np.array([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4]])
    y = np.array([0, 1, 1])
    expected = np.mean([(0.1**2 + 0.1**2), (0.3**2 + 0.3**2), (0.6**2 + 0.6**2)])
    assert brier_score(y, proba) == pytest.approx(expected)
    assert brier_score(y, proba) == pytest.approx(2 * brier_score_loss(y, proba[:, 1]))
    assert brier_score(y, np.eye(2)[y]) == 0.0


def test_ece_is_zero_when_confidence_equals_accuracy_and_measures_the_gap():
    # 10 rows at confidence 0.8, 8 of them right: perfectly calibrated
    proba = np.tile([0.8, 0.2], (10, 1))
    y = np.array([0] * 8 + [1] * 2)
    assert expected_calibration_error(y, proba) == pytest.approx(0.0, abs=1e-12)
    # all right at confidence 0.6: the gap is 0.4
    assert expected_calibration_error(
        np.zeros(10, int), np.tile([0.6, 0.4], (10, 1))
    ) == pytest.approx(0.4)
    bins = reliability_bins(y, proba, n_bins=5)
    assert sum(b["count"] for b in bins) == 10
    with pytest.raises(InvalidInputError, match="n_bins"):
        expected_calibration_error(y, proba, n_bins=0)


def test_report_has_every_metric():
    classes = np.array(["a", "b", "c"])
    proba = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4], [0.5, 0.4, 0.1]])
    report = evaluate_labels(classes, np.array(["a", "b", "c", "b"]), np.log(proba))
    assert report["accuracy"] == 0.75
    assert report["cross_entropy"] == pytest.approx(-np.mean(np.log([0.7, 0.8, 0.4, 0.4])))
    assert report["brier"] == pytest.approx(brier_score(np.array([0, 1, 2, 1]), proba))
    assert report["confusion_matrix"] == [[1, 0, 0], [1, 1, 0], [0, 0, 1]]
    recall_b = next(r["recall"] for r in report["per_class"] if r["class"] == "b")
    assert recall_b == 0.5
    assert 0 <= report["ece"] <= 1


def test_ce_and_accuracy_is_the_weighted_mean_and_reduces_over_ranks():
    import torch

    from softmaxlab.metrics import ce_and_accuracy

    g = torch.Generator().manual_seed(0)
    z = torch.randn(40, 3, dtype=torch.float64, generator=g)
    labels = torch.randint(0, 3, (40,), generator=g)
    w = torch.rand(40, dtype=torch.float64, generator=g)
    ce_rows = torch.nn.functional.cross_entropy(z, labels, reduction="none")
    hits = (z.argmax(1) == labels).double()
    ce, acc = ce_and_accuracy(z, labels)
    assert ce == pytest.approx(float(ce_rows.mean()), rel=1e-14)
    assert acc == pytest.approx(float(hits.mean()), rel=1e-14)
    ce_w, acc_w = ce_and_accuracy(z, labels, w)
    assert ce_w == pytest.approx(float((w * ce_rows).sum() / w.sum()), rel=1e-13)
    assert acc_w == pytest.approx(float((w * hits).sum() / w.sum()), rel=1e-13)
    # two ranks holding halves: the reduce sums both halves' sums
    halves = [(z[:25], labels[:25]), (z[25:], labels[25:])]
    seen = []

    def reduce(t):  # this rank's sums plus the other's
        other = halves[1] if not seen else halves[0]
        s = torch.nn.functional.cross_entropy(*other, reduction="sum")
        h = (other[0].argmax(1) == other[1]).double().sum()
        t += torch.stack([s, h, torch.tensor(float(len(other[1])), dtype=torch.float64)])
        seen.append(1)

    ce_r, acc_r = ce_and_accuracy(*halves[0], reduce=reduce)
    assert ce_r == pytest.approx(ce, rel=1e-13) and acc_r == pytest.approx(acc, rel=1e-13)
