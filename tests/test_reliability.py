"""Reliability: divergence, hostile CSV files, and property tests."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

import softmaxlab as sl
from softmaxlab.cli import main
from tests.helpers import run


def _exploding_data():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 3, generator=g, dtype=torch.float64) * 1e200
    y = torch.nn.functional.one_hot(torch.randint(0, 3, (64,), generator=g), 3).double()
    return x, y


def test_divergence_stops_with_epoch_and_batch_and_keeps_the_last_finite_parameters():
    x, y = _exploding_data()
    model = sl.SoftmaxClassifier(3, 3, gradient="fused", seed=0, device="cpu")
    twin = sl.SoftmaxClassifier(3, 3, gradient="fused", seed=0, device="cpu")
    with pytest.raises(
        sl.TrainingDiverged,
        match=r"training diverged at epoch \d+, batch \d+"
        r".*lr=1e\+100 is probably too large",
    ) as info:
        model.fit(x, y, 5, 1e100, 16, verbose=False)
    err = info.value
    assert isinstance(err, ArithmeticError) and err.epoch is not None and err.batch is not None
    assert torch.isfinite(model.w).all() and torch.isfinite(model.b).all()
    # replay the same steps one by one: the model stopped right before the failing one
    steps = err.epoch * 4 + err.batch
    for k in range(steps):
        s = (k % 4) * 16
        twin.update(x[s : s + 16], y[s : s + 16], twin.predict(x[s : s + 16]), 1e100)
    torch.testing.assert_close(model.w, twin.w, rtol=1e-10, atol=0)


@pytest.mark.parametrize("gradient", ["chain", "blockwise", "autograd"])
def test_a_diverging_step_of_any_formulation_changes_nothing(gradient):
    x, y = _exploding_data()
    x = x / 1e190  # W = 0 keeps the logits moderate; the gradient is ~1e10, lr·gradient inf
    model = sl.SoftmaxClassifier(3, 3, gradient=gradient, seed=0, device="cpu")
    model.w.zero_()
    w0, b0 = model.w.clone(), model.b.clone()
    with pytest.raises(sl.TrainingDiverged, match="the parameters became non-finite"):
        model.update(x, y, model.predict(x), 1e300)
    assert torch.equal(model.w, w0) and torch.equal(model.b, b0)


def test_estimator_divergence_is_a_training_diverged_error():
    x, y = _exploding_data()
    x = x / 1e100  # |x| ~ 1e100: its spread can be standardised, the step cannot be taken
    est = sl.SoftmaxRegression(solver="sgd", learning_rate=1e300, max_epochs=3, tol=None)
    with pytest.raises(sl.TrainingDiverged, match="training diverged at epoch"):
        est.fit(x.numpy(), y.argmax(1).numpy())
    assert not hasattr(est, "coef_")


def test_cli_train_divergence_exits_3_with_one_line_and_no_model(tmp_path, capsys):
    x, y = _exploding_data()
    rows = np.c_[x.numpy() / 1e100, y.argmax(1).numpy()]
    path = tmp_path / "big.csv"
    np.savetxt(path, rows, delimiter=",", header="a,b,c,label", comments="")
    out = tmp_path / "m.safetensors"
    code = main(
        [
            "train",
            "--data",
            str(path),
            "--solver",
            "sgd",
            "--lr",
            "1e100",
            "--epochs",
            "5",
            "--out",
            str(out),
            "-q",
        ]
    )
    err = capsys.readouterr().err
    assert code == 3 and err.count("\n") == 1 and "training diverged" in err
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["big.csv"]


def _scaled_iris():
    from sklearn.datasets import load_iris
    from sklearn.preprocessing import scale

    x, y = load_iris(return_X_y=True)
    return scale(x), y


@pytest.mark.parametrize(
    ("options", "blamed"),
    [
        ({"alpha": 10.0}, r"alpha=10 makes each L2 step multiply W by"),
        ({"learning_rate": 1e6}, r"learning_rate=1e\+06"),
        ({"learning_rate": 1e6, "tol": None}, r"learning_rate=1e\+06"),
    ],
)
def test_a_rising_objective_is_divergence_never_convergence(options, blamed):
    """SGD whose objective rose (a step too large for the L2 decay, or for the data) ends
    in TrainingDiverged naming where it rose and what to lower, whether the stopping rule
    or the last epoch ended it; the estimator is left unfitted."""
    x, y = _scaled_iris()
    est = sl.SoftmaxRegression(solver="sgd", **options)
    with pytest.raises(
        sl.TrainingDiverged,
        match=r"objective rose from [\d.]+ \(epoch \d+\)"
        r" to .*" + blamed,
    ) as info:
        est.fit(x, y)
    assert info.value.epoch is not None
    assert not hasattr(est, "coef_")


def test_converging_sgd_with_momentum_and_large_steps_is_not_called_diverged():
    """The rule leaves noisy but converging runs alone: momentum, a large stable rate,
    tiny batches."""
    x, y = _scaled_iris()
    for options in (
        {"momentum": 0.9},
        {"learning_rate": 3.0},
        {"batch_size": 4},
        {"momentum": 0.9, "nesterov": True, "batch_size": 8},
    ):
        est = sl.SoftmaxRegression(solver="sgd", random_state=0, **options).fit(x, y)
        assert est.score(x, y) > 0.9, options
        assert est.loss_curve_[-1] <= 1.1 * min(est.loss_curve_) + 1e-2, options


def test_a_grid_search_reports_the_diverging_alpha_instead_of_scoring_it():
    from sklearn.model_selection import GridSearchCV

    x, y = _scaled_iris()
    search = GridSearchCV(sl.SoftmaxRegression(solver="sgd"), {"alpha": [1e-3, 10.0]}, cv=3)
    with pytest.warns(Warning, match="fits failed"):
        search.fit(x, y)
    scores = search.cv_results_["mean_test_score"]
    assert np.isnan(scores[1]) and scores[0] > 0.9
    assert search.best_params_ == {"alpha": 1e-3}


def test_cli_train_with_a_diverging_alpha_exits_3(tmp_path, capsys):
    out = tmp_path / "m.safetensors"
    code = main(
        [
            "train",
            "--data",
            "iris",
            "--standardize",
            "--solver",
            "sgd",
            "--alpha",
            "10",
            "--out",
            str(out),
            "-q",
        ]
    )
    err = capsys.readouterr().err
    assert code == 3 and err.count("\n") == 1 and "objective rose" in err
    assert not out.exists()


# ----------------------------------------------------------------- hostile CSV


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("\ufeffa,b,y\n1,2,x\n3,4,y\n", "read"),  # byte-order mark
        ('a,b,y\n1,2,"x, with comma"\n3,4,y\n', "read"),  # quoted comma in a label
        ("a,b,y\n1,2,x\n3,4,5,y\n", "cannot read"),  # ragged row
        ("a,b,y\n1e400,2,x\n3,4,y\n", "NaN or infinite value in column 'a'"),  # huge number
        ("a,a,y\n1,2,x\n3,4,y\n", "duplicate column names"),
    ],
)
def test_malformed_csv_is_read_correctly_or_refused_clearly(tmp_path, content, expected):
    path = tmp_path / "d.csv"
    path.write_text(content, encoding="utf-8")
    if expected == "read":
        d = sl.load_dataset(path, valid=0, shuffle=False, device="cpu")
        assert d.feature_names == ("a", "b") and d.x_train.shape == (2, 2)
        assert d.x_train[0].tolist() == [1.0, 2.0]
    else:
        with pytest.raises(sl.InvalidInputError, match=expected):
            sl.load_dataset(path)


# ----------------------------------------------------------------- properties

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra.numpy import arrays  # noqa: E402

from softmaxlab import functional as F  # noqa: E402
from softmaxlab import gradients as G  # noqa: E402


def _logits(dtype):
    return st.integers(1, 6).flatmap(
        lambda m: st.integers(2, 6).flatmap(
            lambda c: arrays(
                dtype,
                (m, c),
                elements=st.floats(
                    -1e4, 1e4, allow_nan=False, width=32 if dtype == np.float32 else 64
                ),
            )
        )
    )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_softmax_rows_sum_to_one_and_ce_is_finite(dtype):
    @settings(max_examples=150, deadline=None)
    @given(_logits(dtype), st.data())
    def check(z, data):
        zt = torch.from_numpy(z)
        p = F.softmax(zt)
        assert torch.isfinite(p).all() and (p >= 0).all()
        tol = 1e-5 if dtype == np.float32 else 1e-12
        assert torch.allclose(p.sum(1), torch.ones(len(z), dtype=zt.dtype), atol=tol)
        labels = data.draw(
            st.lists(st.integers(0, z.shape[1] - 1), min_size=len(z), max_size=len(z))
        )
        y = torch.nn.functional.one_hot(torch.tensor(labels), z.shape[1]).to(zt.dtype)
        assert torch.isfinite(F.cross_entropy(y, zt))
        assert torch.isfinite(
            G.fused(
                torch.eye(len(z), dtype=zt.dtype), y, zt, torch.zeros(z.shape[1], dtype=zt.dtype)
            ).d_w
        ).all()

    check()


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 7), st.integers(1, 6), st.integers(2, 6), st.integers(0, 2**31 - 1))
def test_every_formulation_agrees_with_autograd_on_random_shapes(m, n, c, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(m, n, generator=g, dtype=torch.float64)
    y = torch.nn.functional.one_hot(torch.randint(0, c, (m,), generator=g), c).double()
    w = torch.randn(n, c, generator=g, dtype=torch.float64)
    b = torch.randn(c, generator=g, dtype=torch.float64)
    ref = G.autograd(x, y, w, b)
    for name in G.names():
        got = G.get(name).function(x, y, w, b)
        torch.testing.assert_close(got.d_w, ref.d_w, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(got.d_b, ref.d_b, rtol=1e-10, atol=1e-12)


@settings(max_examples=100, deadline=None)
@given(arrays(np.float64, st.integers(1, 20), elements=st.floats(-1e6, 1e6)))
def test_mape_properties(values):
    t = torch.from_numpy(values)
    assert sl.mape(t, t.clone()) == 0.0
    nonzero = t[t.abs() > 1e-3]
    if len(nonzero):
        assert sl.mape(2 * nonzero, nonzero) == pytest.approx(1.0)
        assert sl.mape(nonzero * 0, nonzero) == pytest.approx(1.0)


# ----------------------------------------------------------------- silently wrong answers


def test_prediction_that_would_overflow_is_an_error_not_label_zero(tmp_path):
    x, y = _scaled_iris()
    est = sl.SoftmaxRegression().fit(x, y)
    far = x[:3].copy()
    far[1, 2] = 1e308
    for method in (est.predict, est.predict_proba, est.decision_function):
        with pytest.raises(sl.InvalidInputError, match=r"X: row 2 gives non-finite logits"):
            method(far)
    # the same through a model file and the command line
    model = tmp_path / "m.safetensors"
    sl.save_model(est, model, mean=np.zeros(4), scale=np.ones(4))
    data = tmp_path / "far.csv"
    np.savetxt(data, far, delimiter=",", header="a,b,c,d", comments="")
    code = main(["predict", "--model", str(model), "--data", str(data)])
    assert code == 2


def test_a_model_file_with_non_finite_numbers_is_neither_written_nor_read(tmp_path):
    from safetensors.numpy import load_file, save_file

    from softmaxlab.io.atomic import read_safetensors

    x, y = _scaled_iris()
    est = sl.SoftmaxRegression().fit(x, y)
    broken = sl.SoftmaxRegression().fit(x, y)
    broken.coef_ = broken.coef_.copy()
    broken.coef_[0, 0] = np.nan
    with pytest.raises(sl.ModelFileError, match="NaN or infinite"):
        sl.save_model(broken, tmp_path / "nan.safetensors")
    with pytest.raises(sl.ModelFileError, match="mean and scale: must be finite"):
        sl.save_model(
            est,
            tmp_path / "inf.safetensors",
            mean=np.zeros(4),
            scale=np.array([1.0, np.inf, 1.0, 1.0]),
        )
    assert not list(tmp_path.iterdir())
    # a file edited by hand: NaN in the stored mean
    sl.save_model(est, tmp_path / "ok.safetensors", mean=np.zeros(4), scale=np.ones(4))
    _, meta = read_safetensors(tmp_path / "ok.safetensors", AssertionError, "")
    tensors = load_file(tmp_path / "ok.safetensors")
    tensors["mean"][2] = np.nan
    save_file(tensors, tmp_path / "edited.safetensors", metadata=meta)
    with pytest.raises(sl.ModelFileError, match="standardisation statistics hold NaN"):
        sl.load_model(tmp_path / "edited.safetensors")


def test_features_too_large_to_standardise_are_refused_not_a_constant_model(tmp_path):
    x, y = _scaled_iris()
    huge = x.copy()
    huge[:, 1] *= 1e300
    with pytest.raises(sl.InvalidInputError, match=r"X: column 1 is too large to standardise"):
        sl.SoftmaxRegression().fit(huge, y)
    data = tmp_path / "huge.csv"
    np.savetxt(data, np.c_[huge, y], delimiter=",", header="a,b,c,d,label", comments="")
    with pytest.raises(sl.InvalidInputError, match=r"standardize: column 1 is too large"):
        sl.load_dataset(data, standardize=True)
    assert (
        main(
            [
                "train",
                "--data",
                str(data),
                "--standardize",
                "-q",
                "--out",
                str(tmp_path / "m.safetensors"),
            ]
        )
        == 2
    )
    assert not (tmp_path / "m.safetensors").exists()


# ----------------------------------------------------------------- unbounded reads


@pytest.mark.parametrize("kind", ["zero", "fifo", "folder"])
def test_data_model_and_checkpoint_must_be_regular_files(tmp_path, kind, capsys):
    """A symlink to /dev/zero never ends and a FIFO blocks: both are refused before any
    byte is read, by every reader, with one line from the CLI."""
    target = tmp_path / "x.csv"
    if kind == "zero":
        target.symlink_to("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(target)
    else:
        target.mkdir()
    expected = "directory" if kind == "folder" else "not a regular file"
    with pytest.raises(sl.InvalidInputError, match=f"data: .*{expected}"):
        sl.load_dataset(target)
    with pytest.raises(sl.ModelFileError, match=f"model: .*{expected}"):
        sl.load_model(target)
    with pytest.raises(sl.CheckpointError, match=f"checkpoint: .*{expected}"):
        sl.SoftmaxRegression(solver="sgd").fit(*_scaled_iris(), checkpoint=target, resume=True)
    for args in (
        ["train", "--data", str(target), "--out", str(tmp_path / "m.safetensors")],
        ["predict", "--model", str(target), "--data", str(target)],
    ):
        assert main(args) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and expected in err, err


# ----------------------------------------------------------------- small ones


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["compare", "--seed", "-1", "--epochs", "1"], "seed: must be in [0, 4294967295], got -1"),
        (
            ["train", "--data", "synthetic", "--seed", "-1", "--out", "{d}/m.safetensors"],
            "seed: must be in [0, 4294967295]",
        ),
        (
            ["train", "--data", "iris", "--seed", "4294967296", "--out", "{d}/m.safetensors"],
            "seed: must be in [0, 4294967295]",
        ),
        (["plot", "{d}/deep.json", "--out", "{d}/p.png"], "nested too deeply"),
        (["plot", "{d}/shape.json", "--out", "{d}/p.png"], "not a compare --json file"),
    ],
)
def test_small_bad_inputs_are_one_line(tmp_path, capsys, args, message):
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (tmp_path / "shape.json").write_text('{"reference_logs": [1, 2], "model_logs": {"a": 5}}')
    code = main([a.replace("{d}", str(tmp_path)) for a in args])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and message in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deep.json", "shape.json"]


def test_estimator_parameters_out_of_range_are_refused_by_name():
    x, y = _scaled_iris()
    for options, message in [
        ({"class_weight": {0: -1.0}}, "class_weight: the weight of class 0 must be a finite"),
        ({"class_weight": {1: float("nan")}}, "class_weight: the weight of class 1"),
        ({"batch_size": 10**400}, "batch_size: must be >= 1"),
    ]:
        with pytest.raises(sl.InvalidInputError, match=message):
            sl.SoftmaxRegression(solver="sgd", **options).fit(x, y)
    # a batch larger than the data is the data: a huge integer is fine
    est = sl.SoftmaxRegression(solver="sgd", batch_size=10**30, max_epochs=3, tol=None)
    assert est.fit(x, y).n_iter_ == 3


# ----------------------------------------------------------------- found in a second pass


def test_an_existing_checkpoint_needs_resume_to_be_touched(tmp_path, capsys):
    ck = tmp_path / "run.ckpt"
    args = [
        "train",
        "--data",
        "iris",
        "--solver",
        "sgd",
        "--epochs",
        "2",
        "-q",
        "--checkpoint",
        str(ck),
        "--out",
        str(tmp_path / "m.safetensors"),
    ]
    assert main(args) == 0
    before = ck.read_bytes()
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "already exists; add --resume" in err
    assert ck.read_bytes() == before


def test_huge_whole_float_labels_stay_distinct():
    from softmaxlab.io.tables import encode_labels

    classes, idx = encode_labels(np.array([1e19, 2e19, 1e19, 3.0]), "y")
    assert classes.tolist() == [3.0, 1e19, 2e19] and idx.tolist() == [1, 2, 1, 0]
    classes, _ = encode_labels(np.array([1.0, 2.0, 2.0]), "y")
    assert classes.dtype.kind == "i"  # small whole floats are still integer labels


def test_a_million_classes_are_refused_before_allocating():
    x = np.random.default_rng(0).normal(size=(4, 5000))
    est = sl.SoftmaxRegression(solver="sgd")
    with pytest.raises(sl.InvalidInputError, match=r"y: 1,000,000 classes .* continuous"):
        est.partial_fit(x, np.arange(4), classes=np.arange(10**6))
    assert not hasattr(est, "classes_")


def test_labels_with_rich_markup_and_bad_option_values_are_plain_text(tmp_path, capsys):
    from sklearn.datasets import load_iris

    frame = load_iris(as_frame=True).frame
    frame["target"] = frame["target"].map({0: "[/]", 1: "[bold]b", 2: "c[/red]"})
    data = tmp_path / "iris.csv"
    frame.to_csv(data, index=False)
    model = tmp_path / "m.safetensors"
    assert (
        main(["train", "--data", str(data), "--target", "target", "-q", "--out", str(model)]) == 0
    )
    assert main(["evaluate", "--model", str(model), "--data", str(data), "--target", "target"]) == 0
    out = capsys.readouterr().out
    assert "[/]" in out and "[bold]b" in out and "c[/red]" in out
    for args, message in [
        (["--valid", "inf"], "--valid: must be a finite number >= 0"),
        (["--plot", str(tmp_path / "c.xyz")], "--plot: c.xyz: unknown figure format .xyz"),
    ]:
        proc = run("train", "--data", "iris", "-q", "--out", str(tmp_path / "n.safetensors"), *args)
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
        assert message in proc.stderr, proc.stderr
    assert not (tmp_path / "n.safetensors").exists()


@pytest.mark.parametrize("kind", ["list", "struct", "datetime", "mixed"])
def test_targets_that_cannot_round_trip_are_refused_before_training(tmp_path, kind):
    import pandas as pd

    n = 12
    frame = pd.DataFrame({"a": np.arange(n, dtype=float), "b": np.arange(n)[::-1] * 1.0})
    frame["label"] = {
        "list": [[i % 2, 1] for i in range(n)],
        "struct": [{"k": i % 2} for i in range(n)],
        "datetime": pd.to_datetime(["2024-01-01", "2024-06-01"] * (n // 2)),
        "mixed": [1, 1.0, "a"] * (n // 3),
    }[kind]
    data = tmp_path / "t.parquet"
    if kind == "mixed":  # a CSV column of text: "1" and "1.0" are two labels, as documented
        frame.to_csv(tmp_path / "t.csv", index=False)
        d = sl.load_dataset(tmp_path / "t.csv", target="label")
        assert sorted(d.classes.tolist()) == ["1", "1.0", "a"]
        return
    frame.to_parquet(data)
    with pytest.raises(sl.InvalidInputError, match=r"label.*(text or numbers|cannot read)"):
        sl.load_dataset(data, target="label")
    out = tmp_path / "m.safetensors"
    assert main(["train", "--data", str(data), "--target", "label", "-q", "--out", str(out)]) == 2
    assert not out.exists()


def test_a_model_whose_labels_cannot_be_stored_is_not_written(tmp_path):
    x, y = _scaled_iris()
    dates = np.array(["2024-01-01", "2024-02-01", "2024-03-01"], dtype="datetime64[D]")[y]
    est = sl.SoftmaxRegression().fit(x, dates)  # scikit-learn takes any sortable labels
    with pytest.raises(sl.ModelFileError, match="classes: labels of dtype datetime64"):
        sl.save_model(est, tmp_path / "m.safetensors")
    assert not list(tmp_path.iterdir())
