r"""Data-parallel training on ``torch.distributed``, equal to one process.

Every rank runs the very fit of one process — ``SoftmaxClassifier.fit`` (:func:`fit`),
``SoftmaxRegression.fit`` with all its options (:func:`fit_estimator`) — inside
:func:`softmaxlab.fast.comm.data_parallel`, where each step of the one engine
(:mod:`softmaxlab.fast.engine`) splits the global mini-batch into contiguous shards, one per
rank: each rank computes the *sums* :math:`\tilde X_r^\top S_r(\hat Y_r - Y_r)`,
:math:`\mathbf 1^\top S_r(\hat Y_r - Y_r)` and its rows' losses, one ``all_reduce`` adds
them, and every rank divides by the global batch size m and makes the same update
(penalty, momentum). That is exactly the single-process step up to the order of the
floating-point sums; every rank shuffles with the same generator, so shuffled runs split
the same batches. L-BFGS's full passes are split and reduced the same way. Only rank 0
prints and writes checkpoints; rank 0 reads them and broadcasts what they hold.

Backend: gloo on the CPU, nccl when CUDA is available. Started by ``torchrun`` (its
``RANK``/``WORLD_SIZE``/``MASTER_ADDR``/``MASTER_PORT`` environment), or spawned on this
machine by :func:`fit` with ``nproc``. A rank that fails stops the whole job: the other
ranks are ended and the caller gets the rank's own softmaxlab error (bad data, divergence,
a refused checkpoint) or else a :class:`DistributedError`; collectives time out after
``timeout`` seconds instead of hanging.

:func:`fit` hands every rank the whole training set; :func:`fit_file` lets each rank read
only its own rows of a ``.npy``/``.parquet`` file (:mod:`softmaxlab.io.shards`). Both write
and resume checkpoints (rank 0 writes; rank 0 reads and broadcasts).
"""

from ..errors import DistributedError
from ._procs import MAX_NPROC, group_comm, launched_by_torchrun, peak_rss_mib
from .estimator_files import fit_file_estimator
from .files import ShardedRun, fit_file
from .memory import fit, fit_estimator

__all__ = [
    "MAX_NPROC",
    "DistributedError",
    "ShardedRun",
    "fit",
    "fit_estimator",
    "fit_file",
    "fit_file_estimator",
    "group_comm",
    "launched_by_torchrun",
    "peak_rss_mib",
]
