"""The reference models softmaxlab is checked against, with the seed's fit/evaluate/log.

* :class:`TorchSoftmax` (docs/seed.md#references): ``nn.Linear`` + softmax, ``nn.CrossEntropyLoss`` with
  probability targets, ``torch.optim.SGD``; autograd computes the gradient.
* :class:`KerasSoftmax` (docs/seed.md#references): a float64 Keras model on TensorFlow, ``Dense`` with softmax
  activation, categorical cross-entropy, ``keras.optimizers.SGD``, trained batch by batch
  with ``train_on_batch`` on the same in-order batches. TensorFlow is imported only when a
  ``KerasSoftmax`` is built; without it a :class:`~softmaxlab.errors.MissingDependencyError`
  says how to install it.

Both use :func:`softmaxlab.training.run_epochs`, so their logs and histories have the same
format as :class:`~softmaxlab.SoftmaxClassifier`'s.
"""

from __future__ import annotations

import numbers
import os
from typing import Any

import numpy as np
import torch
from torch import nn

from . import functional as F
from ._validation import as_matrix, as_targets, check_positive_int, resolve_device, resolve_dtype
from .errors import InvalidInputError, InvalidTypeError, MissingDependencyError
from .training import EpochRecord, check_fit_args, check_verbose, run_epochs, stepwise

__all__ = ["KerasSoftmax", "TorchSoftmax", "keras_available"]


