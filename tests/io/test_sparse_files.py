"""Sparse data files (softmaxlab.io.sparse_files) end to end: svmlight and .npz through
load_dataset and the train / predict / evaluate commands, a test file with fewer columns,
and bad files refused by name with nothing written."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import dump_svmlight_file
from sklearn.feature_extraction.text import TfidfTransformer

import softmaxlab as sl
from softmaxlab.bench.textbench import make_corpus
from softmaxlab.cli import main
from softmaxlab.errors import InvalidInputError
from softmaxlab.io.sparse_files import is_sparse_file, read_sparse


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sparse")
    counts, y = make_corpus(900, 200, 3, mean_length=25, topic=0.3, topic_words=20, seed=4)
    x = TfidfTransformer().fit_transform(counts).tocsr()
    names = np.array(["sport", "politics", "tech"])[y]
    dump_svmlight_file(x[:700], y[:700], str(folder / "train.svm"))
    dump_svmlight_file(x[700:, :150], y[700:], str(folder / "test.svm"))  # fewer columns
    dump_svmlight_file(x[:50], y[:50], str(folder / "small.txt"))
    sp.save_npz(folder / "train.npz", x[:700])
    np.savetxt(folder / "labels.txt", names[:700], fmt="%s")
    return folder, x, y


def test_load_dataset_reads_svmlight_and_npz_as_csr(files):
    folder, _, _ = files
    data = sl.load_dataset(folder / "train.svm", valid=0.2, standardize=True)
    assert sp.issparse(data.x_train) and data.x_train.shape == (560, 200)
    assert not data.mean.any() and (data.scale > 0).all()
    assert abs(data.x_train).max() <= 1.0 + 1e-12  # max-abs scaled, not centred
    npz = sl.load_dataset(folder / "train.npz", target=folder / "labels.txt", valid=0)
    assert sp.issparse(npz.x_train) and set(npz.classes) == {"sport", "politics", "tech"}
    assert is_sparse_file(str(folder / "small.txt"))
    wide, _ = read_sparse(folder / "test.svm", n_features=200)
    assert wide.shape == (200, 200)


def test_train_on_svmlight_predicts_a_narrower_test_file(files, tmp_path, capsys):
    folder, _, _ = files
    model = tmp_path / "m.safetensors"
    assert (
        main(
            [
                "train",
                "--data",
                str(folder / "train.svm"),
                "--standardize",
                "--out",
                str(model),
                "--quiet",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["predict", "--model", str(model), "--data", str(folder / "test.svm")]) == 0
    lines = capsys.readouterr().out.split()
    assert lines[0] == "prediction" and len(lines) == 201
    saved = sl.load_model(model)
    test_x = read_sparse(folder / "test.svm", n_features=200)[0]
    assert saved.predict(test_x).tolist() == [int(v) for v in lines[1:]]
    assert main(["evaluate", "--model", str(model), "--data", str(folder / "test.svm")]) == 0
    assert "accuracy" in capsys.readouterr().out


def test_train_on_npz_with_a_label_file(files, tmp_path, capsys):
    folder, _, _ = files
    model = tmp_path / "m.safetensors"
    assert (
        main(
            [
                "train",
                "--data",
                str(folder / "train.npz"),
                "--target",
                str(folder / "labels.txt"),
                "--out",
                str(model),
                "--quiet",
            ]
        )
        == 0
    )
    assert set(sl.load_model(model).classes) == {"sport", "politics", "tech"}


@pytest.mark.parametrize("case", ["nan", "too_wide", "npz_without_labels"])
def test_bad_sparse_files_fail_cleanly(files, tmp_path, fails_cleanly, case):
    folder, _, _ = files
    bad = tmp_path / "bad.svm"
    bad.write_text("1 3:nan\n0 1:1\n")
    out = str(tmp_path / "m.safetensors")
    args, message = {
        "nan": (["train", "--data", str(bad), "--out", out], "row 1 of bad.svm stores a NaN"),
        "too_wide": (
            ["train", "--data", str(folder / "train.svm"), "--n-features", "10", "--out", out],
            "has 200 columns, more than the 10 expected",
        ),
        "npz_without_labels": (
            ["train", "--data", str(folder / "train.npz"), "--out", out],
            "target: train.npz is a matrix without labels",
        ),
    }[case]
    fails_cleanly(args, tmp_path, message)


def test_npz_label_count_must_match(files, tmp_path):
    folder, _, _ = files
    short = tmp_path / "short.txt"
    short.write_text("a\nb\n")
    with pytest.raises(InvalidInputError, match=r"short\.txt holds 2 labels for 700 rows"):
        sl.load_dataset(folder / "train.npz", target=short)


def test_certify_and_summary_take_sparse_files_as_dense_rows(files, tmp_path, capsys):
    folder, _, _ = files
    model = tmp_path / "m.safetensors"
    assert (
        main(
            [
                "train",
                "--data",
                str(folder / "train.svm"),
                "--alpha",
                "0.01",
                "--out",
                str(model),
                "--quiet",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert (
        main(
            [
                "certify",
                "--model",
                str(model),
                "--data",
                str(folder / "train.svm"),
                "--target",
                "label",
            ]
        )
        == 0
    )
    assert "gap to the optimum at most" in capsys.readouterr().out
