"""What a solver takes besides the loss and the penalty (its options) and what it returns
(:class:`SolverResult`). Solvers never see an estimator: everything they read is here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

__all__ = ["CheckpointPlan", "LbfgsOptions", "SgdOptions", "SolverResult", "WarmStart"]

#: Held-out rows a solver scores after each epoch or iteration: (features, class indices).
Valid = tuple[Any, torch.Tensor]


@dataclass
class WarmStart:
    """The state one L-BFGS run hands the next along a regularisation path: its
    curvature pairs (:class:`~softmaxlab.solvers.quasi_newton.Memory`, on the solver's
    own parameter vector) and the L2 strength they were taken at."""

    memory: Any
    l2: float


@dataclass
class SolverResult:
    """A solver's answer: the parameters ``theta`` (the loss's layout), the iterations
    (epochs) run, ``history`` per iteration (``loss``: the objective; ``learning_rate``;
    ``validation_score`` / ``validation_loss`` on held-out rows), why it stopped
    (``"converged"``, ``"tol"``, ``"early_stopping"``, ``"max_epochs"``, ``"partial_fit"``),
    ‖∇(f + R)‖ in the original coordinates (the pseudo-gradient under L1) and, for
    L-BFGS, the :class:`WarmStart` of a path's next run."""

    theta: np.ndarray
    n_iter: int
    history: dict[str, list[float]]
    stop_reason: str
    grad_norm: float
    warm: WarmStart | None = None


@dataclass
class LbfgsOptions:
    """Full-batch L-BFGS / OWL-QN: stop when ‖∇‖∞ <= ``tol`` (0 for ``None``) or after
    ``max_iter`` iterations; score ``valid`` rows after each iteration; print a line per
    iteration with ``verbose``; ``callback(EpochRecord)`` after each."""

    tol: float | None = 1e-4
    max_iter: int = 1000
    valid: Valid | None = None
    verbose: int = 0
    callback: Any = None


@dataclass
class CheckpointPlan:
    """Where and how often an SGD run writes its state, the identity (``fingerprint``) a
    checkpoint must carry to be resumed, and whether to ``resume``."""

    path: Any
    every: int = 1
    fingerprint: str = ""
    resume: bool = False


@dataclass
class SgdOptions:
    """Mini-batch SGD (softmaxlab.solvers.sgd): the step ``learning_rate`` and its
    ``schedule`` (``power_t``, ``decay_rate``), ``momentum``/``nesterov``, ``batch`` rows
    per step, ``shuffle`` with a generator seeded by ``seed``, the ``gradient``
    formulation; at most ``max_epochs`` epochs, or exactly ``epochs`` without stopping
    rules (``partial_fit``); stop when the objective (or, with ``early_stopping``, the
    accuracy on ``valid``) has not improved by ``tol`` for ``n_iter_no_change`` epochs."""

    learning_rate: float = 0.3
    batch: int = 200
    max_epochs: int = 1000
    epochs: int | None = None
    shuffle: bool = True
    seed: int = 0
    gradient: str = "fused"
    schedule: str = "constant"
    power_t: float = 0.5
    decay_rate: float = 0.99
    momentum: float = 0.0
    nesterov: bool = False
    tol: float | None = 1e-4
    n_iter_no_change: int = 5
    early_stopping: bool = False
    valid: Valid | None = None
    verbose: int = 0
    callback: Any = None
    checkpoint: CheckpointPlan | None = None
