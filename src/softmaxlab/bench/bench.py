"""Benchmarks: softmaxlab's training against the PyTorch nn loop, Keras and a GEMM floor.

Everything is timed in one process, so the ratios compare like with like on the same
machine. ``softmaxlab bench`` prints the tables; ``benchmarks/README.md`` records results.

Sections:

* ``main``: median time per training epoch (after a warm-up epoch, over ``repeats``
  epochs) for the configurations of :data:`CONFIGS` in float64 and float32 — softmaxlab's
  engine (``SoftmaxClassifier.fit`` with ``gradient="fused"``), the same engine as a
  ``SoftmaxRegression`` SGD epoch (shuffled, standardised, momentum, L2), every other gradient
  formulation that fits the memory budget, the PyTorch ``nn`` loop of ``TorchSoftmax``,
  Keras ``train_on_batch`` (seed and medium), and the GEMM floor: only the two matrix
  products of each batch (Wᵀ·Xᵀ and Gᵀ·X, the fast path's layout). One validation pass
  is timed separately.
* ``growth`` and ``scaling``: :mod:`softmaxlab.bench.growth`; ``fit``:
  :mod:`softmaxlab.bench.fitcost`; ``race``: :mod:`softmaxlab.bench.race`;
  :func:`softmaxlab.bench.suite.run_sections` runs the sections ``softmaxlab bench`` asks for.
"""

from __future__ import annotations

import contextlib
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any

import torch

from .. import gradients as G
from ..fast.engine import Engine

__all__ = ["CONFIGS", "BenchConfig", "make_data", "median_epoch", "run_main"]


@dataclass(frozen=True)
class BenchConfig:
    name: str
    rows: int
    features: int
    classes: int
    batch: int
    valid_rows: int

    def quick(self) -> BenchConfig:
        """A smaller version for ``--quick`` (same batch size, fewer rows)."""
        if self.rows <= 1000:
            return self
        return BenchConfig(
            self.name,
            self.rows // 10,
            self.features,
            self.classes,
            self.batch,
            self.valid_rows // 10,
        )


CONFIGS = (
    BenchConfig("seed", 100, 5, 3, 33, 10_000),
    BenchConfig("medium", 200_000, 100, 10, 256, 50_000),
    BenchConfig("large-batch", 200_000, 100, 10, 4096, 50_000),
)
KERAS_CONFIGS = ("seed", "medium")
#: Batches timed for the O(B²C²) formulations on large data (then scaled to the epoch).
SAMPLED_BATCHES = 20


@dataclass
class Timing:
    config: str
    dtype: str
    contender: str
    seconds: float | None  # median per epoch; None when skipped
    note: str = ""


