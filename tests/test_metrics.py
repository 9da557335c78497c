"""mape (S11): scalars, tensors, arrays, zeros and the error cases."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import softmaxlab as sl


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
