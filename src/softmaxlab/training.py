"""The seed's training loop (docs/seed.md#the-training-loop), shared by softmaxlab's model and both references.

Epochs x in-order mini-batches (no shuffle; the last batch may be short). The epoch's CE
is the mean of the batch losses, each taken *before* its update; validation CE and
accuracy are computed once per epoch, without autograd. Each epoch prints

    epoch: E - CE: x - CE_v: x - acc_v: x

with every number rounded to 4 decimals as the seed does (``round(x, 4)``, so trailing
zeros are dropped: ``1.031``, ``0.45``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from ._validation import as_matrix, as_targets, check_positive_float, check_positive_int
from .errors import InvalidInputError, InvalidTypeError, NumericalError, TrainingDiverged
from .fast import comm
from .io.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .sparse import is_sparse, sparse_rows, to_scipy

__all__ = [
    "Callback",
    "CheckpointPlan",
    "EpochRecord",
    "EpochStats",
    "FitData",
    "Run",
    "check_fit_args",
    "drive",
    "fit_engine",
    "resume_params",
    "run_epochs",
    "stepwise",
]


def _seed_round(value: float) -> str:
    return str(round(value, 4))


@dataclass(frozen=True)
class EpochRecord:
    """One epoch of training: mean train CE, and validation CE / accuracy when given."""

    epoch: int
    ce: float
    ce_valid: float | None = None
    acc_valid: float | None = None

    def line(self) -> str:
        """The seed's log line for this epoch."""
        parts = [f"epoch: {self.epoch}", f"CE: {_seed_round(self.ce)}"]
        if self.ce_valid is not None:
            parts.append(f"CE_v: {_seed_round(self.ce_valid)}")
        if self.acc_valid is not None:
            parts.append(f"acc_v: {_seed_round(self.acc_valid)}")
        return " - ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class FitData:
    """Validated arguments of ``fit``."""

    x: Any  # a tensor, or SparseRows (softmaxlab.sparse)
    y: torch.Tensor
    x_valid: Any
    y_valid: torch.Tensor | None
    epochs: int
    lr: float
    batch_size: int

    def batches(self):
        """In-order slices ``(x[s:s+B], y[s:s+B])``; the last may be short (docs/seed.md#the-training-loop)."""
        n, size = self.x.shape[0], self.batch_size
        for start in range(0, n, size):
            yield self.x[start : start + size], self.y[start : start + size]


def check_fit_args(
    x_train: Any,
    y_train: Any,
    epochs: Any,
    lr: Any,
    batch_size: Any,
    x_valid: Any,
    y_valid: Any,
    *,
    n_features: int,
    n_classes: int,
    dtype: torch.dtype,
    device: torch.device,
) -> FitData:
    """Check every ``fit`` argument before anything is trained; errors name the argument."""
    epochs = check_positive_int(epochs, "epochs")
    lr = check_positive_float(lr, "lr")
    batch_size = check_positive_int(batch_size, "batch_size")
    kw: dict[str, Any] = {"dtype": dtype, "device": device}
    sparse = is_sparse(x_train)
    x: Any
    xv: Any = None
    yv: torch.Tensor | None = None
    if sparse:  # CSR rows on the CPU, never densified (softmaxlab.sparse)
        kw["device"] = torch.device("cpu")
        x = sparse_rows(x_train, "x_train", n_cols=n_features, dtype=dtype)
    else:
        x = as_matrix(x_train, "x_train", n_cols=n_features, cols_name="features", **kw)
    y = as_targets(y_train, "y_train", n_rows=x.shape[0], n_classes=n_classes, **kw)
    if (x_valid is None) != (y_valid is None):
        given, missing = ("x_valid", "y_valid") if y_valid is None else ("y_valid", "x_valid")
        raise InvalidInputError(f"{missing}: must be given together with {given}")
    if x_valid is not None:
        if sparse:
            xv = sparse_rows(
                x_valid if is_sparse(x_valid) else sp.csr_matrix(np.asarray(x_valid)),
                "x_valid",
                n_cols=n_features,
                dtype=dtype,
            )
        else:
            xv = as_matrix(
                to_scipy(x_valid).toarray() if is_sparse(x_valid) else x_valid,
                "x_valid",
                n_cols=n_features,
                cols_name="features",
                **kw,
            )
        yv = as_targets(y_valid, "y_valid", n_rows=xv.shape[0], n_classes=n_classes, **kw)
    return FitData(x, y, xv, yv, epochs, lr, batch_size)


