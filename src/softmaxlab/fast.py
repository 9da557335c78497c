r"""The fast training path: the seed's loop with the fused gradient, in few kernel launches.

Same mathematics as ``gradient="fused"`` (:math:`\partial L/\partial Z = (\hat Y - Y)/m`,
:math:`\partial L/\partial W = X^\top\partial L/\partial Z`,
:math:`\partial L/\partial b = \mathbf 1^\top\partial L/\partial Z`), arranged for speed
(measured in ``benchmarks/``):

* **Transposed layout.** It keeps :math:`W^\top` (C, N) and computes
  :math:`Z^\top = W^\top X_B^\top + b\mathbf 1^\top` (C, B): the softmax over the C classes
  of each row becomes a reduction over the leading dimension, which PyTorch vectorises
  across the B samples (a row-wise softmax over 10 classes is several times slower).
* **Four launches for a step's gradient**: ``addmm`` (logits), ``softmax``, ``sub_``
  (:math:`\hat Y - Y`), and the update :math:`W^\top \leftarrow W^\top - \frac{\eta}{m}
  (\hat Y - Y)^\top X_B` as one in-place ``addmm_``; the bias takes a ``sum`` and an
  ``add_``. No autograd, no intermediate gradient tensors.
* **No work repeated per batch**: batch views and the transposed one-hot targets are made
  once per ``fit``; the logged loss of each batch (taken before its step) is computed for
  the whole epoch at once from the logits the steps already produced.

It gives the parameters of ``gradient="chain"`` to rounding
(``tests/test_fast.py``).
"""

from __future__ import annotations

import torch

__all__ = ["FusedTrainer"]


class FusedTrainer:
    """In-order mini-batch SGD for ``SoftmaxClassifier`` with the fused gradient.

    ``x`` (n, N) and one-hot ``y`` (n, C) are the validated training data; ``w_t`` (C, N)
    and ``b`` (C,) are updated in place.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int) -> None:
        n = x.shape[0]
        starts = range(0, n, batch_size)
        self.xs = [x[s : s + batch_size] for s in starts]
        self.ys_t = [y[s : s + batch_size].T.contiguous() for s in starts]
        self.sizes = [xb.shape[0] for xb in self.xs]
        self.labels = y.argmax(dim=1)
        # which batch each row belongs to, for the per-batch mean of the epoch's losses
        self.batch_of_row = torch.repeat_interleave(
            torch.arange(len(self.xs), device=x.device),
            torch.tensor(self.sizes, device=x.device),
        )

    def epoch(self, w_t: torch.Tensor, b: torch.Tensor, lr: float) -> torch.Tensor:
        """One pass over the batches; returns each batch's loss before its step (k,)."""
        b_col = b.unsqueeze(1)  # a view: follows b's in-place updates
        logits = []
        for xb, yb_t, m in zip(self.xs, self.ys_t, self.sizes, strict=True):
            z_t = torch.addmm(b_col, w_t, xb.T)  # Zᵀ = Wᵀ Xᵀ + b 1ᵀ   (C, m)
            logits.append(z_t)
            g_t = torch.softmax(z_t, dim=0).sub_(yb_t)  # (Ŷ - Y)ᵀ = m ∂L/∂Zᵀ
            w_t.addmm_(g_t, xb, alpha=-lr / m)  # Wᵀ -= lr/m (Ŷ - Y)ᵀ X
            b.add_(g_t.sum(dim=1), alpha=-lr / m)  # b -= lr/m 1ᵀ(Ŷ - Y)
        return self.batch_losses(torch.cat(logits, dim=1))

    def batch_losses(self, z_t: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy of each batch from the epoch's logits Zᵀ (C, n), stably."""
        row_loss = -torch.log_softmax(z_t, dim=0).gather(0, self.labels.unsqueeze(0))[0]
        totals = torch.zeros(len(self.sizes), dtype=z_t.dtype, device=z_t.device)
        totals.index_add_(0, self.batch_of_row, row_loss)
        return totals / torch.tensor(self.sizes, dtype=z_t.dtype, device=z_t.device)

    def validate(self, w_t: torch.Tensor, b: torch.Tensor, x: torch.Tensor,
                 y: torch.Tensor) -> tuple[float, float]:
        """Validation CE and accuracy in one pass over ``x`` (no autograd)."""
        z_t = torch.addmm(b.unsqueeze(1), w_t, x.T)  # (C, n)
        labels = y.argmax(dim=1)
        ce = -torch.log_softmax(z_t, dim=0).gather(0, labels.unsqueeze(0)).mean()
        acc = (z_t.argmax(dim=0) == labels).to(z_t.dtype).mean()
        return ce.item(), acc.item()
