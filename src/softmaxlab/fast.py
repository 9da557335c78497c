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
* **No work repeated per batch**: batch views, the transposed one-hot targets and one
  (k, C, B) buffer for the epoch's logits are made once per ``fit``; each step writes its
  logits into that buffer (``addmm(..., out=)``), and the logged loss of every batch (taken
  before its step) is computed for the whole epoch at once, in four operations.

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
        n, c = y.shape
        batch_size = min(batch_size, n)
        starts = range(0, n, batch_size)
        self.xs = [x[s : s + batch_size] for s in starts]
        self.ys_t = [y[s : s + batch_size].T.contiguous() for s in starts]
        self.sizes = [xb.shape[0] for xb in self.xs]
        k = len(self.xs)
        # One (k, C, B) buffer for the epoch's logits, zero-padded after the short last
        # batch: batch j writes its (C, m_j) block in place, and the losses of all batches
        # come out of a few whole-buffer operations (no list, no concatenation).
        self.z_store = torch.zeros(k, c, batch_size, dtype=x.dtype, device=x.device)
        self.z_blocks = [self.z_store[j, :, :m] for j, m in enumerate(self.sizes)]
        labels = torch.zeros(k * batch_size, dtype=torch.long, device=x.device)
        labels[:n] = y.argmax(dim=1)
        self.labels = labels.view(k, 1, batch_size)
        # 1/m_j for real rows, 0 for padding: a weighted sum gives each batch's mean loss
        weight = torch.zeros(k * batch_size, dtype=x.dtype, device=x.device)
        weight[:n] = torch.repeat_interleave(
            1.0 / torch.tensor(self.sizes, dtype=x.dtype), torch.tensor(self.sizes)
        ).to(x.device)
        self.row_weight = weight.view(k, batch_size)

    def epoch(self, w_t: torch.Tensor, b: torch.Tensor, lr: float) -> torch.Tensor:
        """One pass over the batches; returns each batch's loss before its step (k,)."""
        b_col = b.unsqueeze(1)  # a view: follows b's in-place updates
        for xb, yb_t, z_t, m in zip(self.xs, self.ys_t, self.z_blocks, self.sizes, strict=True):
            torch.addmm(b_col, w_t, xb.T, out=z_t)  # Zᵀ = Wᵀ Xᵀ + b 1ᵀ   (C, m)
            g_t = torch.softmax(z_t, dim=0).sub_(yb_t)  # (Ŷ - Y)ᵀ = m ∂L/∂Zᵀ
            w_t.addmm_(g_t, xb, alpha=-lr / m)  # Wᵀ -= lr/m (Ŷ - Y)ᵀ X
            b.add_(g_t.sum(dim=1), alpha=-lr / m)  # b -= lr/m 1ᵀ(Ŷ - Y)
        return self.batch_losses()

    def batch_losses(self) -> torch.Tensor:
        """Mean cross-entropy of each batch from the logits stored by :meth:`epoch`:
        ``logsumexp(z) - z_true`` per row, finite for any finite logits."""
        z = self.z_store
        rows = torch.logsumexp(z, dim=1) - z.gather(1, self.labels)[:, 0]  # (k, B)
        return (rows * self.row_weight).sum(dim=1)

    def validate(self, w_t: torch.Tensor, b: torch.Tensor, x: torch.Tensor,
                 y: torch.Tensor) -> tuple[float, float]:
        """Validation CE and accuracy in one pass over ``x`` (no autograd)."""
        z_t = torch.addmm(b.unsqueeze(1), w_t, x.T)  # (C, n)
        labels = y.argmax(dim=1)
        ce = -torch.log_softmax(z_t, dim=0).gather(0, labels.unsqueeze(0)).mean()
        acc = (z_t.argmax(dim=0) == labels).to(z_t.dtype).mean()
        return ce.item(), acc.item()
