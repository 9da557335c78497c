"""Tables on disk: reading CSV, Parquet and ``.npy`` files into a DataFrame, choosing the
target and feature columns, and turning them into a feature matrix and class labels.

Every failure is an :class:`~softmaxlab.errors.InvalidInputError` naming the argument
(``data``, ``target``, ``features``) and the file; :func:`softmaxlab.load_dataset` and the
command line read files through these functions, and so do the sharded readers
(:mod:`softmaxlab.io.shards`).
"""

from __future__ import annotations

import numbers
import os
from pathlib import Path
from typing import Any

import numpy as np

from .._validation import check_regular_file
from ..errors import InvalidInputError

__all__ = [
    "encode_labels",
    "feature_matrix",
    "read_table",
    "resolve_column",
    "select_features",
]


def read_table(path: str | os.PathLike[str], *, name: str = "data") -> Any:
    """Read a CSV or Parquet file into a pandas DataFrame; every failure is an
    :class:`InvalidInputError` naming ``name`` and the file."""
    import pandas as pd

    p = check_regular_file(path, name)
    suffix = p.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(p)
        elif suffix == ".npy":
            frame = _npy_frame(p, name)
        elif suffix in (".csv", ".txt", ".tsv"):
            frame = pd.read_csv(
                p,
                sep="\t" if suffix == ".tsv" else ",",
                encoding="utf-8-sig",
                skipinitialspace=True,
            )
        else:
            raise InvalidInputError(
                f"{name}: {p.name}: unknown file type {suffix or '(none)'}; use .csv, "
                ".parquet or .npy"
            )
    except InvalidInputError:
        raise
    except pd.errors.EmptyDataError:
        raise InvalidInputError(f"{name}: {p.name} is empty") from None
    except UnicodeDecodeError:
        raise InvalidInputError(f"{name}: {p.name} is not UTF-8 text (binary file?)") from None
    except (pd.errors.ParserError, ValueError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidInputError(f"{name}: cannot read {p.name}: {first}") from None
    except Exception as exc:  # pyarrow raises its own types for a broken Parquet file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidInputError(f"{name}: cannot read {p.name}: {first}") from None
    if suffix in (".csv", ".txt", ".tsv"):
        _refuse_duplicate_header(p, "\t" if suffix == ".tsv" else ",", name)
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise InvalidInputError(f"{name}: {p.name} has no data rows")
    frame.columns = [str(c) for c in frame.columns]
    return frame


def _npy_frame(path: Path, name: str) -> Any:
    """A 2-D numeric ``.npy`` matrix as a DataFrame whose columns are named by their index
    (``"0"``, ``"1"``, ...: ``--target``/``--columns`` take the same numbers)."""
    import pandas as pd

    a = np.load(path, allow_pickle=False)
    if a.ndim != 2 or a.dtype.kind not in "biuf":
        raise InvalidInputError(
            f"{name}: {path.name} holds a {a.ndim}-D {a.dtype} array; "
            "expected a 2-D numeric matrix (features and a label column)"
        )
    return pd.DataFrame(a, columns=[str(j) for j in range(a.shape[1])])


def _refuse_duplicate_header(path: Path, sep: str, name: str) -> None:
    """pandas renames a repeated column ``a`` to ``a.1`` silently; refuse it instead."""
    import csv

    with open(path, encoding="utf-8-sig", newline="") as fh:
        header = next(csv.reader(fh, delimiter=sep), [])
    names = [h.strip() for h in header]
    repeated = sorted({h for h in names if names.count(h) > 1})
    if repeated:
        raise InvalidInputError(f"{name}: {path.name} has duplicate column names {repeated}")


def resolve_column(frame: Any, key: Any, name: str) -> str:
    """A column name from a name or a 0-based index (negative counts from the end);
    ``frame`` is a DataFrame or the sequence of its column names."""
    cols = [str(c) for c in getattr(frame, "columns", frame)]
    if isinstance(key, numbers.Integral) and not isinstance(key, bool):
        if not -len(cols) <= int(key) < len(cols):
            raise InvalidInputError(
                f"{name}: column index {key} is out of range (the file has {len(cols)} columns)"
            )
        return cols[key]
    key = str(key)
    if key in cols:
        return key
    if key.lstrip("-").isdigit():
        return resolve_column(frame, int(key), name)
    raise InvalidInputError(f"{name}: no column named {key!r}; columns are {cols}")


def feature_matrix(frame: Any, columns: list[str], *, name: str = "data") -> np.ndarray:
    """The given columns as a float64 matrix; non-numeric columns and NaN/inf are errors."""
    import pandas as pd

    bad = [
        c
        for c in columns
        if not (pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c]))
    ]
    if bad:
        raise InvalidInputError(
            f"{name}: feature columns must be numeric; {bad} are not (choose the feature "
            "columns with --columns, or features= in Python)"
        )
    x = frame[columns].to_numpy(dtype=np.float64)
    if not np.isfinite(x).all():
        row, col = np.argwhere(~np.isfinite(x))[0]
        raise InvalidInputError(
            f"{name}: missing, NaN or infinite value in column {columns[col]!r} at data row "
            f"{row + 1}"
        )
    return x


