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


def check_model_meta(meta: dict[str, str], n: int, c: int, error: type[Exception]
                     ) -> dict[str, Any]:
    """The decoded fields of a model file with ``n`` features and ``c`` classes:
    ``classes`` (c scalars), ``feature_names`` (``None`` or n strings), ``params`` (an
    object of scalars), ``config`` (an object), ``kind``/``gradient``/``dtype`` (text)."""
    out: dict[str, Any] = {}
    for key in ("kind", "gradient", "dtype", "classes_dtype"):
        if not isinstance(meta.get(key), str):
            raise error(f"{key}: missing or not text")
    classes = parse(meta, "classes", error)
    if not (isinstance(classes, list) and len(classes) == c
            and all(isinstance(v, _SCALAR) for v in classes)):
        raise error(f"classes: expected a list of {c} labels (text or numbers)")
    names = parse(meta, "feature_names", error)
    if names is not None and not (isinstance(names, list) and len(names) == n
                                  and all(isinstance(v, str) for v in names)):
        raise error(f"feature_names: expected null or a list of {n} names")
    params = parse(meta, "params", error)
    if not (isinstance(params, dict) and all(isinstance(v, _SCALAR) for v in params.values())):
        raise error("params: expected an object of numbers and text")
    config = parse(meta, "config", error)
    if not isinstance(config, dict):
        raise error("config: expected an object")
    out.update(classes=classes, feature_names=names, params=params, config=config)
    return out


def _records(history: Any) -> bool:
    """A SoftmaxClassifier history: epoch records with finite numbers."""
    keys = {"epoch", "ce", "ce_valid", "acc_valid"}
    return isinstance(history, list) and all(
        isinstance(r, dict) and set(r) == keys and _count(r["epoch"]) and _real(r["ce"])
        and all(r[k] is None or _real(r[k]) for k in ("ce_valid", "acc_valid"))
        for r in history)


def check_checkpoint_info(meta: dict[str, str], kind: str, error: type[Exception]
                          ) -> dict[str, Any]:
    """``epoch``, ``batch`` (counts), ``history`` (one entry per epoch done: losses for
    the estimator, epoch records for the classifier) and ``state`` of a checkpoint."""
    try:
        epoch, batch = int(meta["epoch"]), int(meta["batch"])
    except (KeyError, ValueError):
        raise error("epoch and batch: missing or not integers") from None
    if epoch < 0 or batch < 0:
        raise error(f"epoch and batch: must be >= 0, got {epoch} and {batch}")
    history = parse(meta, "history", error)
    state = parse(meta, "state", error)
    if not isinstance(state, dict):
        raise error("state: expected an object")
    if kind == "SoftmaxRegression":
        if not (isinstance(history, list) and all(_real(v) for v in history)):
            raise error("history: expected a list of finite losses")
        lists = ("rates", "scores", "valid_losses")
        ok = (all(isinstance(state.get(k, []), list) and all(_real(v) for v in state.get(k, []))
                  for k in lists)
              and (state.get("best") is None or _real(state.get("best")))
              and _count(state.get("stall")) and _real(state.get("lr"))
              and state.get("lr", 0) > 0
              and (state.get("stopped") is None or isinstance(state.get("stopped"), str)))
        if not ok:
            raise error("state: not the state of a SoftmaxRegression fit")
    elif not _records(history):
        raise error("history: expected a list of epoch records")
    if len(history) != epoch:
        raise error(f"history: {len(history)} entries for {epoch} epochs done")
    return {"epoch": epoch, "batch": batch, "history": history, "state": state}
