r"""Mini-batch SGD on (loss, penalty): epochs of the loss's SGD engine
(:meth:`~softmaxlab.objective.loss.MultinomialLoss.sgd_engine`) run by
:func:`softmaxlab.training.drive` — rows shuffled each epoch, the learning-rate schedule,
momentum, the penalty (L2 decay and L1 proximal steps inside the engine), row weights,
stopping on the objective or on held-out accuracy (restoring the best weights), and
checkpoints with exact resume.

The engine works in the loss's standardised coordinates without copying X: it reads each
row as :math:`(x - \mu) \odot d^{-1}` and trains :math:`\tilde W = \operatorname{diag}(d) W`,
:math:`\tilde b = b + \mu^\top W`; the penalty stays on the original coordinates
(:math:`p = d^{-2}`, :math:`q = d^{-1}`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .. import gradients as G
from ..errors import TrainingDiverged
from ..io.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from ..objective.loss import MultinomialLoss
from ..objective.penalties import Penalty
from ..training import EpochStats, Run, drive
from .result import SgdOptions, SolverResult

__all__ = ["SGDSolver", "grad_norm", "sgd"]


#: An epoch objective this many times the lowest one so far stops SGD at once (diverging).
RUNAWAY = 1e3
#: A run that ends (stopping rule or last epoch) with its objective above
#: ``(1 + RISE) × lowest + max(tol, RISE_FLOOR)`` did not converge: its step was too large.
RISE, RISE_FLOOR = 0.1, 1e-2


class SGDSolver:
    """Mini-batch SGD on (loss, penalty) from θ₀ (module docstring): :meth:`run` trains,
    :meth:`theta` is the final (or, with early stopping, the best) θ."""

    def __init__(
        self, loss: MultinomialLoss, penalty: Penalty, theta0: np.ndarray, options: SgdOptions
    ) -> None:
        opt = options
        self.loss, self.penalty, self.opt = loss, penalty, opt
        self.gen = torch.Generator().manual_seed(opt.seed)
        self.engine = loss.sgd_engine(
            theta0,
            batch_size=opt.batch,
            gradient=opt.gradient,
            momentum=opt.momentum,
            nesterov=opt.nesterov,
            l2=penalty.l2,
            l1=penalty.l1,
        )
        self.callback: Any = opt.callback
        self.losses: list[float] = []
        self.rates: list[float] = []
        self.scores: list[float] = []
        self.valid_losses: list[float] = []
        self.checkpoint = opt.checkpoint
        self.start = 0
        self.best: float | None = None
        self.best_params: tuple[torch.Tensor, torch.Tensor] | None = None
        self.stall = 0
        self.lr = opt.learning_rate
        self.n_iter = 0
        self.lowest: tuple[float, int] | None = None  # (objective, epoch) of the best epoch

    def theta(self) -> np.ndarray:
        """The final θ, or with early stopping the best one seen."""
        if self.best_params is None:
            return self.loss.engine_theta(self.engine)
        w, b = self.best_params
        return self.loss.engine_theta(_Params(w, b))

    # ---------------------------------------------------------------- one epoch
    def _order(self) -> torch.Tensor | None:
        train = self.loss.rows.train
        if not self.opt.shuffle:
            return None  # the training rows in order
        perm = torch.randperm(self.loss.rows.n_train, generator=self.gen)
        return perm if train is None else train[perm]

    def _epoch(self, epoch: int, lr: float) -> float:
        loss, pen = self.engine.epoch(lr, self._order())
        sizes = self.engine.batch_sizes()  # the global batches' sizes (data-parallel too)
        value = float(((loss + pen) * sizes).sum() / sizes.sum())
        if not np.isfinite(value):
            raise TrainingDiverged(
                f"training diverged at epoch {epoch}: the objective became {value}; "
                f"{self._too_large()} (the fit was undone)",
                epoch=epoch,
            )
        if self.lowest is None or value < self.lowest[0]:
            self.lowest = (value, epoch)
        elif value > RUNAWAY * self.lowest[0]:
            raise self._rose(epoch, value)
        return value

    def _too_large(self) -> str:
        """What to lower: the learning rate, and say so when the L2 decay alone takes
        steps of lr·alpha ≥ 1/2 (each step then scales W by 1 − lr·alpha ≤ 1/2 or
        overshoots past 0)."""
        opt, alpha = self.opt, self.penalty.l2
        decay = self.lr * alpha * float((self.loss.rows.scale**-2).max())
        if decay >= 0.5:
            return (
                f"the step is too large: learning_rate={self.lr:g} with alpha={alpha:g} "
                f"makes each L2 step multiply W by {1 - decay:.3g}; lower "
                "learning_rate"
                " below 1/(2·alpha) or use solver='lbfgs'"
            )
        return (
            f"learning_rate={opt.learning_rate:g} is probably too large: lower it, or "
            "use solver='lbfgs'"
        )

    def _rose(self, epoch: int, value: float) -> TrainingDiverged:
        assert self.lowest is not None
        low, at = self.lowest
        return TrainingDiverged(
            f"training diverged: the objective rose from {low:.4g} (epoch {at}) to "
            f"{value:.4g} (epoch {epoch}); {self._too_large()} (the fit was undone)",
            epoch=epoch,
        )

    def _rate(self, epoch: int, current: float) -> float:
        opt = self.opt
        if opt.schedule == "invscaling":
            return opt.learning_rate / (epoch + 1) ** opt.power_t
        if opt.schedule == "exponential":
            return opt.learning_rate * opt.decay_rate**epoch
        return current  # constant, or adaptive (lowered on stalls by _monitor)

    # ---------------------------------------------------------------- callbacks
    def _record(self, stats: EpochStats, run: Run) -> None:
        self.losses.append(stats.loss)
        self.rates.append(stats.lr)
        if stats.acc_valid is not None and stats.ce_valid is not None:
            self.scores.append(stats.acc_valid)
            self.valid_losses.append(stats.ce_valid)
        if self.loss.is_main:
            record = stats.record()
            if self.opt.verbose:
                print(record.line() + f" - lr: {stats.lr:.4g}", flush=True)
            if self.callback is not None:
                self.callback(record)

    def _monitor(self, stats: EpochStats, run: Run) -> None:
        """Stopping rule: no improvement of ``tol`` for ``n_iter_no_change`` epochs of the
        objective (lower is better) or the validation accuracy (higher); with early
        stopping the best weights are kept. ``adaptive`` divides the rate by 5 instead
        while it stays >= 1e-6."""
        opt = self.opt
        valid = self.opt.valid is not None and opt.early_stopping
        value = stats.acc_valid if valid else -stats.loss
        assert value is not None
        if valid and (self.best is None or value > self.best):
            self.best_params = (
                self.engine.w.clone(memory_format=torch.contiguous_format),
                self.engine.b.clone(),
            )
        improved = self.best is None or value > self.best + (opt.tol or 0.0)
        self.stall = 0 if improved else self.stall + 1
        self.best = value if self.best is None else max(self.best, value)
        if self.stall >= opt.n_iter_no_change:
            if opt.schedule == "adaptive" and run.lr / 5 >= 1e-6:
                run.lr, self.stall = run.lr / 5, 0
            else:
                run.stop = "early_stopping" if valid else "tol"

    def _save(self, stats: EpochStats, run: Run) -> None:
        assert self.checkpoint is not None
        every = self.checkpoint.every
        if run.epochs_done % every == 0 or run.stop or run.epochs_done == self._epochs:
            self.lr = run.lr
            self.save(run.epochs_done, run.stop)

    # ---------------------------------------------------------------- the run
    def run(self, epochs: int, *, monitor: bool) -> str:
        """Train for at most ``epochs`` epochs; returns why training stopped."""
        self._epochs = epochs
        callbacks = [self._record]
        if monitor and self.opt.tol is not None:
            callbacks.append(self._monitor)
        if self.checkpoint is not None:
            callbacks.append(self._save)
        valid = None
        if self.opt.valid is not None:
            xv, lv = self.opt.valid

            def valid() -> tuple[float, float]:
                return self.engine.metrics(xv, lv)

        with torch.no_grad(), self.engine.threads():
            run = drive(
                self._epoch,
                epochs=epochs,
                lr=self.lr,
                start=self.start,
                schedule=self._rate,
                validate=valid,
                callbacks=callbacks,
            )
        self.n_iter = run.epochs_done
        reason = run.stop or ("max_epochs" if monitor else "partial_fit")
        floor = max(RISE_FLOOR, self.opt.tol or 0.0)
        if (
            reason in ("tol", "max_epochs")
            and self.losses
            and self.lowest is not None
            and self.losses[-1] > (1 + RISE) * self.lowest[0] + floor
        ):
            # a rising objective is never convergence (nor a result to keep)
            raise self._rose(len(self.losses) - 1, self.losses[-1])
        return reason

    # ---------------------------------------------------------------- checkpoints
    def save(self, epochs_done: int, stopped: str | None) -> None:
        """Write the whole SGD state: parameters, momentum, the shuffling generator, the
        learning rate, the stopping state and the history."""
        assert self.checkpoint is not None
        path, fp = self.checkpoint.path, self.checkpoint.fingerprint
        e = self.engine
        tensors = {"w": e.w.contiguous(), "b": e.b, "rng": self.gen.get_state()}
        if e.vw is not None and e.vb is not None:
            tensors |= {"v_w": e.vw.T.contiguous(), "v_b": e.vb}
        if self.best_params is not None:
            tensors["best_w"], tensors["best_b"] = self.best_params
        state = {
            "best": self.best,
            "stall": self.stall,
            "lr": self.lr,
            "rates": self.rates,
            "scores": self.scores,
            "valid_losses": self.valid_losses,
            "stopped": stopped,
        }
        save_checkpoint(
            path,
            tensors,
            kind="SoftmaxRegression",
            fingerprint=fp,
            epoch=epochs_done,
            history=self.losses,
            state=state,
        )

    def restore(self) -> None:
        """Load the state written by :meth:`save` (checked against the fingerprint)."""
        assert self.checkpoint is not None
        path, fp = self.checkpoint.path, self.checkpoint.fingerprint
        tensors, info = load_checkpoint(path, kind="SoftmaxRegression", fingerprint=fp)
        e = self.engine
        names = {"w": e.w, "b": e.b}
        if e.vw is not None and e.vb is not None:
            names |= {"v_w": e.vw.T, "v_b": e.vb}
        for name, target in names.items():
            if name not in tensors or tensors[name].shape != target.shape:
                raise CheckpointError(f"checkpoint: {path}: missing or misshapen {name!r}")
        st = info["state"]
        if st.get("stopped"):
            raise CheckpointError(
                f"checkpoint: {path}: that run already ended ({st['stopped']}); nothing to resume"
            )
        for name, target in names.items():
            target.copy_(tensors[name])
        self.gen.set_state(tensors["rng"])
        if "best_w" in tensors:
            self.best_params = (tensors["best_w"].to(e.wt), tensors["best_b"].to(e.b))
        self.best, self.stall, self.lr = st["best"], st["stall"], st["lr"]
        self.losses, self.rates, self.scores = list(info["history"]), st["rates"], st["scores"]
        self.valid_losses = st.get("valid_losses", [])
        self.start = info["epoch"]
        if self.losses:
            low = min(self.losses)
            self.lowest = (low, self.losses.index(low))


class _Params:
    """W (N, C) and b (C,) where :meth:`MultinomialLoss.engine_theta` expects an engine."""

    def __init__(self, w: torch.Tensor, b: torch.Tensor) -> None:
        self.w, self.b = w, b


def grad_norm(loss: MultinomialLoss, penalty: Penalty, theta: np.ndarray) -> float:
    """‖∇(f + R)‖ (Frobenius, over W and b) at θ in the original coordinates, from one
    full pass (the pseudo-gradient under an L1 part: 0 exactly at the optimum)."""
    with torch.no_grad(), loss.engine.threads(lbfgs=True):
        _, g = loss.value_and_gradient(theta)
    g_w, g_b = loss.gradient_to_original(g)
    coef, _ = loss.to_original(theta)
    g_w = penalty.gradient(coef.reshape(-1), g_w.reshape(-1))
    return float(np.sqrt((g_w**2).sum() + (g_b**2).sum()))


def sgd(
    loss: MultinomialLoss, penalty: Penalty, theta0: np.ndarray, options: SgdOptions
) -> SolverResult:
    """Train by mini-batch SGD from ``theta0`` (module docstring); with
    ``options.checkpoint`` the state is written as it goes and, with ``resume``, read
    back first. Returns the final (or best) θ with its history."""
    rows = loss.rows
    G.get(options.gradient).check_budget(
        options.batch, rows.x.shape[1], loss.n_classes, rows.x.element_size()
    )
    solver = SGDSolver(loss, penalty, theta0, options)
    if options.checkpoint is not None and options.checkpoint.resume:
        solver.restore()
    reason = solver.run(
        options.max_epochs if options.epochs is None else options.epochs,
        monitor=options.epochs is None,
    )
    theta = solver.theta()
    history = {
        "loss": solver.losses,
        "learning_rate": solver.rates,
        "validation_score": solver.scores,
        "validation_loss": solver.valid_losses,
    }
    return SolverResult(theta, solver.n_iter, history, reason, grad_norm(loss, penalty, theta))
