"""The building blocks of the chain rule (softmaxlab.derivatives) against torch.autograd
and against the formulas of docs/math.md §4–§7 written out directly."""

from __future__ import annotations

import pytest
import torch

import softmaxlab as sl
from softmaxlab import derivatives as D
from softmaxlab import functional as F
from tests.helpers import TOL, random_problem


def _close(actual: torch.Tensor, expected: torch.Tensor) -> None:
    tol = TOL[torch.float64]
    atol = tol["atol"] * max(1.0, float(expected.abs().max()))
    torch.testing.assert_close(actual, expected, rtol=tol["rtol"], atol=atol)


def test_ce_grad_y_hat_is_minus_y_over_y_hat_over_m():
    """docs/math.md §4: ∂L/∂Ŷ = −Y ⊘ Ŷ / m, and −diag(r) (Y ⊘ Ŷ) with row weights r."""
    x, y, w, b = random_problem(7, 3, 4, seed=2)
    y_hat = F.softmax(F.logits(x, w, b))
    _close(D.ce_grad_y_hat(y, y_hat), -y / y_hat / 7)
    r = torch.rand(7, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    r = r / r.sum()
    _close(D.ce_grad_y_hat(y, y_hat, r), -r[:, None] * y / y_hat)
    loss = lambda t: F.cross_entropy_from_probs(y, t)  # noqa: E731
    _close(D.ce_grad_y_hat(y, y_hat), torch.autograd.functional.jacobian(loss, y_hat))


def test_softmax_jacobian_blocks_are_symmetric_with_rows_summing_to_zero():
    """docs/math.md §5: each block diag(ŷ) − ŷŷᵀ is symmetric and its rows sum to 0
    (the probabilities always sum to 1, so no direction of z changes their sum)."""
    y_hat = F.softmax(torch.randn(6, 5, dtype=torch.float64))
    blocks = D.softmax_jacobian_blocks(y_hat)
    _close(blocks, blocks.transpose(1, 2))
    _close(blocks.sum(dim=2), torch.zeros(6, 5, dtype=torch.float64))
    _close(blocks, torch.diag_embed(y_hat) - y_hat[:, :, None] * y_hat[:, None, :])


@pytest.mark.parametrize(("m", "c"), [(1, 2), (4, 3), (9, 7)])
def test_softmax_jacobian_is_autograd_jacobian_and_block_diagonal(m, c):
    z = torch.randn(m, c, dtype=torch.float64, generator=torch.Generator().manual_seed(m))
    full = D.softmax_jacobian(F.softmax(z))
    _close(full, torch.autograd.functional.jacobian(F.softmax, z))
    blocks = D.softmax_jacobian_blocks(F.softmax(z))
    for i in range(m):
        _close(full[i, :, i, :], blocks[i])
        for p in range(m):
            if p != i:
                assert not full[i, :, p, :].any()


def test_linear_jacobian_w_is_kron_identity_x_in_vec_layout():
    x, _, w, b = random_problem(6, 4, 3, seed=5)
    d = D.linear_jacobian_w(x, 3)  # (m, C, N, C)
    _close(d, torch.autograd.functional.jacobian(lambda t: F.logits(x, t, b), w))
    # column-major vec: row index j*m + i, column index q*N + p
    as_matrix = d.permute(1, 0, 3, 2).reshape(6 * 3, 4 * 3)
    _close(as_matrix, torch.kron(torch.eye(3, dtype=x.dtype), x))


def test_linear_jacobian_b_is_autograd_jacobian():
    x, _, w, b = random_problem(6, 4, 3, seed=6)
    d = D.linear_jacobian_b(6, 3, dtype=x.dtype, device=x.device)
    _close(d, torch.autograd.functional.jacobian(lambda t: F.logits(x, w, t), b))


def test_kronecker_softmax_jacobian_is_the_full_jacobian_in_vec_layout():
    m, c = 5, 4
    y_hat = F.softmax(torch.randn(m, c, dtype=torch.float64))
    full = D.softmax_jacobian(y_hat)  # [i, j, p, q]
    _close(D.kronecker_softmax_jacobian(y_hat), full.permute(1, 0, 3, 2).reshape(m * c, m * c))


def test_ce_grad_y_hat_and_softmax_backward_compose_to_y_hat_minus_y():
    x, y, w, b = random_problem(10, 3, 5, seed=8)
    y_hat = F.softmax(F.logits(x, w, b))
    d_z = D.softmax_backward(D.ce_grad_y_hat(y, y_hat), y_hat)
    _close(d_z, (y_hat - y) / 10)


def test_memory_budget_must_be_positive():
    with pytest.raises(sl.InvalidInputError, match="nbytes"):
        D.set_memory_budget(0)


def test_reshape_gives_x_kron_i_and_vec_gives_i_kron_x():
    """docs/math.md §7a: ∂Z/∂W (m, C, N, C) reshaped row-major is X ⊗ I_C; in the
    column-major vec order it is I_C ⊗ X. The page's m = N = C = 2 example, then random
    shapes."""
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.float64)
    d = D.linear_jacobian_w(x, 2)
    eye = torch.eye(2, dtype=torch.float64)
    assert torch.equal(d.reshape(4, 4), torch.kron(x, eye))
    assert torch.equal(d.permute(1, 0, 3, 2).reshape(4, 4), torch.kron(eye, x))
    assert torch.equal(
        torch.kron(x, eye),
        torch.tensor([[1, 0, 2, 0], [0, 1, 0, 2], [3, 0, 4, 0], [0, 3, 0, 4]], dtype=torch.float64),
    )
    for m, n, c in [(3, 5, 2), (4, 2, 3)]:
        x, _, _, _ = random_problem(m, n, c, seed=m)
        d = D.linear_jacobian_w(x, c)
        i = torch.eye(c, dtype=x.dtype)
        _close(d.reshape(m * c, n * c), torch.kron(x, i))
        _close(d.permute(1, 0, 3, 2).reshape(m * c, n * c), torch.kron(i, x))


def test_vec_z_by_b_is_i_kron_ones():
    """docs/math.md §7: ∂vec Z/∂b = I_C ⊗ 1_m."""
    m, c = 4, 3
    d = D.linear_jacobian_b(m, c, dtype=torch.float64, device="cpu")  # (m, C, C)
    vec = d.permute(1, 0, 2).reshape(m * c, c)
    _close(
        vec, torch.kron(torch.eye(c, dtype=torch.float64), torch.ones(m, 1, dtype=torch.float64))
    )
