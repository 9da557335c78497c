r"""The fast training path: the seed's loop with the fused gradient, in few kernel launches.

Same mathematics as ``gradient="fused"`` (:math:`\partial L/\partial Z = (\hat Y - Y)/m`,
:math:`\partial L/\partial W = X^\top\partial L/\partial Z`,
:math:`\partial L/\partial b = \mathbf 1^\top\partial L/\partial Z`), arranged for speed
(measured in ``benchmarks/``):

* **Transposed layout.** It keeps :math:`W^\top` (C, N) and computes
  :math:`Z^\top = W^\top X_B^\top + b\mathbf 1^\top` (C, B): the softmax over the C classes
  of each row becomes a reduction over the leading dimension, which PyTorch vectorises
  across the B samples (a row-wise softmax over 10 classes is several times slower).
* **Four launches per step**: with the bias folded into the parameters as a last column
  (:math:`[W^\top | b]`, against :math:`[X | 1]`), a step is ``mm`` (logits), ``softmax``,
  ``sub_`` (:math:`\hat Y - Y`) and the whole update
  :math:`[W^\top | b] \leftarrow [W^\top | b] - \frac{\eta}{m}(\hat Y - Y)^\top [X | 1]`
  as one in-place ``addmm_``. No autograd, no intermediate gradient tensors. The price is
  one copy of the training rows per ``fit``. A fifth launch gathers the true class's
  probability for the logged loss.
* **No work repeated per batch**: batch views, the transposed one-hot targets and one
  (k, C, B) buffer for the epoch's logits are made once per ``fit``; each step writes its
  logits (``mm(..., out=)``) and its true-class probabilities (``gather(..., out=)``) into
  preallocated buffers, and the logged loss of every batch (taken before its step) is
  computed for the whole epoch at once.
* **One native pass between the GEMMs** when :mod:`softmaxlab.native` could build its
  kernel: softmax, the true class's loss (in the stable form
  :math:`\max_j z_j + \log\sum_l e^{z_l - \max_j z_j} - z_{true}`) and the subtraction of
  Y in one pass over the (C, m) block, called through ctypes, so a step is ``mm``, the
  kernel and ``addmm_``.
* **The whole epoch in one native call** when PyTorch's CPU library also exports its BLAS
  (``dgemm``/``sgemm``; MKL in the x86-64 wheels): the same two GEMMs per step, on the
  same BLAS routine ``torch.mm`` uses, with the kernel between them, and no return to
  Python per step — results identical to the step-by-step loop.

Without a C compiler, with ``SOFTMAXLAB_NATIVE=0``, or off the CPU, the PyTorch ops above
run instead.

It gives the parameters of ``gradient="chain"`` to rounding
(``tests/test_fast.py``).
"""

from __future__ import annotations

import torch

from . import native
from .errors import diverged

__all__ = ["PATHS", "FusedTrainer"]

#: How a fused step can run, fastest first (see FusedTrainer).
PATHS = ("auto", "native-epoch", "native-step", "torch")


