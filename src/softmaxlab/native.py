"""The optional native kernel of the fast path: built on first use, cached, never required.

``_softmax_grad.c`` fuses what a fused training step does between its two GEMMs —
softmax over the classes, taking the true class's probability, subtracting the one-hot
targets — into one pass (its header states the formula). softmaxlab compiles it with the
system C compiler (``cc``/``gcc``; ``-O3 -march=native``, glibc's vector ``exp``) the
first time the fast path runs on a CPU, into a cache folder keyed by the source, the
compiler flags and the machine, and loads it with :mod:`ctypes`. Everything else stays in
PyTorch.

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

__all__ = ["available", "build", "cache_dir", "softmax_grad"]

SOURCE = Path(__file__).with_name("_softmax_grad.c")
FLAGS = [
    ["-O3", "-march=native", "-fno-math-errno", "-fopenmp-simd", "-fPIC", "-shared"],
    ["-O3", "-fno-math-errno", "-fopenmp-simd", "-fPIC", "-shared"],  # no -march=native
]
LIBS = [["-lmvec", "-lm"], ["-DSOFTMAXLAB_NO_MVEC", "-lm"]]  # without libmvec: scalar exp


def cache_dir() -> Path:
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
    for flags in FLAGS:
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
    for name in ("softmax_grad_f64", "softmax_grad_f32"):
        fn = getattr(lib, name)
        fn.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64,
                       ctypes.c_void_p, ctypes.c_void_p]
        fn.restype = None
    return lib


def available(dtype: torch.dtype, device: torch.device) -> bool:
    """Whether the native kernel can serve tensors of ``dtype`` on ``device``."""
    return (device.type == "cpu" and dtype in (torch.float64, torch.float32)
            and _library() is not None)


def softmax_grad(dtype: torch.dtype) -> Any:
    """The kernel for ``dtype``: ``f(z_t, stride, C, m, labels, loss)`` on raw pointers
    (``tensor.data_ptr()``); see ``_softmax_grad.c``. Call only when :func:`available`."""
    lib = _library()
    assert lib is not None
    return lib.softmax_grad_f64 if dtype == torch.float64 else lib.softmax_grad_f32
