r"""Column statistics for scaling rows, computed in one place: the weighted mean and
standard deviation of dense rows (:func:`standardisation`, one pass, native where it
can), the scale of sparse rows (:func:`softmaxlab.sparse.column_scale`: never centred,
so that zeros stay zero) and :func:`column_statistics`, which picks between them for
every entry point (the estimator's preconditioner, ``load_dataset(standardize=True)``,
sharded files).
"""

from __future__ import annotations

from typing import Any

import torch

from .fast import native
from .sparse import SparseRows, column_scale

__all__ = ["column_statistics", "standardisation"]


def column_statistics(
    x: Any, weight: torch.Tensor | None = None, rows: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(mean, scale)`` (N,) of the rows ``rows`` of ``x`` with row weights ``weight``:
    centred and scaled for dense rows, scaled only for :class:`SparseRows`."""
    if isinstance(x, SparseRows):
        return column_scale(x, weight, rows)
    return standardisation(x, weight, rows)


def standardisation(
    x: torch.Tensor,
    weight: torch.Tensor | None = None,
    rows: torch.Tensor | None = None,
    *,
    center: bool = True,
    chunk: int = 512,
    shift: torch.Tensor | None = None,
    reduce: Any = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Weighted column means :math:`\mu = \sum_i s_i x_i / \sum_i s_i` and standard
    deviations :math:`d = \sqrt{\sum_i s_i (x_i-\mu)^2 / \sum_i s_i}` of the rows ``rows``
    of ``x`` (all rows for ``None``; weights 1 for ``weight=None``): the one
    standardisation of softmaxlab (``load_dataset(standardize=True)``, the estimator's
    preconditioner, sharded data-parallel files).

    One pass (in C on several threads where the native kernel is available, else in
    chunks of PyTorch operations; no full-size temporary), sums in float64: with a shift
    :math:`c` (``shift``, by default the first row), :math:`\mu = c + \overline{x - c}`
    and :math:`d^2 = \overline{(x-c)^2} - (\mu - c)^2`, which keeps the cancellation of
    the one-pass formula to the spread of the data around a typical row. ``reduce(t)``,
    if given, sums the partial sums in place over the ranks of a data-parallel run (all
    ranks then need the same ``shift``). A column with :math:`d \le 10^{-12}(1+|\mu|)`
    (constant) gets :math:`d = 1`. With ``center=False`` (scale only, for sparse input)
    :math:`\mu = 0` and d is the root mean square. Returns ``(mu, d)`` in ``x``'s dtype."""
    n = x.shape[0] if rows is None else rows.shape[0]
    nf = x.shape[1]
    if weight is None:
        weight = torch.ones(x.shape[0], dtype=x.dtype, device=x.device)
    f64: dict[str, Any] = {"dtype": torch.float64, "device": x.device}
    c = torch.zeros(nf, dtype=x.dtype, device=x.device)
    if center:
        if shift is not None:
            c = shift.to(x).clone()
        elif n:
            c = (x[0] if rows is None else x[rows[0]]).clone()
    sums = torch.zeros(2 * nf + 1, **f64)  # Σ s(x - c), Σ s(x - c)², Σ s
    if native.available(x.dtype, x.device) and x.stride(1) == 1 and n:
        # one multi-threaded pass in C (the same sums, in fixed blocks)
        idx = None if rows is None else rows.to(torch.int64).contiguous()
        wc, cc = weight.to(x).contiguous(), c.contiguous()
        if (
            native.column_stats(x.dtype)(
                x.data_ptr(),
                x.stride(0),
                n,
                nf,
                None if idx is None else idx.data_ptr(),
                wc.data_ptr(),
                cc.data_ptr(),
                sums.data_ptr(),
            )
            != 0
        ):
            raise MemoryError("standardisation: out of memory for the partial sums")
    else:
        buf = torch.empty(max(min(chunk, n), 1), nf, dtype=x.dtype, device=x.device)
        for s in range(0, n, chunk):
            wb = weight[s : s + chunk] if rows is None else weight[rows[s : s + chunk]]
            xb = buf[: wb.shape[0]]
            if rows is None:
                torch.sub(x[s : s + chunk], c, out=xb)
            else:
                torch.index_select(x, 0, rows[s : s + chunk], out=xb).sub_(c)
            sums[:nf] += (wb @ xb).double()
            sums[nf : 2 * nf] += (wb @ xb.square_()).double()
            sums[-1] += wb.double().sum()
    if reduce is not None:
        reduce(sums)
    total = sums[-1]
    if not total > 0:
        return torch.zeros_like(c), torch.ones_like(c)
    m1 = sums[:nf] / total
    mu = c.double() + m1 if center else torch.zeros(nf, **f64)
    var = (sums[nf : 2 * nf] / total - (m1 * m1 if center else 0)).clamp_(min=0)
    d = var.sqrt()
    # constant columns get d = 1; a spread that overflowed (inf, or inf - inf = NaN) stays
    # non-finite, for the caller to refuse (check_statistics)
    d = torch.where((d > 1e-12 * (1 + mu.abs())) | ~torch.isfinite(d), d, torch.ones_like(d))
    return mu.to(x.dtype), d.to(x.dtype)
