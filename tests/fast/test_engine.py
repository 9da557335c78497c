"""The one training engine (softmaxlab.fast.engine): its native path equals its PyTorch path to
1e-12 with every option, and the fused fit equals the chain rule."""

from __future__ import annotations

import _ctypes
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import softmaxlab as sl
from softmaxlab.fast import build, native
from softmaxlab.fast.engine import Engine

CPU = torch.device("cpu")
HAS_NATIVE = native.available(torch.float64, CPU)
HAS_ENGINE = native.engine_available(torch.float64, CPU)
needs_native = pytest.mark.skipif(not HAS_NATIVE, reason="no C compiler: native kernel not built")
needs_engine = pytest.mark.skipif(not HAS_ENGINE, reason="PyTorch exports no BLAS here")
EVERY_PATH = pytest.mark.parametrize("path", [pytest.param("native", marks=needs_engine), "torch"])


def _engine(x, y, batch, w, b, **kw):
    return Engine(x, y.argmax(dim=1), w, b, batch_size=batch, **kw)


def _fit(name, data, **kw):
    model = sl.SoftmaxClassifier(
        data.n_features, data.n_classes, gradient=name, seed=4, device="cpu", **kw
    )
    history = model.fit(
        data.x_train, data.y_train, 16, 0.05, 33, data.x_valid, data.y_valid, verbose=False
    )
    return model, history


def test_fast_path_gives_the_chain_rule_parameters_and_log(seed_data):
    fast, h_fast = _fit("fused", seed_data)
    slow, h_slow = _fit("chain", seed_data)
    assert sl.mape(fast.w, slow.w) < 1e-12 and sl.mape(fast.b, slow.b) < 1e-12
    assert [r.line() for r in h_fast] == [r.line() for r in h_slow]
    for a, b in zip(h_fast, h_slow, strict=True):
        assert a.ce == pytest.approx(b.ce, rel=1e-12)
        assert a.ce_valid == pytest.approx(b.ce_valid, rel=1e-12)


def test_fast_path_keeps_the_parameter_tensors(seed_data):
    model = sl.SoftmaxClassifier(5, 3, gradient="fused", seed=0, device="cpu")
    w, b = model.w, model.b
    model.fit(seed_data.x_train, seed_data.y_train, 2, 0.1, 33, verbose=False)
    assert model.w is w and model.b is b and not torch.equal(w, w.new_zeros(w.shape))


@EVERY_PATH
def test_batch_losses_are_the_losses_before_each_step(path):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(10, 3, generator=g, dtype=torch.float64)
    y = torch.nn.functional.one_hot(torch.randint(0, 4, (10,), generator=g), 4).double()
    w_t, b = torch.randn(4, 3, dtype=torch.float64, generator=g), torch.zeros(4).double()
    model = sl.SoftmaxClassifier(3, 4, gradient="chain", device="cpu", seed=0)
    model.w.copy_(w_t.T)
    model.b.copy_(b)
    expected = []
    for s in range(0, 10, 4):  # batches of 4, 4, 2
        xb, yb = x[s : s + 4], y[s : s + 4]
        expected.append(model.evaluate(xb, yb))
        model.update(xb, yb, model.predict(xb), 0.3)
    engine = _engine(x, y, 4, w_t.T, b, path=path)
    assert engine.path == path
    losses, penalties = engine.epoch(0.3)
    torch.testing.assert_close(losses, torch.tensor(expected, dtype=torch.float64))
    assert penalties.tolist() == [0.0, 0.0, 0.0]
    torch.testing.assert_close(engine.w, model.w)
    torch.testing.assert_close(engine.b, model.b)


def test_fast_path_in_float32(seed_data):
    fast, _ = _fit("fused", seed_data, dtype="float32")
    slow, _ = _fit("chain", seed_data, dtype="float32")
    assert fast.w.dtype == torch.float32
    assert sl.mape(fast.w, slow.w) < 1e-5


@EVERY_PATH
def test_losses_stay_finite_when_a_probability_underflows(path):
    # logits 2000 apart: ŷ_true = 0, so -log ŷ is inf; the stable fallback gives 2000
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    y = torch.eye(2, dtype=torch.float64)
    w = torch.tensor([[-1000.0, 1000.0], [1000.0, -1000.0]], dtype=torch.float64)
    engine = _engine(x, y, 2, w, torch.zeros(2, dtype=torch.float64), path=path)
    losses, _ = engine.epoch(1e-3)
    assert losses.tolist() == pytest.approx([2000.0])


