"""Thread budgets of a fit: as many threads as pay off, never more than the caller allows.

PyTorch's GEMMs and the native kernel share PyTorch's OpenMP runtime, so they keep the
limits a caller sets with ``threadpoolctl.threadpool_limits`` and the inner limits of
joblib's workers (``GridSearchCV(n_jobs=...)``). Within those limits a fit lowers the
count further where threads cost more than they bring (measured on 2 cores,
``benchmarks/README.md``):

* a GEMM smaller than :data:`SGD_SMALL_WORK` multiply-adds (batch × N × C) runs fastest
  on one thread: the OpenMP threads' start and spin-wait cost more than the split saves;
* while scipy's L-BFGS runs, its BLAS (OpenBLAS) threads and PyTorch's OpenMP threads
  spin-wait against each other on the same cores, which made full-batch fits 2-15×
  slower; scipy's BLAS gets one thread (its work is vectors of the parameters' size), and
  full passes under :data:`LBFGS_SMALL_WORK` run on one thread too.

* never more OpenMP threads than the CPUs this process may actually use
  (:func:`usable_cpus`: the affinity mask and a container's CPU quota, by joblib's
  count): PyTorch sizes its pool by the machine's cores, and a process limited to one
  CPU then ran epochs whose time swung 100-fold as the threads waited for each other.

A budget only ever lowers limits, for the calling thread, for the duration of a fit.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from typing import Any

__all__ = ["LBFGS_SMALL_WORK", "SGD_SMALL_WORK", "budget", "usable_cpus"]

#: multiply-adds per GEMM (batch × N × C) below which SGD steps run on one thread
SGD_SMALL_WORK = 5e5
#: multiply-adds per full-pass chunk below which L-BFGS passes run on one thread
LBFGS_SMALL_WORK = 2e6

_controller: Any = None


def _ctl() -> Any:
    """One threadpoolctl controller, made after every library whose threads matter here
    (PyTorch's OpenMP, numpy's and scipy's OpenBLAS, scikit-learn's OpenMP) is loaded."""
    global _controller
    if _controller is None:
        import scipy.optimize  # noqa: F401 - loads scipy's BLAS before the controller looks
        import sklearn  # noqa: F401
        import torch  # noqa: F401
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    return _controller


@functools.cache
def usable_cpus() -> int:
    """The CPUs this process may use: its affinity mask and any cgroup CPU quota
    (``joblib.cpu_count``), at least 1."""
    import joblib

    return max(1, int(joblib.cpu_count()))


@contextlib.contextmanager
def budget(work: float, *, lbfgs: bool = False) -> Iterator[None]:
    """Limits for a fit whose GEMMs are ``work`` multiply-adds each (see the module
    docstring); ``lbfgs`` for a fit that alternates with scipy's L-BFGS. A library's
    count is lowered (to 1, or to :func:`usable_cpus`) directly through threadpoolctl's
    controllers (microseconds, where ``threadpool_limits`` re-inspects every library)
    and restored on exit; it is never raised."""
    small = work < (LBFGS_SMALL_WORK if lbfgs else SGD_SMALL_WORK)
    cpus = usable_cpus()
    libs, targets = [], []
    for lc in _ctl().lib_controllers:
        n = lc.num_threads
        if lbfgs and lc.user_api == "blas":
            target = 1
        elif lc.user_api == "openmp":
            target = 1 if small else min(n, cpus)
        else:
            continue
        if target < n:
            libs.append((lc, n))
            targets.append(target)
    try:
        for (lc, _), target in zip(libs, targets, strict=True):
            lc.set_num_threads(target)
        yield
    finally:
        for lc, n in libs:
            lc.set_num_threads(n)
