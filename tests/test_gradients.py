"""Every gradient formulation against autograd, finite differences and each other.

Formulas are in :mod:`softmaxlab.gradients` and docs/math.md; each test names the step it
checks.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

import softmaxlab as sl
from softmaxlab import functional as F
from softmaxlab import gradients as G
from softmaxlab.gradcheck import central_difference
from tests.helpers import TOL, random_problem

NAMES = G.names()


def _shapes(count: int, seed: int) -> list[tuple[int, int, int]]:
    rng = random.Random(seed)
    fixed = [(1, 1, 2), (1, 40, 40), (40, 1, 2), (40, 40, 40), (33, 5, 3)]
    return fixed + [
        (rng.randint(1, 40), rng.randint(1, 40), rng.randint(2, 40)) for _ in range(count)
    ]


SHAPES = _shapes(10, seed=1234)


def _close(actual: torch.Tensor, expected: torch.Tensor, dtype=torch.float64) -> None:
    tol = TOL[dtype]
    atol = tol["atol"] * max(1.0, float(expected.abs().max()))
    torch.testing.assert_close(actual, expected, rtol=tol["rtol"], atol=atol)


# ----------------------------------------------------------------- the registry


def test_registry_has_every_formulation_with_one_signature():
    assert NAMES == ("chain", "jacobian", "kronecker", "blockwise", "fused", "autograd")
    for name in NAMES:
        f = G.get(name)
        assert f.name == name and f.function.__name__ == name
        assert getattr(G, name) is f.function
        assert "Shape:" in f.function.__doc__


def test_unknown_name_is_a_specific_error():
    with pytest.raises(sl.UnknownGradientError, match="gradient: unknown formulation 'adam'"):
        G.get("adam")
    with pytest.raises(ValueError, match="choose one of chain, jacobian"):
        sl.SoftmaxClassifier(5, 3, gradient="adam")


# ----------------------------------------------------------------- against autograd


@pytest.mark.parametrize("name", [n for n in NAMES if n != "autograd"])
@pytest.mark.parametrize(("m", "n", "c"), SHAPES)
def test_formulation_equals_autograd_intermediate_by_intermediate(name, m, n, c):
    x, y, w, b = random_problem(m, n, c, seed=m * 10_000 + n * 100 + c)
    got = G.get(name).function(x, y, w, b)
    ref = G.autograd(x, y, w, b)
    _close(got.d_w, ref.d_w)
    _close(got.d_b, ref.d_b)
    _close(got.d_z, ref.d_z)
    if name == "fused":
        assert got.d_y_hat is None
    else:
        _close(got.d_y_hat, ref.d_y_hat)


@pytest.mark.parametrize("name", NAMES)
def test_formulation_in_float32_matches_float64_autograd(name):
    x, y, w, b = random_problem(17, 6, 4, seed=7)
    got = G.get(name).function(x.float(), y.float(), w.float(), b.float())
    ref = G.autograd(x, y, w, b)
    assert got.d_w.dtype == torch.float32
    _close(got.d_w.double(), ref.d_w, torch.float32)
    _close(got.d_b.double(), ref.d_b, torch.float32)


@pytest.mark.parametrize("name", NAMES)
def test_given_y_hat_is_used_except_by_autograd(name):
    """A Ŷ that is not the model's own (perturbed weights) must be the one used: every
    formulation but autograd gives Xᵀ(Ŷ − Y)/m at the given Ŷ; autograd recomputes it."""
    x, y, w, b = random_problem(8, 3, 4, seed=3)
    g = torch.Generator().manual_seed(5)
    y_hat = F.softmax(F.logits(x, w + 0.5 * torch.randn(w.shape, generator=g, dtype=w.dtype), b))
    at_given = x.T @ (y_hat - y) / x.shape[0]
    own = G.autograd(x, y, w, b).d_w
    assert not torch.allclose(at_given, own, rtol=1e-3)  # the perturbation shows
    got = G.get(name).function(x, y, w, b, y_hat=y_hat).d_w
    _close(got, own if name == "autograd" else at_given)


# ----------------------------------------------------------------- finite differences


FD_SHAPES = [(1, 1, 2), (5, 3, 4), (12, 7, 3), (33, 5, 3), (4, 9, 11)]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(("m", "n", "c"), FD_SHAPES)
def test_formulation_equals_central_finite_differences(name, m, n, c):
    x, y, w, b = random_problem(m, n, c, seed=99 + m + n + c)
    got = G.get(name).function(x, y, w, b)
    rtol, atol = 1e-6, 1e-8
    fd_w = central_difference(lambda t: F.cross_entropy(y, F.logits(x, t, b)), w.clone())
    fd_b = central_difference(lambda t: F.cross_entropy(y, F.logits(x, w, t)), b.clone())
    z = F.logits(x, w, b)
    fd_z = central_difference(lambda t: F.cross_entropy(y, t), z.clone())
    torch.testing.assert_close(got.d_w, fd_w, rtol=rtol, atol=atol)
    torch.testing.assert_close(got.d_b, fd_b, rtol=rtol, atol=atol)
    torch.testing.assert_close(got.d_z, fd_z, rtol=rtol, atol=atol)
    if got.d_y_hat is not None:
        # L as a function of Ŷ treated as free: the seed's literal CE.
        y_hat = F.softmax(z)
        fd_y = central_difference(lambda t: F.cross_entropy_from_probs(y, t), y_hat.clone(), h=1e-8)
        torch.testing.assert_close(got.d_y_hat, fd_y, rtol=1e-5, atol=1e-7)


# ----------------------------------------------------------------- numerics


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_chain_rule_on_underflowed_probability_raises_and_points_to_fused(dtype):
    # logits near ±1000: the true class gets probability exp(-2000) = 0
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=dtype)
    w = torch.tensor([[-1000.0, 1000.0], [1000.0, -1000.0]], dtype=dtype)
    b = torch.zeros(2, dtype=dtype)
    y = torch.eye(2, dtype=dtype)
    for name in ("chain", "jacobian", "kronecker", "blockwise", "autograd"):
        with pytest.raises(sl.NumericalError, match=r"underflowed.*gradient='fused'"):
            G.get(name).function(x, y, w, b)
    fused = G.fused(x, y, w, b)
    assert torch.isfinite(fused.d_w).all() and torch.isfinite(fused.d_b).all()
    expected = torch.tensor([[-1.0, 1.0], [1.0, -1.0]], dtype=torch.float64) / 2
    _close(fused.d_z.double(), expected, dtype)


def test_zero_probability_of_a_wrong_class_is_fine_for_the_chain_rule():
    # Ŷ = 0 where Y = 0: the derivative of 0·log ŷ is 0, not NaN.
    x = torch.tensor([[1.0]], dtype=torch.float64)
    w = torch.tensor([[1000.0, -1000.0]], dtype=torch.float64)
    y = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    g = G.chain(x, y, w, torch.zeros(2, dtype=torch.float64))
    assert torch.isfinite(g.d_y_hat).all() and torch.isfinite(g.d_w).all()


# ----------------------------------------------------------------- memory budget


@pytest.mark.parametrize("name", ["jacobian", "kronecker"])
def test_jacobian_over_budget_is_refused_before_allocating(name):
    x, y, w, b = random_problem(64, 5, 10, seed=1)
    before = G.get_memory_budget()
    try:
        G.set_memory_budget(1 << 20)  # 1 MiB; (64·10)² doubles alone are 3.1 MiB
        with pytest.raises(sl.JacobianTooLargeError, match=f"gradient '{name}'.*MiB") as info:
            G.get(name).function(x, y, w, b)
        assert isinstance(info.value, MemoryError)
        G.get("blockwise").function(x, y, w, b)  # linear-memory forms are not limited
    finally:
        G.set_memory_budget(before)


# ----------------------------------------------------------------- bad input


@pytest.mark.parametrize("name", NAMES)
def test_bad_inputs_name_the_argument(name):
    fn = G.get(name).function
    x, y, w, b = random_problem(4, 3, 2, seed=0)
    bad_x = x.clone()
    bad_x[1, 2] = float("nan")
    cases = [
        ((bad_x, y, w, b), "x: contains NaN"),
        ((x[:, :2], y, w, b), "x: expected 3 features, got 2"),
        ((x[0], y, w, b), "x: expected a 2-D matrix"),
        ((x, y[:3], w, b), "y: has 3 rows but the inputs have 4"),
        ((x, y * 2, w, b), "y: targets must be probability rows"),
        ((x, y, w, b[:1]), r"b: expected a tensor of shape \(2,\)"),
        ((x, y, w.numpy(), b), "w: expected a float32/float64 tensor"),
        ((x, y[:, :1], w[:, :1], b[:1]), "w: needs at least 2 classes"),
        ((x[:0], y[:0], w, b), "x: is empty"),
    ]
    for args, message in cases:
        with pytest.raises(sl.SoftmaxlabError, match=message):
            fn(*args)


# ----------------------------------------------------------------- sample weights


def _weighted_loss(x, y, w, b, s):
    """Σ_i s_i ℓ_i / Σ_i s_i, computed stably."""
    return -(s.unsqueeze(1) * y * F.log_softmax(F.logits(x, w, b))).sum() / s.sum()


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(("m", "n", "c"), [(1, 2, 2), (9, 4, 3), (30, 6, 7)])
def test_weighted_formulation_equals_autograd_and_finite_differences(name, m, n, c):
    x, y, w, b = random_problem(m, n, c, seed=m + 7 * n + 13 * c)
    s = torch.rand(m, dtype=torch.float64, generator=torch.Generator().manual_seed(m)) + 0.1
    got = G.get(name).function(x, y, w, b, sample_weight=s)
    with torch.enable_grad():
        wg, bg = w.clone().requires_grad_(), b.clone().requires_grad_()
        _weighted_loss(x, y, wg, bg, s).backward()
    _close(got.d_w, wg.grad)
    _close(got.d_b, bg.grad)
    fd_w = central_difference(lambda t: _weighted_loss(x, y, t, b, s), w.clone())
    torch.testing.assert_close(got.d_w, fd_w, rtol=1e-6, atol=1e-8)
    ref = G.autograd(x, y, w, b, sample_weight=s)
    _close(got.d_z, ref.d_z)
    if got.d_y_hat is not None:
        _close(got.d_y_hat, ref.d_y_hat)


@pytest.mark.parametrize("name", NAMES)
def test_integer_weights_equal_repeated_rows_and_zero_weights_equal_dropped_rows(name):
    x, y, w, b = random_problem(6, 3, 4, seed=21)
    s = torch.tensor([2.0, 0.0, 1.0, 3.0, 0.0, 1.0], dtype=torch.float64)
    rows = torch.repeat_interleave(torch.arange(6), s.long())
    fn = G.get(name).function
    weighted = fn(x, y, w, b, sample_weight=s)
    repeated = fn(x[rows], y[rows], w, b)
    _close(weighted.d_w, repeated.d_w)
    _close(weighted.d_b, repeated.d_b)


def test_unit_weights_change_nothing():
    x, y, w, b = random_problem(8, 3, 4, seed=22)
    _close(G.chain(x, y, w, b, sample_weight=torch.ones(8)).d_w, G.chain(x, y, w, b).d_w)


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ([1.0, 2.0], "sample_weight: has 2 values but the inputs have 4 rows"),
        ([1.0, -1.0, 1.0, 1.0], "sample_weight: weights must be non-negative"),
        ([0.0, 0.0, 0.0, 0.0], "sample_weight: weights sum to 0"),
        ([1.0, float("nan"), 1.0, 1.0], "sample_weight: contains NaN"),
    ],
)
def test_bad_sample_weight(weights, message):
    x, y, w, b = random_problem(4, 3, 2, seed=0)
    with pytest.raises(sl.InvalidInputError, match=message):
        G.fused(x, y, w, b, sample_weight=weights)


# ----------------------------------------------------------------- class weights and L2


def _objective(x, y, w, b, s, alpha):
    """Σ s_i ℓ_i / Σ s_i + α/2 ‖W‖², the training objective, computed stably."""
    return _weighted_loss(x, y, w, b, s) + 0.5 * alpha * (w * w).sum()


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("class_weight", [None, "balanced", [0.5, 2.0, 1.0]])
def test_class_weight_and_l2_enter_every_formulation(name, class_weight):
    x, y, w, b = random_problem(14, 4, 3, seed=31)
    s = torch.rand(14, dtype=torch.float64, generator=torch.Generator().manual_seed(2)) + 0.2
    alpha = 0.3
    if class_weight is None:
        per_class = torch.ones(3, dtype=torch.float64)
    elif class_weight == "balanced":
        per_class = 14 / (3 * y.sum(0))
    else:
        per_class = torch.tensor(class_weight, dtype=torch.float64)
    s_all = s * (y @ per_class)
    got = G.get(name).function(x, y, w, b, sample_weight=s, class_weight=class_weight, alpha=alpha)
    with torch.enable_grad():
        wg, bg = w.clone().requires_grad_(), b.clone().requires_grad_()
        _objective(x, y, wg, bg, s_all, alpha).backward()
    _close(got.d_w, wg.grad)
    _close(got.d_b, bg.grad)
    fd_w = central_difference(lambda t: _objective(x, y, t, b, s_all, alpha), w.clone())
    fd_b = central_difference(lambda t: _objective(x, y, w, t, s_all, alpha), b.clone())
    torch.testing.assert_close(got.d_w, fd_w, rtol=1e-6, atol=1e-8)
    torch.testing.assert_close(got.d_b, fd_b, rtol=1e-6, atol=1e-8)


def test_balanced_class_weights_match_scikit_learn():
    from sklearn.utils.class_weight import compute_class_weight

    labels = torch.tensor([0, 0, 0, 1, 2, 2])
    y = torch.nn.functional.one_hot(labels, 3).double()
    expected = compute_class_weight("balanced", classes=np.arange(3), y=labels.numpy())
    np.testing.assert_allclose(G.class_weights("balanced", y).numpy(), expected)


def test_bad_alpha_and_class_weight():
    x, y, w, b = random_problem(4, 3, 2, seed=0)
    with pytest.raises(sl.InvalidInputError, match="alpha: must be a finite number >= 0"):
        G.chain(x, y, w, b, alpha=-1.0)
    with pytest.raises(sl.InvalidInputError, match="class_weight: expected 2 non-negative"):
        G.chain(x, y, w, b, class_weight=[1.0, 2.0, 3.0])
    with pytest.raises(sl.InvalidInputError, match="class_weight: expected 'balanced'"):
        G.chain(x, y, w, b, class_weight="heavy")
