"""The pure functions of softmaxlab.functional: softmax, log-softmax, cross-entropy."""

from __future__ import annotations

import pytest
import torch

from softmaxlab import functional as F
from tests.helpers import TOL


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_softmax_matches_torch_and_sums_to_one(dtype):
    z = torch.randn(50, 7, dtype=dtype) * 5
    torch.testing.assert_close(F.softmax(z), torch.softmax(z, 1), **TOL[dtype])
    torch.testing.assert_close(F.softmax(z).sum(1), torch.ones(50, dtype=dtype), **TOL[dtype])


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_stable_path_is_finite_for_logits_near_1000(dtype):
    z = torch.tensor([[1000.0, -1000.0, 0.0], [-1000.0, -999.0, 1000.0]], dtype=dtype)
    y = torch.eye(3, dtype=dtype)[[1, 0]]
    assert torch.isfinite(F.softmax(z)).all()
    assert torch.isfinite(F.log_softmax(z)).all()
    torch.testing.assert_close(F.log_softmax(z), torch.log_softmax(z, 1), **TOL[dtype])
    ce = F.cross_entropy(y, z)
    assert torch.isfinite(ce) and float(ce) == pytest.approx(2000.0)
    torch.testing.assert_close(ce, torch.nn.functional.cross_entropy(z, y), **TOL[dtype])
    assert not torch.isfinite(F.cross_entropy_from_probs(y, F.softmax(z)))


def test_literal_and_stable_cross_entropy_agree_on_ordinary_logits():
    z = torch.randn(20, 4, dtype=torch.float64)
    y = torch.eye(4, dtype=torch.float64)[torch.randint(0, 4, (20,))]
    torch.testing.assert_close(
        F.cross_entropy(y, z), F.cross_entropy_from_probs(y, F.softmax(z)), **TOL[torch.float64]
    )


def test_logits_is_xw_plus_b():
    x, w, b = torch.randn(3, 2), torch.randn(2, 4), torch.randn(4)
    torch.testing.assert_close(F.logits(x, w, b), x @ w + b)


def test_accuracy():
    y = torch.eye(2)[[0, 1, 1, 0]]
    p = torch.tensor([[0.6, 0.4], [0.3, 0.7], [0.9, 0.1], [0.2, 0.8]])
    assert float(F.accuracy(y, p)) == 0.5
