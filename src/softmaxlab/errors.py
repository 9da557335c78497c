"""The package's own exceptions.

Every error softmaxlab raises on purpose derives from :class:`SoftmaxlabError`, and also
from the built-in class a caller would expect (``ValueError``, ``TypeError``,
``ArithmeticError``, ``MemoryError``), so both ``except SoftmaxlabError`` and
``except ValueError`` work. Messages start with the name of the offending argument.
"""

from __future__ import annotations


class SoftmaxlabError(Exception):
    """Base class of every error raised by softmaxlab on purpose."""


class InvalidInputError(SoftmaxlabError, ValueError):
    """An argument has the right type but a bad value: shape, rank, NaN/inf, range, name."""


class InvalidTypeError(SoftmaxlabError, TypeError):
    """An argument has a type softmaxlab cannot use (or two arguments have mixed types)."""


class UnknownGradientError(InvalidInputError):
    """A gradient formulation name that is not in :data:`softmaxlab.gradients.REGISTRY`."""


class NumericalError(SoftmaxlabError, ArithmeticError):
    """A formula produced a non-finite value that the stable path would have avoided."""


class JacobianTooLargeError(SoftmaxlabError, MemoryError):
    """A full-Jacobian or Kronecker step would allocate more than the memory budget."""


class MissingDependencyError(SoftmaxlabError, ImportError):
    """An optional dependency (TensorFlow/Keras) is needed but not installed."""


class ModelFileError(InvalidInputError):
    """A file that is not a valid softmaxlab model file (or is of a newer format)."""


class TrainingDiverged(SoftmaxlabError, ArithmeticError):
    """The loss or a parameter became non-finite during training (learning rate too large
    for the scale of the features, usually). ``epoch`` and ``batch`` say where; the model
    keeps its last finite parameters."""

    def __init__(self, message: str, *, epoch: int | None = None,
                 batch: int | None = None) -> None:
        super().__init__(message)
        self.epoch, self.batch = epoch, batch


def diverged(lr: float, batch: int, what: str = "the loss or the parameters") -> TrainingDiverged:
    """The :class:`TrainingDiverged` raised inside an epoch (``run_epochs`` adds the epoch)."""
    return TrainingDiverged(
        f"batch {batch}: {what} became non-finite (NaN or inf); lr={lr:g} is probably too "
        "large for the scale of these features: lower it or standardise the features",
        batch=batch,
    )