def check_verbose(verbose: Any) -> bool:
    if not isinstance(verbose, bool):
        raise InvalidTypeError(f"verbose: expected True or False, got {verbose!r}")
    return verbose


def stepwise(
    data: FitData, step: Callable[..., torch.Tensor], *, with_index: bool = False
) -> Callable[[], torch.Tensor]:
    """An epoch function from a per-batch ``step(xb, yb)`` (or ``step(xb, yb, batch)`` with
    ``with_index``) that updates the model and returns the batch loss taken before the
    update (a 0-d tensor)."""

    def epoch() -> torch.Tensor:
        losses = []
        for batch, (xb, yb) in enumerate(data.batches()):
            try:
                losses.append(step(xb, yb, batch) if with_index else step(xb, yb))
            except TrainingDiverged:
                raise
            except NumericalError as exc:
                raise NumericalError(f"batch {batch}: {exc}") from exc
        return torch.stack(losses)

    return epoch


@dataclass
class EpochStats:
    """What one epoch of :func:`drive` produced: the epoch's training loss (the mean of
    the batch losses, each taken before its step), the learning rate it used, and the
    validation CE / accuracy when there are validation rows."""

    epoch: int
    loss: float
    lr: float
    ce_valid: float | None = None
    acc_valid: float | None = None

    def record(self) -> EpochRecord:
        return EpochRecord(self.epoch, self.loss, self.ce_valid, self.acc_valid)


@dataclass
class Run:
    """The mutable state a :func:`drive` shares with its callbacks: the learning rate of
    the next epoch (a callback may lower it), the stop reason (a callback sets it to stop
    after this epoch), and the epochs done."""

    lr: float
    stop: str | None = None
    epochs_done: int = 0


#: A callback of :func:`drive`: called after each epoch with its stats and the run.
Callback = Callable[[EpochStats, Run], None]


def drive(
    train_epoch: Callable[[int, float], float],
    *,
    epochs: int,
    lr: float,
    start: int = 0,
    schedule: Callable[[int, float], float] | None = None,
    validate: Callable[[], tuple[float, float]] | None = None,
    callbacks: Sequence[Callback] = (),
) -> Run:
    """The one epoch driver of every SGD fit in softmaxlab.

    For each epoch ``e`` from ``start`` to ``epochs - 1``: the learning rate is
    ``schedule(e, run.lr)`` (unchanged without a schedule); ``train_epoch(e, lr)`` makes
    one pass over the batches (one engine step each) and returns the epoch's loss;
    ``validate()`` gives the validation CE and accuracy; then every callback sees the
    :class:`EpochStats` in order (logging, validation bookkeeping, early stopping,
    checkpoints, progress). A callback that sets ``run.stop`` ends the run after that
    epoch. A :class:`~softmaxlab.errors.TrainingDiverged` or
    :class:`~softmaxlab.errors.NumericalError` from the epoch is re-raised with the epoch
    number. Returns the :class:`Run`."""
    run = Run(lr=lr, epochs_done=start)
    for epoch in range(start, epochs):
        rate = schedule(epoch, run.lr) if schedule is not None else run.lr
        run.lr = rate
        try:
            loss = train_epoch(epoch, rate)
        except TrainingDiverged as exc:
            if exc.epoch is not None:  # the epoch's own message says where
                raise
            raise TrainingDiverged(
                f"training diverged at epoch {epoch}, {exc}", epoch=epoch, batch=exc.batch
            ) from None
        except NumericalError as exc:
            raise NumericalError(f"epoch {epoch}, {exc}") from exc
        ce_v = acc_v = None
        if validate is not None:
            ce_v, acc_v = validate()
        stats = EpochStats(epoch, loss, rate, ce_v, acc_v)
        run.epochs_done = epoch + 1
        for callback in callbacks:
            callback(stats, run)
        if run.stop is not None:
            break
    return run


