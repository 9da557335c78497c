"""Look rather than read: the compare report, gradcheck, plots and progress output."""

from __future__ import annotations

import io
import json
import re

import matplotlib.image
import pytest
from rich.console import Console

from softmaxlab import gradients as G
from softmaxlab.cli import _epoch_progress, main
from softmaxlab.gradcheck import gradcheck
from softmaxlab.training import EpochRecord

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def assert_png(path, min_width=300, min_height=200):
    assert path.read_bytes()[:8] == PNG_MAGIC, path
    height, width = matplotlib.image.imread(path).shape[:2]
    assert width >= min_width and height >= min_height, (path, width, height)


def test_compare_report_writes_figures_markdown_and_self_contained_html(tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["compare", "--reference", "torch,sklearn", "--gradient", "chain,fused",
                 "--epochs", "4", "-q", "--report", str(out)]) == 0
    figures = ["learning_curves.png", "parity.png", "jacobian.png", "decision_regions.png"]
    for name in figures:
        assert_png(out / name)
    md = (out / "report.md").read_text()
    html = (out / "report.html").read_text()
    for name in figures:
        assert f"]({name})" in md
    assert html.count("src='data:image/png;base64,") == len(figures)
    assert not re.search(r"src=['\"](?!data:)", html)  # nothing outside the file
    for text in ("predictions after training", "W after training", "coef_ (centred)"):
        assert text in md and text in html
    assert "**PASS**" in md and "n_features" in html
    assert "report.html" in capsys.readouterr().out


def test_report_directory_must_be_creatable(tmp_path):
    target = tmp_path / "missing" / "report"
    try:
        code = main(["compare", "--reference", "torch", "--report", str(target)])
    except SystemExit as exc:
        code = exc.code
    assert code == 2 and not target.exists()


def test_gradcheck_command_passes_and_lists_every_formulation(tmp_path, capsys):
    out = tmp_path / "g.json"
    assert main(["gradcheck", "--samples", "6", "--features", "3", "--classes", "4",
                 "--json", str(out)]) == 0
    text = capsys.readouterr().out
    for name in G.names():
        assert name in text
    rows = json.loads(out.read_text())
    assert len(rows) == 5 * 4 + 3  # fused has no ∂L/∂Ŷ
    assert all(r["passed"] for r in rows)


def test_gradcheck_fails_on_a_wrong_formulation(monkeypatch, capsys):
    good = G.REGISTRY["blockwise"]

    def wrong(*args, **kwargs):
        g = good.function(*args, **kwargs)
        return G.Gradients(g.d_w * 1.001, g.d_b, g.d_z, g.d_y_hat)

    monkeypatch.setitem(G.REGISTRY, "blockwise", G.Formulation(
        "blockwise", wrong, good.kernel, good.summary, True))
    assert main(["gradcheck"]) == 1
    assert "FAIL: blockwise ∂L/∂W" in capsys.readouterr().out


def test_gradcheck_in_float32_and_bad_sizes():
    assert all(r.passed for r in gradcheck(5, 4, 3, dtype="float32"))
    with pytest.raises(ValueError, match="classes: needs at least 2"):
        gradcheck(5, 4, 1)


def test_train_plot_and_plot_command(tmp_path, capsys):
    model, curves = tmp_path / "m.safetensors", tmp_path / "curves.png"
    assert main(["train", "--data", "iris", "--standardize", "--epochs", "6", "-q",
                 "--out", str(model), "--plot", str(curves)]) == 0
    assert_png(curves)
    again = tmp_path / "again.png"
    assert main(["plot", str(model), "--out", str(again)]) == 0
    assert_png(again)
    report = tmp_path / "c.json"
    assert main(["compare", "--reference", "torch", "--gradient", "fused", "--epochs", "2",
                 "-q", "--json", str(report)]) == 0
    from_compare = tmp_path / "c.png"
    assert main(["plot", str(report), "--out", str(from_compare)]) == 0
    assert_png(from_compare)
    bad = tmp_path / "bad.json"
    bad.write_text('{"nothing": 1}')
    capsys.readouterr()
    assert main(["plot", str(bad), "--out", str(tmp_path / "x.png")]) == 2
    assert "holds no epoch records" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_evaluate_plot_writes_confusion_matrix_and_reliability(tmp_path):
    import numpy as np
    from sklearn.datasets import load_iris

    frame = load_iris(as_frame=True).frame
    frame.to_csv(tmp_path / "iris.csv", index=False)
    model = tmp_path / "m.safetensors"
    assert main(["train", "--data", str(tmp_path / "iris.csv"), "--target", "target",
                 "--standardize", "--epochs", "10", "-q", "--out", str(model)]) == 0
    plots = tmp_path / "plots"
    plots.mkdir()
    assert main(["evaluate", "--model", str(model), "--data", str(tmp_path / "iris.csv"),
                 "--target", "target", "--plot", str(plots)]) == 0
    assert_png(plots / "confusion_matrix.png", 200, 150)
    assert_png(plots / "reliability.png")
    assert np.isfinite(matplotlib.image.imread(plots / "reliability.png")).all()


def _records(n):
    return [EpochRecord(e, 1.0 / (e + 1), 0.5, 0.9) for e in range(n)]


def test_progress_on_a_terminal_and_plain_lines_when_piped():
    tty = Console(file=io.StringIO(), force_terminal=True, width=100)
    with _epoch_progress(tty, 3, quiet=False) as on_epoch:
        for r in _records(3):
            on_epoch(r)
    assert "epoch: 2 - CE: 0.3333" in tty.file.getvalue()
    piped = Console(file=io.StringIO(), force_terminal=False, width=100)
    with _epoch_progress(piped, 3, quiet=False) as on_epoch:
        for r in _records(3):
            on_epoch(r)
    lines = piped.file.getvalue().splitlines()
    assert lines == [r.line() for r in _records(3)]  # nothing but the seed's lines
    with _epoch_progress(piped, 3, quiet=True) as on_epoch:
        assert on_epoch is None


def test_library_prints_nothing_unless_asked(seed_data, capsys):
    import softmaxlab as sl

    sl.SoftmaxRegression(max_epochs=3, tol=None).fit(seed_data.x_train.numpy(),
                                                     seed_data.y_train.argmax(1).numpy())
    sl.compare(sl.CompareConfig(references=("torch",), gradients=("fused",), epochs=2))
    sl.SoftmaxClassifier(5, 3, seed=0).fit(seed_data.x_train, seed_data.y_train, 2, 0.1, 33,
                                            verbose=False)
    assert capsys.readouterr().out == ""
