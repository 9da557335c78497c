"""Reading only a rank's rows: the row ranges, and .npy / Parquet readers by range."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import softmaxlab as sl
from softmaxlab.io.shards import RowFile, batch_shards, owned_ranges


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 300), batch=st.integers(1, 64), world=st.integers(1, 6))
def test_the_ranks_split_every_batch_and_together_hold_every_row_once(n, batch, world):
    rows = []
    for rank in range(world):
        mine = [i for lo, hi in owned_ranges(n, batch, rank, world) for i in range(lo, hi)]
        assert mine == sorted(mine)
        rows += mine
        for (lo, hi, m), start in zip(
            batch_shards(n, batch, rank, world), range(0, n, batch), strict=True
        ):
            assert start <= lo <= hi <= start + m and m == min(batch, n - start)
    assert sorted(rows) == list(range(n))
    assert owned_ranges(n, batch, 0, 1) == [(0, n)]


@pytest.fixture
def table(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(500, 4))
    labels = rng.integers(0, 3, 500)
    np.save(tmp_path / "t.npy", np.column_stack([x, labels]))
    pq.write_table(
        pa.table({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "d": x[:, 3], "y": labels}),
        tmp_path / "t.parquet",
        row_group_size=50,
    )
    return tmp_path, x, labels


@pytest.mark.parametrize("name", ["t.npy", "t.parquet"])
def test_reading_ranges_gives_exactly_those_rows(table, name):
    root, x, labels = table
    f = RowFile.open(root / name)
    assert f.n_rows == 500
    ranges = [(0, 3), (49, 51), (120, 320), (499, 500)]
    target = f.column(-1, "target")
    xs, ys = f.read(ranges, [1, 3], target)
    idx = np.concatenate([np.arange(lo, hi) for lo, hi in ranges])
    np.testing.assert_array_equal(xs, x[idx][:, [1, 3]])
    np.testing.assert_array_equal(ys, labels[idx])
    empty, _ = f.read([], [0], target)
    assert empty.shape == (0, 1)


def test_parquet_decodes_only_the_row_groups_it_needs(table, monkeypatch):
    root, _, _ = table
    seen = []
    original = pq.ParquetFile.read_row_group

    def counting(self, i, *args, **kwargs):
        seen.append(i)
        return original(self, i, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "read_row_group", counting)
    RowFile.open(root / "t.parquet").read([(60, 70), (260, 330)], [0], 4)
    assert seen == [1, 5, 6]  # groups of 50 rows: 50-99, 250-299, 300-349


def test_bad_files_are_refused_with_the_reason(tmp_path):
    np.save(tmp_path / "one_d.npy", np.arange(5.0))
    np.save(tmp_path / "fortran.npy", np.asfortranarray(np.ones((4, 3))))
    np.save(tmp_path / "text.npy", np.array([["a", "b"], ["c", "d"]]))
    (tmp_path / "junk.npy").write_bytes(b"not numpy")
    np.save(tmp_path / "whole.npy", np.ones((100, 3)))
    (tmp_path / "truncated.npy").write_bytes((tmp_path / "whole.npy").read_bytes()[:-80])
    (tmp_path / "t.csv").write_text("a,b\n1,2\n")
    cases = {
        "one_d.npy": "expected a 2-D matrix",
        "fortran.npy": "Fortran",
        "text.npy": "not numbers",
        "junk.npy": "cannot read junk.npy",
        "truncated.npy": "cannot read truncated.npy",
        "t.csv": "needs a .npy or .parquet file",
        "missing.npy": "no such file",
    }
    for name, message in cases.items():
        with pytest.raises(sl.InvalidInputError, match=message):
            RowFile.open(tmp_path / name)


def test_columns_resolve_by_name_or_index(table):
    root, _, _ = table
    f = RowFile.open(root / "t.parquet")
    assert f.column("y", "target") == 4 == f.column(-1, "target") == f.column("4", "target")
    assert f.features("a,c", 4) == [0, 2]
    with pytest.raises(sl.InvalidInputError, match="features: the target column 'y'"):
        f.features(["a", "y"], 4)
    with pytest.raises(sl.InvalidInputError, match="target: column index 9 is out of range"):
        f.column(9, "target")


def test_a_npy_table_loads_like_any_file(table):
    root, x, _ = table
    d = sl.load_dataset(root / "t.npy", valid=100, shuffle=False)
    np.testing.assert_array_equal(d.x_train.numpy(), x[:400])
    assert d.classes.tolist() == [0, 1, 2] and d.feature_names == ("0", "1", "2", "3")
