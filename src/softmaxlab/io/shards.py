"""Reading only some rows of a data file: what each rank of a sharded run holds.

A data-parallel step cuts every global mini-batch into one contiguous shard per rank
(:func:`~softmaxlab.fast.comm.batch_shards`), so the rows a rank needs are a slice of
*every* batch: the row ranges of :func:`~softmaxlab.fast.comm.owned_ranges`.
:class:`RowFile` reads exactly those ranges of a file and nothing is kept of the rest:

* ``.npy`` (a 2-D numeric matrix, one column per feature plus the label column): the
  header gives the row layout; each range is one positioned read into the rank's
  preallocated array. Pages of other rows are never touched.
* ``.parquet``: only the row groups that overlap the ranges are decoded, one at a time,
  and only the needed columns; the rank copies its rows out and drops the group. Memory is
  the rank's rows plus one row group, so write big files with row groups well below
  ``rows / ranks`` (``pyarrow.parquet.write_table(..., row_group_size=...)``).

Columns of a ``.npy`` file are named by their index (``"0"``, ``"1"``, ...), as
:func:`softmaxlab.io.tables.read_table` names them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._validation import check_regular_file
from ..errors import InvalidInputError
from ..fast.comm import batch_shards, owned_ranges, shard_bounds
from .tables import resolve_column, select_features

__all__ = ["RowFile", "batch_shards", "owned_ranges", "shard_bounds"]


@dataclass(frozen=True)
class RowFile:
    """A ``.npy`` or ``.parquet`` table whose rows are read by range (see the module)."""

    path: Path
    kind: str  # "npy" | "parquet"
    n_rows: int
    columns: tuple[str, ...]
    numeric: tuple[bool, ...]
    _offset: int = 0  # .npy: byte offset of the first row
    _dtype: Any = None  # .npy: element type
    _row_groups: tuple[int, ...] = ()  # .parquet: rows per row group

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, name: str = "data") -> RowFile:
        """Read the file's layout (not its rows); errors name ``name`` and the file."""
        p = check_regular_file(path, name)
        suffix = p.suffix.lower()
        if suffix == ".npy":
            return cls._open_npy(p, name)
        if suffix in (".parquet", ".pq"):
            return cls._open_parquet(p, name)
        raise InvalidInputError(
            f"{name}: {p.name}: sharded reading needs a .npy or .parquet file, not "
            f"{suffix or '(no suffix)'}"
        )

    @classmethod
    def _open_npy(cls, p: Path, name: str) -> RowFile:
        try:  # a memory map reads the header only; no row is touched
            mapped = np.load(p, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise InvalidInputError(f"{name}: cannot read {p.name} as .npy ({exc})") from None
        shape, dtype, offset = mapped.shape, mapped.dtype, int(getattr(mapped, "offset", 0))
        fortran = mapped.ndim == 2 and not mapped.flags.c_contiguous
        del mapped
        if len(shape) != 2 or shape[0] == 0 or shape[1] < 2:
            raise InvalidInputError(
                f"{name}: {p.name} holds an array of shape {shape}; expected a 2-D matrix "
                "with rows and at least 2 columns (features and the label)"
            )
        if fortran:
            raise InvalidInputError(
                f"{name}: {p.name} is in Fortran (column-major) order; rows cannot be read "
                "by range (save it with np.save(np.ascontiguousarray(a)))"
            )
        if dtype.kind not in "biuf" or dtype.hasobject:
            raise InvalidInputError(f"{name}: {p.name} holds {dtype}, not numbers")
        cols = tuple(str(j) for j in range(shape[1]))
        return cls(p, "npy", int(shape[0]), cols, (True,) * len(cols), offset, dtype)

    @classmethod
    def _open_parquet(cls, p: Path, name: str) -> RowFile:
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            meta = pq.ParquetFile(p)
        except Exception as exc:  # pyarrow raises its own types for a broken file
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InvalidInputError(f"{name}: cannot read {p.name}: {first}") from None
        schema = meta.schema_arrow
        cols = tuple(str(c) for c in schema.names)
        numeric = tuple(
            pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)
            for t in schema.types
        )
        groups = tuple(
            meta.metadata.row_group(i).num_rows for i in range(meta.metadata.num_row_groups)
        )
        if not cols or sum(groups) == 0:
            raise InvalidInputError(f"{name}: {p.name} has no data rows")
        return cls(p, "parquet", int(sum(groups)), cols, numeric, _row_groups=groups)

    def column(self, key: Any, name: str) -> int:
        """Index of a column given by name or 0-based index (negative from the end), by
        :func:`softmaxlab.io.tables.resolve_column`'s rules."""

        return self.columns.index(resolve_column(self.columns, key, name))

    def features(self, wanted: Any, target: int) -> list[int]:
        """Indices of the feature columns: ``wanted`` (names/indices or a comma list), else
        every column but ``target`` (:func:`softmaxlab.io.tables.select_features`); each must
        be numeric."""

        cols = [
            self.columns.index(c)
            for c in select_features(self.columns, wanted, self.columns[target])
        ]
        bad = [self.columns[j] for j in cols if not self.numeric[j]]
        if bad:
            raise InvalidInputError(f"data: feature columns must be numeric; {bad} are not")
        return cols

    def read(
        self, ranges: list[tuple[int, int]], features: list[int], target: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """The rows of ``ranges`` (in order): a float64 feature matrix (r, len(features))
        and the label column (r,). Missing or non-finite features are an error naming the
        column and the (1-based) data row."""
        total = sum(hi - lo for lo, hi in ranges)
        x = np.empty((total, len(features)), dtype=np.float64)
        labels: list[np.ndarray] = []
        reader = self._read_npy if self.kind == "npy" else self._read_parquet
        reader(ranges, features, target, x, labels)
        y = np.concatenate(labels) if labels else np.empty(0)
        if not np.isfinite(x).all():
            pos, col = np.argwhere(~np.isfinite(x))[0]
            raise InvalidInputError(
                f"data: missing, NaN or infinite value in column "
                f"{self.columns[features[col]]!r} at data row {_global_row(ranges, pos) + 1}"
            )
        return x, y

    def _read_npy(self, ranges, features, target, x, labels) -> None:
        n_cols, itemsize = len(self.columns), self._dtype.itemsize
        pos = 0
        with open(self.path, "rb", buffering=0) as fh:
            for lo, hi in ranges:
                # a bounded buffer per read: the rank never holds more than its own rows
                # plus one chunk of full-width rows
                for a in range(lo, hi, _CHUNK_ROWS):
                    b = min(hi, a + _CHUNK_ROWS)
                    block = np.empty((b - a, n_cols), dtype=self._dtype)
                    fh.seek(self._offset + a * n_cols * itemsize)
                    if fh.readinto(block.reshape(-1).view(np.uint8).data) != block.nbytes:
                        raise InvalidInputError(f"data: {self.path.name}: short read")
                    x[pos : pos + b - a] = block[:, features]
                    labels.append(block[:, target].copy())
                    pos += b - a

    def _read_parquet(self, ranges, features, target, x, labels) -> None:
        import pyarrow.parquet as pq

        names = [self.columns[j] for j in features]
        target_name = self.columns[target]
        fh = pq.ParquetFile(self.path)
        pos, g_start, r = 0, 0, 0
        for g, size in enumerate(self._row_groups):
            g_end = g_start + size
            while r < len(ranges) and ranges[r][1] <= g_start:
                r += 1
            wanted = []
            k = r
            while k < len(ranges) and ranges[k][0] < g_end:
                wanted.append((max(ranges[k][0], g_start), min(ranges[k][1], g_end)))
                k += 1
            if wanted:
                table = fh.read_row_group(g, columns=list(dict.fromkeys([*names, target_name])))
                for lo, hi in wanted:
                    piece = table.slice(lo - g_start, hi - lo)
                    for j, col in enumerate(names):
                        x[pos : pos + hi - lo, j] = piece.column(col).to_numpy(zero_copy_only=False)
                    labels.append(piece.column(target_name).to_numpy(zero_copy_only=False))
                    pos += hi - lo
                del table  # only one row group is decoded at a time
            g_start = g_end


_CHUNK_ROWS = 8192


def _global_row(ranges: list[tuple[int, int]], pos: int) -> int:
    for lo, hi in ranges:
        if pos < hi - lo:
            return lo + pos
        pos -= hi - lo
    raise IndexError(pos)
