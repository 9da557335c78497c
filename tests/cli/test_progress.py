"""Progress output: a bar on a terminal, plain epoch lines when piped, silence in the library."""

from __future__ import annotations

import io

from rich.console import Console

from softmaxlab.cli._common import _epoch_progress
from softmaxlab.training import EpochRecord


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

    sl.SoftmaxRegression(max_epochs=3, tol=None).fit(
        seed_data.x_train.numpy(), seed_data.y_train.argmax(1).numpy()
    )
    sl.compare(sl.CompareConfig(references=("torch",), gradients=("fused",), epochs=2))
    sl.SoftmaxClassifier(5, 3, seed=0).fit(
        seed_data.x_train, seed_data.y_train, 2, 0.1, 33, verbose=False
    )
    assert capsys.readouterr().out == ""


def _records(n):
    return [EpochRecord(e, 1.0 / (e + 1), 0.5, 0.9) for e in range(n)]
