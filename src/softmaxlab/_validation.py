"""Input checks shared by every public entry point (internal).

Each checker either returns a clean tensor or raises an error that names the argument.
None of them mutates its input.
"""

from __future__ import annotations

import math
import numbers
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .errors import InvalidInputError, InvalidTypeError

_DTYPES = {
    "float64": torch.float64,
    "double": torch.float64,
    "float32": torch.float32,
    "float": torch.float32,
}


def resolve_dtype(dtype: Any, name: str = "dtype") -> torch.dtype:
    """``torch.float64``/``torch.float32`` or their names; anything else is an error."""
    if isinstance(dtype, torch.dtype):
        if dtype in (torch.float64, torch.float32):
            return dtype
    elif isinstance(dtype, str) and dtype.lower() in _DTYPES:
        return _DTYPES[dtype.lower()]
    raise InvalidInputError(f"{name}: expected float64 or float32, got {dtype!r}")


def resolve_device(device: Any, name: str = "device") -> torch.device:
    """``None`` means ``cuda`` when available, else ``cpu`` (the seed's rule, docs/seed.md#data)."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise InvalidInputError(f"{name}: not a device: {device!r}") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InvalidInputError(f"{name}: CUDA was requested but is not available here")
    return dev


def check_positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidTypeError(f"{name}: expected a positive integer, got {value!r}")
    if value <= 0:
        raise InvalidInputError(f"{name}: must be a positive integer, got {value}")
    return int(value)


def check_positive_float(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidTypeError(f"{name}: expected a positive number, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise InvalidInputError(f"{name}: must be a finite number > 0, got {value}")
    return value


def _ragged_message(rows: list[Any] | tuple[Any, ...], name: str) -> str | None:
    lengths = []
    for row in rows:
        if not isinstance(row, (list, tuple)):
            return None
        lengths.append(len(row))
    if lengths and len(set(lengths)) > 1:
        bad = next(i for i, n in enumerate(lengths) if n != lengths[0])
        return (
            f"{name}: rows have different lengths (row 0 has {lengths[0]} values, "
            f"row {bad} has {lengths[bad]})"
        )
    return None


def as_matrix(
    value: Any,
    name: str,
    *,
    dtype: torch.dtype,
    device: torch.device,
    n_cols: int | None = None,
    cols_name: str = "columns",
) -> torch.Tensor:
    """Return ``value`` as a finite 2-D tensor of ``dtype`` on ``device``.

    Accepts tensors, NumPy arrays and nested sequences. Raises when the value is not
    numeric, not rank 2, empty, ragged, non-finite, or (with ``n_cols``) has the wrong
    number of columns.
    """
    if isinstance(value, (list, tuple)):
        msg = _ragged_message(value, name)
        if msg:
            raise InvalidInputError(msg)
    if isinstance(value, torch.Tensor):
        tensor = value
    elif isinstance(value, (np.ndarray, list, tuple)):
        try:
            array = np.asarray(value)
        except ValueError as exc:
            raise InvalidInputError(f"{name}: cannot be read as a matrix ({exc})") from exc
        if array.dtype == object or not (
            np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_
        ):
            raise InvalidTypeError(f"{name}: values must be numeric, got dtype {array.dtype}")
        tensor = torch.from_numpy(np.ascontiguousarray(array))
    else:
        raise InvalidTypeError(
            f"{name}: expected a tensor, NumPy array or list of rows, got {type(value).__name__}"
        )
    if tensor.is_complex():
        raise InvalidTypeError(f"{name}: complex values are not supported")
    if tensor.ndim != 2:
        raise InvalidInputError(
            f"{name}: expected a 2-D matrix (rows x {cols_name}), got {tensor.ndim}-D "
            f"with shape {tuple(tensor.shape)}"
        )
    if tensor.shape[0] == 0 or tensor.shape[1] == 0:
        raise InvalidInputError(f"{name}: is empty (shape {tuple(tensor.shape)})")
    if n_cols is not None and tensor.shape[1] != n_cols:
        raise InvalidInputError(f"{name}: expected {n_cols} {cols_name}, got {tensor.shape[1]}")
    tensor = tensor.to(device=device, dtype=dtype)
    check_finite(tensor, name)
    return tensor


def check_finite(tensor: torch.Tensor, name: str) -> None:
    """Refuse a 2-D ``tensor`` holding NaN or an infinity, naming its first one. One pass:
    the sum of all values is finite exactly when every value is, short of an overflow of
    the sum, and only a non-finite sum is searched value by value."""
    if math.isfinite(float(tensor.sum())):
        return
    finite = torch.isfinite(tensor)
    if not bool(finite.all()):
        bad = (~finite).nonzero()[0].tolist()
        raise InvalidInputError(
            f"{name}: contains NaN or infinite values (first at row {bad[0]}, column {bad[1]})"
        )


def as_targets(
    value: Any,
    name: str,
    *,
    dtype: torch.dtype,
    device: torch.device,
    n_rows: int,
    n_classes: int,
    one_hot: bool = True,
) -> torch.Tensor:
    """Return target rows as a tensor checked to be one-hot (or, with ``one_hot=False``,
    rows of probabilities summing to 1), with ``n_rows`` rows and ``n_classes`` columns."""
    y = as_matrix(value, name, dtype=dtype, device=device, n_cols=n_classes, cols_name="classes")
    if y.shape[0] != n_rows:
        raise InvalidInputError(f"{name}: has {y.shape[0]} rows but the inputs have {n_rows}")
    if one_hot:
        ok = ((y == 0) | (y == 1)).all(dim=1) & (y.sum(dim=1) == 1)
        what = "one-hot (a single 1 per row, zeros elsewhere)"
    else:
        tol = 1e-6 if dtype == torch.float32 else 1e-12
        ok = (y >= 0).all(dim=1) & ((y.sum(dim=1) - 1).abs() <= tol * n_classes)
        what = "probability rows (non-negative, summing to 1)"
    if not bool(ok.all()):
        row = int((~ok).nonzero()[0])
        raise InvalidInputError(f"{name}: targets must be {what}; row {row} is {y[row].tolist()}")
    return y


def check_number(
    value: Any,
    name: str,
    *,
    low: float,
    low_open: bool = False,
    high: float | None = None,
    integer: bool = False,
) -> None:
    """``value`` is a finite real (an integer when ``integer``) at least ``low`` (above it
    when ``low_open``) and below ``high``; else an error naming ``name``."""
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind):
        what = "an integer" if integer else "a number"
        raise InvalidTypeError(f"{name}: expected {what}, got {value!r}")
    v: Any = value  # a numbers.Real (compared as it is: an int may exceed float's range)
    ok = (v > low if low_open else v >= low) and (high is None or v < high)
    try:
        finite = math.isfinite(float(value))
    except OverflowError:  # an integer beyond the float range
        finite = False
    if not finite or not ok:
        bound = f"> {low}" if low_open else f">= {low}"
        if high is not None:
            bound += f" and < {high}"
        raise InvalidInputError(f"{name}: must be {bound}, got {value!r}")


def check_l1(l1: float, momentum: float) -> None:
    """The L1 term is trained by proximal SGD: plain steps, then a soft-threshold."""
    if l1 and momentum:
        raise InvalidInputError(
            "momentum: proximal SGD for an L1 penalty takes plain "
            "steps; set momentum=0 (or use solver='lbfgs')"
        )


def check_finite_logits(z: Any, x: Any, name: str) -> None:
    """Refuse logits Z = XW + b that overflowed (features too large for the model's
    weights, or a standardised value beyond the float range): their probabilities would
    be NaN and every label "the first class". ``z`` (m, C) and ``x`` (m, N) are tensors or
    arrays; the error names the first such row of ``name`` (1-based, as in a file)."""
    finite = np.isfinite(np.asarray(z)).all(axis=1)
    if finite.all():
        return
    row = int(np.flatnonzero(~finite)[0])
    xr = x[row].toarray() if hasattr(x, "toarray") else np.asarray(x)[row]
    big = float(np.nanmax(np.abs(xr))) if np.size(xr) else 0.0
    raise InvalidInputError(
        f"{name}: row {row + 1} gives non-finite logits (its largest feature, {big:.3g} "
        f"after any standardisation, overflows XW + b); check the data's units or values"
    )


def check_statistics(mean: Any, scale: Any, name: str) -> None:
    """Refuse standardisation statistics that overflowed: a column with values near the
    float range (|x| ~ 1e300) has an infinite spread, and dividing by it would train a
    constant model. Call it once the data itself is known to be finite."""
    bad = ~(np.isfinite(np.asarray(mean)) & np.isfinite(np.asarray(scale)))
    if bad.any():
        col = int(np.flatnonzero(bad)[0])
        raise InvalidInputError(
            f"{name}: column {col} is too large to standardise (its mean or spread "
            "overflows the float range); rescale it first"
        )


def check_regular_file(
    path: Any, name: str, error: type[Exception] = InvalidInputError, missing: str = "no such file"
) -> Path:
    """``path`` as a :class:`~pathlib.Path` to an existing regular file (links followed);
    else ``error`` naming ``name``: ``missing`` when nothing is there, and a refusal for
    a folder, device, FIFO or socket, which could block a read forever (a FIFO) or never
    end (``/dev/zero``)."""
    import stat

    p = Path(path)
    try:
        mode = p.stat().st_mode
    except FileNotFoundError:
        raise error(f"{name}: {p}: {missing}") from None
    except OSError as exc:
        raise error(f"{name}: {p}: cannot be read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(mode):
        raise error(f"{name}: {p} is a directory, not a file")
    if not stat.S_ISREG(mode):
        raise error(
            f"{name}: {p} is not a regular file (a device, FIFO or socket); give a file on disk"
        )
    if not os.access(p, os.R_OK):
        raise error(f"{name}: {p}: cannot be read (permission denied)")
    return p


def check_seed(seed: Any, name: str = "seed") -> int | None:
    """A random seed: ``None`` or an integer in [0, 2³² − 1] (what NumPy and
    scikit-learn's generators take)."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise InvalidTypeError(f"{name}: expected an integer or None, got {seed!r}")
    if not 0 <= int(seed) < 2**32:
        raise InvalidInputError(f"{name}: must be in [0, 4294967295], got {seed}")
    return int(seed)


def check_parameter_memory(n_classes: int, n_features: int) -> None:
    """Refuse a problem whose parameters alone (W, its gradient, momentum and the
    engine's copies: about six (N+1)×C arrays) would not fit in this machine's memory,
    before allocating any: usually a continuous target taken for class labels."""
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return
    need = 6 * 8 * n_classes * (n_features + 1)
    if need > memory:
        raise InvalidInputError(
            f"y: {n_classes:,} classes × {n_features:,} features need about "
            f"{need / 2**30:,.0f} GiB for the parameters, more than this machine's "
            f"{memory / 2**30:,.0f} GiB; is y a continuous value rather than class labels?"
        )


def as_shared_tensor(x: np.ndarray, *, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """``x`` as a tensor, sharing its memory where it can (a CPU array of the right dtype,
    read-only ones included: the engine never writes to it)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch warns on read-only arrays
        t = torch.from_numpy(np.asarray(x))
    return t.to(dtype=dtype, device=device)


def class_indices(classes: np.ndarray, y: Any, name: str = "y") -> np.ndarray:
    """The index in ``classes`` (sorted, as ``np.unique`` gives them) of each label of
    ``y``: the one encoding of labels against a fitted model's classes. A label that is
    not a class is refused, naming ``name``."""
    y = np.asarray(y)
    unseen = np.setdiff1d(np.unique(y), classes)
    if unseen.size:
        raise InvalidInputError(
            f"{name}: labels {unseen.tolist()} are not among the classes {classes.tolist()}"
        )
    return np.searchsorted(classes, y)


def labelled_rows(model: Any, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """``X`` (n, N) as finite float64 rows for a fitted estimator with ``n_features_in_``
    and ``classes_``, and the class index of each label of ``y`` (n,); errors name ``X``,
    ``y`` or both."""
    if hasattr(X, "toarray") or (isinstance(X, torch.Tensor) and X.layout != torch.strided):
        raise InvalidInputError(
            "X: summaries and certificates take dense rows; pass "
            "X.toarray() for a sparse matrix that fits in memory"
        )
    x = np.asarray(X, dtype=np.float64)
    labels = np.asarray(y)
    if x.ndim != 2 or x.shape[1] != model.n_features_in_ or len(labels) != len(x):
        raise InvalidInputError(
            f"X, y: expected (n, {model.n_features_in_}) features and n "
            f"labels, got {x.shape} and {labels.shape}"
        )
    if not np.isfinite(x).all():
        raise InvalidInputError("X: contains NaN or infinite values")
    return x, class_indices(model.classes_, labels)
