"""softmaxlab.tasks.train and ``softmaxlab train``: the full estimator from the command
line, the same result from Python."""

from __future__ import annotations

import json

import numpy as np
import pytest

from softmaxlab import InvalidInputError, SoftmaxRegression, load_dataset, tasks
from softmaxlab.cli import main
from softmaxlab.persistence import load_model

OPTIONS = [
    "--momentum",
    "0.9",
    "--nesterov",
    "--C",
    "50",
    "--class-weight",
    "balanced",
    "--schedule",
    "exponential",
    "--batch-size",
    "16",
    "--epochs",
    "7",
    "--seed",
    "3",
]


def test_cli_train_is_tasks_train(tmp_path, capsys):
    out = tmp_path / "wine.safetensors"
    assert (
        main(["train", "--data", "wine", "--standardize", *OPTIONS, "-q", "--out", str(out)]) == 0
    )
    result = tasks.train(
        "wine",
        standardize=True,
        seed=3,
        momentum=0.9,
        nesterov=True,
        C=50,
        class_weight="balanced",
        schedule="exponential",
        batch_size=16,
        max_epochs=7,
    )
    saved = load_model(out)
    assert isinstance(saved.model, SoftmaxRegression)
    np.testing.assert_array_equal(saved.model.coef_, result.model.coef_)
    assert saved.config["metrics"] == result.metrics
    assert saved.config["stop_reason"] == "max_epochs" and len(saved.config["history"]) == 7
    n_train = load_dataset("wine").x_train.shape[0]
    estimator = saved.config["estimator"]
    assert estimator["alpha"] == pytest.approx(1 / (50 * n_train))
    assert (
        estimator["momentum"],
        estimator["nesterov"],
        estimator["class_weight"],
        estimator["schedule"],
        estimator["shuffle"],
    ) == (0.9, True, "balanced", "exponential", True)
    assert "stopped after 7 epochs: max_epochs" in capsys.readouterr().out


def test_train_options_reach_the_estimator():
    d = load_dataset("iris", shuffle=False)
    classes = d.classes[d.y_train.argmax(1).numpy()]
    result = tasks.train("iris", shuffle=False, seed=0, solver="lbfgs", alpha=1e-3, tol=1e-8)
    direct = SoftmaxRegression(
        solver="lbfgs", alpha=1e-3, tol=1e-8, shuffle=False, random_state=0
    ).fit(d.x_train.numpy(), classes)
    np.testing.assert_array_equal(result.model.coef_, direct.coef_)
    assert result.model.stop_reason_ == "converged"
    assert list(result.metrics) == ["train", "valid"]


def test_no_shuffle_keeps_file_order_everywhere():
    in_order = tasks.train("iris", shuffle=False, max_epochs=3, tol=None)
    assert in_order.model.shuffle is False and in_order.config["shuffle"] is False
    shuffled = tasks.train("iris", max_epochs=3, tol=None)
    assert shuffled.model.shuffle is True
    assert not np.array_equal(in_order.model.coef_, shuffled.model.coef_)


def test_early_stopping_monitors_the_held_out_rows(capsys):
    result = tasks.train(
        "digits", standardize=True, early_stopping=True, n_iter_no_change=2, max_epochs=200
    )
    assert result.model.stop_reason_ == "early_stopping"
    scores = result.model.history_["validation_score"]
    assert len(scores) == len(result.history) and result.history[0].acc_valid == scores[0]
    # the best epoch's weights were kept: the final held-out accuracy is the best seen
    assert result.metrics["valid"]["accuracy"] == pytest.approx(max(scores))


def test_epoch_lines_are_the_seeds(tmp_path, capsys):
    assert (
        main(
            [
                "train",
                "--data",
                "iris",
                "--solver",
                "sgd",
                "--epochs",
                "2",
                "--tol",
                "none",
                "--out",
                str(tmp_path / "m.safetensors"),
            ]
        )
        == 0
    )
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("epoch:")]
    assert len(lines) == 2
    assert lines[0].startswith("epoch: 0 - CE: 1.0986 - CE_v: ") and " - acc_v: " in lines[0]


def test_lbfgs_prints_one_line_per_iteration_with_the_held_out_rows(tmp_path, capsys):
    out = tmp_path / "m.safetensors"
    assert main(["train", "--data", "iris", "--out", str(out)]) == 0  # auto: L-BFGS here
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("epoch:")]
    saved = load_model(out)
    assert saved.config["estimator"]["solver"] == "auto"
    assert len(lines) == len(saved.config["history"]) > 3
    assert all(" - CE_v: " in ln and " - acc_v: " in ln for ln in lines)


