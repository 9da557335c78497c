"""The sparse engine (softmaxlab.fast.sparse): on CSR rows it gives the dense engine's
parameters to 1e-12 — lazy L2 decay and momentum included — on both of its paths, and
its full passes give the dense objective and gradient."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from softmaxlab.errors import InvalidInputError
from softmaxlab.fast import SparseEngine, make_engine, native
from softmaxlab.fast.engine import Engine
from softmaxlab.sparse import SparseRows, to_csr

HAS_NATIVE = native.available(torch.float64, torch.device("cpu"))
PATHS = [
    pytest.param("native", marks=pytest.mark.skipif(not HAS_NATIVE, reason="no kernel")),
    "torch",
]
N_ROWS, N_FEATURES, N_CLASSES = 240, 60, 4


@pytest.fixture(scope="module")
def problem():
    x = sp.random(N_ROWS, N_FEATURES, density=0.07, random_state=3, format="csr")
    gen = torch.Generator().manual_seed(0)
    labels = torch.randint(0, N_CLASSES, (N_ROWS,), generator=gen)
    w = 0.1 * torch.randn(N_FEATURES, N_CLASSES, generator=gen, dtype=torch.float64)
    b = 0.1 * torch.randn(N_CLASSES, generator=gen, dtype=torch.float64)
    extras = {
        "weight": torch.rand(N_ROWS, generator=gen, dtype=torch.float64) + 0.5,
        "inv_scale": torch.rand(N_FEATURES, generator=gen, dtype=torch.float64) + 0.5,
        "penalty": torch.rand(N_FEATURES, generator=gen, dtype=torch.float64) + 0.5,
    }
    return x, labels, w, b, extras


OPTIONS = [
    dict(alpha=a, momentum=m, nesterov=n, weighted=wt, scaled=sc)
    for a, m, n, wt, sc in itertools.product(
        [0.0, 0.03], [0.0, 0.9], [False, True], [False, True], [False, True]
    )
    if not (n and not m)
]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("opt", OPTIONS, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()))
def test_sparse_epochs_equal_the_dense_engine(problem, path, opt):
    x, labels, w, b, extras = problem
    kw = {
        "batch_size": 32,
        "alpha": opt["alpha"],
        "momentum": opt["momentum"],
        "nesterov": opt["nesterov"],
        "penalty": extras["penalty"],
        "weight": extras["weight"] if opt["weighted"] else None,
        "inv_scale": extras["inv_scale"] if opt["scaled"] else None,
    }
    sparse = SparseEngine(SparseRows(to_csr(x)), labels, w, b, path=path, **kw)
    dense = Engine(torch.from_numpy(x.toarray()), labels, w, b, path="torch", **kw)
    gen = torch.Generator().manual_seed(1)
    for _ in range(3):
        order = torch.randperm(N_ROWS, generator=gen)
        loss_s, _ = sparse.epoch(0.4, order)
        loss_d, _ = dense.epoch(0.4, order)
        torch.testing.assert_close(loss_s, loss_d, rtol=0, atol=1e-12)
    torch.testing.assert_close(sparse.w, dense.w, rtol=0, atol=1e-12)
    torch.testing.assert_close(sparse.b, dense.b, rtol=0, atol=1e-12)
    if sparse.vw is not None:
        torch.testing.assert_close(sparse.vw, dense.vw, rtol=0, atol=1e-12)
    assert sparse.objective() == pytest.approx(dense.objective(), abs=1e-12)
    torch.testing.assert_close(sparse.gw, dense.gw, rtol=0, atol=1e-13)
    torch.testing.assert_close(sparse.gb, dense.gb, rtol=0, atol=1e-13)


@pytest.mark.skipif(not HAS_NATIVE, reason="no kernel")
def test_without_penalty_or_momentum_a_step_touches_only_the_batchs_rows(problem):
    x, labels, w, b, _ = problem
    csr = to_csr(x)
    first = np.unique(csr[:8].indices)  # features of the first batch
    engine = SparseEngine(SparseRows(csr[:8]), labels[:8], w, b, batch_size=8)
    engine.epoch(0.5)
    changed = np.flatnonzero((engine.w != w).any(dim=1).numpy())
    np.testing.assert_array_equal(changed, first)


def test_make_engine_picks_the_layout(problem):
    x, labels, w, b, _ = problem
    assert type(make_engine(SparseRows(to_csr(x)), labels, w, b, batch_size=8)) is SparseEngine
    assert type(make_engine(torch.from_numpy(x.toarray()), labels, w, b, batch_size=8)) is Engine


@pytest.mark.parametrize("gradient", ["jacobian", "kronecker"])
def test_dense_jacobian_formulations_refuse_sparse_rows(problem, gradient):
    x, labels, w, b, _ = problem
    with pytest.raises(InvalidInputError, match=f"gradient: '{gradient}' materialises"):
        SparseEngine(SparseRows(to_csr(x)), labels, w, b, batch_size=8, gradient=gradient)


def test_sparse_rows_are_never_centred(problem):
    x, labels, w, b, _ = problem
    with pytest.raises(InvalidInputError, match="mean: sparse rows are scaled"):
        SparseEngine(
            SparseRows(to_csr(x)),
            labels,
            w,
            b,
            batch_size=8,
            mean=torch.ones(N_FEATURES, dtype=torch.float64),
        )


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("alpha,l1", [(0.0, 0.01), (0.03, 0.01), (0.03, 0.5)])
def test_proximal_l1_steps_equal_the_dense_engines_on_every_path(problem, path, alpha, l1):
    x, labels, w, b, extras = problem
    q = extras["inv_scale"]
    kw = {
        "batch_size": 32,
        "alpha": alpha,
        "penalty": q**2,
        "l1": l1,
        "l1_penalty": q,
        "weight": extras["weight"],
    }
    sparse = SparseEngine(SparseRows(to_csr(x)), labels, w, b, path=path, **kw)
    dense = Engine(torch.from_numpy(x.toarray()), labels, w, b, path="torch", **kw)
    engines = [sparse, dense]
    if HAS_NATIVE and path == "native":
        engines.append(Engine(torch.from_numpy(x.toarray()), labels, w, b, path="native", **kw))
    gen = torch.Generator().manual_seed(2)
    for _ in range(3):
        order = torch.randperm(N_ROWS, generator=gen)
        results = [e.epoch(0.4, order) for e in engines]
    for e, (loss, _) in zip(engines[::2], results[::2], strict=True):
        torch.testing.assert_close(e.w, dense.w, rtol=0, atol=1e-12)
        torch.testing.assert_close(loss, results[1][0], rtol=0, atol=1e-12)
    if len(engines) == 3:
        torch.testing.assert_close(results[2][1], results[1][1], rtol=0, atol=1e-12)
    zeros = dense.w == 0
    assert zeros.any() and torch.equal(sparse.w == 0, zeros)  # exact zeros, the same ones


def test_l1_refuses_momentum(problem):
    x, labels, w, b, _ = problem
    for cls, rows in (
        (SparseEngine, SparseRows(to_csr(x))),
        (Engine, torch.from_numpy(x.toarray())),
    ):
        with pytest.raises(InvalidInputError, match="momentum: proximal SGD"):
            cls(rows, labels, w, b, batch_size=8, l1=0.1, momentum=0.9)
