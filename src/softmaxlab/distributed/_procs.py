"""The processes of a data-parallel run: spawning local ranks or joining a torchrun job,
their process group and :class:`~softmaxlab.fast.comm.Comm`, timeouts, and bringing a rank's
own error back to the caller with its type."""

from __future__ import annotations

import datetime
import json
import os
import pickle
import signal
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from .._validation import check_positive_int
from ..errors import DistributedError, InvalidInputError, SoftmaxlabError
from ..fast.comm import Comm
from ..fast.threads import usable_cpus


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def group_comm(
    *, shards: list[tuple[int, int, int]] | None = None, n_rows: int | None = None
) -> Comm:
    """This rank's :class:`~softmaxlab.fast.comm.Comm` in the initialised process group."""

    def broadcast(obj: Any) -> Any:
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    return Comm(
        dist.get_rank(),
        dist.get_world_size(),
        dist.all_reduce,
        broadcast,
        None if shards is None else tuple(shards),
        n_rows,
    )


class _EpochClock:
    """Wall time of each epoch of a rank's fit (the collectives synchronise the ranks,
    so rank 0's clock is the job's): the time between successive epoch callbacks."""

    def __init__(self, then: Callable[[Any], None] | None = None) -> None:
        self.seconds: list[float] = []
        self.last = time.perf_counter()
        self.then = then

    def __call__(self, record: Any) -> None:
        now = time.perf_counter()
        self.seconds.append(now - self.last)
        self.last = now
        if self.then is not None:
            self.then(record)


def _init(rank: int | None, world: int | None, port: int | None, timeout: float) -> None:
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    kwargs: dict[str, Any] = {"timeout": datetime.timedelta(seconds=timeout)}
    if port is None:
        dist.init_process_group(backend, init_method="env://", **kwargs)
    else:
        assert rank is not None and world is not None
        dist.init_process_group(
            backend, init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world, **kwargs
        )