class FusedTrainer:
    """In-order mini-batch SGD for ``SoftmaxClassifier`` with the fused gradient.

    ``x`` (n, N) and one-hot ``y`` (n, C) are the validated training data; the trainer
    starts from ``w`` (N, C) and ``b`` (C,) and keeps its own copy of the parameters
    (``[Wᵀ | b]``, (C, N+1)) until :meth:`write_back`.

    ``path`` chooses how a step runs (``self.path`` tells which did): ``"native-epoch"``
    (the whole epoch in one native call on PyTorch's BLAS), ``"native-step"`` (the Python
    loop with the native kernel between the two GEMMs), ``"torch"`` (PyTorch ops only), or
    ``"auto"`` (the first of these that is available here). All give the same parameters
    to rounding.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int,
                 w: torch.Tensor, b: torch.Tensor, *, path: str = "auto") -> None:
        n, c = y.shape
        self.n_features = x.shape[1]
        batch_size = min(batch_size, n)
        starts = range(0, n, batch_size)
        # [X | 1]: the bias becomes the last column of the parameters, so a step's two
        # GEMMs carry it (no broadcast copy, no separate sum and update). Costs one copy
        # of the training rows per fit.
        xa = torch.empty(n, self.n_features + 1, dtype=x.dtype, device=x.device)
        xa[:, :-1] = x
        xa[:, -1] = 1
        self.xs = [xa[s : s + batch_size] for s in starts]
        self.ys_t = [y[s : s + batch_size].T.contiguous() for s in starts]
        self.sizes = [xb.shape[0] for xb in self.xs]
        self.wa_t = torch.cat([w.T, b.unsqueeze(1)], dim=1).contiguous()  # (C, N+1)
        k = len(self.xs)
        # One (k, C, B) buffer for the epoch's logits, zero-padded after the short last
        # batch: batch j writes its (C, m_j) block in place, and the losses of all batches
        # come out of a few whole-buffer operations (no list, no concatenation).
        self.z_store = torch.zeros(k, c, batch_size, dtype=x.dtype, device=x.device)
        self.z_blocks = [self.z_store[j, :, :m] for j, m in enumerate(self.sizes)]
        labels = torch.zeros(k * batch_size, dtype=torch.long, device=x.device)
        labels[:n] = y.argmax(dim=1)
        self.labels = labels.view(k, 1, batch_size)
        self.label_rows = [self.labels[j, :, :m] for j, m in enumerate(self.sizes)]
        # the probability of each row's true class, gathered by the step that computes it
        # (padding: 1, whose log is 0)
        self.p_true = torch.ones(k, 1, batch_size, dtype=x.dtype, device=x.device)
        self.p_blocks = [self.p_true[j, :, :m] for j, m in enumerate(self.sizes)]
        # The native kernel (softmaxlab.native) replaces softmax, gather and sub_ by one
        # pass that leaves (Ŷ - Y)ᵀ in the logits buffer and each row's loss in
        # `row_loss`; its arguments are raw pointers, fixed for the whole fit.
        if path not in PATHS:
            raise ValueError(f"path: one of {PATHS}, got {path!r}")
        can_step = native.available(x.dtype, x.device)
        can_epoch = can_step and native.epoch_available(x.dtype, x.device)
        if path == "auto":
            path = "native-epoch" if can_epoch else "native-step" if can_step else "torch"
        elif (path == "native-epoch" and not can_epoch) or (path == "native-step"
                                                              and not can_step):
            raise ValueError(f"path: {path} is not available here (see softmaxlab.native)")
        self.path = path
        self.native = path != "torch"
        self.row_loss = torch.zeros(k, 1, batch_size, dtype=x.dtype, device=x.device)
        self.native_calls = []
        self.native_epoch = None
        if path == "native-epoch":
            fn, gemm = native.epoch(x.dtype)
            self.xa = xa  # the C loop reads the rows through this pointer
            self.native_epoch = (fn, (gemm, self.wa_t.data_ptr(), c, self.n_features + 1,
                                      xa.data_ptr(), n, batch_size, self.z_store.data_ptr(),
                                      self.labels.data_ptr(), self.row_loss.data_ptr()))
        elif path == "native-step":
            kernel = native.softmax_grad(x.dtype)
            self.native_calls = [
                (kernel, (z.data_ptr(), batch_size, c, m, lab.data_ptr(),
                          self.row_loss[j].data_ptr()))
                for j, (z, lab, m) in enumerate(zip(self.z_blocks, self.label_rows,
                                                    self.sizes, strict=True))]
        # 1/m_j for real rows, 0 for padding: a weighted sum gives each batch's mean loss
        weight = torch.zeros(k * batch_size, dtype=x.dtype, device=x.device)
        weight[:n] = torch.repeat_interleave(
            1.0 / torch.tensor(self.sizes, dtype=x.dtype), torch.tensor(self.sizes)
        ).to(x.device)
        self.row_weight = weight.view(k, batch_size)

    def epoch(self, lr: float) -> torch.Tensor:
        """One pass over the batches; returns each batch's loss before its step (k,).

        Finiteness is checked once per epoch (no per-step synchronisation). If the loss or
        the parameters became non-finite, the epoch is replayed from its start one checked
        step at a time, so that :class:`~softmaxlab.errors.TrainingDiverged` names the
        batch and the parameters stay at their last finite values."""
        wa_t = self.wa_t
        start = wa_t.clone()
        if self.native_epoch is not None:
            run, args = self.native_epoch
            run(*args, lr)  # the loop below, in C, on PyTorch's BLAS
            return self._checked(start, lr)
        if self.native:
            for xb, z_t, (kernel, args), m in zip(self.xs, self.z_blocks, self.native_calls,
                                                  self.sizes, strict=True):
                torch.mm(wa_t, xb.T, out=z_t)  # Zᵀ = [Wᵀ | b] [X | 1]ᵀ   (C, m)
                kernel(*args)  # Zᵀ ← (Ŷ - Y)ᵀ, row_loss ← -log ŷ_true (one pass)
                wa_t.addmm_(z_t, xb, alpha=-lr / m)  # [Wᵀ | b] -= lr/m (Ŷ - Y)ᵀ [X | 1]
            return self._checked(start, lr)
        for xb, yb_t, z_t, lab, p_t, m in zip(self.xs, self.ys_t, self.z_blocks,
                                              self.label_rows, self.p_blocks, self.sizes,
                                              strict=True):
            torch.mm(wa_t, xb.T, out=z_t)  # Zᵀ = [Wᵀ | b] [X | 1]ᵀ   (C, m)
            g_t = torch.softmax(z_t, dim=0)  # Ŷᵀ
            torch.gather(g_t, 0, lab, out=p_t)  # ŷ of the true class, for the loss
            g_t.sub_(yb_t)  # (Ŷ - Y)ᵀ = m ∂L/∂Zᵀ
            wa_t.addmm_(g_t, xb, alpha=-lr / m)  # [Wᵀ | b] -= lr/m (Ŷ - Y)ᵀ [X | 1]
        return self._checked(start, lr)

    def _checked(self, start: torch.Tensor, lr: float) -> torch.Tensor:
        losses = self.batch_losses()
        if not bool(torch.isfinite(losses).all() & torch.isfinite(self.wa_t).all()):
            self.wa_t.copy_(start)
            self._replay(lr)
        return losses

    def _replay(self, lr: float) -> None:
        """Redo the epoch step by step from its start; raise at the first non-finite one."""
        wa_t = self.wa_t
        for j, (xb, yb_t, m) in enumerate(zip(self.xs, self.ys_t, self.sizes, strict=True)):
            z_t = wa_t @ xb.T
            if not bool(torch.isfinite(z_t).all()):
                raise diverged(lr, j, "the logits")
            new = wa_t.addmm(torch.softmax(z_t, dim=0).sub_(yb_t), xb, alpha=-lr / m)
            if not bool(torch.isfinite(new).all()):
                raise diverged(lr, j, "the parameters")
            wa_t.copy_(new)
        raise diverged(lr, len(self.xs) - 1, "the loss")  # not reached in exact arithmetic

    def batch_losses(self) -> torch.Tensor:
        """Mean cross-entropy of each batch, from what :meth:`epoch` stored: ``-log ŷ_true``
        per row, one pass over n values. Where ŷ_true underflowed to 0 that would be
        infinite, so the rows are then recomputed stably from the stored logits as
        ``logsumexp(z) - z_true`` (finite for any finite logits)."""
        if self.native:  # the kernel wrote each row's loss, stably
            return (self.row_loss[:, 0] * self.row_weight).sum(dim=1)
        rows = self.p_true[:, 0].log().neg_()  # (k, B)
        if not bool(torch.isfinite(rows).all()):
            z = self.z_store
            rows = torch.logsumexp(z, dim=1) - z.gather(1, self.labels)[:, 0]
        return (rows * self.row_weight).sum(dim=1)

    def validate(self, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
        """Validation CE and accuracy in one pass over ``x`` (no autograd)."""
        w_t, b = self.wa_t[:, :-1], self.wa_t[:, -1]
        z_t = torch.addmm(b.unsqueeze(1), w_t, x.T)  # (C, n)
        labels = y.argmax(dim=1)
        ce = -torch.log_softmax(z_t, dim=0).gather(0, labels.unsqueeze(0)).mean()
        acc = (z_t.argmax(dim=0) == labels).to(z_t.dtype).mean()
        return ce.item(), acc.item()

    def write_back(self, w: torch.Tensor, b: torch.Tensor) -> None:
        """Copy the trained parameters into ``w`` (N, C) and ``b`` (C,) in place."""
        w.copy_(self.wa_t[:, :-1].T)
        b.copy_(self.wa_t[:, -1])