@dataclass
class MainResult:
    timings: list[Timing] = field(default_factory=list)
    validation: dict[str, float] = field(default_factory=dict)
    #: how softmaxlab's fast path ran, per "config/dtype" (softmaxlab.fast.engine.PATHS)
    fast_path: dict[str, str] = field(default_factory=dict)

    def get(self, config: str, dtype: str, contender: str) -> float | None:
        for t in self.timings:
            if (t.config, t.dtype, t.contender) == (config, dtype, contender):
                return t.seconds
        return None

    def ratios(self, config: str, dtype: str) -> dict[str, float | None]:
        ours = self.get(config, dtype, "softmaxlab")
        torch_nn = self.get(config, dtype, "pytorch nn")
        floor = self.get(config, dtype, "gemm floor")
        blas = self.get(config, dtype, "blas floor")
        return {
            "pytorch/ours": torch_nn / ours if ours and torch_nn else None,
            "ours/floor": ours / floor if ours and floor else None,
            "ours/blas floor": ours / blas if ours and blas else None,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MainResult:
        """The result :meth:`to_dict` wrote (the ratios are recomputed)."""
        return cls(
            [Timing(**t) for t in d["timings"]], dict(d["validation_seconds"]), dict(d["fast_path"])
        )

    def to_dict(self) -> dict[str, Any]:
        keys = sorted({(t.config, t.dtype) for t in self.timings})
        return {
            "timings": [asdict(t) for t in self.timings],
            "validation_seconds": self.validation,
            "fast_path": self.fast_path,
            "ratios": {f"{c}/{d}": self.ratios(c, d) for c, d in keys},
        }


def torch_threads() -> int:
    """Intra-op threads PyTorch uses here (recorded with every benchmark run)."""
    return torch.get_num_threads()


def median_epoch(run: Callable[[], Any], repeats: int, *, min_sample: float = 0.05) -> float:
    """Median wall time of one ``run()`` over ``repeats`` samples, after a warm-up call.

    A sample times as many consecutive calls as fill ``min_sample`` seconds (one call for
    anything slower), so sub-millisecond epochs are not lost in timer noise."""
    start = time.perf_counter()
    run()  # warm-up, also sizes the samples
    inner = max(1, math.ceil(min_sample / max(time.perf_counter() - start, 1e-9)))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(inner):
            run()
        times.append((time.perf_counter() - start) / inner)
    return statistics.median(times)


def make_data(
    rows: int, features: int, classes: int, dtype: torch.dtype, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded features and one-hot labels of a random linear teacher."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(rows, features, generator=g, dtype=dtype)
    teacher = torch.randn(features, classes, generator=g, dtype=dtype)
    noise = torch.randn(rows, classes, generator=g, dtype=dtype)
    labels = (x @ teacher + 2 * noise).argmax(dim=1)
    return x, torch.nn.functional.one_hot(labels, classes).to(dtype)


# ----------------------------------------------------------------------------- contenders


def _engine(x, y, batch, **kw) -> Engine:
    w = torch.zeros(x.shape[1], y.shape[1], dtype=x.dtype)
    return Engine(
        x, y.argmax(dim=1), w, torch.zeros(y.shape[1], dtype=x.dtype), batch_size=batch, **kw
    )


def _fast(x, y, batch, lr=0.01) -> Callable[[], Any]:
    engine = _engine(x, y, batch)

    def epoch() -> None:  # SoftmaxClassifier.fit(gradient="fused") per epoch
        with torch.no_grad():
            engine.epoch(lr)[0].mean().item()

    epoch.path = engine.path  # type: ignore[attr-defined]
    epoch.context = engine.threads  # type: ignore[attr-defined]  # held as a fit holds it
    return epoch


def _estimator(x, y, batch, lr=0.01) -> Callable[[], Any]:
    """A ``SoftmaxRegression`` SGD epoch: rows shuffled and standardised as they are read,
    momentum 0.9, an L2 penalty, on the same engine."""
    d = x.std(dim=0)
    engine = _engine(
        x, y, batch, mean=x.mean(dim=0), inv_scale=1 / d, penalty=d**-2, alpha=1e-4, momentum=0.9
    )
    gen = torch.Generator().manual_seed(0)

    def epoch() -> None:
        with torch.no_grad():
            loss, pen = engine.epoch(lr, torch.randperm(x.shape[0], generator=gen))
            (loss + pen).mean().item()

    epoch.context = engine.threads  # type: ignore[attr-defined]
    return epoch


def _blas_floor(x, y, batch) -> Callable[[], Any] | None:
    """The two GEMMs of each batch as the native engine makes them (same BLAS routine,
    called from C, no softmax, no update); ``None`` where the native engine is not
    available."""
    from ..fast import native

    if not native.engine_available(x.dtype, x.device):
        return None
    engine = _engine(x, y, batch)
    return engine.gemm_floor


def _formulation(name: str, x, y, batch, lr=0.01, max_batches=None) -> Callable[[], Any]:
    if max_batches is not None:
        x, y = x[: max_batches * batch], y[: max_batches * batch]
    engine = _engine(x, y, batch, gradient=name)

    def epoch() -> None:  # the loop SoftmaxClassifier.fit runs for this formulation
        with torch.no_grad():
            engine.epoch(lr)[0].mean().item()

    return epoch


def _torch_nn(x, y, batch, lr=0.01) -> Callable[[], Any]:
    layer = torch.nn.Linear(x.shape[1], y.shape[1], dtype=x.dtype)
    loss_fn = torch.nn.CrossEntropyLoss()
    opt = torch.optim.SGD(layer.parameters(), lr=lr)
    batches = [(x[s : s + batch], y[s : s + batch]) for s in range(0, x.shape[0], batch)]

    def epoch() -> None:  # TorchSoftmax.fit's step
        losses = []
        for xb, yb in batches:
            loss = loss_fn(layer(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.detach())
        torch.stack(losses).mean().item()

    return epoch


def _keras(x, y, batch, lr=0.01) -> Callable[[], Any]:
    from ..references import KerasSoftmax

    ref = KerasSoftmax(x.shape[1], y.shape[1], dtype=x.dtype, seed=0)
    ref._compile(lr)
    xn, yn = x.numpy(), y.numpy()
    batches = [(xn[s : s + batch], yn[s : s + batch]) for s in range(0, x.shape[0], batch)]

    def epoch() -> None:
        for xb, yb in batches:
            ref.model.train_on_batch(xb, yb)

    return epoch


def _floor(x, y, batch) -> Callable[[], Any]:
    c, n = y.shape[1], x.shape[1]
    w_t = torch.zeros(c, n, dtype=x.dtype)
    batches = [x[s : s + batch] for s in range(0, x.shape[0], batch)]
    zs = [torch.empty(c, xb.shape[0], dtype=x.dtype) for xb in batches]
    gs = [torch.zeros(c, xb.shape[0], dtype=x.dtype) for xb in batches]
    d_w = torch.empty(c, n, dtype=x.dtype)

    def epoch() -> None:  # only the two GEMMs of each batch
        for xb, z, g in zip(batches, zs, gs, strict=True):
            torch.mm(w_t, xb.T, out=z)
            torch.mm(g, xb, out=d_w)

    return epoch


def _context(run: Callable[[], Any]) -> Any:
    """What a fit holds around its epochs (``run.context()``, e.g. the engine's thread
    budget), or nothing."""
    make = getattr(run, "context", None)
    return make() if make is not None else contextlib.nullcontext()


def median_epochs_interleaved(
    runs: dict[str, Callable[[], Any]], repeats: int, *, min_sample: float = 0.05
) -> dict[str, float]:
    """:func:`median_epoch` for several contenders whose *ratios* matter: their samples
    alternate (A, B, C, A, B, C, ...), so a slow drift of the machine (other load, clock
    frequency) affects all of them alike instead of whichever ran during it."""
    inner = {}
    for name, run in runs.items():
        start = time.perf_counter()
        with _context(run):
            run()  # warm-up, also sizes the samples
        inner[name] = max(1, math.ceil(min_sample / max(time.perf_counter() - start, 1e-9)))
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            with _context(run):
                start = time.perf_counter()
                for _ in range(inner[name]):
                    run()
                times[name].append((time.perf_counter() - start) / inner[name])
    return {name: statistics.median(t) for name, t in times.items()}


def run_main(
    configs: tuple[BenchConfig, ...] = CONFIGS,
    dtypes: tuple[str, ...] = ("float64", "float32"),
    *,
    repeats: int = 3,
    keras: bool = True,
    formulations: tuple[str, ...] = ("chain", "blockwise", "autograd", "jacobian", "kronecker"),
    progress: Callable[[str], None] | None = None,
) -> MainResult:
    """Time one epoch of every contender for every configuration and dtype."""
    from ..references import keras_available

    result = MainResult()
    keras = keras and keras_available()
    for cfg in configs:
        for dname in dtypes:
            dtype = torch.float64 if dname == "float64" else torch.float32
            x, y = make_data(cfg.rows, cfg.features, cfg.classes, dtype)
            args = (x, y, cfg.batch)
            # the three contenders of the targets' ratios: timed in alternation
            if progress:
                progress(f"{cfg.name} {dname} softmaxlab, gemm floor, pytorch nn")
            fast = _fast(*args)
            result.fast_path[f"{cfg.name}/{dname}"] = fast.path  # type: ignore[attr-defined]
            runs = {
                "softmaxlab": fast,
                "softmaxlab[estimator]": _estimator(*args),
                "gemm floor": _floor(*args),
                "pytorch nn": _torch_nn(*args),
            }
            blas = _blas_floor(*args)
            if blas is not None:
                runs["blas floor"] = blas
            paired = median_epochs_interleaved(runs, repeats)
            for name, seconds in paired.items():
                result.timings.append(Timing(cfg.name, dname, name, seconds))
            contenders: list[tuple[str, Callable[[], Callable[[], Any]] | None, str]] = []
            n_batches = math.ceil(cfg.rows / cfg.batch)
            for name in formulations:
                f = G.get(name)
                try:
                    f.check_budget(cfg.batch, cfg.features, cfg.classes, x.element_size())
                except MemoryError:
                    contenders.append((f"softmaxlab[{name}]", None, "over the memory budget"))
                    continue
                if f.bytes_needed is not None and n_batches > SAMPLED_BATCHES:
                    # O(B²C²) steps: time SAMPLED_BATCHES batches, scale to the epoch
                    contenders.append(
                        (
                            f"softmaxlab[{name}]",
                            partial(_formulation, name, *args, max_batches=SAMPLED_BATCHES),
                            f"x{n_batches / SAMPLED_BATCHES:g}",
                        )
                    )
                else:
                    contenders.append(
                        (f"softmaxlab[{name}]", partial(_formulation, name, *args), "")
                    )
            if keras and cfg.name in KERAS_CONFIGS:
                contenders.append(("keras", partial(_keras, *args), ""))
            for name, make, note in contenders:
                if progress:
                    progress(f"{cfg.name} {dname} {name}")
                took = None if make is None else median_epoch(make(), repeats)
                if took is not None and note.startswith("x"):  # sampled: scale up
                    took *= float(note[1:])
                    note = f"extrapolated from {SAMPLED_BATCHES} of {n_batches} batches"
                result.timings.append(Timing(cfg.name, dname, name, took, note))
            xv, yv = make_data(cfg.valid_rows, cfg.features, cfg.classes, dtype, seed=1)
            engine = _engine(x[:1], y[:1], 1)
            result.validation[f"{cfg.name}/{dname}"] = median_epoch(
                partial(engine.metrics, xv, yv.argmax(dim=1)), repeats
            )
    return result
