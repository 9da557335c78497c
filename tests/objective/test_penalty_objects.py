"""Penalty objects: value, gradient or pseudo-gradient, and proximal step, checked against
their definitions (autograd for the smooth part, the prox's optimality by brute force)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from softmaxlab.objective import L1, L2, ElasticNet, NoPenalty, make_penalty
from softmaxlab.objective.penalties import pseudo_gradient, soft_threshold

RNG = np.random.default_rng(0)
THETA = RNG.normal(size=9)
P = RNG.uniform(0.5, 2.0, size=9)
Q = RNG.uniform(0.5, 2.0, size=9)


@pytest.mark.parametrize("pen", [NoPenalty(), L2(0.4), L1(0.4), ElasticNet(0.4, 0.3)])
def test_value_is_the_formula_and_the_smooth_gradient_is_autograds(pen):
    t = torch.tensor(THETA, requires_grad=True)
    smooth = 0.5 * pen.l2 * (torch.from_numpy(P) * t * t).sum()
    expect = float(smooth) + pen.l1 * float(Q @ np.abs(THETA))
    assert pen.value(THETA, P, Q) == pytest.approx(expect, rel=1e-14)
    (g,) = torch.autograd.grad(smooth, t)
    out = np.zeros(9)
    assert pen.add_smooth_gradient(THETA, out, P) == pytest.approx(float(smooth), rel=1e-14)
    np.testing.assert_allclose(out, g.numpy(), rtol=1e-14)


def test_make_penalty_names_the_estimators_choices():
    assert make_penalty(None, 1.0) == NoPenalty()
    assert make_penalty("l2", 0.0) == NoPenalty()
    assert make_penalty("l2", 2.0) == L2(2.0)
    assert make_penalty("l1", 2.0) == L1(2.0)
    assert make_penalty("elasticnet", 2.0, 0.5) == ElasticNet(2.0, 0.5)
    assert L2(1.0).with_alpha(3.0) == L2(3.0)
    assert (ElasticNet(2.0, 0.25).l1, ElasticNet(2.0, 0.25).l2) == (0.5, 1.5)


def test_prox_minimises_its_problem_coordinatewise():
    pen, step = ElasticNet(0.8, 0.6), 0.7
    out = pen.prox(THETA, step, P, Q)
    grid = np.linspace(-4, 4, 160001)
    for i in range(9):
        obj = (grid - THETA[i]) ** 2 / (2 * step) + (
            pen.l2 / 2 * P[i] * grid**2 + pen.l1 * Q[i] * np.abs(grid)
        )
        assert out[i] == pytest.approx(grid[obj.argmin()], abs=1e-4)


def test_soft_threshold_and_the_pseudo_gradient():
    np.testing.assert_array_equal(
        soft_threshold(np.array([-3.0, -0.5, 0.0, 0.5, 3.0]), 1.0), [-2.0, 0.0, 0.0, 0.0, 2.0]
    )
    theta = np.array([0.0, 0.0, 0.0, 1.0])
    g = np.array([0.5, 2.0, -2.0, 0.5])
    # |g| <= λ at zero: 0; beyond: the one-sided derivative; away from 0: g + λ sign(θ)
    np.testing.assert_array_equal(pseudo_gradient(theta, g, np.ones(4)), [0.0, 1.0, -1.0, 1.5])
    assert np.all(L1(1.0).gradient(theta, g) == pseudo_gradient(theta, g, np.ones(4)))
