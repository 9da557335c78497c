"""Building the native kernel: compiled on first use, cached, checked, never required.

softmaxlab compiles ``_softmax_grad.c`` (which includes ``_sparse.c``) with the system C
compiler (``cc``/``gcc``; ``-O3 -march=native``; with ``-fopenmp`` where PyTorch runs on
GNU OpenMP, so large batches use PyTorch's own threads) the first time the fast path runs
on a CPU, into a cache folder keyed by the source, the compiler flags and the machine;
:mod:`softmaxlab.fast.native` loads it with :mod:`ctypes`. Building takes well under a
second.

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

import functools
import hashlib
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import torch

from .._atomic import atomic_write, atomic_write_text

__all__ = ["FLAGS", "LIBS", "SOURCE", "SPARSE_SOURCE", "build", "cache_dir"]

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


class _Rejected(Exception):
    """A build that compiled but failed its probe (the reason is the message)."""


def _compile(cc: str, flags: list[str], libs: list[str], timeout: float, out: str) -> None:
    """Compile the kernel into ``out`` and probe it there; raise :class:`_Rejected` for a
    library that builds but fails its probe, ``OSError`` for one that does not build."""
    done = subprocess.run(
        [cc, *flags, str(SOURCE), "-o", out, *libs], capture_output=True, timeout=timeout
    )
    if done.returncode != 0:
        raise OSError(f"{cc} exited with status {done.returncode}")
    why = _probe(Path(out), timeout)
    if why is not None:
        raise _Rejected(f"the native kernel built with {' '.join(flags)} is unusable: {why}")


def build() -> Path | None:
    """Compile the kernel if it is not cached yet; the shared library's path, or ``None``
    when no compiler or no flag set works (see the module docstring for the checks).
    The library and its checksum are each written whole or not at all
    (:func:`softmaxlab._atomic.atomic_write`), so several processes may build at once."""
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
            try:
                atomic_write(target, functools.partial(_compile, cc, flags, libs, timeout))
            except subprocess.TimeoutExpired:
                _say(
                    f"building the native kernel took over {timeout:g} s ({cc}); "
                    "using PyTorch operations instead"
                )
                return None
            except _Rejected as exc:
                unusable = unusable or str(exc)
                continue
            except OSError:
                continue
            # the checksum last: a library without it is rebuilt, never trusted
            atomic_write_text(target.with_suffix(".sha256"), _digest(target) + "\n")
            if unusable is not None:
                _say(f"{unusable}; using a build with {' '.join(flags)}")
            return target
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
