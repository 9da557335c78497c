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

Parameters start at zero (the problem is convex, no random start is needed); the only
randomness is the shuffling of rows and the validation split, both driven by
``random_state``.

SGD runs in standardised coordinates: with the (weighted) column means :math:`\mu` and
standard deviations :math:`d` of the training rows, it updates
:math:`\tilde W = \operatorname{diag}(d)\,W` and :math:`\tilde b = b + \mu^\top W`
on :math:`\tilde X = (X - \mu) \oslash d`, which gives the same logits. This is a
reparametrisation (a diagonal preconditioner): the model, the objective (the penalty is
still on :math:`W`) and its optimum are unchanged, but one learning rate suits features of
any scale. ``coef_`` and ``intercept_`` are always in the original coordinates.
"""

from __future__ import annotations

import numbers
import warnings
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from . import functional as F
from . import gradients as G
from ._validation import resolve_device, resolve_dtype
from .checkpoint import CheckpointError, fingerprint, load_checkpoint, save_checkpoint
from .errors import InvalidInputError, InvalidTypeError, TrainingDiverged
from .training import EpochRecord

__all__ = ["SoftmaxRegression"]

_AUTO_BATCH = 200
#: Learning-rate schedules of the SGD solver.
SCHEDULES = ("constant", "invscaling", "exponential", "adaptive")


def _check_number(value: Any, name: str, *, low: float, low_open: bool = False,
                  high: float | None = None, integer: bool = False) -> None:
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind):
        what = "an integer" if integer else "a number"
        raise InvalidTypeError(f"{name}: expected {what}, got {value!r}")
    ok = (value > low if low_open else value >= low) and (high is None or value < high)
    if not np.isfinite(value) or not ok:
        bound = f"> {low}" if low_open else f">= {low}"
        if high is not None:
            bound += f" and < {high}"
        raise InvalidInputError(f"{name}: must be {bound}, got {value!r}")


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
    alpha : float, default=0.0
        L2 penalty ``alpha/2 * ||W||²`` on the weights (not the bias).
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
    solver : {"sgd", "lbfgs"}, default="sgd"
        Mini-batch SGD, or full-batch L-BFGS (scipy) on the analytic objective and
        gradient, which takes the model to the optimum (``tol`` is then the gradient
        tolerance and ``max_epochs`` the iteration limit).
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
        Validation accuracy per epoch (``early_stopping`` only).
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
        alpha: float = 0.0,
        tol: float | None = 1e-4,
        n_iter_no_change: int = 5,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        class_weight: Any = None,
        solver: str = "sgd",
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
    def _check_params(self) -> tuple[torch.dtype, torch.device]:
        _check_number(self.learning_rate, "learning_rate", low=0, low_open=True)
        _check_number(self.max_epochs, "max_epochs", low=1, integer=True)
        if self.batch_size != "auto":
            _check_number(self.batch_size, "batch_size", low=1, integer=True)
        _check_number(self.alpha, "alpha", low=0)
        if self.tol is not None:
            _check_number(self.tol, "tol", low=0)
        _check_number(self.n_iter_no_change, "n_iter_no_change", low=1, integer=True)
        _check_number(self.validation_fraction, "validation_fraction", low=0, low_open=True,
                      high=1)
        _check_number(self.verbose, "verbose", low=0, integer=True)
        if self.solver not in ("sgd", "lbfgs"):
            raise InvalidInputError(f"solver: expected 'sgd' or 'lbfgs', got {self.solver!r}")
        if self.schedule not in SCHEDULES:
            raise InvalidInputError(
                f"schedule: expected one of {', '.join(SCHEDULES)}, got {self.schedule!r}"
            )
        _check_number(self.power_t, "power_t", low=0)
        _check_number(self.decay_rate, "decay_rate", low=0, low_open=True, high=1.0 + 1e-12)
        _check_number(self.momentum, "momentum", low=0, high=1)
        if self.nesterov and self.momentum == 0:
            raise InvalidInputError("nesterov: needs momentum > 0")
        if self.solver == "lbfgs" and self.early_stopping:
            raise InvalidInputError("early_stopping: works with solver='sgd' only")
        for flag in ("shuffle", "early_stopping", "warm_start", "nesterov"):
            if not isinstance(getattr(self, flag), (bool, np.bool_)):
                raise InvalidTypeError(f"{flag}: expected True or False, got "
                                       f"{getattr(self, flag)!r}")
        if not (self.class_weight is None or self.class_weight == "balanced"
                or isinstance(self.class_weight, dict)):
            raise InvalidInputError(
                f"class_weight: expected None, 'balanced' or a dict, got {self.class_weight!r}"
            )
        G.get(self.gradient)
        return resolve_dtype(self.dtype), resolve_device(self.device)

    def _weights(self, y_idx: np.ndarray, sample_weight: Any, n: int, *,
                 whole: bool) -> np.ndarray:
        if sample_weight is None:
            s = np.ones(n)
        else:
            s = np.asarray(sample_weight, dtype=np.float64)
            if s.ndim == 0:
                s = np.full(n, float(s))
            if s.shape != (n,):
                raise InvalidInputError(
                    f"sample_weight: expected shape ({n},), got {s.shape}"
                )
            if not np.all(np.isfinite(s)) or np.any(s < 0):
                raise InvalidInputError("sample_weight: must be finite and non-negative")
        if self.class_weight is not None:
            cw = self.class_weight
            if isinstance(cw, dict):  # keys are original labels; map onto indices
                lookup = {label: i for i, label in enumerate(self.classes_)}
                unknown = [k for k in cw if k not in lookup]
                if unknown:
                    raise InvalidInputError(
                        f"class_weight: labels {unknown} are not among the classes "
                        f"{self.classes_.tolist()}"
                    )
                cw = {lookup[k]: v for k, v in cw.items()}
            s = s * compute_sample_weight(cw, y_idx)
        if not s.sum() > 0:
            raise InvalidInputError("sample_weight: all weights are zero")
        weighted = np.bincount(y_idx, weights=s, minlength=len(self.classes_))
        if whole and np.count_nonzero(weighted > 0) < 2:
            raise InvalidInputError(
                "sample_weight: fewer than 2 classes have non-zero weight; a classifier "
                "needs at least 2 classes"
            )
        return s

    # ------------------------------------------------------------------ fitting
    def fit(self, X: Any, y: Any, sample_weight: Any = None, *, checkpoint: Any = None,
            checkpoint_every: int = 1, resume: bool = False) -> SoftmaxRegression:
        """Fit on ``X`` (n_samples, n_features) and labels ``y`` (n_samples,) of any
        hashable type, with optional per-row ``sample_weight``. Returns ``self``.

        With ``checkpoint=PATH`` (SGD solver) the training state — parameters, momentum,
        the shuffling generator, the learning rate, the stopping state and the history — is
        written to PATH atomically every ``checkpoint_every`` epochs; ``resume=True``
        continues from it and ends exactly where an uninterrupted fit would. A checkpoint
        of other data or settings, or a broken one, is refused."""
        every = 1
        if checkpoint is not None:
            _check_number(checkpoint_every, "checkpoint_every", low=1, integer=True)
            every = int(checkpoint_every)
        if resume and checkpoint is None:
            raise InvalidInputError("resume: needs checkpoint=PATH")
        self._checkpoint = (checkpoint, every, bool(resume))
        try:
            return self._fit(X, y, sample_weight, classes=None, reset=True, epochs=None)
        finally:
            del self._checkpoint

    def partial_fit(self, X: Any, y: Any, classes: Any = None,
                    sample_weight: Any = None) -> SoftmaxRegression:
        """One epoch over ``X, y``. The first call needs ``classes`` (all labels that will
        ever appear) unless ``y`` already holds every class."""
        if self.solver != "sgd":
            raise InvalidInputError("solver: partial_fit needs solver='sgd'")
        first = not hasattr(self, "classes_")
        return self._fit(X, y, sample_weight, classes=classes if first else None,
                         reset=first, epochs=1)

    def _fit(self, X, y, sample_weight, *, classes, reset, epochs) -> SoftmaxRegression:
        # A call that raises leaves the estimator as it was: attributes are only ever
        # reassigned (never mutated in place), so a shallow snapshot restores them.
        snapshot = dict(self.__dict__)
        try:
            return self._fit_unsafe(X, y, sample_weight, classes=classes, reset=reset,
                                    epochs=epochs)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(snapshot)
            raise

    def _fit_unsafe(self, X, y, sample_weight, *, classes, reset, epochs) -> SoftmaxRegression:
        dtype, device = self._check_params()
        np_dtype = np.float64 if dtype == torch.float64 else np.float32
        X, y = validate_data(self, X, y, dtype=np_dtype, reset=reset)
        check_classification_targets(y)
        if reset:
            labels = np.unique(y) if classes is None else np.unique(np.asarray(classes))
            if len(labels) < 2:
                raise InvalidInputError(
                    f"y: has only {len(labels)} class ({labels.tolist()}); a classifier "
                    "needs at least 2 classes"
                )
            if not (self.warm_start and hasattr(self, "classes_")
                    and np.array_equal(labels, self.classes_)):
                self.classes_ = labels
                self.coef_ = np.zeros((len(labels), X.shape[1]), dtype=np_dtype)
                self.intercept_ = np.zeros(len(labels), dtype=np_dtype)
                self.loss_curve_ = []
        unseen = np.setdiff1d(np.unique(y), self.classes_)
        if unseen.size:
            raise InvalidInputError(
                f"y: labels {unseen.tolist()} are not among the classes "
                f"{self.classes_.tolist()} given at the first partial_fit"
            )
        y_idx = np.searchsorted(self.classes_, y)
        s = self._weights(y_idx, sample_weight, len(y), whole=epochs is None)

        kw: dict[str, Any] = {"dtype": dtype, "device": device}
        xt = torch.tensor(X, **kw)
        yt = torch.nn.functional.one_hot(torch.as_tensor(y_idx), len(self.classes_)).to(**kw)
        st = torch.tensor(s / s.mean(), **kw)  # mean weight 1
        rng = check_random_state(self.random_state)
        valid = None
        if self.early_stopping and epochs is None:
            train_idx, valid_idx = train_test_split(
                np.arange(len(y)), test_size=self.validation_fraction, stratify=y_idx,
                random_state=rng,
            )
            valid = (xt[valid_idx], y_idx[valid_idx])
            xt, yt, st = xt[train_idx], yt[train_idx], st[train_idx]
            st = st / st.mean()
        # standardised coordinates (see the module docstring)
        mu = (st.unsqueeze(1) * xt).sum(0) / st.sum()
        d = ((st.unsqueeze(1) * (xt - mu) ** 2).sum(0) / st.sum()).sqrt()
        d = torch.where(d > 1e-12 * (1 + mu.abs()), d, torch.ones_like(d))
        xt = (xt - mu) / d
        if valid is not None:
            valid = ((valid[0] - mu) / d, valid[1])
        w0 = torch.tensor(self.coef_.T, **kw)
        w = (w0 * d.unsqueeze(1)).contiguous()
        b = torch.tensor(self.intercept_, **kw) + mu @ w0
        gen = torch.Generator().manual_seed(int(rng.randint(2**31 - 1)))
        state = _Trainer(self, xt, yt, st, w, b, gen, valid, (1 / d**2).unsqueeze(1))
        path, every, resume = getattr(self, "_checkpoint", (None, 1, False))
        if path is not None:
            if self.solver != "sgd":
                raise InvalidInputError("checkpoint: works with solver='sgd' only")
            settings = {k: v for k, v in self.get_params().items()
                        if k not in ("verbose", "max_epochs", "warm_start")}
            state.checkpoint = (path, every, fingerprint(
                [xt, yt, st, *(valid if valid is not None else (None,))[:1]],
                {**settings, "classes": [str(c) for c in self.classes_]}))
            if resume:
                state.restore()
        reason = state.run(self.max_epochs if epochs is None else epochs,
                           monitor=epochs is None)
        w = state.w / d.unsqueeze(1)
        self.loss_curve_ = [*self.loss_curve_, *state.losses]
        self.n_iter_ = state.n_iter
        self.stop_reason_ = reason
        self.history_ = {"loss": state.losses, "learning_rate": state.rates,
                         "validation_score": state.scores, "stop_reason": reason}
        if valid is not None:
            self.validation_scores_ = state.scores
        if reason == "max_epochs" and self.tol is not None:
            what = ("L-BFGS" if self.solver == "lbfgs" else
                    "the validation accuracy" if valid is not None else "the objective")
            warnings.warn(
                f"SoftmaxRegression: max_epochs={self.max_epochs} reached before {what} "
                f"converged (tol={self.tol}); increase max_epochs or learning_rate",
                ConvergenceWarning, stacklevel=4,
            )
        self.coef_ = w.T.cpu().numpy().astype(np_dtype)
        self.intercept_ = (state.b - mu @ w).cpu().numpy().astype(np_dtype)
        self.grad_norm_ = self._grad_norm(X, y_idx, s)
        return self

    def _grad_norm(self, X: np.ndarray, y_idx: np.ndarray, s: np.ndarray) -> float:
        """‖∇J‖ (Frobenius, over W and b) at the fitted parameters, on the rows given to fit,
        in the original coordinates."""
        x = torch.tensor(X, dtype=torch.float64)  # a copy: X may be read-only
        y = torch.nn.functional.one_hot(torch.as_tensor(y_idx), len(self.classes_)).double()
        r = torch.from_numpy(s / s.sum())
        w = torch.from_numpy(self.coef_.T.astype(np.float64))
        b = torch.from_numpy(self.intercept_.astype(np.float64))
        g = G.REGISTRY["fused"].kernel(x, y, F.softmax(F.logits(x, w, b)), w, b, r,
                                       float(self.alpha))
        return float(torch.sqrt((g.d_w**2).sum() + (g.d_b**2).sum()))

    # ------------------------------------------------------------------ prediction
    def _logits(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, dtype=self.coef_.dtype, reset=False)
        return X @ self.coef_.T + self.intercept_

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

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class label of each row, from ``classes_``."""
        z = self._logits(X)
        return self.classes_[np.argmax(z, axis=1)]