# ----------------------------------------------------------------------------- native kernel


@needs_native
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_native_kernel_is_softmax_minus_one_hot_and_the_stable_loss(dtype):
    g = torch.Generator().manual_seed(5)
    c, m, stride = 7, 300, 320  # more columns than a tile; rows of a wider buffer
    buf = torch.randn(c, stride, generator=g, dtype=dtype) * 30
    z = buf[:, :m].clone()
    labels = torch.randint(0, c, (m,), generator=g)
    loss = torch.full((m,), float("nan"), dtype=dtype)
    native.softmax_grad(dtype)(buf.data_ptr(), stride, c, m, labels.data_ptr(), loss.data_ptr())
    expected = torch.softmax(z, dim=0) - torch.nn.functional.one_hot(labels, c).T.to(dtype)
    tol = {"rtol": 1e-13, "atol": 1e-15} if dtype == torch.float64 else {}
    torch.testing.assert_close(buf[:, :m], expected, **tol)
    ce = torch.nn.functional.cross_entropy(z.T, labels, reduction="none")
    # max + log Σ - z_true cancels where ŷ_true ≈ 1: absolute, not relative, accuracy
    torch.testing.assert_close(
        loss, ce, **({"rtol": 1e-13, "atol": 1e-13} if dtype == torch.float64 else {})
    )


def _problem(dtype=torch.float64, n=1001, nf=7, c=4):
    g = torch.Generator().manual_seed(3)
    x = torch.randn(n, nf, generator=g, dtype=dtype) * 3 + 1
    labels = torch.randint(0, c, (n,), generator=g)
    w = torch.randn(nf, c, generator=g, dtype=dtype) * 0.1
    b = torch.randn(c, generator=g, dtype=dtype) * 0.1
    weight = torch.rand(n, generator=g, dtype=dtype) + 0.5
    return x, labels, w, b, weight / weight.mean()


OPTIONS = {
    "plain": {},
    "weights": {"weight": True},
    "standardised": {"standardise": True},
    "scale-only": {"scale_only": True},
    "l2": {"alpha": 0.1, "penalty": True},
    "momentum": {"momentum": 0.9},
    "everything": {
        "momentum": 0.8,
        "nesterov": True,
        "alpha": 0.01,
        "weight": True,
        "standardise": True,
        "penalty": True,
    },
}


def _options(name, x, weight):
    o = dict(OPTIONS[name])
    kw = {k: o.pop(k) for k in ("alpha", "momentum", "nesterov") if k in o}
    d = x.std(dim=0)
    if o.pop("weight", False):
        kw["weight"] = weight
    if o.pop("standardise", False):
        kw["mean"], kw["inv_scale"] = x.mean(dim=0), 1 / d
    if o.pop("scale_only", False):
        kw["inv_scale"] = 1 / d
    if o.pop("penalty", False):
        kw["penalty"] = d**-2
    return kw


@needs_engine
@pytest.mark.parametrize("shuffle", [False, True], ids=["in-order", "shuffled"])
@pytest.mark.parametrize("name", list(OPTIONS))
def test_native_engine_equals_the_pytorch_loop_with_every_option(name, shuffle):
    x, labels, w, b, weight = _problem()
    kw = _options(name, x, weight)
    out = {}
    for path in ("native", "torch"):
        engine = Engine(x, labels, w, b, batch_size=64, path=path, **kw)
        gen = torch.Generator().manual_seed(1)
        logs = []
        for _ in range(3):
            order = torch.randperm(x.shape[0], generator=gen) if shuffle else None
            logs.append(torch.cat(engine.epoch(0.1, order)))
        out[path] = (engine.w, engine.b, torch.stack(logs))
    for a, b_ in zip(out["native"], out["torch"], strict=True):
        torch.testing.assert_close(a, b_, rtol=1e-12, atol=1e-12)


