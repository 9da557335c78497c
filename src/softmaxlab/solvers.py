r"""The solvers of ``SoftmaxRegression``, both on the one engine (:mod:`softmaxlab.fast.engine`).

* :class:`SGDSolver`: epochs of :meth:`Engine.epoch` run by :func:`softmaxlab.training.drive`
  — rows shuffled each epoch, the learning-rate schedule, momentum, the L2 penalty, row
  weights, stopping on the objective or on held-out accuracy (restoring the best weights),
  checkpoints with exact resume.
* :func:`~softmaxlab.fullbatch.lbfgs`: full-batch L-BFGS (:mod:`softmaxlab.optim`) whose
  objective and gradient are one full pass of the engine (:meth:`Engine.objective`).

Both work in standardised coordinates without ever copying X: the engine reads each row
as :math:`(x - \mu) \odot d^{-1}` and trains :math:`\tilde W = \operatorname{diag}(d) W`,
:math:`\tilde b = b + \mu^\top W`; the penalty :math:`\frac\alpha2\lVert W\rVert^2 =
\frac\alpha2\sum_k d_k^{-2}\lVert\tilde W_k\rVert^2` stays on the original coordinates.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning

from . import gradients as G
from .errors import InvalidInputError, TrainingDiverged
from .fast import comm
from .fast.sparse import make_engine
from .fullbatch import FULL_PASS_CHUNK, lbfgs
from .io.checkpoint import CheckpointError, fingerprint, load_checkpoint, save_checkpoint
from .optim import pseudo_gradient
from .training import EpochStats, Run, drive

__all__ = ["Problem", "SGDSolver", "grad_norm", "lbfgs", "solve"]


#: An epoch objective this many times the lowest one so far stops SGD at once (diverging).
RUNAWAY = 1e3
#: A run that ends (stopping rule or last epoch) with its objective above
#: ``(1 + RISE) × lowest + max(tol, RISE_FLOOR)`` did not converge: its step was too large.
RISE, RISE_FLOOR = 0.1, 1e-2


@dataclass
class Problem:
    """One fit's data as the engine takes it: all rows ``x`` (n, N) (never copied),
    ``labels`` (n,), row ``weight`` (n,) with mean 1 over the training rows, the training
    rows ``train`` (indices, or ``None`` for all), validation rows ``valid`` (features,
    labels) or ``None``, and the standardisation ``mean``/``scale`` (N,)."""

    x: torch.Tensor
    labels: torch.Tensor
    weight: torch.Tensor
    train: torch.Tensor | None
    valid: tuple[torch.Tensor, torch.Tensor] | None
    mean: torch.Tensor
    scale: torch.Tensor
    alpha: float = 0.0  # the L2 strength of the objective: alpha_ · (1 − ρ)
    l1: float = 0.0  # the L1 strength: alpha_ · ρ (SoftmaxRegression.penalty, l1_ratio)

    @property
    def n_train(self) -> int:
        return self.x.shape[0] if self.train is None else self.train.shape[0]


class SGDSolver:
    """Mini-batch SGD of one ``fit``/``partial_fit`` (see the module docstring).

    ``est`` supplies the hyper-parameters; ``w``/``b`` start the standardised parameters;
    ``gen`` drives the shuffling. After :meth:`run`, :attr:`w`/:attr:`b` are the final
    (or, with early stopping, the best) standardised parameters."""

    def __init__(
        self,
        est: Any,
        problem: Problem,
        w: torch.Tensor,
        b: torch.Tensor,
        gen: torch.Generator,
        batch: int,
    ) -> None:
        self.est, self.problem, self.gen = est, problem, gen
        p = problem
        self.engine = make_engine(
            p.x,
            p.labels,
            w,
            b,
            batch_size=batch,
            gradient=est.gradient,
            weight=p.weight,
            mean=p.mean,
            inv_scale=1 / p.scale,
            penalty=p.scale**-2,
            alpha=p.alpha,
            momentum=est.momentum,
            nesterov=est.nesterov,
            rows=p.train,
            l1=p.l1,
            l1_penalty=1 / p.scale,
        )
        self.losses: list[float] = []
        self.rates: list[float] = []
        self.scores: list[float] = []
        self.valid_losses: list[float] = []
        self.callback: Any = None
        self.checkpoint: tuple[Any, int, str] | None = None  # (path, every, fingerprint)
        self.start = 0
        self.best: float | None = None
        self.best_params: tuple[torch.Tensor, torch.Tensor] | None = None
        self.stall = 0
        self.lr = est.learning_rate
        self.n_iter = 0
        self.lowest: tuple[float, int] | None = None  # (objective, epoch) of the best epoch

    @property
    def w(self) -> torch.Tensor:
        return self.best_params[0] if self.best_params is not None else self.engine.w.contiguous()

    @property
    def b(self) -> torch.Tensor:
        return self.best_params[1] if self.best_params is not None else self.engine.b

    # ---------------------------------------------------------------- one epoch
    def _order(self) -> torch.Tensor | None:
        train = self.problem.train
        if not self.est.shuffle:
            return None  # the training rows in order
        perm = torch.randperm(self.problem.n_train, generator=self.gen)
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
        est, alpha = self.est, self.problem.alpha
        decay = self.lr * alpha * float((self.problem.scale**-2).max())
        if decay >= 0.5:
            return (
                f"the step is too large: learning_rate={self.lr:g} with alpha={alpha:g} "
                f"makes each L2 step multiply W by {1 - decay:.3g}; lower "
                "learning_rate"
                " below 1/(2·alpha) or use solver='lbfgs'"
            )
        return (
            f"learning_rate={est.learning_rate:g} is probably too large: lower it, or "
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
        est = self.est
        if est.schedule == "invscaling":
            return est.learning_rate / (epoch + 1) ** est.power_t
        if est.schedule == "exponential":
            return est.learning_rate * est.decay_rate**epoch
        return current  # constant, or adaptive (lowered on stalls by _monitor)

    # ---------------------------------------------------------------- callbacks
    def _record(self, stats: EpochStats, run: Run) -> None:
        self.losses.append(stats.loss)
        self.rates.append(stats.lr)
        if stats.acc_valid is not None and stats.ce_valid is not None:
            self.scores.append(stats.acc_valid)
            self.valid_losses.append(stats.ce_valid)
        if comm.is_main():
            record = stats.record()
            if self.est.verbose:
                print(record.line() + f" - lr: {stats.lr:.4g}", flush=True)
            if self.callback is not None:
                self.callback(record)

    def _monitor(self, stats: EpochStats, run: Run) -> None:
        """Stopping rule: no improvement of ``tol`` for ``n_iter_no_change`` epochs of the
        objective (lower is better) or the validation accuracy (higher); with early
        stopping the best weights are kept. ``adaptive`` divides the rate by 5 instead
        while it stays >= 1e-6."""
        est = self.est
        valid = self.problem.valid is not None and est.early_stopping
        value = stats.acc_valid if valid else -stats.loss
        assert value is not None
        if valid and (self.best is None or value > self.best):
            self.best_params = (
                self.engine.w.clone(memory_format=torch.contiguous_format),
                self.engine.b.clone(),
            )
        improved = self.best is None or value > self.best + est.tol
        self.stall = 0 if improved else self.stall + 1
        self.best = value if self.best is None else max(self.best, value)
        if self.stall >= est.n_iter_no_change:
            if est.schedule == "adaptive" and run.lr / 5 >= 1e-6:
                run.lr, self.stall = run.lr / 5, 0
            else:
                run.stop = "early_stopping" if valid else "tol"

    def _save(self, stats: EpochStats, run: Run) -> None:
        assert self.checkpoint is not None
        _, every, _ = self.checkpoint
        if run.epochs_done % every == 0 or run.stop or run.epochs_done == self._epochs:
            self.lr = run.lr
            self.save(run.epochs_done, run.stop)

    # ---------------------------------------------------------------- the run
    def run(self, epochs: int, *, monitor: bool) -> str:
        """Train for at most ``epochs`` epochs; returns why training stopped."""
        self._epochs = epochs
        callbacks = [self._record]
        if monitor and self.est.tol is not None:
            callbacks.append(self._monitor)
        if self.checkpoint is not None:
            callbacks.append(self._save)
        valid = None
        if self.problem.valid is not None:
            xv, lv = self.problem.valid

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
        floor = max(RISE_FLOOR, self.est.tol or 0.0)
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
        path, _, fp = self.checkpoint
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
        path, _, fp = self.checkpoint
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


def solve(
    est: Any,
    problem: Problem,
    *,
    np_dtype: Any,
    seed: int,
    callback: Any,
    epochs: int | None,
    fingerprint_data: list[Any],
    grad_weight: torch.Tensor,
) -> Any:
    """Train on a prepared :class:`~softmaxlab.solvers.Problem` (with ``alpha_`` and
    ``solver_`` resolved) and set the fitted attributes. ``seed`` seeds the
    shuffling; ``fingerprint_data`` identifies the data for checkpoints;
    ``grad_weight`` are the row weights of the final ‖∇J‖ pass. Also the entry of
    sharded data-parallel fits (:func:`softmaxlab.distributed.fit_file_estimator`),
    whose ranks each prepare a problem of their own rows."""
    xt, labels, valid, mu, d = problem.x, problem.labels, problem.valid, problem.mean, problem.scale
    kw: dict[str, Any] = {"dtype": xt.dtype, "device": xt.device}
    checkpointing = getattr(est, "_checkpoint", (None,))[0] is not None
    w0 = torch.tensor(est.coef_.T, **kw)
    w = (w0 * d.unsqueeze(1)).contiguous()
    b = torch.tensor(est.intercept_, **kw) + mu @ w0
    if est.solver_ == "lbfgs":
        if checkpointing:
            raise InvalidInputError("checkpoint: works with solver='sgd' only")
        res = lbfgs(est, problem, w, b, callback)
        w, b, losses, n_iter, reason = res.w, res.b, res.losses, res.n_iter, res.reason
        valid_losses, scores = res.valid_losses, res.scores
        rates: list[float] = []
        # ‖∇J‖ in the original coordinates from the last evaluation's gradient:
        # ∂J/∂W = diag(d) ∂J̃/∂W̃ + μ (∂J̃/∂b̃)ᵀ, ∂J/∂b = ∂J̃/∂b̃ (no extra pass)
        g = res.grad.numpy()
        n_w = w.numel()
        d_np, mu_np = d.double().cpu().numpy(), mu.double().cpu().numpy()
        g_b = g[n_w:]
        g_w = g[:n_w].reshape(w.shape[1], w.shape[0]) * d_np + np.outer(g_b, mu_np)
        lbfgs_grad_norm = float(np.sqrt((g_w**2).sum() + (g_b**2).sum()))
    else:
        G.get(est.gradient).check_budget(
            batch := est._batch(problem.n_train), xt.shape[1], len(est.classes_), xt.element_size()
        )
        gen = torch.Generator().manual_seed(seed)
        solver = SGDSolver(est, problem, w, b, gen, batch)
        solver.callback = callback
        path, every, resume = getattr(est, "_checkpoint", (None, 1, False))
        if path is not None:
            settings = {
                k: v
                for k, v in est.get_params().items()
                if k not in ("verbose", "max_epochs", "warm_start")
            }
            solver.checkpoint = (
                path,
                every,
                fingerprint(
                    fingerprint_data, {**settings, "classes": [str(c) for c in est.classes_]}
                ),
            )
            if resume:
                solver.restore()
        reason = solver.run(est.max_epochs if epochs is None else epochs, monitor=epochs is None)
        w, b, losses, n_iter = solver.w, solver.b, solver.losses, solver.n_iter
        rates, scores = solver.rates, solver.scores
        valid_losses = solver.valid_losses
    # back to the original coordinates: W = diag(d)⁻¹ W̃, b = b̃ − μᵀW
    w_np = w.double().cpu().numpy() / d.double().cpu().numpy()[:, None]
    b_np = b.double().cpu().numpy() - mu.double().cpu().numpy() @ w_np
    est.loss_curve_ = [*est.loss_curve_, *losses]
    est.n_iter_ = n_iter
    est.stop_reason_ = reason
    est.history_ = {
        "loss": losses,
        "learning_rate": rates,
        "validation_score": scores,
        "validation_loss": valid_losses,
        "stop_reason": reason,
    }
    if valid is not None:
        est.validation_scores_ = scores
    elif "validation_scores_" in est.__dict__:
        del est.validation_scores_
    if reason == "max_epochs" and est.tol is not None:
        what = (
            "L-BFGS"
            if est.solver_ == "lbfgs"
            else "the validation accuracy"
            if est.early_stopping
            else "the objective"
        )
        warnings.warn(
            f"SoftmaxRegression: max_epochs={est.max_epochs} reached before {what} "
            f"converged (tol={est.tol}); increase max_epochs or learning_rate",
            ConvergenceWarning,
            stacklevel=4,
        )
    est.coef_ = np.ascontiguousarray(w_np.T, dtype=np_dtype)
    est.intercept_ = b_np.astype(np_dtype)
    est.grad_norm_ = (
        lbfgs_grad_norm if est.solver_ == "lbfgs" else grad_norm(est, xt, labels, grad_weight)
    )
    return est


def grad_norm(est: Any, x: torch.Tensor, labels: torch.Tensor, weight: torch.Tensor) -> float:
    """‖∇J‖ (Frobenius, over W and b) at ``est``'s fitted parameters, on the rows given to fit,
    in the original coordinates (one full pass of the engine)."""
    rho = est._rho()
    engine = make_engine(
        x,
        labels,
        torch.from_numpy(est.coef_.T),
        torch.from_numpy(est.intercept_),
        batch_size=min(FULL_PASS_CHUNK, x.shape[0]),
        weight=weight,
        alpha=est.alpha_ * (1 - rho),
    )
    with torch.no_grad(), engine.threads(lbfgs=True):
        engine.objective()
    gw = engine.gw.double().cpu().numpy()
    if rho:  # the L1 term's part: the pseudo-gradient (0 exactly at the optimum)
        gw = pseudo_gradient(est.coef_.astype(np.float64), gw, np.full(gw.shape, est.alpha_ * rho))
    return float(np.sqrt((gw**2).sum() + float((engine.gb.double() ** 2).sum())))