class _Trainer:
    """The training loop of one fit / partial_fit, in standardised coordinates (internal).

    ``x`` (n, N), one-hot ``y`` (n, C), row weights ``s`` (n,) with mean 1, parameters
    ``w`` (N, C) and ``b`` (C,) updated in place; ``inv_d2`` (N, 1) turns the penalty on
    W = W̃/d into ``alpha/2 · Σ W̃²/d²``.
    """

    def __init__(self, est: SoftmaxRegression, x, y, s, w, b, gen, valid, inv_d2) -> None:
        self.est, self.x, self.y, self.s, self.w, self.b = est, x, y, s, w, b
        self.gen, self.valid, self.inv_d2 = gen, valid, inv_d2
        self.losses: list[float] = []
        self.rates: list[float] = []
        self.scores: list[float] = []
        self.kernel = G.get(est.gradient).kernel
        n = x.shape[0]
        if est.solver == "lbfgs":
            self.batch = n
        elif est.batch_size == "auto":
            self.batch = min(_AUTO_BATCH, n)
        else:
            self.batch = min(est.batch_size, n)
        G.get(est.gradient).check_budget(self.batch, x.shape[1], y.shape[1], x.element_size())
        self.velocity = (torch.zeros_like(w), torch.zeros_like(b))
        self.checkpoint: tuple[Any, int, str] | None = None  # (path, every, fingerprint)
        self.start = 0
        self.best: float | None = None
        self.best_params: tuple[torch.Tensor, torch.Tensor] | None = None
        self.stall = 0
        self.lr = est.learning_rate

    # ---------------------------------------------------------------- objective
    def penalty(self, w: torch.Tensor) -> float:
        return 0.5 * self.est.alpha * float((w * w * self.inv_d2).sum())

    def gradients(self, xb, yb, r, w, b) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(batch objective without penalty, ∂/∂W̃ with penalty, ∂/∂b̃)."""
        log_p = F.log_softmax(F.logits(xb, w, b))
        loss = -(r.unsqueeze(1) * yb * log_p).sum()
        grads = self.kernel(xb, yb, log_p.exp_(), w, b, r)
        d_w = grads.d_w
        if self.est.alpha:
            d_w = d_w + self.est.alpha * w * self.inv_d2
        return loss, d_w, grads.d_b

    # ---------------------------------------------------------------- SGD
    def rate(self, epoch: int, current: float) -> float:
        est = self.est
        if est.schedule == "invscaling":
            return est.learning_rate / (epoch + 1) ** est.power_t
        if est.schedule == "exponential":
            return est.learning_rate * est.decay_rate**epoch
        return current  # constant, or adaptive (changed on stalls)

    def epoch(self, lr: float) -> float:
        est, n = self.est, self.x.shape[0]
        mu = est.momentum
        order = torch.randperm(n, generator=self.gen) if est.shuffle else None
        total = self.x.new_zeros(())
        for start in range(0, n, self.batch):
            if order is None:
                xb, yb, sb = (t[start:start + self.batch] for t in (self.x, self.y, self.s))
            else:
                idx = order[start:start + self.batch].to(self.x.device)
                xb, yb, sb = self.x[idx], self.y[idx], self.s[idx]
            loss, d_w, d_b = self.gradients(xb, yb, sb / xb.shape[0], self.w, self.b)
            if est.alpha:  # the batch's objective, penalty included, before its step
                loss = loss + 0.5 * est.alpha * (self.w * self.w * self.inv_d2).sum()
            total += loss * xb.shape[0]
            if mu:  # torch.optim.SGD's momentum: v = μv + g; step v, or g + μv (Nesterov)
                v_w, v_b = self.velocity
                v_w.mul_(mu).add_(d_w)
                v_b.mul_(mu).add_(d_b)
                if est.nesterov:
                    d_w, d_b = d_w + mu * v_w, d_b + mu * v_b
                else:
                    d_w, d_b = v_w, v_b
            self.w.add_(d_w, alpha=-lr)
            self.b.add_(d_b, alpha=-lr)
        return (total / n).item()

    def run(self, epochs: int, *, monitor: bool) -> str:
        """Train for at most ``epochs`` epochs; returns why training stopped."""
        if self.est.solver == "lbfgs":
            return self.lbfgs()
        est = self.est
        best, best_params, stall, lr = self.best, self.best_params, self.stall, self.lr
        reason = "max_epochs" if monitor else "partial_fit"
        e = self.start - 1
        for e in range(self.start, epochs):
            lr = self.rate(e, lr)
            loss = self.epoch(lr)
            if not np.isfinite(loss):
                raise TrainingDiverged(
                    f"training diverged at epoch {e}: the objective became {loss}; "
                    f"learning_rate={est.learning_rate:g} is probably too large (the fit "
                    "was undone)", epoch=e,
                )
            self.losses.append(loss)
            self.rates.append(lr)
            acc_v = None
            if self.valid is not None:
                z = F.logits(self.valid[0], self.w, self.b)
                acc_v = float(np.mean(z.argmax(1).cpu().numpy() == self.valid[1]))
                self.scores.append(acc_v)
            if est.verbose:
                print(EpochRecord(e, loss, None, acc_v).line() + f" - lr: {lr:.4g}")
            stop = False
            if monitor and est.tol is not None:
                # higher validation accuracy, or lower objective, is better
                value = acc_v if self.valid is not None else -loss
                if self.valid is not None and (best is None or value > best):
                    best_params = (self.w.clone(), self.b.clone())
                improved = best is None or value > best + est.tol
                stall = 0 if improved else stall + 1
                best = value if best is None else max(best, value)
                if stall >= est.n_iter_no_change:
                    if est.schedule == "adaptive" and lr / 5 >= 1e-6:
                        lr, stall = lr / 5, 0
                    else:
                        reason = "early_stopping" if self.valid is not None else "tol"
                        stop = True
            if self.checkpoint is not None and ((e + 1) % self.checkpoint[1] == 0
                                                or stop or e + 1 == epochs):
                self.best, self.best_params, self.stall, self.lr = best, best_params, stall, lr
                self.save(e + 1, reason if stop else None)
            if stop:
                break
        if best_params is not None:
            self.w, self.b = best_params
        self.n_iter = e + 1
        return reason

    # ---------------------------------------------------------------- checkpoints
    def save(self, epochs_done: int, stopped: str | None) -> None:
        """Write the whole SGD state (see :meth:`SoftmaxRegression.fit`)."""
        path, _, fp = self.checkpoint
        tensors = {"w": self.w, "b": self.b, "v_w": self.velocity[0], "v_b": self.velocity[1],
                   "rng": self.gen.get_state()}
        if self.best_params is not None:
            tensors["best_w"], tensors["best_b"] = self.best_params
        state = {"best": self.best, "stall": self.stall, "lr": self.lr, "rates": self.rates,
                 "scores": self.scores, "stopped": stopped}
        save_checkpoint(path, tensors, kind="SoftmaxRegression", fingerprint=fp,
                        epoch=epochs_done, history=self.losses, state=state)

    def restore(self) -> None:
        """Load the state written by :meth:`save` (checked against the fingerprint)."""
        path, _, fp = self.checkpoint
        tensors, info = load_checkpoint(path, kind="SoftmaxRegression", fingerprint=fp)
        names = {"w": self.w, "b": self.b, "v_w": self.velocity[0], "v_b": self.velocity[1]}
        for name, target in names.items():
            if name not in tensors or tensors[name].shape != target.shape:
                raise CheckpointError(f"checkpoint: {path}: missing or misshapen {name!r}")
        st = info["state"]
        if st.get("stopped"):
            raise CheckpointError(f"checkpoint: {path}: that run already ended "
                                  f"({st['stopped']}); nothing to resume")
        for name, target in names.items():
            target.copy_(tensors[name])
        self.gen.set_state(tensors["rng"])
        if "best_w" in tensors:
            self.best_params = (tensors["best_w"].to(self.w), tensors["best_b"].to(self.b))
        self.best, self.stall, self.lr = st["best"], st["stall"], st["lr"]
        self.losses, self.rates, self.scores = list(info["history"]), st["rates"], st["scores"]
        self.start = info["epoch"]

    # ---------------------------------------------------------------- L-BFGS
    def lbfgs(self) -> str:
        """Full-batch L-BFGS (scipy) on the analytic objective and gradient."""
        from scipy.optimize import minimize

        est = self.est
        n_w = self.w.numel()
        shape = self.w.shape
        r = self.s / self.s.sum()
        kw = {"dtype": self.w.dtype, "device": self.w.device}

        def split(theta: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
            t = torch.as_tensor(theta, **kw)
            return t[:n_w].reshape(shape), t[n_w:]

        def fun(theta: np.ndarray) -> tuple[float, np.ndarray]:
            w, b = split(theta)
            loss, d_w, d_b = self.gradients(self.x, self.y, r, w, b)
            grad = torch.cat([d_w.reshape(-1), d_b]).cpu().numpy().astype(np.float64)
            return float(loss) + self.penalty(w), grad

        def record(intermediate_result: Any) -> None:
            self.losses.append(float(intermediate_result.fun))
            if est.verbose:
                print(f"iteration: {len(self.losses)} - objective: {self.losses[-1]:.6g}")

        theta0 = torch.cat([self.w.reshape(-1), self.b]).cpu().numpy().astype(np.float64)
        res = minimize(
            fun, theta0, jac=True, method="L-BFGS-B", callback=record,
            options={"maxiter": est.max_epochs, "maxls": 50,
                     "gtol": 0.0 if est.tol is None else est.tol,
                     "ftol": 64 * np.finfo(np.float64).eps},
        )
        if not np.isfinite(res.fun):
            raise InvalidInputError("solver: L-BFGS reached a non-finite objective")
        w, b = split(res.x)
        self.w, self.b = w.clone(), b.clone()
        self.n_iter = max(int(res.nit), 1)
        if not self.losses:
            self.losses.append(float(res.fun))
        return "converged" if res.status == 0 else "max_epochs"
