r"""softmaxlab's own L-BFGS and OWL-QN: minimisers of ``x -> (f, ∇f)`` on float64 vectors.

Unconstrained limited-memory BFGS (Nocedal & Wright, *Numerical Optimization*, 2nd ed.,
Algorithms 7.4 and 7.5) with a strong-Wolfe line search (their Algorithms 3.5 and 3.6,
cubic interpolation in the zoom). With the last m pairs
:math:`s_k = x_{k+1} - x_k`, :math:`y_k = \nabla f_{k+1} - \nabla f_k`, the direction is
:math:`d = -H\nabla f` by the two-loop recursion, with :math:`H_0 = \gamma I`,
:math:`\gamma = s^\top y / y^\top y` of the newest pair; a pair with
:math:`s^\top y \le \epsilon\, y^\top y` is skipped (H stays positive definite).

The recursion is 4m BLAS level-1 calls on contiguous float64 vectors, with no bound
handling (docs/text.md#measured-against-scikit-learn compares it with scipy's L-BFGS-B).

:func:`minimize_owlqn` is the same machinery for :math:`f(x) + \sum_i \lambda_i |x_i|`
(OWL-QN, Andrew & Gao 2007): the L1 term's steepest-descent direction, the pseudo-
gradient (:func:`pseudo_gradient`), replaces the gradient; the quasi-Newton direction
is kept in the orthant of the step it improves on; every trial point is projected onto
the orthant it started in, so coordinates that would cross zero become exactly 0; and a
backtracking line search asks for sufficient decrease of the whole objective. The pairs
(s, y) stay those of the smooth part f. Unpenalised coordinates (:math:`\lambda_i = 0`:
the intercepts) are neither sign-filtered nor projected: f is smooth in them. The pairs
leave out the coordinates the L1 term holds at 0 (:meth:`Memory.add`'s ``inactive``),
whose gradient changes are no curvature of the part that moves (docs/estimator.md#penalties
gives the iteration counts).

Both stop as L-BFGS-B does: when :math:`\max_i |\nabla f_i| \le` ``gtol``, when the
relative decrease :math:`(f_k - f_{k+1})/\max(|f_k|, |f_{k+1}|, 1) \le` ``ftol``, or after
``maxiter`` iterations (status 1); status 2 is a line search that found no acceptable
step (the objective cannot be lowered in floating point any more). OWL-QN measures
the pseudo-gradient against ``gtol``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np
from scipy.linalg import blas

from ..objective.penalties import pseudo_gradient

__all__ = ["LbfgsOutcome", "Memory", "minimize_lbfgs", "minimize_owlqn"]

Objective = Callable[[np.ndarray], tuple[float, np.ndarray]]
_EPS = float(np.finfo(np.float64).eps)


@dataclass
class Memory:
    """The curvature pairs of a run (``s``, ``y`` (m, n), ``rho`` (m,), the slots in use
    oldest first), handed to the next run of a regularisation path. Between two
    strengths only the L2 term changes, by a known diagonal Hessian h (per coordinate),
    so :meth:`shift` makes the pairs exact for the new one: y ← y + Δ·h ⊙ s."""

    s: np.ndarray
    y: np.ndarray
    rho: np.ndarray
    pairs: list[int]

    @classmethod
    def empty(cls, m: int, n: int) -> Memory:
        return cls(np.empty((m, n)), np.empty((m, n)), np.empty(m), [])

    def shift(self, delta_h: np.ndarray) -> None:
        """Add ``delta_h ⊙ s`` to every stored y; drop pairs that lose curvature."""
        for j in self.pairs:
            self.y[j] += delta_h * self.s[j]
        self.pairs[:] = [j for j in self.pairs if self._curved(j)]

    def add(
        self,
        x_new: np.ndarray,
        x: np.ndarray,
        g_new: np.ndarray,
        g: np.ndarray,
        inactive: np.ndarray | None = None,
    ) -> None:
        """Store s = x_new − x, y = g_new − g in the oldest slot when the memory is full;
        kept only with positive curvature sᵀy > ε yᵀy (so H stays positive definite).
        ``inactive`` (a mask) zeroes y there: coordinates that stay out of the problem
        (OWL-QN's zeros that the L1 term holds), whose gradient changes are no curvature
        of the part that moves."""
        m = len(self.s)
        slot = (self.pairs[-1] + 1) % m if self.pairs else 0
        if len(self.pairs) == m:
            slot = self.pairs.pop(0)
        np.subtract(x_new, x, out=self.s[slot])
        np.subtract(g_new, g, out=self.y[slot])
        if inactive is not None:
            self.y[slot][inactive] = 0.0
        if self._curved(slot):
            self.pairs.append(slot)

    def _curved(self, j: int) -> bool:
        """Whether pair j has curvature; sets its ρ = 1/sᵀy."""
        sy = float(blas.ddot(self.s[j], self.y[j]))
        if sy > _EPS * float(blas.ddot(self.y[j], self.y[j])):
            self.rho[j] = 1.0 / sy
            return True
        return False


@dataclass
class LbfgsOutcome:
    """The result: ``x``, ``fun`` and ``jac`` at it, iterations ``nit``, objective
    evaluations ``nfev``, ``status`` (0 converged, 1 iteration limit, 2 line search
    failed) and a ``message``."""

    x: np.ndarray
    fun: float
    jac: np.ndarray
    nit: int
    nfev: int
    status: int
    message: str
    memory: Memory | None = None


def two_loop(v: np.ndarray, memory: Memory, out: np.ndarray) -> None:
    """``out = H v``: the L-BFGS inverse-Hessian approximation of the stored pairs times
    ``v`` (Nocedal & Wright, Alg. 7.4), H₀ = γI with γ = sᵀy / yᵀy of the newest pair."""
    s_mem, y_mem, rho, pairs = memory.s, memory.y, memory.rho, memory.pairs
    out[:] = v
    if not pairs:
        return
    alphas = np.empty(len(s_mem))
    for j in reversed(pairs):
        alphas[j] = rho[j] * blas.ddot(s_mem[j], out)
        blas.daxpy(y_mem[j], out, a=-alphas[j])
    new = pairs[-1]
    out *= 1.0 / (rho[new] * blas.ddot(y_mem[new], y_mem[new]))
    for j in pairs:
        beta = rho[j] * blas.ddot(y_mem[j], out)
        blas.daxpy(s_mem[j], out, a=alphas[j] - beta)


def _cubic_min(a: float, fa: float, da: float, b: float, fb: float, db: float) -> float:
    """The minimiser of the cubic through (a, fa, da) and (b, fb, db), or the midpoint
    where it has none."""
    d1 = da + db - 3.0 * (fa - fb) / (a - b)
    disc = d1 * d1 - da * db
    if not disc >= 0:
        return 0.5 * (a + b)
    d2 = np.copysign(np.sqrt(disc), b - a)
    denom = db - da + 2.0 * d2
    if denom == 0:
        return 0.5 * (a + b)
    return b - (b - a) * (db + d2 - d1) / denom


class _Line:
    """φ(α) = f(x + α d) and φ'(α) = ∇f(x + α d)ᵀd, keeping the last trial's point and
    gradient (the accepted step's, once the search ends)."""

    def __init__(self, fun: Objective, x: np.ndarray, d: np.ndarray) -> None:
        self.fun, self.x, self.d = fun, x, d
        self.point = np.empty_like(x)
        self.grad = np.empty_like(x)
        self.evaluations = 0
        self.alpha: float | None = None
        self.value: float | None = None

    def __call__(self, alpha: float) -> tuple[float, float]:
        np.multiply(self.d, alpha, out=self.point)
        self.point += self.x
        f, g = self.fun(self.point)
        self.evaluations += 1
        self.grad[:] = g
        self.alpha, self.value = alpha, float(f)
        return float(f), float(blas.ddot(self.grad, self.d))


def _wolfe(
    phi: _Line,
    f0: float,
    d0: float,
    alpha: float,
    *,
    c1: float = 1e-4,
    c2: float = 0.9,
    maxls: int = 50,
) -> tuple[float, float] | None:
    """A step satisfying the strong Wolfe conditions (Nocedal & Wright, Alg. 3.5), as
    ``(alpha, f)`` with φ evaluated last at it; ``None`` when none is found."""
    a_prev, f_prev, d_prev = 0.0, f0, d0
    for i in range(maxls):
        f, d = phi(alpha)
        if not np.isfinite(f) or not np.isfinite(d):
            alpha = a_prev + 0.1 * (alpha - a_prev)  # overflow: come back towards x
            continue
        if f > f0 + c1 * alpha * d0 or (i > 0 and f >= f_prev):
            return _zoom(phi, (a_prev, f_prev, d_prev), (alpha, f, d), f0, d0, c1, c2, maxls - i)
        if abs(d) <= -c2 * d0:
            return alpha, f
        if d >= 0:
            return _zoom(phi, (alpha, f, d), (a_prev, f_prev, d_prev), f0, d0, c1, c2, maxls - i)
        a_prev, f_prev, d_prev = alpha, f, d
        alpha *= 2.5  # still descending steeply: go further
    return None


def _zoom(
    phi: _Line,
    lo: tuple[float, float, float],
    hi: tuple[float, float, float],
    f0: float,
    d0: float,
    c1: float,
    c2: float,
    maxls: int,
) -> tuple[float, float] | None:
    """Nocedal & Wright, Alg. 3.6: shrink [lo, hi] (lo the best point so far) by
    safeguarded cubic interpolation until a step satisfies the strong Wolfe conditions."""
    for _ in range(max(maxls, 1)):
        (a_lo, f_lo, d_lo), (a_hi, f_hi, d_hi) = lo, hi
        width = a_hi - a_lo
        alpha = _cubic_min(a_lo, f_lo, d_lo, a_hi, f_hi, d_hi)
        if not (min(a_lo, a_hi) + 0.1 * abs(width) <= alpha <= max(a_lo, a_hi) - 0.1 * abs(width)):
            alpha = a_lo + 0.5 * width  # the cubic is unreliable here: bisect
        if abs(width) <= 1e-12 * max(1.0, abs(a_lo)):
            break
        f, d = phi(alpha)
        if not np.isfinite(f) or f > f0 + c1 * alpha * d0 or f >= f_lo:
            hi = (alpha, f, d)
        else:
            if abs(d) <= -c2 * d0:
                return alpha, f
            if d * width >= 0:
                hi = lo
            lo = (alpha, f, d)
    if lo[0] > 0 and lo[1] < f0:  # no Wolfe point, but a decrease: take the best one
        if phi.alpha != lo[0]:
            phi(lo[0])
        return lo[0], lo[1]
    return None


def _start_verdict(
    f: float, g: np.ndarray, grad: np.ndarray, gtol: float
) -> tuple[int, str] | None:
    """Status and message when a run ends before its first iteration: a non-finite
    objective or gradient ``g`` at the start (2), or ``grad`` already within ``gtol`` (0)."""
    if not np.isfinite(f) or not np.isfinite(g).all():
        return 2, "the objective is not finite at the start"
    if np.abs(grad).max() <= gtol:
        return 0, "the gradient is below gtol at the start"
    return None


def _stop_verdict(
    grad: np.ndarray, f_old: float, f: float, gtol: float, ftol: float
) -> tuple[int, str] | None:
    """L-BFGS-B's stopping rules after an iteration (module docstring), or ``None``."""
    if np.abs(grad).max() <= gtol:
        return 0, "the gradient is below gtol"
    if f_old - f <= ftol * max(abs(f_old), abs(f), 1.0):
        return 0, "the relative decrease is below ftol"
    return None


def minimize_lbfgs(
    fun: Objective,
    x0: np.ndarray,
    *,
    maxiter: int,
    gtol: float,
    ftol: float = 64 * np.finfo(np.float64).eps,
    m: int = 10,
    callback: Callable[[Any], None] | None = None,
    memory: Memory | None = None,
) -> LbfgsOutcome:
    """Minimise ``fun`` (``x -> (f, ∇f)``, float64 vectors) from ``x0`` (module
    docstring). ``callback(state)`` is called after every iteration with ``state.x``
    and ``state.fun``, as scipy's ``intermediate_result``."""
    x = np.array(x0, dtype=np.float64)
    n = x.shape[0]
    f, g = fun(x)
    f, g = float(f), np.array(g, dtype=np.float64)
    nfev = 1
    if memory is None or memory.s.shape != (m, n):
        memory = Memory.empty(m, n)
    pairs = memory.pairs
    d = np.empty(n)
    if (verdict := _start_verdict(f, g, g, gtol)) is not None:
        return LbfgsOutcome(x, f, g, 0, nfev, *verdict)
    status, message, nit = 1, "iteration limit", 0
    for it in range(1, maxiter + 1):
        nit = it
        # d = -H g by the two-loop recursion
        two_loop(-g, memory, d)
        slope = float(blas.ddot(g, d))
        if not slope < 0:  # not a descent direction (rounding): restart from -g
            pairs.clear()
            np.negative(g, out=d)
            slope = -float(blas.ddot(g, g))
        first = 1.0 if pairs else min(1.0, 1.0 / np.sqrt(-slope))
        phi = _Line(fun, x, d)
        found = _wolfe(phi, f, slope, first)
        nfev += phi.evaluations
        if found is None:
            status, message = 2, "the line search found no lower point"
            break
        _, f_new = found
        memory.add(phi.point, x, phi.grad, g)
        x, g = phi.point, phi.grad
        f_old, f = f, f_new
        if callback is not None:
            callback(SimpleNamespace(x=x, fun=f))
        if (verdict := _stop_verdict(g, f_old, f, gtol, ftol)) is not None:
            status, message = verdict
            break
    return LbfgsOutcome(x, f, g, nit, nfev, status, message, memory)


def minimize_owlqn(
    fun: Objective,
    x0: np.ndarray,
    l1: np.ndarray,
    *,
    maxiter: int,
    gtol: float,
    ftol: float = 64 * np.finfo(np.float64).eps,
    m: int = 10,
    callback: Callable[[Any], None] | None = None,
    maxls: int = 60,
    memory: Memory | None = None,
) -> LbfgsOutcome:
    """Minimise ``fun(x) + Σ l1_i |x_i|`` (``fun``: ``x -> (f, ∇f)`` of the smooth part;
    ``l1`` (n,) >= 0, 0 for unpenalised coordinates) from ``x0`` by OWL-QN (module
    docstring). ``fun`` and ``jac`` of the outcome are the whole objective and its
    pseudo-gradient."""
    l1 = np.asarray(l1, dtype=np.float64)
    x = np.array(x0, dtype=np.float64)
    n = x.shape[0]
    smooth, g = fun(x)
    g = np.array(g, dtype=np.float64)
    f = float(smooth) + float(l1 @ np.abs(x))
    nfev = 1
    if memory is None or memory.s.shape != (m, n):
        memory = Memory.empty(m, n)
    pairs = memory.pairs
    d = np.empty(n)
    penalised = l1 > 0
    pg = pseudo_gradient(x, g, l1)
    if (verdict := _start_verdict(f, g, pg, gtol)) is not None:
        return LbfgsOutcome(x, f, pg, 0, nfev, *verdict)
    status, message, nit = 1, "iteration limit", 0
    for it in range(1, maxiter + 1):
        nit = it
        two_loop(-pg, memory, d)
        # penalised components that do not descend along -pg are dropped
        d[(d * pg >= 0) & penalised] = 0.0
        if not np.any(d):
            pairs.clear()
            np.negative(pg, out=d)
        orthant = np.sign(x)
        free = orthant == 0
        orthant[free] = -np.sign(pg[free])
        step = 1.0 if pairs else min(1.0, 1.0 / float(np.sqrt(pg @ pg)))
        pg_x = float(pg @ x)
        found = None
        for _ in range(maxls):
            trial = x + step * d
            trial[(trial * orthant <= 0) & penalised] = 0.0  # stay in the orthant: exact 0s
            t_smooth, t_g = fun(trial)
            nfev += 1
            t_f = float(t_smooth) + float(l1 @ np.abs(trial))
            decrease = float(pg @ trial) - pg_x
            if np.isfinite(t_f) and t_f <= f + 1e-4 * decrease:
                found = trial, t_f, np.array(t_g, dtype=np.float64)
                break
            # safeguarded quadratic backtracking: the minimiser of the parabola through
            # f, its slope along the step and t_f, kept within [0.1, 0.5] of the step
            curve = t_f - f - decrease
            shrink = -decrease / (2 * curve) if np.isfinite(t_f) and curve > 0 else 0.5
            step *= min(0.5, max(0.1, shrink))
        if found is None:
            status, message = 2, "the line search found no lower point"
            break
        x_new, f_new, g_new = found
        pg = pseudo_gradient(x_new, g_new, l1)
        # a zero the L1 term holds (0 before and after, pseudo-gradient 0) is out of the
        # problem: its gradient change would swamp yᵀy and shrink γ = sᵀy / yᵀy (the
        # steps), as when every weight stays 0 and only the intercepts move
        memory.add(x_new, x, g_new, g, inactive=(x_new == 0) & (x == 0) & (pg == 0))
        x, g = x_new, g_new
        f_old, f = f, f_new
        if callback is not None:
            callback(SimpleNamespace(x=x, fun=f))
        if (verdict := _stop_verdict(pg, f_old, f, gtol, ftol)) is not None:
            status, message = verdict
            break
    return LbfgsOutcome(x, f, pg, nit, nfev, status, message, memory)
