"""The multinomial loss object: value, gradient and Hessian-vector product against
torch.autograd (double backward) and finite differences, dense and sparse, with row
weights and standardisation; the log-odds loss against the full one."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from softmaxlab.objective import L2, ElasticNet, LogOddsLoss, MultinomialLoss, Rows
from softmaxlab.sparse import SparseRows, to_csr

N_ROWS, N_FEATURES, N_CLASSES = 57, 6, 4


def _rows(sparse: bool, *, scaled: bool, train: bool) -> Rows:
    g = torch.Generator().manual_seed(3)
    x = torch.randn(N_ROWS, N_FEATURES, generator=g, dtype=torch.float64)
    if sparse:
        x = x * (torch.rand(x.shape, generator=g) < 0.4)
    labels = torch.randint(0, N_CLASSES, (N_ROWS,), generator=g)
    weight = torch.rand(N_ROWS, generator=g, dtype=torch.float64) + 0.5
    subset = torch.arange(3, N_ROWS, 2) if train else None
    weight = weight / (weight if subset is None else weight[subset]).mean()
    mean = torch.zeros(N_FEATURES, dtype=torch.float64)
    scale = torch.ones(N_FEATURES, dtype=torch.float64)
    if scaled:
        scale = torch.rand(N_FEATURES, generator=g, dtype=torch.float64) + 0.5
        if not sparse:
            mean = torch.randn(N_FEATURES, generator=g, dtype=torch.float64)
    data: object = SparseRows(to_csr(sp.csr_matrix(x.numpy()))) if sparse else x
    return Rows(data, labels, weight, subset, mean, scale)


def _dense(rows: Rows) -> torch.Tensor:
    x = rows.x
    return torch.from_numpy(x.csr.toarray()) if isinstance(x, SparseRows) else x


def _reference(loss: MultinomialLoss, theta: torch.Tensor) -> torch.Tensor:
    """f(θ) written out with torch operations, for autograd."""
    rows = loss.rows
    nw = loss.n_weights
    if loss.transposed:
        w = theta[:nw].view(N_CLASSES, N_FEATURES)
    else:
        w = theta[:nw].view(N_FEATURES, N_CLASSES).T
    x = (_dense(rows) - rows.mean) / rows.scale
    idx = torch.arange(N_ROWS) if rows.train is None else rows.train
    z = x[idx] @ w.T + theta[nw:]
    ce = torch.nn.functional.cross_entropy(z, rows.labels[idx], reduction="none")
    return (rows.weight[idx] * ce).mean()


CASES = [
    pytest.param(False, False, False, id="dense"),
    pytest.param(False, True, True, id="dense-scaled-subset"),
    pytest.param(True, False, False, id="sparse"),
    pytest.param(True, True, True, id="sparse-scaled-subset"),
]


@pytest.mark.parametrize(("sparse", "scaled", "train"), CASES)
def test_value_gradient_and_hessp_match_autograd(sparse, scaled, train):
    rows = _rows(sparse, scaled=scaled, train=train)
    loss = MultinomialLoss(rows, N_CLASSES, chunk=16)  # several chunks per pass
    rng = np.random.default_rng(0)
    theta = rng.normal(scale=0.3, size=loss.n_params)
    v = rng.normal(size=loss.n_params)
    t = torch.tensor(theta, requires_grad=True)
    f = _reference(loss, t)
    (g,) = torch.autograd.grad(f, t, create_graph=True)
    (hv,) = torch.autograd.grad(g @ torch.from_numpy(v), t)
    value, grad = loss.value_and_gradient(theta)
    assert value == pytest.approx(f.item(), rel=1e-12)
    np.testing.assert_allclose(grad, g.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(loss.hessp(theta, v), hv.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(("sparse", "scaled", "train"), CASES[1::2])
def test_hessp_matches_finite_differences_of_the_gradient(sparse, scaled, train):
    loss = MultinomialLoss(_rows(sparse, scaled=scaled, train=train), N_CLASSES)
    rng = np.random.default_rng(1)
    theta, v = rng.normal(scale=0.3, size=(2, loss.n_params))
    h = 1e-5
    fd = (loss.gradient(theta + h * v) - loss.gradient(theta - h * v)) / (2 * h)
    np.testing.assert_allclose(loss.hessp(theta, v), fd, rtol=1e-6, atol=1e-9)


def test_the_penalty_adds_its_own_hessian_term():
    loss = MultinomialLoss(_rows(False, scaled=True, train=False), N_CLASSES)
    pen = ElasticNet(0.3, 0.25)
    rng = np.random.default_rng(2)
    theta, v = rng.normal(size=(2, loss.n_params))
    h = 1e-5

    def smooth_grad(t: np.ndarray) -> np.ndarray:
        g = np.zeros_like(t)
        pen.add_smooth_gradient(t, g, loss.l2_weights)
        return g

    fd = (smooth_grad(theta + h * v) - smooth_grad(theta - h * v)) / (2 * h)
    np.testing.assert_allclose(pen.smooth_hessp(v, loss.l2_weights), fd, rtol=1e-8, atol=1e-12)
    assert np.all(pen.smooth_hessp(v, loss.l2_weights)[loss.n_weights :] == 0)  # no bias term


@pytest.mark.parametrize("sparse", [False, True])
def test_theta_round_trips_through_the_original_coordinates(sparse):
    loss = MultinomialLoss(_rows(sparse, scaled=True, train=False), N_CLASSES)
    rng = np.random.default_rng(4)
    coef, intercept = rng.normal(size=(N_CLASSES, N_FEATURES)), rng.normal(size=N_CLASSES)
    back = loss.to_original(loss.from_original(coef, intercept))
    np.testing.assert_allclose(back[0], coef, rtol=1e-13)
    np.testing.assert_allclose(back[1], intercept, rtol=1e-13, atol=1e-13)
    # the L2 penalty on θ with the loss's weights is the penalty on the original W
    theta = loss.from_original(coef, intercept)
    assert L2(0.7).value(theta, loss.l2_weights) == pytest.approx(0.35 * (coef**2).sum())


def test_the_log_odds_loss_is_the_two_class_loss_on_its_own_parameters():
    rows = _rows(False, scaled=True, train=False)
    rows.labels = rows.labels % 2
    loss = MultinomialLoss(rows, 2)
    lo = LogOddsLoss(loss)
    rng = np.random.default_rng(5)
    theta = rng.normal(size=lo.n_params)
    value, grad = lo.value_and_gradient(theta)
    full_value, full_grad = loss.value_and_gradient(lo.expand(theta))
    full_grad = full_grad.copy()  # a view of the engine's buffer until the next pass
    assert value == full_value
    h = 1e-6
    fd = np.array(
        [
            (lo.value_and_gradient(theta + h * e)[0] - lo.value_and_gradient(theta - h * e)[0])
            / (2 * h)
            for e in np.eye(lo.n_params)
        ]
    )
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(lo.restrict(lo.expand(theta)), theta, rtol=1e-14)
    np.testing.assert_allclose(lo.expand_gradient(grad), full_grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("sparse", [False, True])
def test_value_gradient_and_hessp_are_the_same_on_two_ranks(sparse):
    from tests.fast.test_comm import ThreadGroup

    rows = _rows(sparse, scaled=True, train=False)
    rng = np.random.default_rng(6)
    theta, v = rng.normal(scale=0.3, size=(2, N_CLASSES * N_FEATURES + N_CLASSES))
    one = MultinomialLoss(rows, N_CLASSES, chunk=16)
    value, grad = one.value_and_gradient(theta)
    expect = (value, np.array(grad), one.hessp(theta, v))

    def rank(_: int) -> tuple[float, np.ndarray, np.ndarray]:
        loss = MultinomialLoss(rows, N_CLASSES, chunk=16)  # each rank: its share of the rows
        f, g = loss.value_and_gradient(theta)
        return f, np.array(g), loss.hessp(theta, v)

    for f, g, hv in ThreadGroup(2).run(rank):
        assert f == pytest.approx(expect[0], rel=1e-12)
        np.testing.assert_allclose(g, expect[1], rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(hv, expect[2], rtol=1e-10, atol=1e-13)
