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
``~/.cache/softmaxlab``. A cached kernel is trusted only as what was built here: its key
includes the CPU's instruction-set flags (a cache shared with another CPU never loads
code this one cannot run), a new build is first loaded and run on a tiny input in a
separate process (a kernel that crashes or traps is discarded there, not here), and the
checked build's SHA-256 is kept next to it; a cached file whose bytes no longer match (a
truncated or replaced file) is rebuilt. A compiler that runs longer than
``$SOFTMAXLAB_BUILD_TIMEOUT`` seconds (20 by default) is stopped. Each of these
fallbacks prints one line on stderr.
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

SOURCE = Path(__file__).with_name("_softmax_grad.c")
#: included by SOURCE (the sparse engine's kernels); part of the cache key
SPARSE_SOURCE = Path(__file__).with_name("_sparse.c")
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


def _cpu_flags() -> str:
    """The CPU's instruction-set flags (``/proc/cpuinfo``), part of the cache key."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith(("flags", "Features")):
                    return " ".join(sorted(line.split(":", 1)[1].split()))
    except OSError:
        pass
    return platform.processor()


def _say(message: str) -> None:
    print(f"softmaxlab: {message}", file=sys.stderr, flush=True)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


#: Runs in a fresh interpreter (``python -S``): load the library and run the softmax
#: kernel on one sample of two classes; prints the loss (ln 2).
_PROBE = """
import ctypes, sys
lib = ctypes.CDLL(sys.argv[1])
z = (ctypes.c_double * 2)(0.0, 0.0)
label = (ctypes.c_int64 * 1)(0)
loss = (ctypes.c_double * 1)(0.0)
f = lib.softmax_grad_f64
f.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64,
              ctypes.c_void_p, ctypes.c_void_p]
f(z, 1, 2, 1, label, loss)
print(repr(loss[0]), repr(z[0]), repr(z[1]))
"""


def _probe(path: Path, timeout: float) -> str | None:
    """``None`` when the library at ``path`` loads and computes softmax − one-hot
    correctly in a separate process; else why not."""
    import math

    try:
        done = subprocess.run(
            [sys.executable, "-S", "-c", _PROBE, str(path)],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return "it hung when run"
    except OSError as exc:
        return f"it could not be run ({exc})"
    if done.returncode != 0:
        sig = -done.returncode if done.returncode < 0 else None
        return (
            f"it crashed when run (signal {sig})"
            if sig
            else f"it failed to load ({(done.stderr.strip().splitlines() or ['?'])[-1]})"
        )
    try:
        loss, g0, g1 = (float(v) for v in done.stdout.split())
    except ValueError:
        return "it printed nothing usable"
    if not (abs(loss - math.log(2)) < 1e-12 and abs(g0 + 0.5) < 1e-12 and abs(g1 - 0.5) < 1e-12):
        return "it computed wrong numbers"
    return None


def _build_timeout() -> float:
    try:
        return max(1.0, float(os.environ.get("SOFTMAXLAB_BUILD_TIMEOUT", "20")))
    except ValueError:
        return 20.0


def _cached(target: Path) -> bool:
    """Whether ``target`` is a kernel this machine built and checked, byte for byte."""
    sidecar = target.with_suffix(".sha256")
    if not target.is_file():
        return False
    try:
        ok = sidecar.read_text().strip() == _digest(target)
    except OSError:
        ok = False
    if not ok:
        _say(f"the cached native kernel {target.name} is damaged or not ours; rebuilding it")
        target.unlink(missing_ok=True)
        sidecar.unlink(missing_ok=True)
    return ok


def _fsync(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def build() -> Path | None:
    """Compile the kernel if it is not cached yet; the shared library's path, or ``None``
    when no compiler or no flag set works (see the module docstring for the checks).
    Safe when several processes build at once (each writes temporary files and renames
    them)."""
    cc = _compiler()
    if cc is None or sys.platform == "win32":
        return None
    source = SOURCE.read_bytes() + SPARSE_SOURCE.read_bytes()
    timeout = _build_timeout()
    unusable: str | None = None  # why the first rejected build was rejected
    for flags in FLAGS if _torch_uses_libgomp() else FLAGS[1:]:
        for libs in LIBS:
            key = hashlib.sha256(
                source
                + repr(
                    (cc, flags, libs, platform.machine(), platform.libc_ver(), _cpu_flags())
                ).encode()
            )
            target = cache_dir() / f"softmax_grad-{key.hexdigest()[:16]}.so"
            if _cached(target):
                return target
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(suffix=".so", dir=target.parent)
            os.close(fd)
            cmd = [cc, *flags, str(SOURCE), "-o", tmp, *libs]
            try:
                done = subprocess.run(cmd, capture_output=True, timeout=timeout)
            except subprocess.TimeoutExpired:
                Path(tmp).unlink(missing_ok=True)
                _say(
                    f"building the native kernel took over {timeout:g} s ({cc}); "
                    "using PyTorch operations instead"
                )
                return None
            except OSError:
                done = None
            if done is not None and done.returncode == 0:
                why = _probe(Path(tmp), timeout)
                if why is None:
                    _fsync(Path(tmp))
                    sidecar = Path(tmp).with_suffix(".sha256")
                    sidecar.write_text(_digest(Path(tmp)) + "\n")
                    _fsync(sidecar)
                    os.replace(sidecar, target.with_suffix(".sha256"))
                    os.replace(tmp, target)
                    if unusable is not None:
                        _say(f"{unusable}; using a build with {' '.join(flags)}")
                    return target
                unusable = unusable or (
                    f"the native kernel built with {' '.join(flags)} is unusable: {why}"
                )
            Path(tmp).unlink(missing_ok=True)
    if unusable is not None:
        _say(f"{unusable}; using PyTorch operations instead")
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
