"""Evaluation metrics: Brier score, expected calibration error, the evaluate report."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import brier_score_loss

from softmaxlab.errors import InvalidInputError
from softmaxlab.evaluation import (
    brier_score,
    evaluate_labels,
    expected_calibration_error,
    reliability_bins,
)


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
    assert expected_calibration_error(np.zeros(10, int), np.tile([0.6, 0.4], (10, 1))) == \
        pytest.approx(0.4)
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
