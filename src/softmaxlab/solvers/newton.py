r"""Truncated Newton (Newton-CG) on (loss, penalty), for an L2 penalty or none.

Each iteration solves the Newton system :math:`(\nabla^2 f + \alpha(1-\rho)\operatorname{diag}(p))\,d
= -\nabla(f + R)` approximately by conjugate gradients on Hessian-vector products
(:meth:`~softmaxlab.objective.loss.MultinomialLoss.hessp`: one pass over the rows each,
no Hessian is formed), stopping at the relative residual
:math:`\eta_k = \min(\tfrac12, \sqrt{\lVert g\rVert})` (Nocedal & Wright, *Numerical
Optimization*, Algorithm 7.1), and then takes the longest step of 1, ½, ¼, … that lowers
the objective by the Armijo condition :math:`f(x + t d) \le f(x) + 10^{-4} t\, g^\top d`.
A direction of non-positive curvature ends CG with the last iterate (or with -g on the
first). It stops when :math:`\max_i |g_i| \le` ``tol``, as the L-BFGS solver does, when
a step lowers the objective by no more than its rounding (it cannot go lower), or after
``max_iter`` iterations. Near the optimum the steps are full Newton steps and the
convergence is quadratic, so a tight ``tol`` costs a few more iterations, not many.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import numpy as np
import torch

from ..errors import InvalidInputError
from ..objective.loss import MultinomialLoss
from ..objective.penalties import Penalty
from .lbfgs import FullBatch
from .result import LbfgsOptions, SolverResult

__all__ = ["newton_cg"]

#: Armijo's sufficient-decrease constant, and the most halvings of a step.
ARMIJO, MAX_HALVINGS = 1e-4, 40


def _cg(hessp: Callable[[np.ndarray], np.ndarray], g: np.ndarray, max_steps: int) -> np.ndarray:
    """An approximate solution of H d = -g by conjugate gradients (module docstring)."""
    g_norm = float(np.linalg.norm(g))
    tol = min(0.5, np.sqrt(g_norm)) * g_norm
    d = np.zeros_like(g)
    r = -g.copy()
    q = r.copy()
    rs = float(r @ r)
    for step in range(max_steps):
        hq = hessp(q)
        curvature = float(q @ hq)
        if curvature <= 0:
            return -g if step == 0 else d
        a = rs / curvature
        d += a * q
        r -= a * hq
        rs_new = float(r @ r)
        if np.sqrt(rs_new) <= tol:
            break
        q = r + (rs_new / rs) * q
        rs = rs_new
    return d


def newton_cg(
    loss: MultinomialLoss, penalty: Penalty, theta0: np.ndarray, options: LbfgsOptions
) -> SolverResult:
    """Minimise f(θ) + R(θ) from ``theta0`` (the loss's layout) by Newton-CG (module
    docstring); ``options`` as L-BFGS's (``tol``, ``max_iter``, held-out rows, verbose,
    callback)."""
    if penalty.l1:
        raise InvalidInputError(
            "solver: 'newton-cg' takes penalty='l2' or None; use solver='lbfgs' for an L1 part"
        )
    run = FullBatch(loss, penalty, theta0, options)
    view, l2, l2w = run.view, penalty.l2, run.l2w
    x = run.x0
    n_iter, converged = 0, False
    with torch.no_grad(), loss.engine.threads(lbfgs=True):
        value, g = run.fun(x)
        g = np.array(g)
        for _ in range(options.max_iter):
            if float(np.max(np.abs(g))) <= run.gtol:
                converged = True
                break
            data_hessian = view.hessian(x)  # the probabilities at x, once per iteration

            def hessp(v: np.ndarray, h: Callable[..., np.ndarray] = data_hessian) -> np.ndarray:
                out = h(v)
                return out + penalty.smooth_hessp(v, l2w) if l2 else out

            d = _cg(hessp, g, max(10, min(200, x.size)))
            slope = float(g @ d)
            t, accepted = 1.0, False
            for _ in range(MAX_HALVINGS):
                trial = x + t * d
                f_new, g_new = run.fun(trial)
                if f_new <= value + ARMIJO * t * slope:
                    accepted = True
                    break
                t *= 0.5
            if not accepted:  # no decrease left in floating point
                converged = float(np.max(np.abs(g))) <= max(run.gtol, 1e-12)
                break
            decrease = value - f_new
            x, value, g = trial, f_new, np.array(g_new)
            n_iter += 1
            run.record(SimpleNamespace(x=x, fun=value))
            if decrease <= np.finfo(np.float64).eps * max(abs(value), 1.0):
                converged = True  # the objective cannot be lowered in floating point
                break
        else:
            converged = float(np.max(np.abs(g))) <= run.gtol
    return run.result(x, value, g, n_iter, converged)
