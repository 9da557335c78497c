"""Thread budgets of a fit: as many threads as pay off, never more than the caller allows.

PyTorch's GEMMs and the native kernel share PyTorch's OpenMP runtime, so they keep the
limits a caller sets with ``threadpoolctl.threadpool_limits`` and the inner limits of
joblib's workers (``GridSearchCV(n_jobs=...)``). Within those limits a fit lowers the
count further where threads cost more than they bring (benchmarks/README.md,
"Measurements behind the thresholds", has the figures):

* a GEMM smaller than :data:`SGD_SMALL_WORK` multiply-adds (batch × N × C) runs fastest
  on one thread: the OpenMP threads' start and spin-wait cost more than the split saves;
* while L-BFGS runs, the BLAS threads (scipy's OpenBLAS) of its vector algebra and
  PyTorch's OpenMP threads spin-wait against each other on the same cores; scipy's BLAS
  gets one thread (its work is vectors of the parameters' size), and full passes under
  :data:`LBFGS_SMALL_WORK` run on one thread too.

* never more OpenMP threads than the CPUs this process may actually use
  (:func:`usable_cpus`: the affinity mask and a container's CPU quota, by joblib's
  count): PyTorch sizes its pool by the machine's cores, and a process limited to one
  CPU would otherwise have its threads wait for each other.

A budget only ever lowers limits, for the calling thread, for the duration of a fit.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from typing import Any

__all__ = ["LBFGS_SMALL_WORK", "SGD_SMALL_WORK", "TeamChooser", "budget", "usable_cpus"]

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
    docstring); ``lbfgs`` for a fit that alternates with L-BFGS's vector algebra. A library's
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


class TeamChooser:
    """The team of a pipelined native epoch (one thread gathers the next batch while the
    other computes), chosen by measurement. Two threads win on an idle machine; when
    another process holds a core, the barrier after every batch waits for a descheduled
    thread and two-thread epochs become slower and uneven. Both teams
    run the same operations in the same order, so the choice changes the time, never the
    result: each team's epoch time is tracked (a moving average), the faster one runs, and
    every :attr:`PROBE`-th epoch re-times the other, so the choice follows the load."""

    PROBE = 8

    def __init__(self, threads: int) -> None:
        self.threads = max(1, threads)
        self.seconds: dict[int, float | None] = {self.threads: None, 1: None}
        self.epochs = 0

    @classmethod
    def following(cls, chooser: TeamChooser | None, threads: int) -> TeamChooser:
        """``chooser``, or a new one when there is none or the thread count changed."""
        return (
            chooser if chooser is not None and chooser.threads == max(1, threads) else cls(threads)
        )

    def pick(self) -> int:
        """The team size for the next epoch."""
        if self.threads == 1:
            return 1
        for team in (self.threads, 1):  # time each once first
            if self.seconds[team] is None:
                return team
        best = min(self.seconds, key=lambda k: self.seconds[k] or 0.0)
        other = 1 if best != 1 else self.threads
        return other if self.epochs % self.PROBE == self.PROBE - 1 else best

    def record(self, team: int, seconds: float) -> None:
        """An epoch of ``team`` threads took ``seconds`` (weighted 3:1 against the past, so
        that a change of load shows within a probe or two)."""
        old = self.seconds.get(team)
        self.seconds[team] = seconds if old is None else 0.25 * old + 0.75 * seconds
        self.epochs += 1
