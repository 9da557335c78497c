"""The optional native kernel of the fast path, loaded with :mod:`ctypes`.

``_softmax_grad.c`` fuses what a fused training step does between its two GEMMs —
softmax over the classes, taking the true class's probability, subtracting the one-hot
targets — into one pass (its header states the formula), and runs whole epochs of the
dense and the sparse engine on PyTorch's own BLAS. :mod:`softmaxlab.fast.build` compiles
and caches it; everything else stays in PyTorch.

When there is no compiler, the build fails, the data is not on the CPU, or
``SOFTMAXLAB_NATIVE=0`` is set, the fast path uses PyTorch's ``softmax``/``gather``/
``sub_`` instead: same results to rounding (tested both ways), only slower.
"""

from __future__ import annotations

import ctypes
import os
from functools import cache
from pathlib import Path
from typing import Any

import torch

from .build import build, cache_dir

__all__ = [
    "EngineSpec",
    "SparseSpec",
    "available",
    "build",
    "cache_dir",
    "engine",
    "engine_available",
    "softmax_grad",
    "sparse",
]


_P, _I, _D = ctypes.c_void_p, ctypes.c_int64, ctypes.c_double


class EngineSpec(ctypes.Structure):
    """The C ``engine_spec`` of ``_softmax_grad.c``: what one training engine works on
    (pointers into tensors that the engine keeps alive; see :mod:`softmaxlab.fast.engine`)."""

    _fields_ = [
        ("gemm", _P),
        ("c", _I),
        ("nf", _I),
        ("x", _P),
        ("ldx", _I),
        ("n", _I),
        ("batch", _I),
        ("order", _P),
        ("mu", _P),
        ("inv_d", _P),
        ("labels", _P),
        ("weight", _P),
        ("wt", _P),
        ("b", _P),
        ("vw", _P),
        ("vb", _P),
        ("momentum", _D),
        ("nesterov", _I),
        ("alpha", _D),
        ("pen", _P),
        ("xbuf", _P),
        ("z", _P),
        ("gw", _P),
        ("gb", _P),
        ("lbuf", _P),
        ("sbuf", _P),
        ("row_loss", _P),
        ("xbuf2", _P),
        ("lbuf2", _P),
        ("sbuf2", _P),
        ("pipeline", _I),
        ("l1", _D),
        ("pen1", _P),
    ]


class SparseSpec(ctypes.Structure):
    """The C ``sparse_spec`` of ``_sparse.c``: what one sparse engine works on
    (:mod:`softmaxlab.fast.sparse`)."""

    _fields_ = [
        ("c", _I),
        ("nf", _I),
        ("n", _I),
        ("batch", _I),
        ("indptr", _P),
        ("indices", _P),
        ("data", _P),
        ("order", _P),
        ("labels", _P),
        ("weight", _P),
        ("w", _P),
        ("b", _P),
        ("vw", _P),
        ("vb", _P),
        ("momentum", _D),
        ("nesterov", _I),
        ("alpha", _D),
        ("pen", _P),
        ("z", _P),
        ("gw", _P),
        ("gb", _P),
        ("last", _P),
        ("touched", _P),
        ("mark", _P),
        ("threads", _I),
        ("scratch", _P),
        ("pass_buf", _P),
        ("stride", _I),
        ("l1", _D),
        ("pen1", _P),
    ]


_SPEC = ctypes.POINTER(EngineSpec)
_SPARSE = ctypes.POINTER(SparseSpec)
_SIGNATURES: dict[str, tuple[list[Any], Any]] = {
    "softmax_grad": ([_P, _I, _I, _I, _P, _P], None),
    "epoch": ([_SPEC, _D, _P, _P], None),
    "gradient": ([_SPEC, _I, _I, _D, _I], _D),
    "update": ([_SPEC, _D], None),
    "gemm_floor": ([_SPEC], None),
    "column_stats": ([_P, _I, _I, _I, _P, _P, _P, _P], ctypes.c_int),
    "sparse_epoch": ([_SPARSE, _D, _P, _P], None),
    "sparse_pass": ([_SPARSE, _I, _I, _D, _P, _P], _D),
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
    for stem, (argtypes, restype) in _SIGNATURES.items():
        for suffix in ("f64", "f32"):
            fn = getattr(lib, f"{stem}_{suffix}")
            fn.argtypes = argtypes
            fn.restype = restype
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
    return (
        device.type == "cpu" and dtype in (torch.float64, torch.float32) and _library() is not None
    )


def _suffix(dtype: torch.dtype) -> str:
    return "f64" if dtype == torch.float64 else "f32"


def softmax_grad(dtype: torch.dtype) -> Any:
    """The kernel for ``dtype``: ``f(z_t, stride, C, m, labels, loss)`` on raw pointers
    (``tensor.data_ptr()``); see ``_softmax_grad.c``. Call only when :func:`available`."""
    lib = _library()
    assert lib is not None
    return getattr(lib, f"softmax_grad_{_suffix(dtype)}")


def engine_available(dtype: torch.dtype, device: torch.device) -> bool:
    """Whether the native training engine can serve tensors of ``dtype`` on ``device``:
    the kernel, and PyTorch's own BLAS for ``dtype``."""
    return available(dtype, device) and dtype in _blas()


def engine(dtype: torch.dtype) -> tuple[Any, int]:
    """``(lib functions, gemm address)`` for ``dtype``: a namespace with ``epoch``,
    ``gradient``, ``update`` and ``gemm_floor`` taking an :class:`EngineSpec` (see
    ``_softmax_grad.c``). Call only when :func:`engine_available`."""
    lib = _library()
    assert lib is not None
    sfx = _suffix(dtype)
    fns = {
        stem: getattr(lib, f"{stem}_{sfx}")
        for stem in ("epoch", "gradient", "update", "gemm_floor")
    }
    return fns, _blas()[dtype]


def sparse(dtype: torch.dtype) -> dict[str, Any]:
    """``{"epoch", "pass"}`` of the sparse engine for ``dtype``, taking a
    :class:`SparseSpec` (see ``_sparse.c``). Call only when :func:`available`."""
    lib = _library()
    assert lib is not None
    sfx = _suffix(dtype)
    return {
        "epoch": getattr(lib, f"sparse_epoch_{sfx}"),
        "pass": getattr(lib, f"sparse_pass_{sfx}"),
    }


def column_stats(dtype: torch.dtype) -> Any:
    """``f(x, ldx, n, N, rows, w, c, out)`` on raw pointers: the standardisation's
    float64 sums in one multi-threaded pass (see ``_softmax_grad.c``). Call only when
    :func:`available`."""
    lib = _library()
    assert lib is not None
    return getattr(lib, f"column_stats_{_suffix(dtype)}")