def run_epochs(
    data: FitData,
    train_epoch: Callable[[], torch.Tensor],
    validate: Callable[[torch.Tensor, torch.Tensor], tuple[float, float]],
    *,
    verbose: bool,
    echo: Callable[[str], None] = print,
    callback: Callable[[EpochRecord], None] | None = None,
    start: int = 0,
) -> list[EpochRecord]:
    """The seed loop on :func:`drive` (the references use it): ``train_epoch()`` makes one
    pass over the batches and returns each batch's loss taken before its update (k,);
    ``validate(x, y)`` returns ``(CE, accuracy)``. Returns one :class:`EpochRecord` per
    epoch and, when ``verbose``, echoes its line. ``start`` skips the epochs a resumed run
    has already done."""
    history: list[EpochRecord] = []

    def log(stats: EpochStats, run: Run) -> None:
        record = stats.record()
        history.append(record)
        if verbose:
            echo(record.line())
        if callback is not None:
            callback(record)

    valid = None
    if data.x_valid is not None and data.y_valid is not None:
        xv, yv = data.x_valid, data.y_valid

        def valid() -> tuple[float, float]:
            return validate(xv, yv)

    drive(
        lambda e, lr: train_epoch().mean().item(),
        epochs=data.epochs,
        lr=data.lr,
        start=start,
        validate=valid,
        callbacks=[log],
    )
    return history


@dataclass(frozen=True)
class CheckpointPlan:
    """Checkpoints of a seed-loop run: ``path`` written every ``every`` epochs and after
    the last, for the run identified by ``kind`` and ``fingerprint``."""

    path: Any
    every: int
    kind: str
    fingerprint: str


def resume_params(
    plan: CheckpointPlan, w: torch.Tensor, b: torch.Tensor, epochs: int
) -> tuple[int, list[EpochRecord]]:
    """Load a checkpoint's W and b into ``w``, ``b``; returns (first epoch, history so
    far). Refused when the shapes differ or it has done more than ``epochs``."""
    tensors, info = load_checkpoint(plan.path, kind=plan.kind, fingerprint=plan.fingerprint)
    w_saved, b_saved = tensors.get("w"), tensors.get("b")
    if (
        w_saved is None
        or b_saved is None
        or tuple(w_saved.shape) != tuple(w.shape)
        or tuple(b_saved.shape) != tuple(b.shape)
    ):
        raise CheckpointError(f"checkpoint: {plan.path}: parameters of the wrong shape")
    if info["epoch"] > epochs:
        raise InvalidInputError(
            f"epochs: the checkpoint has already completed {info['epoch']} epochs, "
            f"more than the {epochs} asked for"
        )
    w.copy_(w_saved)
    b.copy_(b_saved)
    return info["epoch"], [EpochRecord(**r) for r in info["history"]]


def fit_engine(
    engine: Any,
    epochs: int,
    lr: float,
    *,
    start: int = 0,
    history: list[EpochRecord] | None = None,
    valid: tuple[torch.Tensor, torch.Tensor] | None = None,
    verbose: bool = False,
    callback: Callable[[EpochRecord], None] | None = None,
    checkpoint: CheckpointPlan | None = None,
) -> list[EpochRecord]:
    """The seed's loop on an :class:`~softmaxlab.fast.engine.Engine` (``SoftmaxClassifier.fit``
    and the data-parallel runs): epochs ``start`` .. ``epochs - 1`` of in-order batches,
    validation CE and accuracy on ``valid`` (features, class indices), the epoch line
    when ``verbose``, ``callback(record)`` and checkpoints after each epoch (printing and
    callbacks on rank 0 only in a data-parallel run). Returns the history, after the
    records in ``history``."""
    history = list(history or [])
    main = comm.is_main()

    def record(stats: EpochStats, run: Run) -> None:
        rec = stats.record()
        history.append(rec)
        if verbose and main:
            print(rec.line(), flush=True)
        if checkpoint is not None and (
            run.epochs_done % checkpoint.every == 0 or run.epochs_done == epochs
        ):
            save_checkpoint(
                checkpoint.path,
                {"w": engine.w, "b": engine.b},
                kind=checkpoint.kind,
                fingerprint=checkpoint.fingerprint,
                epoch=run.epochs_done,
                history=[r.as_dict() for r in history],
            )
        if callback is not None and main:
            callback(rec)

    validate = None
    if valid is not None:
        xv, lv = valid

        def validate() -> tuple[float, float]:
            return engine.metrics(xv, lv)

    with torch.no_grad(), engine.threads():
        drive(
            lambda e, rate: engine.epoch(rate)[0].mean().item(),
            epochs=epochs,
            lr=lr,
            start=start,
            validate=validate,
            callbacks=[record],
        )
    return history
