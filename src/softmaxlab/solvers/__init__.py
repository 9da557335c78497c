"""Solvers: functions of (loss, penalty, starting point, options) that return a
:class:`~softmaxlab.solvers.result.SolverResult`. They never see an estimator.

- :func:`~softmaxlab.solvers.sgd.sgd` — mini-batch SGD on the engine;
- :func:`~softmaxlab.solvers.lbfgs.lbfgs` — full-batch L-BFGS, OWL-QN under L1
  (:mod:`~softmaxlab.solvers.quasi_newton` holds the minimisers);
- :func:`~softmaxlab.solvers.newton.newton_cg` — truncated Newton on Hessian-vector
  products, for L2 or no penalty;
- :func:`~softmaxlab.solvers.path.solve_path` — the regularisation path, warm-started.
"""

from .lbfgs import lbfgs
from .newton import newton_cg
from .path import solve_path
from .result import CheckpointPlan, LbfgsOptions, SgdOptions, SolverResult, WarmStart
from .sgd import grad_norm, sgd

__all__ = [
    "CheckpointPlan",
    "LbfgsOptions",
    "SgdOptions",
    "SolverResult",
    "WarmStart",
    "grad_norm",
    "lbfgs",
    "newton_cg",
    "sgd",
    "solve_path",
]
