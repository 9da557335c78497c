"""The one finiteness pass over X (``_validation.check_finite``): a NaN or an infinity
anywhere is named, and finite values whose sum overflows are still accepted."""

from __future__ import annotations

import pytest
import torch

from softmaxlab import InvalidInputError, SoftmaxClassifier
from softmaxlab._validation import as_matrix, check_finite

CPU = torch.device("cpu")


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_a_non_finite_value_is_named_by_row_and_column(bad):
    x = torch.randn(50, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    x[37, 2] = bad
    with pytest.raises(
        InvalidInputError, match=r"x: contains NaN or infinite values \(first at row 37, column 2\)"
    ):
        check_finite(x, "x")


def test_finite_values_whose_sum_overflows_are_accepted():
    x = torch.full((4, 3), 1e308, dtype=torch.float64)  # the sum is inf, every value finite
    assert torch.isinf(x.sum())
    assert as_matrix(x, "x", dtype=torch.float64, device=CPU) is not None


def test_the_classifier_refuses_a_nan_and_keeps_its_parameters():
    model = SoftmaxClassifier(3, 2, seed=0, device="cpu")
    w0 = model.w.detach().clone()
    x = torch.randn(20, 3, dtype=torch.float64)
    x[5, 1] = float("nan")
    y = torch.nn.functional.one_hot(torch.arange(20) % 2, 2).double()
    with pytest.raises(InvalidInputError, match="x_train: contains NaN"):
        model.fit(x, y, 1, 0.1, 4, verbose=False)
    assert torch.equal(model.w.detach(), w0)