def test_the_pytorch_loop_is_sgd_with_momentum_on_the_weighted_penalised_objective():
    """The engine's PyTorch path against torch.optim.SGD and autograd on the objective
    written out: so the native path (equal to it, above) is too."""
    x, labels, w, b, weight = _problem(n=200)
    kw = _options("everything", x, weight)
    engine = Engine(x, labels, w, b, batch_size=50, path="torch", **kw)
    wt = w.clone().requires_grad_(True)
    bt = b.clone().requires_grad_(True)
    opt = torch.optim.SGD([wt, bt], lr=0.1, momentum=0.8, nesterov=True)
    order = torch.randperm(200, generator=torch.Generator().manual_seed(0))
    for s in range(0, 200, 50):
        idx = order[s : s + 50]
        xb = (x[idx] - kw["mean"]) * kw["inv_scale"]
        rows = torch.nn.functional.cross_entropy(xb @ wt + bt, labels[idx], reduction="none")
        loss = (rows * weight[idx]).mean() + 0.5 * 0.01 * (kw["penalty"][:, None] * wt**2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    engine.epoch(0.1, order)
    torch.testing.assert_close(engine.w, wt.detach(), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(engine.b, bt.detach(), rtol=1e-12, atol=1e-12)


@EVERY_PATH
def test_objective_and_gradient_of_a_full_pass_match_autograd(path):
    x, labels, w, b, weight = _problem(n=300)
    kw = _options("everything", x, weight)
    kw.pop("momentum"), kw.pop("nesterov")
    engine = Engine(x, labels, w, b, batch_size=64, path=path, **kw)
    value = engine.objective(chunk=70)
    wt = w.clone().requires_grad_(True)
    bt = b.clone().requires_grad_(True)
    xs = (x - kw["mean"]) * kw["inv_scale"]
    rows = torch.nn.functional.cross_entropy(xs @ wt + bt, labels, reduction="none")
    ref = (rows * weight).mean() + 0.5 * 0.01 * (kw["penalty"][:, None] * wt**2).sum()
    ref.backward()
    assert value == pytest.approx(float(ref.detach()), rel=1e-13)
    torch.testing.assert_close(engine.gw.T, wt.grad, rtol=1e-12, atol=1e-13)
    torch.testing.assert_close(engine.gb, bt.grad, rtol=1e-12, atol=1e-13)


@needs_engine
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("batch", [256, 3000])  # 3000: threads share the kernel's tiles
def test_every_path_trains_to_the_same_parameters(dtype, batch):
    from softmaxlab.bench.bench import make_data

    x, y = make_data(7001, 12, 6, dtype)  # a short last batch
    out = {}
    for path in ("native", "torch"):
        w, b = torch.zeros(12, 6, dtype=dtype), torch.zeros(6, dtype=dtype)
        engine = _engine(x, y, batch, w, b, path=path)
        losses = torch.stack([engine.epoch(0.2)[0] for _ in range(3)])
        out[path] = (engine.w, engine.b, losses.to(dtype))
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    for i in range(3):
        assert sl.mape(out["native"][i], out["torch"][i]) < tol


@needs_engine
def test_the_engine_reads_contiguous_rows_in_place():
    x, labels, w, b, _ = _problem()
    engine = Engine(x, labels, w, b, batch_size=64)
    assert engine.x.data_ptr() == x.data_ptr()


def test_the_fit_uses_the_fastest_path_available(seed_data):
    engine = _engine(
        seed_data.x_train,
        seed_data.y_train,
        33,
        torch.zeros(5, 3, dtype=torch.float64),
        torch.zeros(3, dtype=torch.float64),
    )
    assert engine.path == ("native" if HAS_ENGINE else "torch")
    with pytest.raises(ValueError, match="path: one of"):
        _engine(
            seed_data.x_train,
            seed_data.y_train,
            33,
            torch.zeros(5, 3, dtype=torch.float64),
            torch.zeros(3, dtype=torch.float64),
            path="fast",
        )


def test_without_a_compiler_the_fast_path_uses_pytorch(monkeypatch, tmp_path, seed_data):
    monkeypatch.setenv("SOFTMAXLAB_CACHE", str(tmp_path))
    monkeypatch.setattr(build, "_compiler", lambda: None)
    native._library.cache_clear()
    try:
        assert native.build() is None
        assert not native.available(torch.float64, CPU)
        engine = _engine(
            seed_data.x_train,
            seed_data.y_train,
            33,
            torch.zeros(5, 3, dtype=torch.float64),
            torch.zeros(3, dtype=torch.float64),
        )
        assert engine.path == "torch"
        fast, _ = _fit("fused", seed_data)
        slow, _ = _fit("chain", seed_data)
        assert sl.mape(fast.w, slow.w) < 1e-12
    finally:
        native._library.cache_clear()


def test_native_kernel_can_be_switched_off(monkeypatch):
    monkeypatch.setenv("SOFTMAXLAB_NATIVE", "0")
    native._library.cache_clear()
    try:
        assert not native.available(torch.float64, CPU)
    finally:
        monkeypatch.delenv("SOFTMAXLAB_NATIVE")
        native._library.cache_clear()


@needs_native
def test_a_fresh_cache_builds_the_kernel_once(monkeypatch, tmp_path):
    monkeypatch.setenv("SOFTMAXLAB_CACHE", str(tmp_path))
    first = native.build()
    assert first is not None and first.parent == tmp_path
    mtime = first.stat().st_mtime_ns
    assert native.build() == first and first.stat().st_mtime_ns == mtime
    # the kernel and its checked digest; no temporary file left
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".sha256", ".so"]


def _fit_in_a_fresh_process(cache: Path, **env: str) -> subprocess.CompletedProcess:
    """A SoftmaxClassifier fit (the native path when the kernel is usable) in a fresh
    interpreter with the kernel cache ``cache``; prints which path ran."""
    code = (
        "import softmaxlab as sl\n"
        "from softmaxlab.fast import native\n"
        "d = sl.make_dataset(300, 4, 3, train_rows=200, seed=0, device='cpu')\n"
        "m = sl.SoftmaxClassifier(4, 3, gradient='fused', seed=0, device='cpu')\n"
        "m.fit(d.x_train, d.y_train, 2, 0.1, 50, verbose=False)\n"
        "print('native' if native.available(m.w.dtype, m.w.device) else 'torch')\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "SOFTMAXLAB_CACHE": str(cache), "TF_CPP_MIN_LOG_LEVEL": "3", **env},
    )


@pytest.fixture(scope="module")
def built_cache(tmp_path_factory):
    """A kernel cache with one checked build (made in this process: building does not
    load the library)."""
    folder = tmp_path_factory.mktemp("kernel-cache")
    before = os.environ.get("SOFTMAXLAB_CACHE")
    os.environ["SOFTMAXLAB_CACHE"] = str(folder)
    try:
        assert native.build() is not None
    finally:
        if before is None:
            del os.environ["SOFTMAXLAB_CACHE"]
        else:
            os.environ["SOFTMAXLAB_CACHE"] = before
    return folder


def _damaged_copy(built_cache: Path, folder: Path, damage: str) -> tuple[Path, bytes]:
    for f in built_cache.iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    (so,) = folder.glob("*.so")
    good = so.read_bytes()
    if damage == "truncated":
        so.write_bytes(good[: len(good) // 3])
    else:
        so.write_bytes(Path(_ctypes.__file__).read_bytes())  # a real, other library
    return so, good


@pytest.mark.slow
def test_a_truncated_cached_kernel_no_longer_kills_the_process(built_cache, tmp_path):
    """A truncated kernel used to kill the process with SIGBUS when loaded: a fit in a
    fresh process now rebuilds it (one line) and trains on it."""
    so, good = _damaged_copy(built_cache, tmp_path, "truncated")
    again = _fit_in_a_fresh_process(tmp_path)
    assert again.returncode == 0 and again.stdout.strip() == "native", again.stderr
    assert again.stderr.count("\n") == 1 and "damaged or not ours; rebuilding" in again.stderr
    assert so.read_bytes() == good  # the same build again


@pytest.mark.slow  # two rebuilds of the kernel (~2 s each, with the sparse kernels)
@pytest.mark.parametrize("damage", ["truncated", "foreign"])
def test_a_damaged_cached_kernel_is_rebuilt_before_it_is_loaded(
    built_cache, tmp_path, monkeypatch, capsys, damage
):
    """build() checks the digest before anything loads the file: a truncated file or
    another library (which used to raise a traceback) is rebuilt, with one line."""
    so, good = _damaged_copy(built_cache, tmp_path, damage)
    monkeypatch.setenv("SOFTMAXLAB_CACHE", str(tmp_path))
    assert native.build() == so
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "damaged or not ours; rebuilding" in err
    assert so.read_bytes() == good


def _fake_compiler(folder: Path, body: str) -> Path:
    cc = folder / "fake-cc"
    cc.write_text("#!/bin/sh\n" + body)
    cc.chmod(0o755)
    return cc


def test_a_hanging_compiler_stops_after_the_timeout_with_one_line(tmp_path, monkeypatch, capsys):
    cc = _fake_compiler(tmp_path, "sleep 600\n")
    monkeypatch.setenv("SOFTMAXLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("CC", str(cc))
    monkeypatch.setenv("SOFTMAXLAB_BUILD_TIMEOUT", "1")
    assert native.build() is None  # the engine then runs on PyTorch operations
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "took over 1 s" in err


def test_a_kernel_that_traps_is_discarded_in_the_probe_not_run_here(tmp_path, monkeypatch, capsys):
    """A compiler whose output executes an illegal instruction (as code for another CPU
    would): the probe process dies of SIGILL, this one never loads the library."""
    trap = tmp_path / "trap.c"
    trap.write_text(
        "#include <stdint.h>\nvoid softmax_grad_f64(double *z, int64_t s, "
        "int64_t c, int64_t m, const int64_t *l, double *loss)"
        "{ __builtin_trap(); }\n"
    )
    out = '"$(for a; do case $prev in -o) echo $a;; esac; prev=$a; done)"'
    cc = _fake_compiler(tmp_path, f"exec cc -shared -fPIC {trap} -o {out}\n")
    monkeypatch.setenv("SOFTMAXLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("CC", str(cc))
    assert native.build() is None
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "crashed when run (signal 4)" in err
    assert "using PyTorch operations instead" in err
    assert not list((tmp_path / "cache").glob("*.so"))


def test_a_pipelined_epoch_equals_the_one_thread_epoch_bit_for_bit():
    """The team size is chosen by timing (TeamChooser), so it must never change a result:
    two threads and one give identical parameters."""
    if not native.engine_available(torch.float64, torch.device("cpu")):
        pytest.skip("no native engine here")
    from softmaxlab.fast.engine import PIPELINE_MIN, Engine
    from softmaxlab.fast.threads import TeamChooser

    g = torch.Generator().manual_seed(3)
    batch, nf, c = 128, PIPELINE_MIN // 128 + 8, 3
    x = torch.randn(batch * 6 + 17, nf, generator=g, dtype=torch.float64)
    labels = torch.randint(0, c, (x.shape[0],), generator=g)
    results = {}
    for team in (2, 1):
        engine = Engine(
            x,
            labels,
            torch.zeros(nf, c, dtype=torch.float64),
            torch.zeros(c, dtype=torch.float64),
            batch_size=batch,
            momentum=0.9,
            alpha=1e-3,
        )
        assert engine._pipelines()

        class Fixed(TeamChooser):
            def pick(self, team=team):
                return team

        engine._teams = Fixed(2)
        order = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(0))
        loss, _ = engine.epoch(0.1, order)
        results[team] = (engine.w.clone(), engine.b.clone(), loss)
    for a, b in zip(results[2], results[1], strict=True):
        assert torch.equal(a, b)


def test_the_team_chooser_runs_the_faster_team_and_keeps_probing():
    from softmaxlab.fast.threads import TeamChooser

    chooser = TeamChooser(2)
    cost = {2: 0.2, 1: 0.05}  # another process holds a core: one thread is faster
    picks = []
    for _ in range(24):
        team = chooser.pick()
        picks.append(team)
        chooser.record(team, cost[team])
    assert picks[:2] == [2, 1]  # each timed once
    assert picks[2:].count(1) > picks[2:].count(2) >= 2  # mostly one, probing two
    cost = {2: 0.03, 1: 0.05}  # the load went away
    for _ in range(24):
        team = chooser.pick()
        chooser.record(team, cost[team])
    assert chooser.pick() == 2 or chooser.epochs % chooser.PROBE == chooser.PROBE - 1
    assert TeamChooser(1).pick() == 1
