"""Training checkpoints: safetensors files written atomically, refused when they do not
belong to the run being resumed.

A checkpoint holds the parameters (and, for the estimator, the optimiser's state) as
tensors, the history so far as a float64 tensor too (so that writing it costs 8 bytes an
epoch, not a JSON text rebuilt every time), and as metadata: the number of completed
epochs, the batch position (0: written at epoch boundaries), the scalar state, and a
*fingerprint* — a SHA-256 of the training data and the hyper-parameters that shape the
trajectory. Resuming with other data or other
hyper-parameters is refused with :class:`CheckpointError`, as is a corrupt, truncated or
foreign file; nothing is ever silently restarted. safetensors never executes code.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch

from ..errors import CheckpointError
from ..fast import comm

__all__ = [
    "CheckpointError",
    "classifier_fingerprint",
    "fingerprint",
    "load_checkpoint",
    "save_checkpoint",
]

FORMAT = "softmaxlab-checkpoint"
VERSION = 2  # 2: histories and per-epoch lists are tensors

#: Columns of a SoftmaxClassifier history tensor (None stored as NaN).
RECORD_COLUMNS = ("epoch", "ce", "ce_valid", "acc_valid")


def fingerprint(data: list[torch.Tensor | Path | None], settings: dict[str, Any]) -> str:
    """The one fingerprint of a training run: SHA-256 of the data — tensors' bytes, shapes
    and dtypes, or a file's bytes (streamed in 1 MiB blocks: constant memory) — and of
    ``settings``."""
    h = hashlib.sha256()
    # sparse rows (softmaxlab.sparse.SparseRows) count as their index and value tensors
    flat: list[Any] = []
    for item in data:
        tensors = getattr(item, "tensors", None)
        flat.extend(tensors() if tensors is not None else [item])
    for t in flat:
        if t is None:
            h.update(b"none")
            continue
        if isinstance(t, Path):
            with open(t, "rb") as fh:
                while block := fh.read(1 << 20):
                    h.update(block)
            continue
        t = t.detach().cpu().contiguous()
        h.update(f"{tuple(t.shape)}{t.dtype}".encode())
        h.update(t.numpy().tobytes())
    h.update(json.dumps(settings, sort_keys=True, default=str).encode())
    return h.hexdigest()


def classifier_fingerprint(
    data: Any, n_features: int, n_classes: int, gradient: str, dtype: torch.dtype
) -> str:
    """The fingerprint of a ``SoftmaxClassifier`` run on ``data`` (validated
    :class:`~softmaxlab.training.FitData`): the same for one process and data-parallel."""
    return fingerprint(
        [data.x, data.y, data.x_valid, data.y_valid],
        {
            "n_features": n_features,
            "n_classes": n_classes,
            "gradient": gradient,
            "dtype": str(dtype),
            "lr": data.lr,
            "batch_size": data.batch_size,
        },
    )


def save_checkpoint(
    path: str | os.PathLike[str],
    tensors: dict[str, torch.Tensor],
    *,
    kind: str,
    fingerprint: str,
    epoch: int,
    history: list[Any],
    state: dict[str, Any] | None = None,
) -> None:
    """Write a checkpoint atomically (temporary file, fsync, rename). In a data-parallel
    run only rank 0 writes (the others hold the same state)."""
    from .atomic import write_safetensors_atomic

    if not comm.is_main():
        return

    tensors = dict(tensors)
    f64: dict[str, Any] = {"dtype": torch.float64}
    if history and isinstance(history[0], dict):  # epoch records
        rows = [
            [float("nan") if r[k] is None else float(r[k]) for k in RECORD_COLUMNS] for r in history
        ]
        tensors["__records"] = torch.tensor(rows, **f64).reshape(-1, len(RECORD_COLUMNS))
    else:
        tensors["__history"] = torch.tensor([float(v) for v in history], **f64)
    scalars = {}
    for key, value in (state or {}).items():
        if isinstance(value, list):
            tensors[f"__state.{key}"] = torch.tensor([float(v) for v in value], **f64)
        else:
            scalars[key] = value
    metadata = {
        "format": FORMAT,
        "format_version": str(VERSION),
        "kind": kind,
        "fingerprint": fingerprint,
        "epoch": str(epoch),
        "batch": "0",
        "state": json.dumps(scalars),
    }
    write_safetensors_atomic(tensors, metadata, path)


def load_checkpoint(
    path: str | os.PathLike[str], *, kind: str, fingerprint: str
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a checkpoint for the run identified by ``kind`` and ``fingerprint``; returns
    the tensors and ``{"epoch", "batch", "history", "state"}``. In a data-parallel run
    rank 0 reads it and every rank receives the same (or the same error)."""
    return comm.agree(lambda: _load(path, kind=kind, fingerprint=fingerprint))


def _load(
    path: str | os.PathLike[str], *, kind: str, fingerprint: str
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    from .._validation import check_regular_file
    from .atomic import read_safetensors
    from .schema import check_checkpoint_info

    p = check_regular_file(
        path, "checkpoint", CheckpointError, missing="no such file (nothing to resume)"
    )
    where = f"checkpoint: {p}"
    tensors, meta = read_safetensors(p, CheckpointError, f"{where}: not a readable checkpoint")
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{where}: not a softmaxlab checkpoint")
    if meta.get("format_version") != str(VERSION):
        raise CheckpointError(
            f"{where}: format version {meta.get('format_version')} is not {VERSION}"
        )
    if meta.get("kind") != kind:
        raise CheckpointError(f"{where}: written by {meta.get('kind')}, not {kind}")
    if meta.get("fingerprint") != fingerprint:
        raise CheckpointError(
            f"{where}: belongs to another run (different data or hyper-parameters); "
            "remove it or start without --resume"
        )
    lists = {
        k.removeprefix("__state."): tensors.pop(k)
        for k in list(tensors)
        if k.startswith("__state.")
    }
    records, losses = tensors.pop("__records", None), tensors.pop("__history", None)
    try:
        info = check_checkpoint_info(
            meta, kind, CheckpointError, records=records, losses=losses, lists=lists
        )
    except CheckpointError as exc:
        raise CheckpointError(f"{where}: inconsistent metadata ({exc})") from None
    if not all(bool(torch.isfinite(t).all()) for t in tensors.values() if t.is_floating_point()):
        raise CheckpointError(f"{where}: holds non-finite parameters")
    return tensors, info
