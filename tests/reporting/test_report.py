"""The compare report: figures, markdown and self-contained HTML."""

from __future__ import annotations

import re

from softmaxlab.cli import main
from tests.helpers import assert_png


def test_compare_report_writes_figures_markdown_and_self_contained_html(tmp_path, capsys):
    out = tmp_path / "report"
    assert (
        main(
            [
                "compare",
                "--reference",
                "torch,sklearn",
                "--gradient",
                "chain,fused",
                "--epochs",
                "4",
                "-q",
                "--report",
                str(out),
            ]
        )
        == 0
    )
    figures = [
        "learning_curves.png",
        "parity.png",
        "jacobian.png",
        "decision_regions.png",
        "gradient.png",
        "flattenings.png",
    ]
    for name in figures:
        assert_png(out / name)
    from PIL import Image

    with Image.open(out / "training.gif") as gif:  # an animation of the training run
        assert gif.format == "GIF" and gif.n_frames == 13
    md = (out / "report.md").read_text()
    html = (out / "report.html").read_text()
    for name in [*figures, "training.gif"]:
        assert f"]({name})" in md
    assert html.count("src='data:image/png;base64,") == len(figures)
    assert html.count("src='data:image/gif;base64,") == 1
    assert "MAPE is a fraction" in md and "predictions before copy (info)" in md
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
