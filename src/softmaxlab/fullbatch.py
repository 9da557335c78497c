"""The full-batch solver of ``SoftmaxRegression(solver="lbfgs")``: L-BFGS (OWL-QN with an
L1 term, :mod:`softmaxlab.optim`) whose objective and gradient are one full pass of the
engine (:meth:`softmaxlab.fast.engine.Engine.objective`), in the standardised coordinates
of :class:`softmaxlab.solvers.Problem`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .errors import InvalidInputError
from .fast import comm
from .fast.sparse import make_engine
from .optim import minimize_lbfgs, minimize_owlqn
from .training import EpochRecord

__all__ = ["FULL_PASS_CHUNK", "LbfgsResult", "lbfgs"]

#: rows per pass of the full-batch objective (bounds the engine's buffers)
FULL_PASS_CHUNK = 4096


@dataclass
class LbfgsResult:
    """What :func:`lbfgs` returns: the standardised W (N, C) and b (C,), the objective,
    held-out CE and accuracy per iteration, the iteration count, the stop reason and the
    gradient at the result (Wᵀ (C, N) then b, flat, standardised coordinates)."""

    w: torch.Tensor
    b: torch.Tensor
    losses: list[float]
    n_iter: int
    reason: str
    valid_losses: list[float]
    scores: list[float]
    grad: torch.Tensor


def lbfgs(
    est: Any, problem: Any, w: torch.Tensor, b: torch.Tensor, callback: Any = None
) -> LbfgsResult:
    """Full-batch L-BFGS (:func:`softmaxlab.optim.minimize_lbfgs`) on the penalised
    objective, each evaluation
    one full pass of the engine. The parameter vector is laid out as the engine's flat
    gradient buffer (Wᵀ row by row, then b), so an evaluation is one copy in, one pass,
    one copy out. After each iteration the held-out rows (if any) are scored and
    ``callback(record)`` sees an :class:`EpochRecord` (iteration, objective, held-out CE
    and accuracy)."""
    p = problem
    # unscaled rows (sparse L-BFGS): no per-feature scaling or penalty weights to apply
    unit = bool((p.scale == 1).all())
    engine = make_engine(
        p.x,
        p.labels,
        w,
        b,
        batch_size=min(FULL_PASS_CHUNK, p.x.shape[0]),
        weight=p.weight,
        mean=p.mean,
        inv_scale=None if unit else 1 / p.scale,
        penalty=None if unit else p.scale**-2,
        alpha=p.alpha,
        rows=p.train,
    )
    n_w = engine.wt.numel()
    nf = engine.n_features
    losses: list[float] = []
    valid_losses: list[float] = []
    scores: list[float] = []
    # Two classes: the optimum's weights are centred (w₀ = −w₁), so L-BFGS runs on the
    # log-odds parameters d = w₁ − w₀, c = b₁ − b₀ (W = [−d/2, d/2]) — the variables, and
    # so the steps, of scikit-learn's binary LogisticRegression; the objective is the
    # same function, ∂J/∂d = (∂J/∂w₁ − ∂J/∂w₀)/2.
    binary = engine.n_classes == 2

    # The parameter vector follows the engine's storage of W (``w_store``: Wᵀ (C, N) on
    # dense rows, W (N, C) on sparse ones) then b, as its flat gradient buffer does, so an
    # evaluation is one copy in, one pass, one copy out. float64 CPU parameters are loaded
    # through numpy views of the engine's tensors; anything else through torch.
    views = engine.wt.dtype == torch.float64 and engine.wt.device.type == "cpu"
    store_np = engine.w_store.numpy() if views else None
    wt_np = engine.wt.numpy() if views else None  # (C, N), a view in any layout
    b_np = engine.b.numpy() if views else None

    def load(theta: np.ndarray) -> None:
        if views and binary:
            np.multiply(theta[:nf], 0.5, out=wt_np[1])
            np.negative(wt_np[1], out=wt_np[0])
            b_np[1] = 0.5 * theta[nf]
            b_np[0] = -b_np[1]
        elif views:
            store_np.reshape(-1)[:] = theta[:n_w]
            b_np[:] = theta[n_w:]
        elif binary:
            t = torch.from_numpy(theta)
            half = (t[:nf] / 2).to(engine.wt)
            engine.wt[0].copy_(-half)
            engine.wt[1].copy_(half)
            engine.b.copy_(torch.stack([-t[nf] / 2, t[nf] / 2]))
        else:
            t = torch.from_numpy(theta)
            engine.w_store.view(-1).copy_(t[:n_w])
            engine.b.copy_(t[n_w:])

    def fun(theta: np.ndarray) -> tuple[float, np.ndarray]:
        load(theta)
        value = engine.objective()
        if binary:
            gw = engine.gw.double().cpu().numpy()  # (C, N), any layout
            out = np.empty(nf + 1)
            np.subtract(gw[1], gw[0], out=out[:nf])
            out[nf] = float(engine.gb[1] - engine.gb[0])
            out *= 0.5
            return value, out
        g = engine.flat[:-1].cpu().numpy()
        return value, g if g.dtype == np.float64 else g.astype(np.float64)

    def record(intermediate_result: Any) -> None:
        losses.append(float(intermediate_result.fun))
        ce_v = acc_v = None
        if p.valid is not None:
            load(intermediate_result.x)
            ce_v, acc_v = engine.metrics(*p.valid)
            valid_losses.append(ce_v)
            scores.append(acc_v)
        if comm.is_main():
            rec = EpochRecord(len(losses) - 1, losses[-1], ce_v, acc_v)
            if est.verbose:
                print(f"iteration: {len(losses)} - objective: {losses[-1]:.6g}")
            if callback is not None:
                callback(rec)

    theta0 = (
        torch.cat(
            [engine.wt[1] - engine.wt[0], (engine.b[1] - engine.b[0]).reshape(1)]
            if binary
            else [engine.w_store.reshape(-1), engine.b]
        )
        .cpu()
        .numpy()
        .astype(np.float64)
    )
    gtol = 0.0 if est.tol is None else est.tol
    c = engine.n_classes

    def layout(per_feature: np.ndarray) -> np.ndarray:
        """A per-feature vector laid out as the parameter vector (0 for intercepts)."""
        weights = (
            per_feature
            if binary
            else np.repeat(per_feature, c)
            if engine.w_store is not engine.wt
            else np.tile(per_feature, c)
        )
        return np.concatenate([weights, np.zeros(1 if binary else c)])

    # Along a regularisation path (softmaxlab.path.fit_path) the curvature pairs of the
    # previous C are kept: only the L2 term changed, by Δα·h (h: its Hessian at α = 1,
    # p/2 on the log-odds of two classes), so the shifted pairs are exact here.
    carried = None if p.l1 else getattr(est, "_path_memory", None)
    memory = None
    key = (theta0.shape[0], float(p.scale.double().sum()))
    if carried is not None and carried[0] == key and carried[2] is not None:
        memory = carried[2]
        pen = (p.scale.double() ** -2).cpu().numpy() * (0.5 if binary else 1.0)
        memory.shift((p.alpha - carried[1]) * layout(pen))
    with torch.no_grad(), engine.threads(lbfgs=True):
        if p.l1:  # OWL-QN: |W_kl| = |W̃_kl| / d_k, in the parameter vector's layout
            l1 = layout((p.l1 / p.scale).double().cpu().numpy())
            # ftol=0: stop on gtol, or when f stops decreasing at all (an L1 optimum of an
            # ill-conditioned problem is reached by many tiny decreases)
            # (no curvature carried: after the orthants change between Cs, old pairs
            # cost OWL-QN iterations — 445 against 307 along iris's elastic-net path)
            res = minimize_owlqn(
                fun, theta0, l1, maxiter=est.max_epochs, callback=record, gtol=gtol, ftol=0.0
            )
        else:
            res = minimize_lbfgs(
                fun, theta0, maxiter=est.max_epochs, callback=record, gtol=gtol, memory=memory
            )
    if carried is not None or hasattr(est, "_path_memory"):
        est._path_memory = (key, p.alpha, res.memory or memory)
    if not np.isfinite(res.fun):
        raise InvalidInputError("solver: L-BFGS reached a non-finite objective")
    load(res.x)
    if not losses:
        losses.append(float(res.fun))
    jac = torch.from_numpy(np.asarray(res.jac, dtype=np.float64))
    if binary:  # at centred weights ∂J/∂w₀ = −∂J/∂w₁ = −∂J/∂d (likewise for b)
        jac = torch.cat([-jac[:nf], jac[:nf], -jac[nf:], jac[nf:]])
    elif engine.w_store is not engine.wt:  # W's storage is (N, C): Wᵀ (C, N) first
        c = engine.n_classes
        jac = torch.cat([jac[:n_w].view(nf, c).T.reshape(-1), jac[n_w:]])
    return LbfgsResult(
        engine.w.contiguous(),
        engine.b.clone(),
        losses,
        max(int(res.nit), 1),
        "converged" if res.status == 0 else "max_epochs",
        valid_losses,
        scores,
        jac,
    )