def _enter_worker(rank: int, world: int) -> None:
    torch.set_num_threads(max(1, usable_cpus() // world))
    if os.environ.get("SOFTMAXLAB_FAIL_RANK") == str(rank):  # fault injection for tests
        raise RuntimeError(f"rank {rank} failed on purpose (SOFTMAXLAB_FAIL_RANK)")


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds: atomic writes remove their temporary files


def _worker(
    rank: int,
    world: int,
    port: int,
    body: Callable[[int, int, Any, str], None],
    payload: Any,
    timeout: float,
    out: str,
    env: dict[str, str],
    cwd: str,
) -> None:
    """A spawned rank: take the caller's environment and working directory (a forked
    rank starts from the fork server's), join the group, run ``body(rank, world,
    payload, out)``, leave."""
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the caller decides; it sends SIGTERM
    _enter_worker(rank, world)
    _init(rank, world, port, timeout)
    try:
        _report_errors(rank, out, lambda: body(rank, world, payload, out))
    finally:
        dist.destroy_process_group()


def _report_errors(rank: int, out: str, body: Callable[[], None]) -> None:
    """Run a rank's ``body``; a softmaxlab error (bad data, divergence, a refused
    checkpoint) is written next to ``out`` so that the caller can raise it as it is."""
    try:
        body()
    except SoftmaxlabError as exc:
        record = {
            "type": type(exc).__name__,
            "message": str(exc),
            "epoch": getattr(exc, "epoch", None),
            "batch": getattr(exc, "batch", None),
        }
        Path(f"{out}.error{rank}").write_text(json.dumps(record))
        raise


def _raise_rank_error(out: str) -> None:
    """Re-raise the first softmaxlab error a rank reported, with its own type."""
    from .. import errors

    for path in sorted(Path(out).parent.glob(Path(out).name + ".error*")):
        record = json.loads(path.read_text())
        kind = getattr(errors, record["type"], None)
        if kind is errors.TrainingDiverged:
            raise errors.TrainingDiverged(
                record["message"], epoch=record["epoch"], batch=record["batch"]
            )
        if isinstance(kind, type) and issubclass(kind, SoftmaxlabError):
            raise kind(record["message"])


def _start_method() -> str:
    """``forkserver`` where there is one: a server process imports softmaxlab once, and
    every later rank is forked from it instead of importing torch and scikit-learn
    again. The server never computes, so no thread
    pool or device state is forked. ``spawn`` elsewhere."""
    import multiprocessing

    if "forkserver" not in multiprocessing.get_all_start_methods():
        return "spawn"
    multiprocessing.get_context("forkserver").set_forkserver_preload(["softmaxlab.distributed"])
    return "forkserver"


def _spawn(worker: Callable[..., None], nproc: int, args: tuple[Any, ...], out: str) -> None:
    import logging

    import torch.multiprocessing as mp

    spawn_log = logging.getLogger("torch.multiprocessing.spawn")
    level = spawn_log.level
    spawn_log.setLevel(logging.ERROR)  # not "Terminating process ..." on the console
    try:
        context = mp.start_processes(
            worker,
            args=(nproc, _free_port(), *args, out, dict(os.environ), os.getcwd()),
            nprocs=nproc,
            join=False,
            start_method=_start_method(),
        )
        try:
            while not context.join(grace_period=2.0):  # a stuck rank: SIGKILL after 4 s
                pass
        except BaseException:  # Ctrl-C, SIGTERM or a failed rank: no rank trains on
            _stop_ranks(context.processes)
            raise
    except Exception as exc:
        _raise_rank_error(out)
        lines = [line for line in str(exc).splitlines() if line.strip()]
        raise DistributedError(
            f"nproc: the data-parallel run failed and was stopped ({lines[-1] if lines else exc})"
        ) from None
    finally:
        spawn_log.setLevel(level)


def _stop_ranks(processes: list[Any], grace: float = 5.0) -> None:
    """SIGTERM every rank still running (each removes its temporary files and exits), then
    SIGKILL those still alive after ``grace`` seconds."""
    for p in processes:
        if p.is_alive():
            p.terminate()
    deadline = time.monotonic() + grace
    for p in processes:
        p.join(max(0.0, deadline - time.monotonic()))
        if p.is_alive():
            p.kill()
            p.join()


def launched_by_torchrun() -> bool:
    """Whether this process is one rank of a ``torchrun`` job (its environment is set)."""
    return all(k in os.environ for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"))


#: The most local processes ``nproc`` may ask for: beyond a few per core, more ranks only
#: add start-up time and memory.
MAX_NPROC = max(8, 4 * (os.cpu_count() or 1))


def _check_nproc(nproc: Any) -> int:
    nproc = check_positive_int(nproc, "nproc")
    if nproc > MAX_NPROC:
        raise InvalidInputError(
            f"nproc: at most {MAX_NPROC} local processes on this machine "
            f"({os.cpu_count()} cores), got {nproc}"
        )
    return nproc


def _require_torchrun() -> None:
    if not launched_by_torchrun():
        raise DistributedError("nproc: give a number of processes, or start with torchrun")


def peak_rss_mib() -> float:
    """This process's peak resident memory in MiB: ``VmHWM`` of ``/proc/self/status``
    where there is one (``ru_maxrss`` would include the parent's peak, which a spawned
    process inherits across ``exec`` on Linux), else ``ru_maxrss``."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def _labels_to_index(local: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Classes over every rank's labels (all-gathered unique values, ordered and typed as
    :func:`softmaxlab.load_dataset` does) and the class index of each local label."""
    import pandas as pd

    from ..io.tables import encode_labels

    parts = []
    for values in local:
        series = pd.Series(values)
        if series.isna().any():
            raise InvalidInputError("data: missing label in the target column")
        parts.append(series.unique())
    gathered: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, np.concatenate(parts))
    classes, _ = encode_labels(np.concatenate([g for g in gathered if len(g)]), "target column")
    index = pd.Index(classes)
    out = []
    for values in local:
        idx = index.get_indexer(
            values.astype(classes.dtype) if classes.dtype.kind in "iuf" else values
        )
        out.append(idx)
    return classes, out


def spawn_for_result(
    body: Callable[[int, int, Any, str], None], nproc: int, payload: Any, timeout: float
) -> Any:
    """Run ``body`` on ``nproc`` spawned ranks and return what rank 0 pickled to the
    ``out`` path it is given (our own private temporary directory)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "result.pickle")
        _spawn(_worker, nproc, (body, payload, timeout), out)
        try:
            return pickle.loads(Path(out).read_bytes())  # written by our own rank 0
        except OSError:
            raise DistributedError("nproc: no result") from None


def adopt_fitted(estimator: Any, state: dict[str, Any]) -> None:
    """Replace ``estimator``'s fitted attributes (``name_``) by a rank's ``state``."""
    for key in [k for k in estimator.__dict__ if k.endswith("_")]:
        del estimator.__dict__[key]
    estimator.__dict__.update(state)