def select_features(
    frame: Any, wanted: Any, exclude: str | None, *, name: str = "data"
) -> list[str]:
    """Names of the feature columns: ``wanted`` (names or indices), else every column but
    ``exclude``; ``frame`` is a DataFrame or the sequence of its column names."""
    if wanted is None:
        cols = [c for c in getattr(frame, "columns", frame) if c != exclude]
        if not cols:
            raise InvalidInputError(f"{name}: no feature columns besides the target")
        return cols
    if isinstance(wanted, str):
        wanted = [w for w in wanted.split(",") if w]
    cols = [resolve_column(frame, w, "features") for w in wanted]
    if exclude in cols:
        raise InvalidInputError(f"features: the target column {exclude!r} cannot be a feature")
    return cols


def encode_labels(values: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(classes, index of each row's class) for a column of labels: text, integers, floats
    or booleans, so that a model file can store them and give them back. Missing labels
    are refused, and so are lists, maps, dates and other values (convert them to text
    first); with any text label every label is compared as text (``1`` and ``1.0`` are
    then two labels); whole floats below 2⁵³ become integers; at least 2 classes."""
    import pandas as pd

    try:
        series = pd.Series(values)
        missing = series.isna().to_numpy()
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{name}: cannot read the labels ({exc})") from None
    if missing.any():
        row = int(np.flatnonzero(missing)[0])
        raise InvalidInputError(f"{name}: missing label at data row {row + 1}")
    arr = series.to_numpy()
    if arr.dtype.kind not in "biufUSO":
        raise InvalidInputError(
            f"{name}: labels must be text or numbers, not {arr.dtype} "
            "values; convert them to text first"
        )
    if arr.dtype == object:
        for row, v in enumerate(arr):
            if not isinstance(v, (str, numbers.Real)):
                raise InvalidInputError(
                    f"{name}: labels must be text or numbers; data row {row + 1} holds a "
                    f"{type(v).__name__}; convert the labels to text first"
                )
        kinds = {type(v) for v in arr}
        if len(kinds) > 1:  # mixed types sort only as text
            arr = arr.astype(str)
    if (
        np.issubdtype(arr.dtype, np.floating)
        and np.all(arr == np.round(arr))
        and np.all(np.abs(arr) < 2.0**53)
    ):  # whole floats that int64 holds exactly
        arr = arr.astype(np.int64)
    classes, idx = np.unique(arr, return_inverse=True)
    if len(classes) < 2:
        raise InvalidInputError(
            f"{name}: has only {len(classes)} class ({classes.tolist()}); at least 2 are needed"
        )
    return classes, idx