def test_bad_options_are_refused(tmp_path):
    with pytest.raises(InvalidInputError, match="options: unknown"):
        tasks.train("iris", learning_rat=0.1)
    with pytest.raises(InvalidInputError, match="C: give alpha or C"):
        tasks.train("iris", alpha=1.0, C=1.0)
    with pytest.raises(InvalidInputError, match="early_stopping: needs validation rows"):
        tasks.train("iris", valid=0, early_stopping=True)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--nesterov"], "nesterov: needs momentum > 0"),
        (["--alpha", "1", "--C", "2"], "not allowed with argument"),
        (["--momentum", "1"], "--momentum: must be in [0, 1)"),
        (["--tol", "-1"], "--tol: must be a finite number >= 0"),
        (["--batch-size", "0"], "--batch-size"),
        (["--early-stopping", "--valid", "0"], "early_stopping: needs validation rows"),
        (
            ["--sharded", "--nproc", "2", "--no-shuffle", "--C", "1"],
            "C: give alpha (--alpha) when sharded",
        ),
        (["--sharded", "--nproc", "2"], "sharded: rows are used in file order"),
    ],
)
def test_bad_train_options_fail_cleanly(fails_cleanly, tmp_path, args, message):
    fails_cleanly(
        ["train", "--data", "iris", *args, "--out", str(tmp_path / "m.safetensors")],
        tmp_path,
        message,
    )


def test_train_help_lists_the_estimator_options(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    for flag in (
        "--solver",
        "--alpha",
        "--C",
        "--class-weight",
        "--momentum",
        "--nesterov",
        "--schedule",
        "--early-stopping",
        "--tol",
        "--no-shuffle",
        "--nproc",
    ):
        assert flag in text


def test_predict_evaluate_and_plot_commands_are_tasks_functions(tmp_path, capsys):
    """predict, evaluate and plot print or write what tasks.predict, tasks.evaluate and
    tasks.read_histories return."""
    from sklearn.datasets import load_wine

    frame = load_wine(as_frame=True).frame
    data = tmp_path / "wine.csv"
    frame.to_csv(data, index=False)
    model = tmp_path / "m.safetensors"
    assert (
        main(
            [
                "train",
                "--data",
                str(data),
                "--target",
                "target",
                "--standardize",
                "-q",
                "--out",
                str(model),
            ]
        )
        == 0
    )
    # predict: the CSV written equals the DataFrame
    assert (
        main(
            [
                "predict",
                "--model",
                str(model),
                "--data",
                str(data),
                "--proba",
                "--out",
                str(tmp_path / "p.csv"),
            ]
        )
        == 0
    )
    expected = tasks.predict(model, data, proba=True)
    assert (tmp_path / "p.csv").read_text() == expected.to_csv(index=False)
    assert list(expected.columns) == ["prediction", "p_0", "p_1", "p_2"]
    # evaluate: the JSON written equals the report
    assert (
        main(
            [
                "evaluate",
                "--model",
                str(model),
                "--data",
                str(data),
                "--target",
                "target",
                "--json",
                str(tmp_path / "e.json"),
            ]
        )
        == 0
    )
    report = tasks.evaluate(model, data, "target")
    assert json.loads((tmp_path / "e.json").read_text()) == json.loads(
        json.dumps(report, default=str)
    )
    assert report["rows"] == len(frame) and 0.9 < report["accuracy"] <= 1
    # plot: the curves drawn are the model file's history
    histories = tasks.read_histories(model)
    assert list(histories) == ["softmaxlab"]
    assert histories["softmaxlab"] == load_model(model).config["history"]
    capsys.readouterr()


def test_read_histories_reads_every_format_and_refuses_the_rest(tmp_path):
    records = [{"epoch": 1, "ce": 0.9}, {"epoch": 2, "ce": 0.5}]
    (tmp_path / "list.json").write_text(json.dumps(records))
    assert tasks.read_histories(tmp_path / "list.json") == {"softmaxlab": records}
    compare = {"reference_logs": {"torch": records}, "model_logs": {"torch": {"chain": records}}}
    (tmp_path / "cmp.json").write_text(json.dumps(compare))
    assert list(tasks.read_histories(tmp_path / "cmp.json")) == [
        "torch",
        "softmaxlab (chain) from torch",
    ]
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "empty.json").write_text("{}")
    for name, message in [
        ("bad.json", "is not JSON"),
        ("empty.json", "no epoch records"),
        ("missing.json", "no such file"),
    ]:
        with pytest.raises(InvalidInputError, match=f"history: .*{message}"):
            tasks.read_histories(tmp_path / name)
