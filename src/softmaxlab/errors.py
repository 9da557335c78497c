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

    def __init__(self, message: str, *, epoch: int | None = None, batch: int | None = None) -> None:
        super().__init__(message)
        self.epoch, self.batch = epoch, batch


class CheckpointError(InvalidInputError):
    """A checkpoint that cannot be used: corrupt, truncated, foreign or mismatched."""


class DistributedError(SoftmaxlabError, RuntimeError):
    """A rank of a data-parallel run failed (or could not start); the run was stopped."""


class OutputError(SoftmaxlabError, OSError):
    """An output could not be written (a full disk, a deleted folder); the message says
    where the results went instead, if anywhere."""


class UsageError(SoftmaxlabError):
    """Bad command-line usage found after parsing (an unwritable --json path, say)."""


#: The command line's exit code and message prefix for each error (the first class in
#: this order that the error is an instance of); ``softmaxlab.cli.main`` prints one line
#: and returns the code. 0 is success, 1 a failed parity check. The machine's failures
#: (a full disk, a vanished folder, no memory, input nested too deeply) are one line too.
EXIT_CODES: tuple[tuple[type[BaseException], int, str], ...] = (
    (TrainingDiverged, 3, ""),
    (NumericalError, 1, "numerical failure: "),
    (SoftmaxlabError, 2, "error: "),
    (OSError, 2, "error: "),
    (MemoryError, 2, "out of memory: "),
    (RecursionError, 2, "error: input nested too deeply: "),
)


def describe(exc: BaseException) -> str:
    """One line for an error: an OS error as "reason: file" (``No space left on device:
    m.safetensors``), anything else by its message (or its type when it has none)."""
    if isinstance(exc, OSError) and exc.strerror:
        where = exc.filename if exc.filename is not None else ""
        return f"{exc.strerror}: {where}" if where else exc.strerror
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def exit_status(exc: BaseException) -> tuple[int, str] | None:
    """``(exit code, message prefix)`` of ``exc`` by :data:`EXIT_CODES`, or ``None`` for
    an error that is not softmaxlab's."""
    for kind, code, prefix in EXIT_CODES:
        if isinstance(exc, kind):
            return code, prefix
    return None


def diverged(lr: float, batch: int, what: str = "the loss or the parameters") -> TrainingDiverged:
    """The :class:`TrainingDiverged` raised inside an epoch (``run_epochs`` adds the epoch)."""
    return TrainingDiverged(
        f"batch {batch}: {what} became non-finite (NaN or inf); lr={lr:g} is probably too "
        "large for the scale of these features: lower it or standardise the features",
        batch=batch,
    )
