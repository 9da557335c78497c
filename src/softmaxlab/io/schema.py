"""The shape of the metadata in model files and checkpoints, checked before any of it is
used: JSON no deeper than :data:`MAX_DEPTH`, each field of the type and length the
tensors imply, numbers finite and in range. A file edited by hand or by an attacker
gives one :class:`~softmaxlab.errors.ModelFileError` /
:class:`~softmaxlab.errors.CheckpointError` naming the field, never a ``TypeError`` or a
``RecursionError`` from deep inside a reader.
"""

from __future__ import annotations

import json
import math
import numbers
from typing import Any

__all__ = ["MAX_DEPTH", "check_checkpoint_info", "check_model_meta", "parse"]

#: The deepest nesting any metadata field may have (a run's config is 3 levels deep).
MAX_DEPTH = 16
_SCALAR = (str, numbers.Real, type(None))


def _depth(value: Any) -> int:
    """Nesting depth of a JSON value, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        v, d = stack.pop()
        deepest = max(deepest, d)
        if deepest > MAX_DEPTH:
            return deepest
        if isinstance(v, dict):
            stack.extend((x, d + 1) for x in v.values())
        elif isinstance(v, list):
            stack.extend((x, d + 1) for x in v)
    return deepest


def parse(meta: dict[str, str], key: str, error: type[Exception]) -> Any:
    """``meta[key]`` decoded as JSON, no deeper than :data:`MAX_DEPTH`."""
    if key not in meta:
        raise error(f"{key}: missing from the metadata")
    try:
        value = json.loads(meta[key])
    except RecursionError:
        raise error(f"{key}: nested too deeply") from None
    except ValueError as exc:
        raise error(f"{key}: not JSON ({exc})") from None
    if _depth(value) > MAX_DEPTH:
        raise error(f"{key}: nested deeper than {MAX_DEPTH} levels")
    return value


def _real(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)


def _count(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def check_model_meta(
    meta: dict[str, str], n: int, c: int, error: type[Exception]
) -> dict[str, Any]:
    """The decoded fields of a model file with ``n`` features and ``c`` classes:
    ``classes`` (c scalars), ``feature_names`` (``None`` or n strings), ``params`` (an
    object of scalars), ``config`` (an object), ``kind``/``gradient``/``dtype`` (text)."""
    out: dict[str, Any] = {}
    for key in ("kind", "gradient", "dtype", "classes_dtype"):
        if not isinstance(meta.get(key), str):
            raise error(f"{key}: missing or not text")
    classes = parse(meta, "classes", error)
    if not (
        isinstance(classes, list)
        and len(classes) == c
        and all(isinstance(v, _SCALAR) for v in classes)
    ):
        raise error(f"classes: expected a list of {c} labels (text or numbers)")
    names = parse(meta, "feature_names", error)
    if names is not None and not (
        isinstance(names, list) and len(names) == n and all(isinstance(v, str) for v in names)
    ):
        raise error(f"feature_names: expected null or a list of {n} names")
    params = parse(meta, "params", error)
    if not (isinstance(params, dict) and all(isinstance(v, _SCALAR) for v in params.values())):
        raise error("params: expected an object of numbers and text")
    config = parse(meta, "config", error)
    if not isinstance(config, dict):
        raise error("config: expected an object")
    out.update(classes=classes, feature_names=names, params=params, config=config)
    return out


def _floats(t: Any, error: type[Exception], name: str, *, allow_nan: bool = False) -> list[float]:
    import torch

    if not isinstance(t, torch.Tensor) or t.ndim != 1 or not t.is_floating_point():
        raise error(f"{name}: expected a 1-D float tensor")
    finite = torch.isfinite(t) | (
        torch.isnan(t) if allow_nan else torch.zeros_like(t, dtype=torch.bool)
    )
    if not bool(finite.all()):
        raise error(f"{name}: holds non-finite values")
    return [float(v) for v in t.tolist()]


def check_checkpoint_info(
    meta: dict[str, str],
    kind: str,
    error: type[Exception],
    *,
    records: Any = None,
    losses: Any = None,
    lists: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``epoch``, ``batch`` (counts), ``history`` (one entry per epoch done: losses for
    the estimator, epoch records for the classifier, from the tensors ``losses`` /
    ``records``) and ``state`` (the scalar state in the metadata, with the per-epoch
    ``lists`` from their tensors) of a checkpoint."""
    try:
        epoch, batch = int(meta["epoch"]), int(meta["batch"])
    except (KeyError, ValueError):
        raise error("epoch and batch: missing or not integers") from None
    if epoch < 0 or batch < 0:
        raise error(f"epoch and batch: must be >= 0, got {epoch} and {batch}")
    state = parse(meta, "state", error)
    if not isinstance(state, dict) or not all(isinstance(v, _SCALAR) for v in state.values()):
        raise error("state: expected an object of numbers and text")
    for key, t in (lists or {}).items():
        state[key] = _floats(t, error, f"state {key}")
    history: list[Any]
    if kind == "SoftmaxRegression":
        if losses is None:
            raise error("history: missing")
        history = _floats(losses, error, "history")
        ok = (
            all(isinstance(state.get(k, []), list) for k in ("rates", "scores", "valid_losses"))
            and (state.get("best") is None or _real(state.get("best")))
            and _count(state.get("stall"))
            and _real(state.get("lr"))
            and state.get("lr", 0) > 0
            and (state.get("stopped") is None or isinstance(state.get("stopped"), str))
        )
        if not ok:
            raise error("state: not the state of a SoftmaxRegression fit")
    else:
        history = (
            []
            if records is None and losses is not None and len(losses) == 0
            else _record_list(records, error)
        )
    if len(history) != epoch:
        raise error(f"history: {len(history)} entries for {epoch} epochs done")
    return {"epoch": epoch, "batch": batch, "history": history, "state": state}


def _record_list(records: Any, error: type[Exception]) -> list[dict[str, Any]]:
    """Epoch records from their (k, 4) tensor: epoch, ce, ce_valid, acc_valid (NaN: none)."""
    import torch

    if not (
        isinstance(records, torch.Tensor)
        and records.ndim == 2
        and records.shape[1] == 4
        and records.is_floating_point()
    ):
        raise error("history: expected a (epochs, 4) tensor of epoch records")
    out = []
    for e, ce, ce_v, acc_v in records.tolist():
        if (
            not (math.isfinite(e) and e >= 0 and e == int(e) and math.isfinite(ce))
            or math.isinf(ce_v)
            or math.isinf(acc_v)
            or (math.isnan(ce_v) != math.isnan(acc_v))
        ):
            raise error("history: an epoch record holds invalid numbers")
        out.append(
            {
                "epoch": int(e),
                "ce": ce,
                "ce_valid": None if math.isnan(ce_v) else ce_v,
                "acc_valid": None if math.isnan(acc_v) else acc_v,
            }
        )
    return out