def _check_shape_args(n_features: Any, n_classes: Any, seed: Any) -> tuple[int, int]:
    n_features = check_positive_int(n_features, "n_features")
    n_classes = check_positive_int(n_classes, "n_classes")
    if n_classes < 2:
        raise InvalidInputError(f"n_classes: needs at least 2 classes, got {n_classes}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise InvalidTypeError(f"seed: expected an integer or None, got {seed!r}")
    return n_features, n_classes


class TorchSoftmax(nn.Module):
    """The PyTorch ``nn`` reference (docs/seed.md#references): ``nn.Linear`` → softmax, trained by autograd.

    ``forward``/``predict`` return probabilities; the loss is ``nn.CrossEntropyLoss`` on the
    logits with probability (one-hot) targets. ``seed`` seeds ``nn.Linear``'s default
    initialisation without touching torch's global generator.
    """

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        *,
        dtype: torch.dtype | str = torch.float64,
        device: str | torch.device | None = None,
        seed: int | None = None,
    ) -> None:
        n_features, n_classes = _check_shape_args(n_features, n_classes, seed)
        super().__init__()
        self.n_features, self.n_classes = n_features, n_classes
        self.dtype = resolve_dtype(dtype)
        self.device = resolve_device(device)
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(int(seed))
            self.layer = nn.Linear(n_features, n_classes, dtype=self.dtype)
        self.layer.to(self.device)
        self.soft = nn.Softmax(dim=1)
        self.loss = nn.CrossEntropyLoss()

    @property
    def linear_layer(self) -> nn.Linear:
        return self.layer

    def _x(self, x: Any, name: str = "x") -> torch.Tensor:
        return as_matrix(
            x,
            name,
            dtype=self.dtype,
            device=self.device,
            n_cols=self.n_features,
            cols_name="features",
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Probabilities ``softmax(x Wᵀ + b)``. Shape: (m, N) → (m, C)."""
        return self.soft(self.layer(x))

    @torch.no_grad()
    def predict(self, x: Any) -> torch.Tensor:
        """Checked :meth:`forward`, without autograd. Shape: (m, N) → (m, C)."""
        return self.forward(self._x(x))

    @torch.no_grad()
    def evaluate(self, x: Any, y_true: Any) -> float:
        """``nn.CrossEntropyLoss`` of the logits against one-hot targets. → float."""
        x = self._x(x)
        y = as_targets(
            y_true,
            "y_true",
            dtype=self.dtype,
            device=self.device,
            n_rows=x.shape[0],
            n_classes=self.n_classes,
        )
        return self.loss(self.layer(x), y).item()

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
    ) -> list[EpochRecord]:
        """The seed's loop with ``loss.backward()`` and ``optim.SGD`` (docs/seed.md#references)."""
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
        optimizer = torch.optim.SGD(self.parameters(), lr=data.lr)
        self.train()

        def step(xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
            loss = self.loss(self.layer(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            return loss.detach()

        def validate(x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
            with torch.no_grad():
                z = self.layer(x)
                return self.loss(z, y).item(), F.accuracy(y, z).item()

        return run_epochs(data, stepwise(data, step), validate, verbose=verbose)


def keras_available() -> bool:
    """Whether TensorFlow and Keras 3 can be imported (without importing them)."""
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("tensorflow", "keras"))


def _import_keras() -> Any:
    # Quiet TensorFlow's C++ logging, and keep its oneDNN kernels from reordering float
    # sums (they announce "slightly different numerical results" on stderr) unless the
    # user chose otherwise.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    try:
        import keras
        import tensorflow  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError(
            "reference 'keras' needs TensorFlow and Keras: pip install 'softmaxlab[keras]' "
            f"(import failed: {exc})"
        ) from exc
    if keras.backend.backend() != "tensorflow":
        raise MissingDependencyError(
            f"reference 'keras' needs the TensorFlow backend, KERAS_BACKEND is "
            f"{keras.backend.backend()!r}"
        )
    return keras


class KerasSoftmax:
    """The Keras reference (docs/seed.md#references): ``Dense(C, activation="softmax")`` in float64 (or
    float32), categorical cross-entropy, ``SGD``; trained on in-order batches with
    ``train_on_batch``, so each logged loss is taken before its update as in the seed.

    The layer's dtype is set per layer; Keras' global ``floatx`` is not changed.
    """

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        *,
        dtype: torch.dtype | str = torch.float64,
        seed: int | None = None,
    ) -> None:
        n_features, n_classes = _check_shape_args(n_features, n_classes, seed)
        keras = _import_keras()
        self._keras = keras
        self.n_features, self.n_classes = n_features, n_classes
        self.dtype = resolve_dtype(dtype)
        self._np_dtype = "float64" if self.dtype == torch.float64 else "float32"
        self.dense = keras.layers.Dense(
            n_classes,
            activation="softmax",
            dtype=self._np_dtype,
            kernel_initializer=keras.initializers.GlorotUniform(seed=seed),
            bias_initializer=keras.initializers.RandomNormal(stddev=0.05, seed=seed),
        )
        self.model = keras.Sequential(
            [keras.Input(shape=(n_features,), dtype=self._np_dtype), self.dense]
        )
        self._compile(0.01)

    @property
    def linear_layer(self) -> Any:
        return self.dense

    def _compile(self, lr: float) -> None:
        # Keras creates the optimizer's learning-rate variable and the compiled loss in
        # ``floatx``; in float32 the seed's lr 0.01 becomes 0.0099999998 and every update
        # drifts by 2e-8. Both are created under this model's dtype, then floatx is restored.
        keras = self._keras
        previous = keras.config.floatx()
        keras.config.set_floatx(self._np_dtype)
        try:
            self.model.compile(
                optimizer=keras.optimizers.SGD(learning_rate=lr),
                loss=keras.losses.CategoricalCrossentropy(dtype=self._np_dtype),
                jit_compile=False,
            )
        finally:
            keras.config.set_floatx(previous)

    def _np(self, tensor: torch.Tensor) -> np.ndarray:
        return tensor.detach().cpu().numpy()

    def predict(self, x: Any) -> torch.Tensor:
        """Probabilities from the Keras model, as a CPU tensor. Shape: (m, N) → (m, C)."""
        x = as_matrix(
            x,
            "x",
            dtype=self.dtype,
            device=torch.device("cpu"),
            n_cols=self.n_features,
            cols_name="features",
        )
        return torch.from_numpy(np.array(self.model(self._np(x), training=False)))

    def _loss(self, x: np.ndarray, y: np.ndarray) -> float:
        return float(self.model.compute_loss(x=x, y=y, y_pred=self.model(x, training=False)))

    def evaluate(self, x: Any, y_true: Any) -> float:
        """Keras' categorical cross-entropy of the model's output. → float."""
        cpu = torch.device("cpu")
        x = as_matrix(
            x, "x", dtype=self.dtype, device=cpu, n_cols=self.n_features, cols_name="features"
        )
        y = as_targets(
            y_true,
            "y_true",
            dtype=self.dtype,
            device=cpu,
            n_rows=x.shape[0],
            n_classes=self.n_classes,
        )
        return self._loss(self._np(x), self._np(y))

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
    ) -> list[EpochRecord]:
        """The seed's loop, one ``train_on_batch`` per in-order batch (docs/seed.md#references)."""
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
            device=torch.device("cpu"),
        )
        verbose = check_verbose(verbose)
        self._compile(data.lr)

        def step(xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
            loss = self.model.train_on_batch(self._np(xb), self._np(yb))
            return torch.tensor(float(loss), dtype=torch.float64)

        def validate(x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
            xn = self._np(x)
            probs = np.asarray(self.model(xn, training=False))
            acc = float(np.mean(probs.argmax(axis=1) == self._np(y).argmax(axis=1)))
            return self._loss(xn, self._np(y)), acc

        return run_epochs(data, stepwise(data, step), validate, verbose=verbose)
