r"""``SoftmaxClassifier``: the seed notebook's model, from scratch.

Parameters :math:`W\in\mathbb R^{N\times C}` and :math:`b\in\mathbb R^{C}` drawn from a
standard normal (docs/seed.md#parameters); ``predict`` gives :math:`\hat Y = \Sigma(XW+b)` (docs/math.md §1–§2); ``evaluate``
the cross-entropy (docs/math.md §3); ``update`` one SGD step with the chosen gradient formulation
(docs/math.md §4–§8, see :mod:`softmaxlab.gradients`); ``fit`` the seed's loop (docs/seed.md#the-training-loop, see
:mod:`softmaxlab.training`). The math is in :mod:`softmaxlab.functional`; this class only
holds the parameters and validates what it is given. A call that raises leaves ``w`` and
``b`` untouched.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from . import functional as F
from . import gradients as G
from ._validation import (
    as_matrix,
    as_targets,
    check_positive_float,
    check_positive_int,
    resolve_device,
    resolve_dtype,
)
from .errors import InvalidInputError, InvalidTypeError, diverged
from .fast import make_engine
from .io.checkpoint import classifier_fingerprint
from .sparse import is_sparse, sparse_rows
from .training import (
    CheckpointPlan,
    EpochRecord,
    check_fit_args,
    check_verbose,
    fit_engine,
    resume_params,
)

__all__ = ["SoftmaxClassifier", "linear_params"]


class SoftmaxClassifier:
    """Multinomial logistic regression trained by hand-derived mini-batch SGD.

    Args:
        n_features: N, the number of input features.
        n_classes: C, the number of classes (at least 2).
        gradient: name of the gradient formulation (``softmaxlab.gradients.names()``);
            the seed's ``"chain"`` by default.
        dtype: ``torch.float64`` (the seed's, default) or ``torch.float32``.
        device: ``"cpu"``, ``"cuda"``, ...; ``None`` picks ``cuda`` when available.
        seed: seeds the initial parameters; ``None`` draws from torch's global generator
            as the seed notebook does.

    Attributes:
        w: (n_features, n_classes) weights.
        b: (n_classes,) bias.
    """

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        *,
        gradient: str = "chain",
        dtype: torch.dtype | str = torch.float64,
        device: str | torch.device | None = None,
        seed: int | None = None,
    ) -> None:
        self.n_features = check_positive_int(n_features, "n_features")
        n_classes = check_positive_int(n_classes, "n_classes")
        if n_classes < 2:
            raise InvalidInputError(f"n_classes: needs at least 2 classes, got {n_classes}")
        self.n_classes = n_classes
        self._formulation = G.get(gradient)
        self.dtype = resolve_dtype(dtype)
        self.device = resolve_device(device)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
            raise InvalidTypeError(f"seed: expected an integer or None, got {seed!r}")
        gen = None if seed is None else torch.Generator().manual_seed(int(seed))
        shape_w, shape_b = (self.n_features, self.n_classes), (self.n_classes,)
        # Drawn on the CPU so that a seed gives the same parameters on every device.
        self.w = torch.randn(shape_w, generator=gen, dtype=self.dtype).to(self.device)
        self.b = torch.randn(shape_b, generator=gen, dtype=self.dtype).to(self.device)

    @property
    def gradient(self) -> str:
        """Name of the gradient formulation used by :meth:`update` and :meth:`fit`."""
        return self._formulation.name

    def __repr__(self) -> str:
        return (
            f"SoftmaxClassifier(n_features={self.n_features}, n_classes={self.n_classes}, "
            f"gradient={self.gradient!r}, dtype={self.dtype}, device='{self.device}')"
        )

    # ------------------------------------------------------------------ checks
    def _x(self, x: Any, name: str = "x") -> torch.Tensor:
        if is_sparse(x):  # a torch sparse COO batch: XW is a sparse × dense product
            rows = sparse_rows(x, name, n_cols=self.n_features, dtype=self.dtype)
            return rows.coo(None, 0, rows.shape[0]).to(self.device)
        return as_matrix(
            x,
            name,
            dtype=self.dtype,
            device=self.device,
            n_cols=self.n_features,
            cols_name="features",
        )

    def _y(self, y: Any, n_rows: int, name: str = "y_true") -> torch.Tensor:
        return as_targets(
            y,
            name,
            dtype=self.dtype,
            device=self.device,
            n_rows=n_rows,
            n_classes=self.n_classes,
        )

    # ------------------------------------------------------------------ the seed's methods
    @torch.no_grad()
    def predict(self, x: Any) -> torch.Tensor:
        """Class probabilities :math:`\\hat Y = \\Sigma(XW + b)`. Shape: (m, N) → (m, C)."""
        return F.softmax(F.logits(self._x(x), self.w, self.b))

    @torch.no_grad()
    def evaluate(self, x: Any, y_true: Any) -> float:
        """Mean cross-entropy of ``predict(x)`` against one-hot ``y_true``, computed stably
        from the logits (finite for any finite input). Shape: (m, N), (m, C) → float."""
        x = self._x(x)
        y = self._y(y_true, x.shape[0])
        return F.cross_entropy(y, F.logits(x, self.w, self.b)).item()

    def accuracy(self, y_true: Any, y_pred: Any) -> float:
        """Fraction of rows where ``argmax(y_pred) == argmax(y_true)`` (docs/seed.md#accuracy).
        Shape: (m, C), (m, C) → float."""
        kw: dict[str, Any] = {"dtype": self.dtype, "device": self.device, "cols_name": "classes"}
        yt = as_matrix(y_true, "y_true", n_cols=self.n_classes, **kw)
        yp = as_matrix(y_pred, "y_pred", n_cols=self.n_classes, **kw)
        if yt.shape[0] != yp.shape[0]:
            raise InvalidInputError(f"y_pred: has {yp.shape[0]} rows but y_true has {yt.shape[0]}")
        return F.accuracy(yt, yp).item()

    @torch.no_grad()
    def update(self, x: Any, y_true: Any, y_pred: Any, lr: float) -> None:
        """One SGD step: ``w -= lr * dL/dW``, ``b -= lr * dL/db``, with the gradient of
        this model's formulation evaluated at probabilities ``y_pred`` (docs/math.md §4–§8).
        Shape: (m, N), (m, C), (m, C), float."""
        lr = check_positive_float(lr, "lr")
        x = self._x(x)
        y = self._y(y_true, x.shape[0])
        y_hat = as_matrix(
            y_pred,
            "y_pred",
            dtype=self.dtype,
            device=self.device,
            n_cols=self.n_classes,
            cols_name="classes",
        )
        if y_hat.shape[0] != x.shape[0]:
            raise InvalidInputError(f"y_pred: has {y_hat.shape[0]} rows but x has {x.shape[0]}")
        self._formulation.check_budget(
            x.shape[0], self.n_features, self.n_classes, x.element_size()
        )
        self._step(x, y, y_hat, lr)

    def _step(
        self, x: torch.Tensor, y: torch.Tensor, y_hat: torch.Tensor, lr: float, batch: int = 0
    ) -> None:
        grads = self._formulation.kernel(x, y, self.w, self.b, y_hat)
        # The new parameters are formed aside and copied in only when finite: a raising
        # kernel or a diverging step leaves w and b at their last finite values.
        w = torch.add(self.w, grads.d_w, alpha=-lr)
        b = torch.add(self.b, grads.d_b, alpha=-lr)
        if not bool(torch.isfinite(w).all() & torch.isfinite(b).all()):
            raise diverged(lr, batch, "the parameters")
        self.w.copy_(w)
        self.b.copy_(b)

    def fit(
        self,
        x_train: Any,
        y_train: Any,
        epochs: int,
        lr: float,
        batch_size: int,
        x_valid: Any = None,
        y_valid: Any = None,
        *,
        verbose: bool = True,
        callback: Callable[[EpochRecord], None] | None = None,
        checkpoint: str | os.PathLike[str] | None = None,
        checkpoint_every: int = 1,
        resume: bool = False,
    ) -> list[EpochRecord]:
        """Train with in-order mini-batch SGD (docs/seed.md#the-training-loop) and return one record per epoch.

        ``callback(record)``, if given, is called after each epoch (progress bars use it).

        With ``checkpoint=PATH`` the parameters, the epoch and the history are written to
        PATH (atomically, safetensors) every ``checkpoint_every`` epochs and after the last;
        ``resume=True`` continues from PATH, and ends with exactly the parameters of an
        uninterrupted run. A checkpoint of other data or hyper-parameters, or a corrupt one,
        is refused (:class:`~softmaxlab.io.checkpoint.CheckpointError`). The returned history
        then includes the epochs done before the checkpoint.

        Each batch's probabilities are computed once and serve both the logged loss
        (taken before the step) and the gradient. Every formulation trains on
        :class:`softmaxlab.fast.engine.Engine` driven by :func:`softmaxlab.training.drive`;
        ``gradient="fused"`` runs its native path (the whole epoch in one call, same
        mathematics).
        Prints the seed's epoch line when ``verbose``. Every argument is checked before the first step; if a step later
        meets a numerical failure (chain rule with Ŷ = 0) a
        :class:`~softmaxlab.errors.NumericalError`, or diverges (a non-finite loss or
        parameter) a :class:`~softmaxlab.errors.TrainingDiverged`, names the epoch and
        batch, and the parameters stay at their last finite values.
        """
        data = check_fit_args(
            x_train,
            y_train,
            epochs,
            lr,
            batch_size,
            x_valid,
            y_valid,
            n_features=self.n_features,
            n_classes=self.n_classes,
            dtype=self.dtype,
            device=self.device,
        )
        verbose = check_verbose(verbose)
        rows = min(data.batch_size, data.x.shape[0])
        self._formulation.check_budget(rows, self.n_features, self.n_classes, data.x.element_size())
        every = check_positive_int(checkpoint_every, "checkpoint_every")
        if resume and checkpoint is None:
            raise InvalidInputError("resume: needs checkpoint=PATH")
        plan = None
        if checkpoint is not None:
            plan = CheckpointPlan(
                checkpoint,
                every,
                "SoftmaxClassifier",
                classifier_fingerprint(
                    data, self.n_features, self.n_classes, self.gradient, self.dtype
                ),
            )
        start, done = 0, list[Any]()
        if resume:
            assert plan is not None
            start, done = resume_params(plan, self.w, self.b, data.epochs)
        # every formulation trains on the one engine (softmaxlab.fast.engine): "fused" on its
        # native path when available, the others one checked PyTorch step at a time
        engine = make_engine(
            data.x,
            data.y.argmax(dim=1),
            self.w,
            self.b,
            batch_size=data.batch_size,
            gradient=self.gradient,
        )
        valid = None
        if data.x_valid is not None and data.y_valid is not None:
            valid = (data.x_valid, data.y_valid.argmax(dim=1))
        try:
            return fit_engine(
                engine,
                data.epochs,
                data.lr,
                start=start,
                history=done,
                valid=valid,
                verbose=verbose,
                callback=callback,
                checkpoint=plan,
            )
        finally:  # also after an interruption: keep the epochs that completed
            with torch.no_grad():
                self.w.copy_(engine.w)
                self.b.copy_(engine.b)

    def certify(self, x: Any, y: Any) -> Any:
        """The :class:`~softmaxlab.certificate.Certificate` of these parameters on the rows
        ``x`` with one-hot targets ``y``: objective, ‖∇‖, and (no penalty here) an
        infinite gap bound."""
        import numpy as np

        from .certificate import certify_arrays

        xs = self._x(x)
        y_idx = self._y(y, xs.shape[0]).argmax(dim=1).cpu().numpy()
        w, b = (t.detach().double().cpu().numpy() for t in (self.w, self.b))
        return certify_arrays(xs.double().cpu().numpy(), y_idx, w, b, 0.0, np.ones(xs.shape[0]))

    def copy_params(self, source: Any) -> None:
        """Copy W and b from ``source`` so both models start equal (docs/seed.md#copying-parameters).

        ``source`` may be a ``torch.nn.Linear`` (W = weightᵀ), a Keras ``Dense`` layer or a
        Keras model holding exactly one (W = kernel), a :class:`~softmaxlab.TorchSoftmax`
        or :class:`~softmaxlab.KerasSoftmax`, or another :class:`SoftmaxClassifier`.
        """
        w, b = linear_params(source)
        expected = (self.n_features, self.n_classes)
        if tuple(w.shape) != expected or tuple(b.shape) != (self.n_classes,):
            raise InvalidInputError(
                f"source: has W {tuple(w.shape)} and b {tuple(b.shape)}, this model needs "
                f"W {expected} and b ({self.n_classes},)"
            )
        w = as_matrix(w, "source weights", dtype=self.dtype, device=self.device)
        b = as_matrix(b.reshape(1, -1), "source bias", dtype=self.dtype, device=self.device)
        self.w.copy_(w)
        self.b.copy_(b.reshape(-1))


def linear_params(source: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """``(W, b)`` of a linear layer in softmaxlab's layout (W is (N, C)), as tensors."""
    if isinstance(source, SoftmaxClassifier):
        return source.w.detach(), source.b.detach()
    inner = getattr(source, "linear_layer", None)  # TorchSoftmax / KerasSoftmax
    if inner is not None:
        return linear_params(inner)
    if isinstance(source, torch.nn.Linear):
        if source.bias is None:
            raise InvalidInputError("source: the nn.Linear has no bias (bias=False)")
        return source.weight.detach().T, source.bias.detach()
    module = type(source).__module__ or ""
    if module.startswith(("keras", "tf_keras", "tensorflow")):
        return _keras_params(source)
    raise InvalidTypeError(
        "source: expected a torch.nn.Linear, a Keras Dense layer or model, a TorchSoftmax, "
        f"a KerasSoftmax or a SoftmaxClassifier, got {type(source).__name__}"
    )


def _keras_params(source: Any) -> tuple[torch.Tensor, torch.Tensor]:
    if hasattr(source, "kernel"):  # a Dense layer
        if getattr(source, "bias", None) is None:
            raise InvalidInputError("source: the Keras Dense layer has no bias (use_bias=False)")
        return (
            torch.from_numpy(np.array(source.kernel.numpy())),
            torch.from_numpy(np.array(source.bias.numpy())),
        )
    layers = [layer for layer in getattr(source, "layers", []) if hasattr(layer, "kernel")]
    if len(layers) != 1:
        raise InvalidInputError(
            f"source: the Keras model must hold exactly one Dense layer, it holds {len(layers)}"
        )
    return _keras_params(layers[0])
