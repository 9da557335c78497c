"""The benchmark machinery (no assertion on wall time: only on structure and memory)."""

from __future__ import annotations

import json

import pytest
import torch

from softmaxlab.bench import bench as B
from softmaxlab.bench import growth as GR
from softmaxlab.cli import main


def test_median_epoch_times_something():
    assert B.median_epoch(lambda: sum(range(1000)), 3, min_sample=0.001) > 0


def test_peak_bytes_sees_an_allocation():
    assert GR.peak_bytes(lambda: torch.empty(10_000, dtype=torch.float64)) >= 80_000


def test_main_section_measures_every_contender_and_the_ratios():
    tiny = B.BenchConfig("tiny", 300, 6, 4, 50, 200)
    result = B.run_main((tiny,), ("float64",), repeats=1, keras=False)
    names = {t.contender for t in result.timings}
    assert {
        "softmaxlab",
        "gemm floor",
        "pytorch nn",
        "softmaxlab[chain]",
        "softmaxlab[jacobian]",
    } <= names
    assert all(t.seconds and t.seconds > 0 for t in result.timings)
    ratios = result.ratios("tiny", "float64")
    assert ratios["pytorch/ours"] > 0 and ratios["ours/floor"] > 0
    json.dumps(result.to_dict())


def test_growth_memory_exponents_match_the_theory():
    # peak memory is counted from allocations, so it is exact and repeatable
    growth = GR.run_growth(
        (256, 512), repeats=1, fit_from=256, formulations=("chain", "blockwise", "jacobian")
    )
    exps = {k: v["memory"] for k, v in growth["exponents"].items()}
    assert exps["chain"] == pytest.approx(1.0, abs=0.1)  # O(B·C)
    assert exps["blockwise"] == pytest.approx(1.0, abs=0.1)  # O(B·C²)
    assert exps["jacobian"] == pytest.approx(2.0, abs=0.1)  # O(B²·C²)


def test_growth_reports_refused_steps():
    before = B.G.get_memory_budget()
    try:
        B.G.set_memory_budget(1 << 20)
        growth = GR.run_growth((128,), repeats=1, formulations=("jacobian",))
    finally:
        B.G.set_memory_budget(before)
    assert growth["rows"][0]["note"].startswith("refused")


def test_bench_command_scaling_section(tmp_path, capsys):
    out = tmp_path / "b.json"
    assert (
        main(["bench", "--quick", "--section", "scaling", "--repeats", "1", "--json", str(out)])
        == 0
    )
    data = json.loads(out.read_text())
    assert [r["rows"] for r in data["scaling"]["rows"]] == [5_000, 10_000, 20_000, 40_000]
    assert isinstance(data["scaling"]["exponent"], float)  # a fit of timings: any value
    assert "fitted exponent" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--section", "speed"], "unknown section 'speed'"),
        (["--section", "main", "--plot", "x.png"], "--plot: needs the growth section"),
        (["--repeats", "0"], "argument --repeats: must be a positive integer"),
    ],
)
def test_bench_bad_usage(args, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    try:
        code = main(["bench", *args])
    except SystemExit as exc:
        code = exc.code
    assert code == 2 and message in capsys.readouterr().err


def test_interleaved_timing_alternates_the_contenders():
    calls = []
    runs = {name: (lambda name=name: calls.append(name)) for name in ("a", "b", "c")}
    out = B.median_epochs_interleaved(runs, 3, min_sample=0.0)
    assert set(out) == {"a", "b", "c"} and all(v >= 0 for v in out.values())
    assert calls == ["a", "b", "c"] + ["a", "b", "c"] * 3  # warm-ups, then rounds


def test_fit_section_measures_every_entry_point():
    from softmaxlab.bench.fitcost import fit_costs

    out = fit_costs(rows=4000, features=20, classes=4, batch=64, repeats=1)
    seconds = out["seconds"]  # differences of timings: any sign at this size
    assert all(isinstance(v, float) for v in seconds.values())
    assert out["ratios"]["estimator epoch / fused epoch"] == pytest.approx(
        seconds["estimator epoch"] / seconds["fused epoch"]
    )
    assert out["ratios"]["classifier set-up / fused epoch"] == pytest.approx(
        seconds["classifier set-up"] / seconds["fused epoch"]
    )
    peak = out["estimator peak extra memory / X"]
    assert peak is None or peak >= 0


def test_race_fits_every_contender_on_every_problem():
    from softmaxlab.bench.race import race, race_table

    out = race(rows=2000, repeats=1, min_seconds=0)
    assert len(out["problems"]) == 5
    for problem in out["problems"].values():
        assert set(problem["contenders"]) == {
            "LogisticRegression()",
            'SGDClassifier(loss="log_loss")',
            "SoftmaxRegression()",
            'SoftmaxRegression(solver="lbfgs")',
        }
        assert all(
            0 <= c["accuracy"] <= 1 and c["seconds"] > 0 for c in problem["contenders"].values()
        )
    table = race_table(out)
    assert table.count("\n| ") == 4 * 5 and "vs LR time" in table


def test_text_section_runs_every_contender_on_a_generated_and_a_real_corpus(tmp_path):
    import gzip

    from softmaxlab.bench.textbench import man_corpus, run_text, text_table

    for section, words in (
        ("1", "command option flag usage"),
        ("3", "function pointer argument return"),
    ):
        folder = tmp_path / f"man{section}"
        folder.mkdir()
        for i in range(60):
            page = f'.TH "PAGE{i}" {section}\n.SH NAME\n' + f"{words} page {i} " * 20
            (folder / f"p{i}.{section}.gz").write_bytes(gzip.compress(page.encode()))
    docs, labels = man_corpus(str(tmp_path), per_section=40)
    assert len(docs) == 80 and set(labels) == {"man1", "man3"}
    assert not any(f" {s}\n" in d or "TH" in d for d in docs for s in "13")  # title gone

    out = run_text(n_docs=3000, n_terms=1500, n_classes=4, real=False)
    names = [r["model"] for r in out["rows"]]
    assert names == [
        "SoftmaxRegression()",
        "SoftmaxRegression(solver='sgd')",
        "SoftmaxRegression(solver='lbfgs')",
        "LogisticRegression()",
        "SGDClassifier(log_loss)",
    ]
    assert all(r["accuracy"] > 0.5 and r["seconds"] > 0 for r in out["rows"])
    table = text_table(out)
    assert table.count("\n| SoftmaxRegression") == 3 and "generated corpus: 2,400 training" in table
