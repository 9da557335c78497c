"""softmaxlab gradcheck: every formulation against autograd and finite differences."""

from __future__ import annotations

import json

import pytest

from softmaxlab import gradients as G
from softmaxlab.cli import main
from softmaxlab.gradcheck import gradcheck


def test_gradcheck_command_passes_and_lists_every_formulation(tmp_path, capsys):
    out = tmp_path / "g.json"
    assert (
        main(
            ["gradcheck", "--samples", "6", "--features", "3", "--classes", "4", "--json", str(out)]
        )
        == 0
    )
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

    monkeypatch.setitem(
        G.REGISTRY, "blockwise", G.Formulation("blockwise", wrong, good.kernel, good.summary, True)
    )
    assert main(["gradcheck"]) == 1
    assert "FAIL: blockwise ∂L/∂W" in capsys.readouterr().out


def test_gradcheck_in_float32_and_bad_sizes():
    assert all(r.passed for r in gradcheck(5, 4, 3, dtype="float32"))
    with pytest.raises(ValueError, match="classes: needs at least 2"):
        gradcheck(5, 4, 1)


def test_gradcheck_says_its_finite_difference_step_and_names_every_column(capsys):
    from softmaxlab.gradcheck import FD_STEP

    assert main(["gradcheck"]) == 0
    out = capsys.readouterr().out
    assert f"step h = {FD_STEP:g}" in out and "near 1e-9" in out
    assert "result" in out.splitlines()[2]  # the header row names the pass/FAIL column
