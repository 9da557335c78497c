"""softmaxlab's L-BFGS (softmaxlab.solvers.quasi_newton): it reaches the minimiser that scipy's L-BFGS-B
reaches, stops by the same rules, and reports an iteration limit or a failed line search
by its status; its OWL-QN reaches the closed-form minimiser of an L1-penalised quadratic."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize, rosen, rosen_der

from softmaxlab.solvers.quasi_newton import _cubic_min, minimize_lbfgs, minimize_owlqn


def _rosen(x):
    return rosen(x), rosen_der(x)


@pytest.mark.parametrize("n", [2, 10, 50])
def test_rosenbrock_minimum_matches_scipy(n):
    x0 = np.full(n, -1.2)
    x0[1::2] = 1.0
    ours = minimize_lbfgs(_rosen, x0, maxiter=2000, gtol=1e-10)
    ref = minimize(
        _rosen,
        x0,
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 2000, "gtol": 1e-10, "ftol": 1e-15},
    )
    assert ours.status == 0, ours.message
    np.testing.assert_allclose(ours.x, np.ones(n), atol=1e-7)
    np.testing.assert_allclose(ours.x, ref.x, atol=1e-7)
    assert np.abs(ours.jac).max() <= 1e-10 or ours.message.startswith("the relative")


def test_an_ill_conditioned_quadratic_is_solved_as_finely_as_scipy_solves_it():
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(40, 40)))
    a = q @ np.diag(np.logspace(0, 3, 40)) @ q.T
    b = rng.normal(size=40)

    def quad(x):
        return 0.5 * x @ a @ x - b @ x, a @ x - b

    solution = np.linalg.solve(a, b)
    ours = minimize_lbfgs(quad, np.zeros(40), maxiter=5000, gtol=1e-9)
    ref = minimize(
        quad,
        np.zeros(40),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 5000, "gtol": 1e-9, "ftol": 64 * np.finfo(float).eps},
    )
    # both stop where f stops decreasing in float64, ~1e-6 from the solution
    assert np.abs(ours.x - solution).max() < 1e-5
    assert np.abs(ours.x - solution).max() <= 10 * np.abs(ref.x - solution).max()


def test_iteration_limit_and_callback():
    seen = []
    out = minimize_lbfgs(
        _rosen,
        np.array([-1.2, 1.0]),
        maxiter=3,
        gtol=0.0,
        callback=lambda state: seen.append(state.fun),
    )
    assert out.status == 1 and out.nit == 3 and len(seen) == 3
    assert seen == sorted(seen, reverse=True)  # every step lowers f


def test_a_start_at_the_minimum_needs_no_iteration():
    out = minimize_lbfgs(_rosen, np.ones(4), maxiter=10, gtol=1e-8)
    assert out.status == 0 and out.nit == 0 and out.nfev == 1


def test_a_function_that_cannot_be_lowered_stops_with_status_2():
    # a gradient that lies: every step along -g goes up
    out = minimize_lbfgs(lambda x: (float(x @ x), -2 * x), np.ones(3), maxiter=10, gtol=0.0)
    assert out.status == 2 and out.message == "the line search found no lower point"
    np.testing.assert_array_equal(out.x, np.ones(3))


def test_cubic_interpolation_finds_a_cubics_minimiser():
    # f(a) = (a - 0.3)^2 sampled at 0 and 1: the minimiser is 0.3
    assert _cubic_min(0.0, 0.09, -0.6, 1.0, 0.49, 1.4) == pytest.approx(0.3)


def _separable_quadratic(a, h):
    """f(x) = ½ Σ h_i (x_i − a_i)² and its gradient."""
    return lambda x: (0.5 * float(h @ (x - a) ** 2), h * (x - a))


def test_owlqn_reaches_the_soft_thresholded_minimiser_with_exact_zeros():
    # argmin ½ h (x − a)² + λ|x| = sign(a) max(|a| − λ/h, 0), coordinate by coordinate
    rng = np.random.default_rng(0)
    a, h = rng.normal(size=12) * 2, rng.uniform(0.5, 4, size=12)
    l1 = rng.uniform(0, 3, size=12)
    l1[:3] = 0.0  # unpenalised coordinates
    res = minimize_owlqn(_separable_quadratic(a, h), np.ones(12), l1, maxiter=200, gtol=1e-10)
    expected = np.sign(a) * np.maximum(np.abs(a) - l1 / h, 0)
    assert res.status == 0, res.message
    np.testing.assert_allclose(res.x, expected, atol=1e-9)
    assert np.array_equal(res.x == 0, expected == 0) and (expected == 0).any()


def test_owlqn_lets_an_unpenalised_coordinate_cross_zero():
    # x₀ (λ = 0, an intercept) must go from 0.5 to −3; projecting it onto its starting
    # orthant would clamp it at exactly 0 after the first step
    f = _separable_quadratic(np.array([-3.0, 2.0]), np.ones(2))
    seen = []
    res = minimize_owlqn(
        f,
        np.array([0.5, 1.0]),
        np.array([0.0, 0.5]),
        maxiter=50,
        gtol=1e-10,
        callback=lambda state: seen.append(state.x.copy()),
    )
    assert seen[0][0] < 0
    np.testing.assert_allclose(res.x, [-3.0, 1.5], atol=1e-9)
