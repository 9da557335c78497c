"""The optional native kernel of the fast path: built on first use, cached, never required.

``_softmax_grad.c`` fuses what a fused training step does between its two GEMMs —
softmax over the classes, taking the true class's probability, subtracting the one-hot
targets — into one pass (its header states the formula). softmaxlab compiles it with the
system C compiler (``cc``/``gcc``; ``-O3 -march=native``; with ``-fopenmp`` where PyTorch
runs on GNU OpenMP, so large batches use PyTorch's own threads) the first time the fast
path runs on a CPU, into a cache folder keyed by the source, the compiler flags and the
machine, and loads it with :mod:`ctypes`. Everything else stays in PyTorch. Building takes
well under a second.

When there is no compiler, the build fails, the data is not on the CPU, or
``SOFTMAXLAB_NATIVE=0`` is set, the fast path uses PyTorch's ``softmax``/``gather``/
``sub_`` instead: same results to rounding (tested both ways), only slower.

Cache folder: ``$SOFTMAXLAB_CACHE``, else ``$XDG_CACHE_HOME/softmaxlab``, else
``~/.cache/softmaxlab``.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import torch

__all__ = ["available", "build", "cache_dir", "epoch", "epoch_available", "gemm_floor",
           "softmax_grad"]

SOURCE = Path(__file__).with_name("_softmax_grad.c")
_BASE = ["-O3", "-fno-math-errno", "-fPIC", "-shared"]
#: tried in order: threads from PyTorch's OpenMP runtime (only where PyTorch itself runs
#: on libgomp, see _torch_uses_libgomp), then single-threaded, then without -march=native
FLAGS = [
    [*_BASE, "-march=native", "-fopenmp"],
    [*_BASE, "-march=native", "-fopenmp-simd"],
    [*_BASE, "-fopenmp-simd"],
]
LIBS = [["-lmvec", "-lm"], ["-DSOFTMAXLAB_NO_MVEC", "-lm"]]  # without libmvec: scalar log


def cache_dir() -> Path:
    """Where built kernels are kept (see the module docstring)."""
    if os.environ.get("SOFTMAXLAB_CACHE"):
        return Path(os.environ["SOFTMAXLAB_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "softmaxlab"


def _compiler() -> str | None:
    for name in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if name and shutil.which(name):
            return name
    return None


def build() -> Path | None:
    """Compile the kernel if it is not cached yet; the shared library's path, or ``None``
    when no compiler or no flag set works. Safe when several processes build at once
    (each writes a temporary file and renames it)."""
    cc = _compiler()
    if cc is None or sys.platform == "win32":
        return None
    source = SOURCE.read_bytes()
    for flags in FLAGS if _torch_uses_libgomp() else FLAGS[1:]:
        for libs in LIBS:
            key = hashlib.sha256(source + repr((cc, flags, libs, platform.machine(),
                                                platform.libc_ver())).encode())
            target = cache_dir() / f"softmax_grad-{key.hexdigest()[:16]}.so"
            if target.is_file():
                return target
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(suffix=".so", dir=target.parent)
            os.close(fd)
            cmd = [cc, *flags, str(SOURCE), "-o", tmp, *libs]
            try:
                done = subprocess.run(cmd, capture_output=True, timeout=120)
            except (OSError, subprocess.TimeoutExpired):
                done = None
            if done is not None and done.returncode == 0:
                os.replace(tmp, target)
                return target
            Path(tmp).unlink(missing_ok=True)
    return None


def _torch_uses_libgomp() -> bool:
    """Whether PyTorch runs its threads on GNU OpenMP, already loaded in this process: a
    kernel built with -fopenmp then binds to that same ``libgomp.so.1`` (the loader reuses
    a loaded library of the same name), so it shares PyTorch's threads and settings
    instead of starting a second pool."""
    if "OpenMP" not in torch.__config__.parallel_info():
        return False
    try:
        with open("/proc/self/maps") as fh:
            return "libgomp" in fh.read()
    except OSError:
        return False


_P, _I = ctypes.c_void_p, ctypes.c_int64
_SIGNATURES = {
    "softmax_grad": [_P, _I, _I, _I, _P, _P],
    "epoch": [_P, _P, _I, _I, _P, _I, _I, _P, _P, _P, ctypes.c_double],
    "gemm_floor": [_P, _P, _I, _I, _P, _I, _I, _P, _P],
}


@cache
def _library() -> ctypes.CDLL | None:
    if os.environ.get("SOFTMAXLAB_NATIVE", "1") == "0":
        return None
    try:
        path = build()
        if path is None:
            return None
        lib = ctypes.CDLL(str(path))
    except OSError:
        return None
    for stem, argtypes in _SIGNATURES.items():
        for suffix in ("f64", "f32"):
            fn = getattr(lib, f"{stem}_{suffix}")
            fn.argtypes = argtypes
            fn.restype = None
    return lib


@cache
def _blas() -> dict[torch.dtype, int]:
    """Addresses of the ``dgemm``/``sgemm`` (Fortran interface) that PyTorch's own CPU
    library exports — the BLAS ``torch.mm`` runs on (MKL in the x86-64 wheels). Empty
    where it exports none; then the epoch loop stays in Python."""
    found: dict[torch.dtype, int] = {}
    lib_dir = Path(torch.__file__).parent / "lib"
    for name in ("libtorch_cpu.so", "libtorch_cpu.dylib"):
        if not (lib_dir / name).is_file():
            continue
        try:
            lib = ctypes.CDLL(str(lib_dir / name))
        except OSError:
            continue
        for dtype, symbol in ((torch.float64, "dgemm"), (torch.float32, "sgemm")):
            fn = getattr(lib, symbol, None)
            if fn is not None:
                found[dtype] = ctypes.cast(fn, ctypes.c_void_p).value or 0
        break
    return {k: v for k, v in found.items() if v}


def available(dtype: torch.dtype, device: torch.device) -> bool:
    """Whether the native kernel can serve tensors of ``dtype`` on ``device``."""
    return (device.type == "cpu" and dtype in (torch.float64, torch.float32)
            and _library() is not None)


def _suffix(dtype: torch.dtype) -> str:
    return "f64" if dtype == torch.float64 else "f32"


def softmax_grad(dtype: torch.dtype) -> Any:
    """The kernel for ``dtype``: ``f(z_t, stride, C, m, labels, loss)`` on raw pointers
    (``tensor.data_ptr()``); see ``_softmax_grad.c``. Call only when :func:`available`."""
    lib = _library()
    assert lib is not None
    return getattr(lib, f"softmax_grad_{_suffix(dtype)}")


def epoch_available(dtype: torch.dtype, device: torch.device) -> bool:
    """Whether a whole epoch can run natively: the kernel, and PyTorch's BLAS for
    ``dtype``."""
    return available(dtype, device) and dtype in _blas()


def epoch(dtype: torch.dtype) -> Any:
    """``(f, gemm)``: ``f(gemm, wa_t, C, N+1, xa, n, batch, z_store, labels, row_loss,
    lr)`` runs one epoch (see ``_softmax_grad.c``). Call only when
    :func:`epoch_available`."""
    lib = _library()
    assert lib is not None
    return getattr(lib, f"epoch_{_suffix(dtype)}"), _blas()[dtype]


def gemm_floor(dtype: torch.dtype) -> Any:
    """``(f, gemm)`` for the benchmarks: ``f(gemm, wa_t, C, N+1, xa, n, batch, z_store,
    scratch)`` runs only the two GEMMs of each batch of :func:`epoch`."""
    lib = _library()
    assert lib is not None
    return getattr(lib, f"gemm_floor_{_suffix(dtype)}"), _blas()[dtype]
