r"""``SoftmaxRegression``: the same engine as a scikit-learn classifier.

Multinomial logistic regression trained by mini-batch SGD on the analytic gradient of the
objective

.. math::

    J(W, b) = \frac{\sum_i s_i\,\ell_i}{\sum_i s_i} + \frac{\alpha}{2}\lVert W\rVert_F^2,
    \qquad \ell_i = -\sum_j y_{ij}\log\sigma(x_i W + b)_j,

where :math:`s_i` is ``sample_weight`` times the ``class_weight`` of the row's class (1 by
default) and the bias is not penalised. Each mini-batch of rows :math:`B` follows the
unbiased estimate :math:`\frac{1}{|B|}\sum_{i\in B} \frac{s_i}{\bar s}\ell_i` with
:math:`\bar s` the mean weight over the training set, so a full batch follows :math:`J`
exactly; the gradient comes from any formulation of :mod:`softmaxlab.gradients`
(``"fused"`` by default).

Parameters start at zero (the problem is convex); the only randomness, the shuffling of
rows and the validation split, is driven by ``random_state``.

SGD runs in standardised coordinates: with the (weighted) column means :math:`\mu` and
standard deviations :math:`d` of the training rows, it updates
:math:`\tilde W = \operatorname{diag}(d)\,W` and :math:`\tilde b = b + \mu^\top W`
on :math:`\tilde X = (X - \mu) \oslash d`, which gives the same logits. This is a
reparametrisation (a diagonal preconditioner): the model, the objective (the penalty is
still on :math:`W`) and its optimum are unchanged, but one learning rate suits features of
any scale. ``coef_`` and ``intercept_`` are always in the original coordinates.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from . import certificate, export
from . import functional as F
from ._inputs import check_rows, fit_rows
from ._validation import check_finite_logits, check_number
from .errors import InvalidInputError, InvalidTypeError
from .fitting import (
    FULL_BATCH,
    PENALTIES,
    SCHEDULES,
    SOLVERS,
    adopt,
    check_settings,
    fit_fingerprint,
    plan,
    resolve_solver,
    solve,
)
from .solvers import CheckpointPlan

__all__ = ["PENALTIES", "SCHEDULES", "SOLVERS", "SoftmaxRegression"]


class SoftmaxRegression(ClassifierMixin, BaseEstimator):
    """Multinomial logistic regression (softmax + cross-entropy) trained by mini-batch SGD.

    Parameters
    ----------
    learning_rate : float, default=0.3
        SGD step size.
    max_epochs : int, default=1000
        Passes over the training data at most.
    batch_size : int or "auto", default="auto"
        Rows per step; "auto" is ``min(200, n_samples)``, so small data sets are trained
        by full-batch gradient descent.
    shuffle : bool, default=True
        Shuffle the rows before each epoch.
    random_state : int, RandomState or None, default=None
        Seeds the shuffling and the validation split.
    gradient : str, default="fused"
        Gradient formulation (``softmaxlab.gradients.names()``).
    penalty : {"l2", "l1", "elasticnet", None}, default="l2"
        The penalty on the weights (never the bias): ``alpha · (ρ‖W‖₁ + (1−ρ)/2 ‖W‖²)``
        with ρ = 0 ("l2"), 1 ("l1") or ``l1_ratio`` ("elasticnet"); None fits without
        one. L1 terms give exact zeros in ``coef_``: L-BFGS becomes OWL-QN, SGD takes
        proximal steps (docs/estimator.md#penalties).
    l1_ratio : float in [0, 1] or None, default=None
        ρ of the elastic net (needed by, and only used with, ``penalty="elasticnet"``).
    alpha : float or "auto", default="auto"
        Strength of the penalty (``alpha/2 * ||W||²`` for "l2"). "auto" is
        ``1 / Σ s_i`` over the training rows (``1 / n_samples`` unweighted; twice that
        for two classes): the objective of scikit-learn's ``LogisticRegression()``
        (C=1) divided by Σ s_i, so that by default both fit the same model
        (docs/conventions.md). ``alpha_`` holds the value used.
    tol : float or None, default=1e-4
        Stop when the monitored quantity has not improved by ``tol`` for
        ``n_iter_no_change`` epochs: the training objective, or the validation accuracy
        with ``early_stopping``. ``None`` runs all ``max_epochs``.
    n_iter_no_change : int, default=5
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows (stratified) and stop on their
        accuracy; the best weights seen are restored.
    validation_fraction : float, default=0.1
    class_weight : dict, "balanced" or None, default=None
        Per-class weights multiplying ``sample_weight``.
    solver : {"auto", "sgd", "lbfgs", "newton-cg"}, default="auto"
        Mini-batch SGD, or full-batch L-BFGS (:mod:`softmaxlab.solvers`) on the analytic
        objective and gradient, which takes the model to the optimum (``tol`` is then the
        gradient tolerance and ``max_epochs`` the iteration limit). "auto" is L-BFGS
        unless an SGD option is set (``early_stopping``, ``momentum``, a ``schedule``, a
        ``batch_size``, checkpoints, ``partial_fit``); benchmarks/README.md's solver race
        measures the choice. "newton-cg" is truncated Newton on Hessian-vector products
        (L2 or no penalty), which converges quadratically near the optimum: a tight
        ``tol`` costs a few iterations more. ``solver_`` holds the choice.
    schedule : {"constant", "invscaling", "exponential", "adaptive"}, default="constant"
        SGD learning rate per epoch e: constant; ``learning_rate / (e+1)**power_t``;
        ``learning_rate * decay_rate**e``; or divided by 5 each time the monitored
        quantity stalls for ``n_iter_no_change`` epochs (stopping below 1e-6), as
        scikit-learn's ``SGDClassifier``.
    power_t : float, default=0.5
    decay_rate : float, default=0.99
    momentum : float, default=0.0
        Heavy-ball momentum as ``torch.optim.SGD`` (v ← μv + g; step v).
    nesterov : bool, default=False
        Nesterov momentum (step g + μv).
    dtype : {"float64", "float32"}, default="float64"
    device : str or None, default=None
        Torch device; ``None`` is ``cuda`` when available, else ``cpu``.
    warm_start : bool, default=False
        Continue from the previous fit's coefficients.
    verbose : int, default=0
        Print one line per epoch when > 0.

    Attributes
    ----------
    classes_ : ndarray (n_classes,)
    coef_ : ndarray (n_classes, n_features)
        One weight vector per class (Wᵀ in softmaxlab's notation).
    intercept_ : ndarray (n_classes,)
    n_iter_ : int
        Epochs run by the last ``fit``.
    n_features_in_ : int
    feature_names_in_ : ndarray of str, only when fitted on a DataFrame with string columns
    loss_curve_ : list of float
        Training objective after each epoch.
    validation_scores_ : list of float
        Validation accuracy per epoch (``early_stopping`` or ``eval_set`` only).
    solver_ : str
        The solver the last fit used ("sgd", "lbfgs" or "newton-cg"; see ``solver="auto"``).
    alpha_ : float
        The L2 strength the last fit used (see ``alpha="auto"``).
    stop_reason_ : str
        Why training stopped: "tol", "early_stopping", "converged" (L-BFGS),
        "max_epochs" or "partial_fit".
    history_ : dict
        Per epoch (L-BFGS: per iteration) ``loss`` (the objective), ``learning_rate``,
        ``validation_score``, and the ``stop_reason``.
    grad_norm_ : float
        ‖∇J‖ over W and b at the fitted parameters, on the training rows.
    """

    def __init__(
        self,
        *,
        learning_rate: float = 0.3,
        max_epochs: int = 1000,
        batch_size: int | str = "auto",
        shuffle: bool = True,
        random_state: Any = None,
        gradient: str = "fused",
        alpha: float | str = "auto",
        penalty: str | None = "l2",
        l1_ratio: float | None = None,
        tol: float | None = 1e-4,
        n_iter_no_change: int = 5,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        class_weight: Any = None,
        solver: str = "auto",
        schedule: str = "constant",
        power_t: float = 0.5,
        decay_rate: float = 0.99,
        momentum: float = 0.0,
        nesterov: bool = False,
        dtype: str = "float64",
        device: str | None = None,
        warm_start: bool = False,
        verbose: int = 0,
    ) -> None:
        self.learning_rate = learning_rate
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.random_state = random_state
        self.gradient = gradient
        self.alpha = alpha
        self.penalty = penalty
        self.l1_ratio = l1_ratio
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.class_weight = class_weight
        self.solver = solver
        self.schedule = schedule
        self.power_t = power_t
        self.decay_rate = decay_rate
        self.momentum = momentum
        self.nesterov = nesterov
        self.dtype = dtype
        self.device = device
        self.warm_start = warm_start
        self.verbose = verbose

    # ------------------------------------------------------------------ checks
    def fit(
        self,
        X: Any,
        y: Any,
        sample_weight: Any = None,
        *,
        eval_set: Any = None,
        callback: Any = None,
        checkpoint: Any = None,
        checkpoint_every: int = 1,
        resume: bool = False,
    ) -> SoftmaxRegression:
        """Fit on ``X`` (n_samples, n_features) and labels ``y`` (n_samples,) of any
        hashable type, with optional per-row ``sample_weight``. Returns ``self``.

        ``eval_set=(X_valid, y_valid)`` gives held-out rows: their cross-entropy and
        accuracy are recorded after every epoch (``history_``), and with
        ``early_stopping`` they are the ones monitored (instead of a split of ``X``).
        ``callback(record)`` is called after every SGD epoch (L-BFGS: iteration) with its
        :class:`~softmaxlab.training.EpochRecord` (progress bars use it).

        With ``checkpoint=PATH`` (SGD solver) the training state — parameters, momentum,
        the shuffling generator, the learning rate, the stopping state and the history — is
        written to PATH atomically every ``checkpoint_every`` epochs; ``resume=True``
        continues from it and ends exactly where an uninterrupted fit would. A checkpoint
        of other data or settings, or a broken one, is refused."""
        every = 1
        if checkpoint is not None:
            check_number(checkpoint_every, "checkpoint_every", low=1, integer=True)
            every = int(checkpoint_every)
        if resume and checkpoint is None:
            raise InvalidInputError("resume: needs checkpoint=PATH")
        if callback is not None and not callable(callback):
            raise InvalidTypeError(f"callback: expected a callable, got {callback!r}")
        return self._fit(
            X,
            y,
            sample_weight,
            classes=None,
            reset=True,
            epochs=None,
            eval_set=eval_set,
            callback=callback,
            checkpoint=(checkpoint, every, bool(resume)),
        )

    def partial_fit(
        self, X: Any, y: Any, classes: Any = None, sample_weight: Any = None
    ) -> SoftmaxRegression:
        """One epoch over ``X, y``. The first call needs ``classes`` (all labels that will
        ever appear) unless ``y`` already holds every class."""
        if self.solver in FULL_BATCH:
            raise InvalidInputError("solver: partial_fit needs solver='sgd' (or 'auto')")
        first = not hasattr(self, "classes_")
        return self._fit(
            X, y, sample_weight, classes=classes if first else None, reset=first, epochs=1
        )

    def _fit(
        self,
        X: Any,
        y: Any,
        sample_weight: Any,
        *,
        classes: Any,
        reset: bool,
        epochs: int | None,
        eval_set: Any = None,
        callback: Any = None,
        checkpoint: tuple[Any, int, bool] = (None, 1, False),
    ) -> SoftmaxRegression:
        # A call that raises leaves the estimator as it was: attributes are only ever
        # reassigned (never mutated in place), so a shallow snapshot restores them.
        snapshot = dict(self.__dict__)
        try:
            check_settings(self)
            path, every, resume = checkpoint
            solver = resolve_solver(self, sgd_only=path is not None or epochs is not None)
            prepared = fit_rows(
                self,
                X,
                y,
                sample_weight,
                classes=classes,
                reset=reset,
                epochs=epochs,
                eval_set=eval_set,
                lbfgs=solver in FULL_BATCH,
            )
            plan_ckpt = None
            if path is not None:
                identity = fit_fingerprint(
                    self, prepared.identity, classes=[str(c) for c in self.classes_]
                )
                plan_ckpt = CheckpointPlan(path, every, identity, resume)
            setup = plan(
                self,
                prepared.rows,
                total_weight=prepared.total_weight,
                valid=prepared.valid,
                epochs=epochs,
                seed=prepared.seed,
                callback=callback,
                checkpoint=plan_ckpt,
            )
            adopt(self, setup, solve(setup))
            return self
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(snapshot)
            raise

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # scipy/torch sparse X, never densified (docs/text.md)
        return tags

    # ------------------------------------------------------------------ prediction
    def _logits(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        X = check_rows(self, X, dtype=self.coef_.dtype, reset=False)
        z = np.asarray(X @ self.coef_.T) + self.intercept_  # sparse × dense for sparse X
        check_finite_logits(z, X, "X")
        return z

    def decision_function(self, X: Any) -> np.ndarray:
        """Logits Z = XW + b, (n_samples, n_classes); for two classes the log-odds
        z₁ − z₀, (n_samples,), as scikit-learn's binary classifiers do."""
        z = self._logits(X)
        return z[:, 1] - z[:, 0] if len(self.classes_) == 2 else z

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """log σ(XW + b), computed stably. Shape (n_samples, n_classes)."""
        return F.log_softmax(torch.from_numpy(self._logits(X))).numpy()

    def predict_proba(self, X: Any) -> np.ndarray:
        """σ(XW + b): class probabilities, rows summing to 1. Shape (n_samples, n_classes)."""
        return F.softmax(torch.from_numpy(self._logits(X))).numpy()

    def certify(self, X: Any, y: Any, sample_weight: Any = None) -> Any:
        """A proven bound on the gap to the optimum, on the training rows (:mod:`.certificate`)."""
        return certificate.certify(self, X, y, sample_weight)

    def to_sklearn(self) -> Any:
        """A fitted ``LogisticRegression`` with the same ``predict_proba`` (:mod:`.export`)."""
        return export.to_sklearn(self)

    def to_onnx(self, path: Any) -> None:
        """Write this model as an ONNX graph: ``x`` in, ``label`` and ``probabilities`` out."""
        export.to_onnx(self, path)

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class label of each row, from ``classes_``."""
        z = self._logits(X)
        return self.classes_[np.argmax(z, axis=1)]
